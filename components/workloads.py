"""Building blocks the layer components share: a workload's role, its log group, a Standard
state machine, and the ARN/URI spellings.

Each workload gets its own role with one inline policy of exactly its statements and its own
log group (retention from settings, encrypted with the lake key); each state machine logs
errors to its log group and is encrypted with the lake key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, layer_tags, partition_of

from .options import child_options
from .policies import assume_role_policy, policy_json, trust_source_arns


@dataclass(frozen=True)
class WorkloadRole:
    """A workload's role and its one inline policy.

    ``arn`` resolves only once the policy is attached: a state machine, pipe or function
    created with it cannot be created (and checked by AWS) before its permissions exist.
    """

    role: aws.iam.Role
    policy: aws.iam.RolePolicy

    @property
    def arn(self) -> pulumi.Output[str]:
        """The role's ARN, available once its inline policy is attached."""
        return pulumi.Output.all(self.role.arn, self.policy.id).apply(lambda v: v[0])

    @property
    def name(self) -> pulumi.Output[str]:
        """The role's name."""
        return self.role.name

    @property
    def id(self) -> pulumi.Output[str]:
        """The role's id."""
        return self.role.id


def workload_role(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    service: str,
    account: pulumi.Input[str],
    statements: tuple[pulumi.Input[dict[str, Any]], ...],
    layer: str,
    names: LakeNames | None = None,
    source_arns: bool = True,
) -> WorkloadRole:
    """A role trusted by ``service`` in this account, with one inline policy.

    With ``names``, the trust is also limited to the lake's own resources of that service
    (``aws:SourceArn``, for the services that send it; ``source_arns=False`` for a role a
    service assumes without sending it, like an ECS task execution role)."""

    def trust(account_id: str) -> str:
        sources = (
            trust_source_arns(
                service,
                partition=names.partition,
                region=names.region,
                account=account_id,
                prefix=names.prefix,
            )
            if names is not None and source_arns
            else []
        )
        return assume_role_policy(service, account_id, sources)

    return role_with_policy(
        parent,
        logical,
        name=name,
        trust=pulumi.Output.from_input(account).apply(trust),
        statements=statements,
        layer=layer,
    )


def role_with_policy(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    trust: pulumi.Input[str],
    statements: tuple[pulumi.Input[dict[str, Any]], ...],
    layer: str,
) -> WorkloadRole:
    """The role ``name`` with trust policy ``trust`` and exactly ``statements`` inline."""
    role = aws.iam.Role(
        f"{logical}-role",
        name=name,
        assume_role_policy=trust,
        tags=layer_tags(layer),
        opts=child_options(parent),
    )
    policy = aws.iam.RolePolicy(
        f"{logical}-policy",
        role=role.id,
        policy=policy_json(*statements),
        opts=child_options(parent),
    )
    return WorkloadRole(role, policy)


def standard_state_machine(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    role: WorkloadRole,
    logs: aws.cloudwatch.LogGroup,
    definition: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    layer: str,
) -> aws.sfn.StateMachine:
    """A Standard workflow (it waits on ECS and EMR jobs), logging errors, KMS-encrypted."""
    return aws.sfn.StateMachine(
        logical,
        name=name,
        type="STANDARD",
        role_arn=role.arn,
        definition=definition,
        logging_configuration={
            "level": "ERROR",
            "include_execution_data": False,
            "log_destination": pulumi.Output.concat(logs.arn, ":*"),
        },
        encryption_configuration={
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kms_key_id": kms_key_arn,
            "kms_data_key_reuse_period_seconds": 300,
        },
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def workload_log_group(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    layer: str,
) -> aws.cloudwatch.LogGroup:
    """A workload's log group: retention from settings, encrypted with the lake key."""
    return aws.cloudwatch.LogGroup(
        logical,
        name=name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def deployer_arn(parent: pulumi.Resource, caller_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The IAM principal behind the deploying session (an assumed role's role ARN)."""
    session = aws.iam.get_session_context_output(
        arn=caller_arn, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return session.issuer_arn


def regional_arn(
    service: str, region: str, account: pulumi.Input[str], resource: pulumi.Input[str]
) -> pulumi.Output[str]:
    """``arn:<partition>:<service>:<region>:<account>:<resource>``, in the region's partition."""
    return pulumi.Output.concat(
        f"arn:{partition_of(region)}:{service}:", region, ":", account, ":", resource
    )


def s3_uri(bucket: pulumi.Input[str], key: pulumi.Input[str]) -> pulumi.Output[str]:
    """``s3://<bucket>/<key>``."""
    return pulumi.Output.concat("s3://", bucket, "/", key)
