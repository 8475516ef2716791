"""Bronze dispatch: the control-table stream starts one ingestion per new pending record.

    control table stream ──EventBridge Pipe (INSERT, layer=bronze, status=pending)──▶
    ingestion state machine ──ReadRecordCount (a stream "N" is a string: ParseRecordCount)──▶
        ChooseCompute: record_count ≥ threshold──▶ IngestOnFargate
                                              └──▶ IngestOnLambda
        ──Retry (never the not-retryable errors), Catch──▶ RecordFailure ──▶ IngestFailed

The machine is Standard: Express cannot wait on an ECS task (``runTask.sync``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.control import failure_update_parameters
from datalake.errors import NOT_RETRYABLE
from datalake.naming import layer_tags
from datalake.runtime import CONTROL_ID

from .asl import (
    ALL_ERRORS,
    DISCARD,
    DYNAMODB_UPDATE_ITEM,
    ECS_RUN_TASK_SYNC,
    Catch,
    Choice,
    ChoiceRule,
    Fail,
    JsonPath,
    Pass,
    Retry,
    StateMachine,
    Task,
    lambda_invoke,
    never_retry,
)
from .bronze_scope import LAYER, BronzeScope
from .options import child_options
from .policies import kms_use, sqs_send, state_machine_log_delivery
from .workloads import WorkloadRole, regional_arn, standard_state_machine

CONTAINER_NAME = "ingest"
"""The Fargate task's one container (the state machine overrides its environment)."""
PIPE_INPUT_TEMPLATE = (
    '{"control_id": "<$.dynamodb.NewImage.control_id.S>", '
    '"record_count": "<$.dynamodb.NewImage.record_count.N>"}'
)
"""The execution input the pipe builds from a stream record. A DynamoDB ``N`` is a JSON
string in the stream record, so it is quoted here (always valid JSON) and the state machine
parses it (``ParseRecordCount``) before comparing it with the threshold."""
PIPE_STREAM_RETRIES = 10


@dataclass(frozen=True)
class Dispatch:
    """Where the state machine sends a record: the lite Lambda or the Fargate task."""

    threshold: int
    """Records at or above which a file goes to Fargate."""
    max_attempts: int
    interval_seconds: int
    backoff_rate: float
    assign_public_ip: bool


def ingestion_definition(
    dispatch: Dispatch,
    *,
    lite_function_arn: str,
    cluster_arn: str,
    task_definition_arn: str,
    subnet_ids: list[str],
    security_group_ids: list[str],
    control_table_name: str,
) -> StateMachine:
    """The ingestion state machine: choose compute, ingest with retries, record a failure."""
    retry = (
        # The input itself is bad: the worker already marked the record; retrying repeats it.
        never_retry([e.__name__ for e in NOT_RETRYABLE]),
        Retry(
            (ALL_ERRORS,),
            max_attempts=dispatch.max_attempts - 1,
            interval_seconds=dispatch.interval_seconds,
            backoff_rate=dispatch.backoff_rate,
            jitter=True,
        ),
    )
    catch = (Catch("RecordFailure", result_path="$.failure"),)
    network = {
        "Subnets": subnet_ids,
        "SecurityGroups": security_group_ids,
        "AssignPublicIp": "ENABLED" if dispatch.assign_public_ip else "DISABLED",
    }
    container = {
        "Name": CONTAINER_NAME,
        "Environment": [{"Name": CONTROL_ID, "Value": JsonPath("$.control_id")}],
    }
    return StateMachine(
        comment="Ingest one raw object into bronze on Lambda or Fargate",
        start_at="ReadRecordCount",
        states={
            # The pipe sends the count as a string; a replay (`datalake reprocess`) a number.
            "ReadRecordCount": Choice(
                [ChoiceRule("$.record_count", "IsString", True, "ParseRecordCount")],
                default="ChooseCompute",
            ),
            "ParseRecordCount": Pass(
                parameters={
                    "control_id": JsonPath("$.control_id"),
                    "record_count": JsonPath("States.StringToJson($.record_count)"),
                },
                next="ChooseCompute",
            ),
            "ChooseCompute": Choice(
                [
                    ChoiceRule(
                        "$.record_count",
                        "NumericGreaterThanEquals",
                        dispatch.threshold,
                        "IngestOnFargate",
                    )
                ],
                default="IngestOnLambda",
            ),
            "IngestOnLambda": lambda_invoke(
                lite_function_arn,
                {"control_id": JsonPath("$.control_id")},
                result_selector={"result": JsonPath("$.Payload")},
                retry=retry,
                catch=catch,
                end=True,
            ),
            "IngestOnFargate": Task(
                ECS_RUN_TASK_SYNC,
                parameters={
                    "Cluster": cluster_arn,
                    "TaskDefinition": task_definition_arn,
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {"AwsvpcConfiguration": network},
                    "Overrides": {"ContainerOverrides": [container]},
                },
                result_selector={"stopped_reason": JsonPath("$.StoppedReason")},
                retry=retry,
                catch=catch,
                end=True,
            ),
            # The worker records its own failures; this covers what it cannot (timeouts,
            # out-of-memory kills, a task that never started), in ControlStore's encoding.
            # Only unfinished records change.
            "RecordFailure": Task(
                DYNAMODB_UPDATE_ITEM,
                parameters=failure_update_parameters(control_table_name, layer=LAYER),
                result_path=DISCARD,
                catch=(Catch("IngestFailed", result_path=DISCARD),),
                next="IngestFailed",
            ),
            "IngestFailed": Fail(
                "IngestFailed", "The file stays in raw; its control record holds the error."
            ),
        },
    )


def pipe_filter() -> dict[str, Any]:
    """Only new, pending bronze control records start an ingestion."""
    return {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"layer": {"S": [LAYER]}, "status": {"S": ["pending"]}}},
    }


@dataclass(frozen=True)
class IngestTargets:
    """What the state machine runs: the lite Lambda and the Fargate task, with its network."""

    lite: aws.lambda_.Function
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    task_roles: Sequence[WorkloadRole]
    subnet_ids: pulumi.Input[list[str]]
    security_group_ids: pulumi.Input[list[str]]


def ingestion_machine(
    scope: BronzeScope,
    dispatch: Dispatch,
    targets: IngestTargets,
    *,
    control_table_name: pulumi.Input[str],
    control_table_arn: pulumi.Input[str],
    logs: aws.cloudwatch.LogGroup,
) -> aws.sfn.StateMachine:
    """The state machine and its role: invoke the Lambda, run and watch the task, record."""
    region = scope.names.region
    lite_arn = targets.lite.arn
    role = scope.role(
        "bronze-ingestion",
        "states.amazonaws.com",
        {
            "Sid": "InvokeLite",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [lite_arn, pulumi.Output.concat(lite_arn, ":*")],
        },
        {
            "Sid": "RunMass",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": regional_arn(
                "ecs",
                region,
                scope.account,
                pulumi.Output.concat("task-definition/", targets.task_definition.family, ":*"),
            ),
        },
        {
            "Sid": "WatchMass",
            "Effect": "Allow",
            "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": targets.cluster.arn}},
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [r.arn for r in targets.task_roles],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "SyncTaskEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": regional_arn(
                "events", region, scope.account, "rule/StepFunctionsGetEventsForECSTaskRule"
            ),
        },
        {
            "Sid": "RecordFailure",
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": control_table_arn,
        },
        kms_use(scope.kms_key_arn, encrypt=True),
        state_machine_log_delivery(),
    )
    definition = pulumi.Output.all(
        lite_arn,
        targets.cluster.arn,
        targets.task_definition.arn,
        targets.subnet_ids,
        targets.security_group_ids,
        control_table_name,
    ).apply(
        lambda v: ingestion_definition(
            dispatch,
            lite_function_arn=v[0],
            cluster_arn=v[1],
            task_definition_arn=v[2],
            subnet_ids=list(v[3]),
            security_group_ids=list(v[4]),
            control_table_name=v[5],
        ).to_json(scope.names.partition)
    )
    return standard_state_machine(
        scope.parent,
        scope.logical("ingestion"),
        name=scope.names.resource("bronze-ingestion"),
        role=role,
        logs=logs,
        definition=definition,
        kms_key_arn=scope.kms_key_arn,
        layer=LAYER,
    )


def control_stream_pipe(
    scope: BronzeScope,
    *,
    control_stream_arn: pulumi.Input[str],
    machine: aws.sfn.StateMachine,
    dead_letters: aws.sqs.Queue,
) -> aws.pipes.Pipe:
    """The pipe from the control-table stream to the state machine, one record at a time."""
    role = scope.role(
        "bronze-pipe",
        "pipes.amazonaws.com",
        {
            "Sid": "ReadControlStream",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": control_stream_arn,
        },
        {
            "Sid": "StartIngestion",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": machine.arn,
        },
        kms_use(scope.kms_key_arn, encrypt=True),
        sqs_send([dead_letters.arn]),
    )
    return aws.pipes.Pipe(
        scope.logical("pipe"),
        name=scope.names.resource("bronze-pipe"),
        description="New pending bronze control records start an ingestion",
        role_arn=role.arn,
        source=control_stream_arn,
        source_parameters={
            "dynamodb_stream_parameters": {
                "starting_position": "LATEST",
                "batch_size": 1,
                "maximum_retry_attempts": PIPE_STREAM_RETRIES,
                "dead_letter_config": {"arn": dead_letters.arn},
            },
            "filter_criteria": {"filters": [{"pattern": json.dumps(pipe_filter())}]},
        },
        target=machine.arn,
        target_parameters={
            "input_template": PIPE_INPUT_TEMPLATE,
            "step_function_state_machine_parameters": {"invocation_type": "FIRE_AND_FORGET"},
        },
        tags=layer_tags(LAYER),
        opts=child_options(scope.parent),
    )
