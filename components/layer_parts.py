"""The parts a silver or gold workload is made of, named once for the layer's component.

    role      <project>-<env>-<purpose>, one inline policy of exactly its statements
    log group /aws/lambda/... · /aws/vendedlogs/states/... (retention, lake key)
    Lambda    the shared bundle on the lake's runtime, a role (control records, the lake key,
              its own logs + extra statements) and a log group
    machine   a Standard state machine with its role and log group
    start     a role a service assumes to start one machine, and nothing else
    schedule  an EventBridge Scheduler start, its dead-letter queue (alarmed when not empty)

Logical names are ``<component name>-<purpose without the layer>`` (``silver-plan-role``),
physical names ``names.resource(<purpose>)``; both as they have always been.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from .alarms import start_schedule
from .code import lambda_archive
from .dead_letters import scheduler_dead_letter_statements, target_dead_letters
from .foundation import LakeFoundation, alarm_actions, names_of
from .layer_function import LambdaRuntime, layer_function
from .policies import (
    Statement,
    control_table_access,
    kms_use,
    logs_write,
    start_execution,
)
from .workloads import (
    WorkloadRole,
    regional_arn,
    standard_state_machine,
    workload_log_group,
    workload_role,
)


class LayerParts:
    """Builds the roles, log groups, Lambdas and machines of one layer component."""

    def __init__(
        self, parent: pulumi.Resource, name: str, layer: str, foundation: LakeFoundation
    ) -> None:
        self.parent, self.name, self.layer, self.foundation = parent, name, layer, foundation
        self.names = names_of(foundation["lake"])
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
        self.account = caller.account_id
        self.start_roles: list[WorkloadRole] = []
        """Every role a service assumes to start one of the layer's machines."""

    def logical(self, purpose: str) -> str:
        """``silver-plan`` of component ``silver`` -> ``silver-plan``; ``gold-marts`` ->
        ``gold-marts`` (the component's name, then the purpose without its layer)."""
        return f"{self.name}-{purpose.removeprefix(f'{self.layer}-')}"

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        """A regional ARN of this account."""
        return regional_arn(service, self.names.region, self.account, resource)

    def role(
        self, purpose: str, service: str, statements: Sequence[pulumi.Input[Statement]]
    ) -> WorkloadRole:
        """One role per workload, with one inline policy of exactly its statements."""
        return workload_role(
            self.parent,
            self.logical(purpose),
            name=self.names.resource(purpose),
            service=service,
            account=self.account,
            statements=tuple(statements),
            layer=self.layer,
            names=self.names,
        )

    def logs(self, purpose: str, path: str) -> aws.cloudwatch.LogGroup:
        """The log group ``<path>/<physical name>`` of one workload."""
        return workload_log_group(
            self.parent,
            f"{self.logical(purpose)}-logs",
            name=f"{path}/{self.names.resource(purpose)}",
            retention_days=self.foundation["lake"]["log_retention_days"],
            kms_key_arn=self.foundation["kms_key_arn"],
            layer=self.layer,
        )

    def function(
        self,
        purpose: str,
        description: str,
        handler: str,
        environment: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        statements: Sequence[pulumi.Input[Statement]],
        *,
        memory_mb: int,
        timeout_seconds: int,
    ) -> aws.lambda_.Function:
        """A Lambda updating control records: its role has them, ``statements``, the lake key
        and its own logs. A Lambda that reads its ``DATALAKE_DOMAIN`` passes
        ``policies.domain_read(...)`` among ``statements``."""
        foundation, workloads = self.foundation, self.foundation["workloads"]
        logs = self.logs(purpose, "/aws/lambda")
        role = self.role(
            purpose,
            "lambda.amazonaws.com",
            [
                control_table_access(foundation["control_table_arn"], update=True),
                *statements,
                kms_use(foundation["kms_key_arn"], encrypt=True),
                logs_write(logs.arn),
            ],
        )
        runtime, architecture = workloads["lambda_runtime"], workloads["lambda_architecture"]
        return layer_function(
            self.parent,
            self.logical(purpose),
            name=self.names.resource(purpose),
            description=description,
            handler=handler,
            runtime=LambdaRuntime(lambda_archive(runtime, architecture), runtime, architecture),
            role=role,
            logs=logs,
            layer=self.layer,
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            environment=environment,
            kms_key_arn=foundation["kms_key_arn"],
        )

    def machine(
        self,
        purpose: str,
        statements: Sequence[pulumi.Input[Statement]],
        definition: pulumi.Input[str],
    ) -> aws.sfn.StateMachine:
        """A Standard state machine with its log group and a role of exactly ``statements``."""
        return standard_state_machine(
            self.parent,
            self.logical(purpose),
            name=self.names.resource(purpose),
            role=self.role(purpose, "states.amazonaws.com", statements),
            logs=self.logs(purpose, "/aws/vendedlogs/states"),
            definition=definition,
            kms_key_arn=self.foundation["kms_key_arn"],
            layer=self.layer,
        )

    def start_role(
        self,
        purpose: str,
        service: str,
        machine: aws.sfn.StateMachine,
        sid: str,
        extra: Sequence[pulumi.Input[Statement]] = (),
    ) -> WorkloadRole:
        """A role ``service`` assumes to start ``machine`` (and use the key it is encrypted
        with, for that machine only), and nothing else but ``extra`` (its dead letters)."""
        role = self.role(
            purpose,
            service,
            [*start_execution(sid, machine.arn, self.foundation["kms_key_arn"]), *extra],
        )
        self.start_roles.append(role)
        return role

    def scheduled_start(
        self,
        purpose: str,
        description: str,
        machine: aws.sfn.StateMachine,
        *,
        expression: str,
        timezone: str,
        sid: str,
        input_json: str = "{}",
        logical: str = "",
    ) -> aws.scheduler.Schedule:
        """Start ``machine`` on a schedule named ``purpose``, with a role that only can, and a
        dead-letter queue (alarmed) for the starts that fail their retries."""
        foundation = self.foundation
        logical = logical or f"{self.logical(purpose)}-schedule"
        queue = target_dead_letters(
            self.parent,
            logical,
            names=self.names,
            purpose=f"{purpose}-schedule",
            kms_key_arn=foundation["kms_key_arn"],
            layer=self.layer,
            actions=alarm_actions(foundation["lake"]),
        )
        dead_letters = scheduler_dead_letter_statements(
            queue, foundation["kms_key_arn"], self.names.region
        )
        return start_schedule(
            self.parent,
            logical,
            name=self.names.resource(purpose),
            description=description,
            expression=expression,
            timezone=timezone,
            machine=machine,
            role=self.start_role(
                f"{purpose}-start", "scheduler.amazonaws.com", machine, sid, dead_letters
            ),
            input_json=input_json,
            dead_letters=queue,
        )

    def start_role_arns(self) -> pulumi.Output[list[str]]:
        """ARNs of the start roles made so far (``datalake verify`` simulates them)."""
        return pulumi.Output.all(*(r.role.arn for r in self.start_roles))


def invoke_statement(sid: str, functions: Sequence[aws.lambda_.Function]) -> Statement:
    """Invoke exactly these functions (and their versions)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [arn for f in functions for arn in (f.arn, pulumi.Output.concat(f.arn, ":*"))],
    }
