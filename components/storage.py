"""LakeStorage: the lake's KMS key and its four buckets.

    KMS key (rotation on) + alias
      ├─ landing    raw/                       (S3 events start ingestion)
      ├─ lake       bronze/ silver/ gold/ quarantine/
      ├─ artifacts  code bundles (Lambda zips, Spark jobs, container context)
      └─ observer   access-logs/ athena-results/

Every bucket: SSE-KMS with the lake key and bucket keys, all public access blocked, ownership
enforced, a policy denying non-TLS requests and uploads that ask for another encryption or
another key, lifecycle rules from settings, and server access logs to the observer bucket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.options import child_options, stateful_options
from datalake.naming import Bucket, LakeNames, layer_tags
from datalake.settings import EncryptionSettings, LayerStorage, StorageSettings

ACCESS_LOGS_PREFIX = "access-logs/"
ATHENA_RESULTS_PREFIX = "athena-results/"

# Which settings section governs which prefix of which bucket.
LIFECYCLE_PREFIXES: dict[Bucket, dict[str, str]] = {
    Bucket.LANDING: {"raw": "raw/"},
    Bucket.LAKE: {
        "bronze": "bronze/",
        "silver": "silver/",
        "gold": "gold/",
        "quarantine": "quarantine/",
    },
    Bucket.ARTIFACTS: {},
    Bucket.OBSERVER: {"access_logs": ACCESS_LOGS_PREFIX, "athena_results": ATHENA_RESULTS_PREFIX},
}
VERSIONED_BUCKETS = frozenset({Bucket.LAKE, Bucket.ARTIFACTS})
BUCKET_LAYER_TAG: dict[Bucket, str] = {
    Bucket.LANDING: "raw",
    Bucket.LAKE: "lake",
    Bucket.ARTIFACTS: "artifacts",
    Bucket.OBSERVER: "observability",
}


@dataclass
class LakeStorageArgs:
    """Inputs of :class:`LakeStorage`."""

    names: LakeNames
    storage: StorageSettings
    encryption: EncryptionSettings
    protect: bool


class LakeStorage(pulumi.ComponentResource):
    """Customer-managed KMS key and the landing, lake, artifacts and observer buckets."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    key_alias: pulumi.Output[str]
    bucket_names: dict[Bucket, pulumi.Output[str]]
    bucket_arns: dict[Bucket, pulumi.Output[str]]

    def __init__(
        self, name: str, args: LakeStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeStorage", name, None, opts)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account_id = caller.account_id

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.names.prefix} data lake key",
            enable_key_rotation=True,
            rotation_period_in_days=args.encryption.key_rotation_days,
            deletion_window_in_days=args.encryption.key_deletion_window_days,
            policy=pulumi.Output.all(account_id, partition.partition).apply(
                lambda v: json.dumps(
                    _key_policy(account_id=v[0], partition=v[1], region=args.names.region)
                )
            ),
            opts=stateful_options(self, args.protect),
        )
        self.alias = aws.kms.Alias(
            f"{name}-key-alias",
            name=args.names.kms_alias,
            target_key_id=self.key.key_id,
            opts=child_options(self),
        )

        self.buckets: dict[Bucket, aws.s3.Bucket] = {}
        # Observer first: the others send their access logs to it.
        for purpose in (Bucket.OBSERVER, Bucket.LANDING, Bucket.LAKE, Bucket.ARTIFACTS):
            self.buckets[purpose] = self._bucket(name, purpose, args, account_id)

        self.key_arn = self.key.arn
        self.key_id = self.key.key_id
        self.key_alias = self.alias.name
        self.bucket_names = {p: b.bucket for p, b in self.buckets.items()}
        self.bucket_arns = {p: b.arn for p, b in self.buckets.items()}
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "key_alias": self.key_alias,
                **{f"{p.value}_bucket": b.bucket for p, b in self.buckets.items()},
            }
        )

    def _bucket(
        self, name: str, purpose: Bucket, args: LakeStorageArgs, account_id: pulumi.Output[str]
    ) -> aws.s3.Bucket:
        logical = f"{name}-{purpose.value}"
        bucket = aws.s3.Bucket(
            logical,
            bucket=args.names.bucket(purpose),
            force_destroy=args.storage.force_destroy,
            tags=layer_tags(BUCKET_LAYER_TAG[purpose]),
            opts=stateful_options(self, args.protect),
        )
        opts = child_options(self, depends_on=[bucket])
        ownership = aws.s3.BucketOwnershipControls(
            f"{logical}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=opts,
        )
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{logical}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{logical}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=opts,
        )
        aws.s3.BucketPolicy(
            f"{logical}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, self.key.arn, account_id).apply(
                lambda v: json.dumps(
                    bucket_policy(
                        bucket_arn=v[0],
                        key_arn=v[1],
                        account_id=v[2],
                        receives_access_logs=purpose is Bucket.OBSERVER,
                    )
                )
            ),
            # S3 rejects a policy while the public access block is being changed.
            opts=child_options(self, depends_on=[public_block, ownership]),
        )
        versioning = None
        if purpose in VERSIONED_BUCKETS:
            versioning = aws.s3.BucketVersioning(
                f"{logical}-versioning",
                bucket=bucket.id,
                versioning_configuration={
                    "status": "Enabled" if args.storage.versioning else "Suspended"
                },
                opts=opts,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{logical}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(purpose, args.storage),
            # Lifecycle rules on noncurrent versions need versioning in place first.
            opts=child_options(self, depends_on=[bucket] + ([versioning] if versioning else [])),
        )
        if purpose is not Bucket.OBSERVER:
            aws.s3.BucketLogging(
                f"{logical}-access-logging",
                bucket=bucket.id,
                target_bucket=self.buckets[Bucket.OBSERVER].id,
                target_prefix=f"{ACCESS_LOGS_PREFIX}{purpose.value}/",
                target_object_key_format={
                    "partitioned_prefix": {"partition_date_source": "EventTime"}
                },
                opts=opts,
            )
        return bucket


def _key_policy(*, account_id: str, partition: str, region: str) -> dict:
    """Key policy: the account administers through IAM; S3 log delivery and CloudWatch Logs
    may encrypt logs (each only for this account's resources)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "CloudWatchLogsEncryption",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                        )
                    }
                },
            },
        ],
    }


def bucket_policy(
    *, bucket_arn: str, key_arn: str, account_id: str, receives_access_logs: bool
) -> dict:
    """TLS-only access; uploads may not ask for another encryption type or another key.

    Uploads that send no encryption header are encrypted by the bucket default (the lake
    key), so they are allowed: requiring the header would break writers that rely on
    default encryption (S3 log delivery, pyiceberg, Spark).
    """
    objects = f"{bucket_arn}/*"
    statements: list[dict] = [
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
            "Condition": {
                "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
            },
        },
        {
            "Sid": "DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "StringNotEqualsIfExists": {
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
                }
            },
        },
    ]
    if receives_access_logs:
        statements.append(
            {
                "Sid": "AllowS3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ACCESS_LOGS_PREFIX}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def lifecycle_rules(purpose: Bucket, storage: StorageSettings) -> list[dict]:
    """Lifecycle rules of one bucket: per-prefix retention/transitions plus hygiene rules."""
    rules: list[dict] = [
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {
                "days_after_initiation": storage.abort_incomplete_multipart_days
            },
        }
    ]
    if purpose in VERSIONED_BUCKETS:
        rules.append(
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {
                    "noncurrent_days": storage.noncurrent_version_retention_days
                },
            }
        )
    for section, prefix in LIFECYCLE_PREFIXES[purpose].items():
        layer: LayerStorage = getattr(storage, section)
        if layer.retention_days is None and not layer.transitions:
            continue
        rule: dict = {"id": f"{section.replace('_', '-')}-lifecycle", "status": "Enabled"}
        rule["filter"] = {"prefix": prefix}
        if layer.retention_days is not None:
            rule["expiration"] = {"days": layer.retention_days}
        if layer.transitions:
            rule["transitions"] = [
                {"days": t.days, "storage_class": t.storage_class}
                for t in sorted(layer.transitions, key=lambda t: t.days)
            ]
        rules.append(rule)
    return rules
