"""Dead-letter queues for the lake's EventBridge targets, and the alarm that they hold any.

schedule (EventBridge Scheduler) ──cannot start the machine after its retries──▶ DLQ
    sent with the schedule's own role: sqs:SendMessage + the lake key through SQS
rule target (EventBridge) ──cannot start the machine after its retries──▶ DLQ
    sent by events.amazonaws.com: the queue policy allows it for that one rule only
DLQ (lake key, two weeks) ── ApproximateNumberOfMessagesVisible ≥ 1 ──▶ alarm
"""

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, service_endpoint

from .alarms import failure_alarm
from .layer_function import dead_letter_queue
from .options import child_options
from .policies import Statement, sqs_send

QUEUE_DEPTH_METRIC = "ApproximateNumberOfMessagesVisible"


def target_dead_letters(
    parent: pulumi.Resource,
    logical: str,
    *,
    names: LakeNames,
    purpose: str,
    kms_key_arn: pulumi.Input[str],
    layer: str,
    actions: list[pulumi.Input[str]],
) -> aws.sqs.Queue:
    """The queue ``<prefix>-<purpose>-dlq`` (lake key) and an alarm when it is not empty."""
    queue = dead_letter_queue(
        parent,
        f"{logical}-dlq",
        name=names.resource(f"{purpose}-dlq"),
        kms_key_arn=kms_key_arn,
        layer=layer,
    )
    failure_alarm(
        parent,
        f"{logical}-dlq-alarm",
        name=names.resource(f"{purpose}-dlq"),
        description=f"Events for {purpose} could not be delivered: they wait in its DLQ",
        namespace="AWS/SQS",
        metric=QUEUE_DEPTH_METRIC,
        dimensions={"QueueName": queue.name},
        actions=actions,
        layer=layer,
        statistic="Maximum",
    )
    return queue


def scheduler_dead_letter_statements(
    queue: aws.sqs.Queue, kms_key_arn: pulumi.Input[str], region: str
) -> list[pulumi.Input[Statement]]:
    """What a schedule's role needs to dead-letter an event: Scheduler sends with it."""
    return [
        sqs_send([queue.arn]),
        {
            "Sid": "EncryptDeadLetters",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": service_endpoint("sqs", region)}},
        },
    ]


def rule_dead_letters_policy(
    parent: pulumi.Resource,
    logical: str,
    *,
    queue: aws.sqs.Queue,
    rule: aws.cloudwatch.EventRule,
) -> aws.sqs.QueuePolicy:
    """EventBridge may send to ``queue`` for ``rule`` only (``aws:SourceArn``)."""
    return aws.sqs.QueuePolicy(
        logical,
        queue_url=queue.url,
        policy=pulumi.Output.all(queue.arn, rule.arn).apply(
            lambda v: json.dumps(rule_dead_letters_document(v[0], v[1]))
        ),
        opts=child_options(parent),
    )


def rule_dead_letters_document(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """The queue policy of a rule target's dead-letter queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RuleDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
