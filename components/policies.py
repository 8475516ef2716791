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

from datalake.layout import DOMAIN_PREFIX
from datalake.naming import service_endpoint

Statement = dict[str, Any]


def document(*statements: Statement) -> dict[str, Any]:
    """A policy document from statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(
    service: str | Sequence[str], account_id: str | None = None, source_arns: Sequence[str] = ()
) -> str:
    """Trust policy for an AWS service principal (or several names of one service), limited to
    this account when known and to the resources in ``source_arns`` (``aws:SourceArn``, ``*``
    patterns) when given."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service if isinstance(service, str) else list(service)},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if account_id:
        condition["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arns:
        condition["ArnLike"] = {"aws:SourceArn": list(source_arns)}
    if condition:
        statement["Condition"] = condition
    return json.dumps(document(statement))


TRUST_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "states.amazonaws.com": ("states", ("stateMachine:{prefix}-*",)),
    # The lake's schedules live in the default schedule group; Scheduler sends the group.
    "scheduler.amazonaws.com": ("scheduler", ("schedule-group/default",)),
    # Rules on the default bus (rule/<name>) and on the lake's bus (rule/<bus>/<name>).
    "events.amazonaws.com": ("events", ("rule/{prefix}-*",)),
    "pipes.amazonaws.com": ("pipes", ("pipe/{prefix}-*",)),
    "emr-serverless.amazonaws.com": ("emr-serverless", ("/applications/*",)),
    "ecs-tasks.amazonaws.com": ("ecs", ("*",)),
    # Endpoints and replications have generated ids: any DMS resource of this account/region.
    "dms.amazonaws.com": ("dms", ("*",)),
}
"""What each service sends as ``aws:SourceArn`` when it assumes a workload's role: the service
in the ARN and its resource patterns. Lambda sends none (execution roles cannot use it);
ECS sends it for task roles only, so execution roles are built without it."""


def external_id_trust(service: str, account_id: str) -> str:
    """Trust policy for a service that names the account as ``sts:ExternalId`` when it assumes
    the role (Firehose documents this form, not ``aws:SourceAccount``)."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": account_id}},
    }
    return json.dumps(document(statement))


def trust_source_arns(
    service: str, *, partition: str, region: str, account: str, prefix: str
) -> list[str]:
    """The ``aws:SourceArn`` patterns a role trusted by ``service`` accepts (none if the
    service does not send the key)."""
    if service not in TRUST_SOURCES:
        return []
    arn_service, resources = TRUST_SOURCES[service]
    return [
        f"arn:{partition}:{arn_service}:{region}:{account}:{r.format(prefix=prefix)}"
        for r in resources
    ]


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


def domain_read(artifacts_bucket_arn: Arn) -> Statement:
    """Read the published domain documents (``artifacts/domain/*``): every workload whose
    ``DATALAKE_DOMAIN`` is one of them."""
    return s3_read(artifacts_bucket_arn, [DOMAIN_PREFIX], "ReadDomain")


def kms_use(key_arn: Arn, *, encrypt: bool) -> Statement:
    """Decrypt with the lake key, and encrypt with it when the workload writes."""
    actions = ["kms:Decrypt", "kms:DescribeKey"]
    if encrypt:
        actions += ["kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"]
    return {"Sid": "UseLakeKey", "Effect": "Allow", "Action": actions, "Resource": key_arn}


STATE_MACHINE_CONTEXT_KEY = "kms:EncryptionContext:aws:states:stateMachineArn"


def start_execution(sid: str, machine_arn: Arn, key_arn: Arn) -> list[Statement]:
    """Start one state machine encrypted with the lake key: StartExecution needs the key too
    (data keys for the execution's input), scoped to that machine's encryption context."""
    return [
        {"Sid": sid, "Effect": "Allow", "Action": "states:StartExecution", "Resource": machine_arn},
        {
            "Sid": f"{sid}Encryption",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {STATE_MACHINE_CONTEXT_KEY: machine_arn}},
        },
    ]


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


def alarm_publishers(partition: str, account: str, region: str, prefix: str) -> dict[str, str]:
    """The services that publish to the lake's alarm topic, each with the source ARN pattern it
    publishes for: the lake's CloudWatch alarms (named ``<prefix>-*``) and this account's
    budgets. The topic policy and the key policy condition on the same patterns."""
    alarms = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{prefix}-*"
    return {
        "cloudwatch.amazonaws.com": alarms,
        "budgets.amazonaws.com": f"arn:{partition}:budgets::{account}:*",
    }


def alarm_publishers_key_use(
    partition: str, account: str, region: str, prefix: str
) -> list[Statement]:
    """The lake key's statements that let the alarm publishers write to the topic it encrypts
    (SNS needs a data key of the publisher), each only for its own sources in this account:
    the confused-deputy conditions of the topic policy."""
    sids = {
        "cloudwatch.amazonaws.com": "LakeAlarmsToTheTopic",
        "budgets.amazonaws.com": "BudgetsToTheTopic",
    }
    return [
        {
            "Sid": sids[service],
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": source},
            },
        }
        for service, source in alarm_publishers(partition, account, region, prefix).items()
    ]


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


KINESIS_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)
"""What a consumer of one stream needs (Firehose with a Kinesis source)."""
KINESIS_PUT_ACTIONS = ("kinesis:DescribeStream", "kinesis:PutRecord", "kinesis:PutRecords")
"""What a producer of one stream needs (the DMS Kinesis target)."""
KINESIS_CONTEXT_KEY = "kms:EncryptionContext:aws:kinesis:arn"
"""Kinesis passes the stream's ARN as the encryption context of every KMS call."""
S3_CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn"


def kinesis_read(stream_arn: Arn) -> Statement:
    """Read the records of one stream."""
    return {
        "Sid": "ReadTheStream",
        "Effect": "Allow",
        "Action": list(KINESIS_READ_ACTIONS),
        "Resource": stream_arn,
    }


def kinesis_put(stream_arn: Arn) -> Statement:
    """Put records to one stream."""
    return {
        "Sid": "PutToTheStream",
        "Effect": "Allow",
        "Action": list(KINESIS_PUT_ACTIONS),
        "Resource": stream_arn,
    }


def stream_key_use(key_arn: Arn, stream_arn: Arn, region: str, *, produce: bool) -> Statement:
    """The lake key through Kinesis, for this stream only: data keys to put records
    (``produce``), or decryption to read them."""
    return {
        "Sid": "EncryptStreamRecords" if produce else "DecryptStreamRecords",
        "Effect": "Allow",
        "Action": "kms:GenerateDataKey" if produce else "kms:Decrypt",
        "Resource": key_arn,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": service_endpoint("kinesis", region),
                KINESIS_CONTEXT_KEY: stream_arn,
            }
        },
    }


def s3_key_use(key_arn: Arn, bucket_arn: Arn, prefixes: Sequence[str], region: str) -> Statement:
    """The lake key through S3 for objects under ``prefixes`` of one bucket (the context is
    the bucket's ARN when S3 Bucket Keys are on, the object's otherwise); Decrypt as well for
    multipart uploads."""
    return {
        "Sid": "EncryptObjects",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": service_endpoint("s3", region)},
            "StringLike": {
                S3_CONTEXT_KEY: [bucket_arn, *(_under(bucket_arn, f"/{p}*") for p in prefixes)]
            },
        },
    }


def bucket_location(bucket_arn: Arn) -> Statement:
    """Find a bucket's region (no object or listing access)."""
    return {
        "Sid": "LocateBucket",
        "Effect": "Allow",
        "Action": "s3:GetBucketLocation",
        "Resource": bucket_arn,
    }


def log_stream_write(log_stream_arn: Arn) -> Statement:
    """Put events to one existing log stream."""
    return {
        "Sid": "WriteDeliveryLogs",
        "Effect": "Allow",
        "Action": "logs:PutLogEvents",
        "Resource": log_stream_arn,
    }


def secret_read(secret_arn: Arn, secret_key_arn: str | None, region: str) -> list[Statement]:
    """Read one secret's value, and decrypt it through Secrets Manager when it has a customer
    key of its own."""
    statements: list[Statement] = [
        {
            "Sid": "ReadTheSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        }
    ]
    if secret_key_arn:
        statements.append(
            {
                "Sid": "DecryptTheSecret",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": secret_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": service_endpoint("secretsmanager", region)}
                },
            }
        )
    return statements


def policy_json(*parts: pulumi.Input[Statement]) -> pulumi.Output[str]:
    """JSON of a document whose statements may hold outputs."""
    return pulumi.Output.all(*parts).apply(lambda resolved: json.dumps(document(*resolved)))
