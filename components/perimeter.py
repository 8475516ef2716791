"""The lake's perimeter: resource policies that keep raw PII, bronze, silver and the HMAC key
to the lake's own roles, whatever an account principal's IAM policy allows.

    key policy        account root administers through IAM (lockout rule) · S3 access logs,
                      CloudWatch Logs, vended log delivery, EventBridge → queues, alarms and
                      budgets → the alarm topic may use it ·
                      outsiders use it only through the lake's services (kms:ViaService) ·
                      only the HMAC key's readers (and the deployer) decrypt through
                      Secrets Manager · outsiders create grants only through AWS services
    bucket policies   TLS 1.2+, lake key only · landing raw/: outsiders may only upload ·
                      landing stream-errors/, lake bronze/ silver/ quarantine/ pii-verdicts/:
                      outsiders nothing · listing: outsiders see gold/ only (lake) and
                      stream-errors/ only (landing: Firehose's object names, for status)
    CDC stream        outsiders may put records (the key through Kinesis: data keys) but never
                      read them (no decryption through Kinesis outside the lake)
    HMAC secret       value read/replaced only by the bronze workers, the rotation role,
                      the deployer (Pulumi reads the version back) and break-glass

"Insiders" are the lake's roles, recognised by name: every role the program creates is
``<project>-<env>-<purpose>`` (``LakeNames.resource``), so the policies can name them before
they exist and without a dependency cycle. The gold consumer role shares the prefix but is an
outsider (its ``Deny`` statements name it). Break-glass principals come from
``governance.break_glass_principals``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.layout import (
    ACCESS_LOGS_PREFIX,
    BRONZE_PREFIX,
    GOLD_PREFIX,
    PII_VERDICT_PREFIX,
    QUARANTINE_PREFIX,
    RAW_PREFIX,
    SILVER_PREFIX,
    STREAM_ERRORS_PREFIX,
)
from datalake.naming import Bucket, LakeNames

from .policies import alarm_publishers_key_use
from .workloads import deployer_arn

Policy = dict[str, Any]
CONSUMER_ROLE = "gold-consumer"
"""Purpose of the gold consumer role: named like a lake role, treated as an outsider."""
HMAC_KEY_READERS = ("bronze-ingest-lite", "bronze-ingest-mass-task", "pii-key-rotation")
"""Purposes of the roles that read the HMAC key: the two bronze workers and its rotation."""
SEALED_PREFIXES: dict[Bucket, tuple[str, ...]] = {
    # Records Firehose could not deliver are raw changes (PII in clear): nobody outside.
    Bucket.LANDING: (STREAM_ERRORS_PREFIX,),
    # Verdicts hold no values, but a forged "not PII" verdict would unmask a detected column.
    Bucket.LAKE: (BRONZE_PREFIX, SILVER_PREFIX, QUARANTINE_PREFIX, PII_VERDICT_PREFIX),
}
"""Prefixes no outsider may touch at all."""
INBOX_PREFIXES: dict[Bucket, tuple[str, ...]] = {Bucket.LANDING: (RAW_PREFIX,)}
"""Prefixes outsiders may upload to (producers, ``datalake seed upload``) but not read."""
UPLOAD_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
LISTABLE_PREFIXES: dict[Bucket, tuple[str, ...]] = {
    # Firehose names its error objects (stream, time, uuid): `datalake status` counts them.
    Bucket.LANDING: (STREAM_ERRORS_PREFIX,),
    Bucket.LAKE: (GOLD_PREFIX,),
}
"""Buckets whose listing outsiders are refused, but for these prefixes."""
KEY_DATA_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
OUTSIDER_KEY_SERVICES = (
    "s3",  # SSE-KMS: every data prefix an outsider could reach is sealed by the bucket policy
    "dynamodb",  # the control table (object keys and statuses, no row values): datalake status
    "states",  # starting and following executions: datalake process
    "sqs",  # reading and redriving dead letters
    "logs",
    "ecr",  # the deployer pushes the ingest image
    "lambda",
    "athena",
    "secretsmanager",  # narrowed to the HMAC key's readers by DenySecretDecryptionOutsideReaders
    "kinesis",  # producers put CDC records; reading them is denied by DenyStreamReads*
    "dms",  # the deployer creates DMS endpoints and replications on the lake key
)
"""Services through which a principal outside the lake may still use the key."""


@dataclass(frozen=True)
class Perimeter:
    """Who is inside the lake: its roles (by name prefix), break-glass principals, the
    deployer; and the account, partition and region the policies are written for."""

    partition: str
    account_id: str
    region: str
    prefix: str
    """``<project>-<environment>``: the start of every lake role's name."""
    break_glass: tuple[str, ...] = ()
    deployer_arn: str = ""
    """The IAM identity running the deployment (the role, not its session)."""

    def role(self, purpose: str) -> str:
        """ARN of the lake role of ``purpose`` (whether or not it exists yet)."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix}-{purpose}"

    @property
    def insiders(self) -> list[str]:
        """``aws:PrincipalArn`` patterns of the principals inside the perimeter."""
        return [self.role("*"), *self.break_glass]

    @property
    def hmac_key_readers(self) -> list[str]:
        """Principals that may read the HMAC key's value."""
        deployer = [self.deployer_arn] if self.deployer_arn else []
        return [*(self.role(p) for p in HMAC_KEY_READERS), *self.break_glass, *deployer]

    def service(self, name: str) -> str:
        """The regional endpoint of a service, as ``kms:ViaService`` names it."""
        return f"{name}.{self.region}.amazonaws.com"


def deployment_perimeter(
    parent: pulumi.Resource, names: LakeNames, break_glass: Sequence[str]
) -> pulumi.Output[Perimeter]:
    """The perimeter of this deployment: its account, partition and deploying identity."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    # The caller may be an assumed-role session; policies name the role itself.
    deployer = deployer_arn(parent, caller.arn)
    return pulumi.Output.all(partition.partition, caller.account_id, deployer).apply(
        lambda v: Perimeter(
            partition=v[0],
            account_id=v[1],
            region=names.region,
            prefix=names.prefix,
            break_glass=tuple(break_glass),
            deployer_arn=v[2],
        )
    )


def _outsiders(perimeter: Perimeter) -> list[tuple[str, dict[str, Any]]]:
    """Sid suffix and principal condition of each kind of outsider."""
    return [
        ("OutsideTheLake", {"ArnNotLike": {"aws:PrincipalArn": perimeter.insiders}}),
        ("ByConsumers", {"ArnLike": {"aws:PrincipalArn": [perimeter.role(CONSUMER_ROLE)]}}),
    ]


def key_policy(perimeter: Perimeter) -> Policy:
    """The lake key's policy: administration through IAM, the services that encrypt logs and
    messages, and the denies that keep outsiders to the lake's services."""
    p, account, region = perimeter.partition, perimeter.account_id, perimeter.region
    this_account = {"aws:SourceAccount": account}
    log_actions = [
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    ]
    statements: list[Policy] = [
        {
            # The KMS lockout rule: the account keeps kms:* so IAM can always manage the key.
            "Sid": "AccountAdministersThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{p}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "S3ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": this_account},
        },
        {
            "Sid": "CloudWatchLogsEncryption",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": log_actions,
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{p}:logs:{region}:{account}:log-group:*"
                    )
                }
            },
        },
        {
            # Step Functions (vended) logs reach key-encrypted log groups through this service.
            "Sid": "VendedLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": log_actions,
            "Resource": "*",
            "Condition": {
                "StringEquals": this_account,
                "ArnLike": {"aws:SourceArn": f"arn:{p}:logs:{region}:{account}:*"},
            },
        },
        {
            # EventBridge rules deliver to their key-encrypted dead-letter queues as the service.
            "Sid": "EventBridgeToEncryptedQueues",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {**this_account, "kms:ViaService": perimeter.service("sqs")}
            },
        },
        # CloudWatch alarms and Budgets → the key-encrypted alarm topic.
        *alarm_publishers_key_use(p, account, region, perimeter.prefix),
    ]
    via_lake_services = [perimeter.service(s) for s in OUTSIDER_KEY_SERVICES]
    for suffix, who in _outsiders(perimeter):
        statements.append(
            {
                "Sid": f"DenyKeyUse{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(KEY_DATA_ACTIONS),
                "Resource": "*",
                "Condition": {
                    **who,
                    # Services acting as themselves (logs, S3 log delivery, grants) are not denied.
                    "Bool": {"aws:PrincipalIsAWSService": "false"},
                    "StringNotEquals": {"kms:ViaService": via_lake_services},
                },
            }
        )
    statements += [
        {
            "Sid": "DenySecretDecryptionOutsideReaders",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(KEY_DATA_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnNotLike": {"aws:PrincipalArn": perimeter.hmac_key_readers},
                "StringEquals": {"kms:ViaService": perimeter.service("secretsmanager")},
            },
        },
    ]
    for suffix, who in _outsiders(perimeter):
        statements.append(
            {
                # The CDC stream is an inbox like raw/: outsiders put, only the lake reads.
                "Sid": f"DenyStreamReads{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    **who,
                    "StringEquals": {"kms:ViaService": perimeter.service("kinesis")},
                },
            }
        )
    for suffix, who in _outsiders(perimeter):
        statements.append(
            {
                # A grant would bypass the denies above; services create theirs for the caller.
                "Sid": f"DenyGrants{suffix}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {**who, "Bool": {"kms:GrantIsForAWSResource": "false"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def bucket_policy(
    *, purpose: Bucket, bucket_arn: str, key_arn: str, perimeter: Perimeter
) -> Policy:
    """TLS-only access; uploads may not ask for another encryption type or another key; the
    perimeter's denies on the bucket's sealed and inbox prefixes and on its listing.

    Uploads that send no encryption header are encrypted by the bucket default (the lake
    key), so they are allowed: requiring the header would break writers that rely on
    default encryption (S3 log delivery, pyiceberg, Spark).
    """
    objects = f"{bucket_arn}/*"
    statements: list[Policy] = [
        {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": condition,
        }
        for sid, condition in (
            ("DenyInsecureTransport", {"Bool": {"aws:SecureTransport": "false"}}),
            ("DenyOutdatedTls", {"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
        )
    ] + [
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # Only when the header is sent: a Deny with ...IfExists would also hold when it
            # is absent, and refuse every upload relying on the bucket default.
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                "Null": {"s3:x-amz-server-side-encryption": "false"},
            },
        },
        {
            "Sid": "DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        },
    ]
    statements += perimeter_statements(purpose, bucket_arn, perimeter)
    if purpose is Bucket.OBSERVER:
        statements.append(
            {
                "Sid": "AllowS3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ACCESS_LOGS_PREFIX}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": perimeter.account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def perimeter_statements(purpose: Bucket, bucket_arn: str, perimeter: Perimeter) -> list[Policy]:
    """The perimeter's denies on one bucket (none on artifacts and observer)."""
    out: list[Policy] = []
    sealed = [f"{bucket_arn}/{p}*" for p in SEALED_PREFIXES.get(purpose, ())]
    inbox = [f"{bucket_arn}/{p}*" for p in INBOX_PREFIXES.get(purpose, ())]
    for suffix, who in _outsiders(perimeter):
        consumer = suffix == "ByConsumers"
        if sealed:
            out.append(_deny(f"SealLakeData{suffix}", "Action", ["s3:*"], sealed, who))
        if inbox and consumer:
            out.append(_deny(f"SealRawData{suffix}", "Action", ["s3:*"], inbox, who))
        elif inbox:
            # Producers upload raw files; nobody outside the lake reads, deletes or retags one.
            out.append(_deny(f"SealRawData{suffix}", "NotAction", list(UPLOAD_ACTIONS), inbox, who))
        if purpose in LISTABLE_PREFIXES:
            listing = _listing_condition(LISTABLE_PREFIXES[purpose])
            out.append(
                _deny(f"DenyListing{suffix}", "Action", list(LIST_ACTIONS), [bucket_arn], who)
                | {"Condition": {**who, **listing}}
            )
    return out


def _listing_condition(listable: Sequence[str]) -> dict[str, Any]:
    # A listing without a prefix, or with "", "b" or "bronze", returns sealed keys; only a
    # prefix inside a listable one is safe. A missing s3:prefix satisfies StringNotLike: denied.
    if not listable:
        return {}
    patterns = [pattern for p in listable for pattern in (p, f"{p}*")]
    return {"StringNotLike": {"s3:prefix": patterns}}


def _deny(
    sid: str, action_key: str, actions: list[str], resources: list[str], who: dict[str, Any]
) -> Policy:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        action_key: actions,
        "Resource": resources,
        "Condition": dict(who),
    }


def hmac_secret_policy(perimeter: Perimeter) -> Policy:
    """The HMAC secret's resource policy: only its readers read or replace the key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyReadersUseTheHmacKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": [
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                # A secret's policy applies to that secret only: "*" is the secret itself.
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": perimeter.hmac_key_readers}},
            }
        ],
    }
