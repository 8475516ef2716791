"""Alarms and schedules, written once for every layer.

An alarm fires on one datapoint of a failure metric over five minutes and notifies the lake's
topic (when set) both ways; a schedule starts a state machine through EventBridge Scheduler with
a role that can do nothing else.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from datalake.naming import layer_tags

from .options import child_options
from .workloads import WorkloadRole

ALARM_PERIOD_SECONDS = 300
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600
SCHEDULE_MAX_RETRIES = 3


def failure_alarm(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, pulumi.Input[str]] | None,
    actions: list[pulumi.Input[str]],
    layer: str,
    statistic: str = "Sum",
) -> aws.cloudwatch.MetricAlarm:
    """Alarm when ``metric`` reaches one in a five-minute period (missing data is fine)."""
    return aws.cloudwatch.MetricAlarm(
        logical,
        name=name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic=statistic,
        period=ALARM_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def executions_failed_alarm(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    description: str,
    machine: aws.sfn.StateMachine,
    actions: list[pulumi.Input[str]],
    layer: str,
) -> aws.cloudwatch.MetricAlarm:
    """Alarm on any failed execution of ``machine``."""
    return failure_alarm(
        parent,
        logical,
        name=name,
        description=description,
        namespace="AWS/States",
        metric="ExecutionsFailed",
        dimensions={"StateMachineArn": machine.arn},
        actions=actions,
        layer=layer,
    )


def start_schedule(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    description: str,
    expression: str,
    timezone: str,
    machine: aws.sfn.StateMachine,
    role: WorkloadRole,
    input_json: str = "{}",
    dead_letters: aws.sqs.Queue | None = None,
) -> aws.scheduler.Schedule:
    """An EventBridge Scheduler schedule that starts ``machine`` with ``input_json``; a start
    that still fails after the retries goes to ``dead_letters`` (sent with ``role``)."""
    return aws.scheduler.Schedule(
        logical,
        name=name,
        description=description,
        schedule_expression=expression,
        schedule_expression_timezone=timezone,
        flexible_time_window={"mode": "OFF"},
        target={
            "arn": machine.arn,
            "role_arn": role.arn,
            "input": input_json,
            "retry_policy": {
                "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                "maximum_retry_attempts": SCHEDULE_MAX_RETRIES,
            },
            "dead_letter_config": {"arn": dead_letters.arn} if dead_letters is not None else None,
        },
        opts=child_options(parent),
    )
