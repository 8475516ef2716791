"""IAM policy statements, scoped to the least each workload needs.

Functions from ARNs (plain strings or Pulumi outputs) to statements; :func:`policy_json`
resolves them into one document. Data buckets are only ever granted per prefix: no statement
on a data bucket uses ``*``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pulumi

Statement = dict[str, Any]


def document(*statements: Statement) -> dict[str, Any]:
    """A policy document from statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(service: str, account_id: str | None = None) -> str:
    """Trust policy for an AWS service principal, limited to this account when known."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps(document(statement))


Arn = pulumi.Input[str]


def _under(arn: Arn, suffix: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(arn, suffix)


def s3_read(bucket_arn: Arn, prefixes: Sequence[str], sid: str) -> Statement:
    """Read objects under the given prefixes of one bucket."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [_under(bucket_arn, f"/{p}*") for p in prefixes],
    }


def s3_write(bucket_arn: Arn, prefixes: Sequence[str], sid: str) -> Statement:
    """Write (and overwrite, including multipart uploads) under the given prefixes."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "Resource": [_under(bucket_arn, f"/{p}*") for p in prefixes],
    }


def kms_use(key_arn: Arn, *, encrypt: bool) -> Statement:
    """Decrypt with the lake key, and encrypt with it when the workload writes."""
    actions = ["kms:Decrypt", "kms:DescribeKey"]
    if encrypt:
        actions += ["kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"]
    return {"Sid": "UseLakeKey", "Effect": "Allow", "Action": actions, "Resource": key_arn}


def control_table_access(table_arn: Arn, *, update: bool) -> Statement:
    """Read and register control records (and update them, for workers)."""
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    if update:
        actions.append("dynamodb:UpdateItem")
    return {
        "Sid": "ControlRecords",
        "Effect": "Allow",
        "Action": actions,
        "Resource": [table_arn, _under(table_arn, "/index/*")],
    }


def logs_write(log_group_arn: Arn) -> Statement:
    """Write to one log group."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [log_group_arn, _under(log_group_arn, ":*")],
    }


def metrics_put(namespace: str) -> Statement:
    """Publish metrics in one namespace (PutMetricData has no resource-level scoping)."""
    return {
        "Sid": "PublishMetrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }


def sqs_send(queue_arns: Iterable[Arn]) -> Statement:
    """Send to dead-letter queues."""
    return {
        "Sid": "SendToDeadLetterQueue",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": list(queue_arns),
    }


def state_machine_log_delivery() -> Statement:
    """What a state machine needs to log: CloudWatch configures log delivery account-wide."""
    return {
        "Sid": "DeliverLogs",
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ],
        "Resource": "*",
    }


def policy_json(*parts: pulumi.Input[Statement]) -> pulumi.Output[str]:
    """JSON of a document whose statements may hold outputs."""
    return pulumi.Output.all(*parts).apply(lambda resolved: json.dumps(document(*resolved)))
