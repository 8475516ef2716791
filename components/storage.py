"""LakeStorage: the lake's KMS key and its four buckets.

    KMS key (rotation on) + alias
      ├─ landing    raw/ stream-errors/        (S3 events start ingestion; failed CDC records)
      ├─ lake       bronze/ silver/ gold/ quarantine/
      ├─ artifacts  code bundles (Lambda zips, Spark jobs, container context)
      └─ observer   access-logs/ athena-results/

Every bucket: SSE-KMS with the lake key and bucket keys, all public access blocked, ownership
enforced, a policy denying non-TLS requests and uploads that ask for another encryption or
another key, lifecycle rules from settings, and server access logs to the observer bucket.
The key and bucket policies (``components.key_policy``, ``components.bucket_policies``) also
draw the lake's perimeter (``components.perimeter``): raw, the stream errors, bronze, silver,
quarantine and the verdicts stay with the lake's own roles.
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.layout import (
    ACCESS_LOGS_PREFIX,
    ATHENA_RESULTS_PREFIX,
    EMR_LOGS_PREFIX,
    STREAM_ERRORS_PREFIX,
    access_logs_prefix,
    layer_prefix,
)
from datalake.naming import Bucket, LakeNames, layer_tags
from datalake.settings import EncryptionSettings, LayerStorage, StorageSettings

from .bucket_policies import bucket_policy
from .foundation import LakeIdentity, names_of, section_settings
from .key_policy import key_policy
from .options import child_options, stateful_options
from .perimeter import Perimeter, deployment_perimeter

# Per bucket: lifecycle rule -> (the storage settings section that governs it, its prefix).
LIFECYCLE_PREFIXES: dict[Bucket, dict[str, tuple[str, str]]] = {
    Bucket.LANDING: {
        "raw": ("raw", layer_prefix("raw")),
        # Records Firehose could not deliver are raw records: they are kept as long as raw.
        "stream-errors": ("raw", STREAM_ERRORS_PREFIX),
    },
    Bucket.LAKE: {
        layer: (layer, layer_prefix(layer)) for layer in ("bronze", "silver", "gold", "quarantine")
    },
    Bucket.ARTIFACTS: {},
    Bucket.OBSERVER: {
        "access-logs": ("access_logs", ACCESS_LOGS_PREFIX),
        "athena-results": ("athena_results", ATHENA_RESULTS_PREFIX),
        "emr-logs": ("emr_logs", EMR_LOGS_PREFIX),
    },
}
VERSIONED_BUCKETS = frozenset({Bucket.LANDING, Bucket.LAKE, Bucket.ARTIFACTS})
"""The landing bucket is the replay source: an overwritten raw file must stay recoverable."""
BUCKET_LAYER_TAG: dict[Bucket, str] = {
    Bucket.LANDING: "raw",
    Bucket.LAKE: "lake",
    Bucket.ARTIFACTS: "artifacts",
    Bucket.OBSERVER: "observability",
}


class LakeStorageArgs(TypedDict):
    """Inputs of :class:`LakeStorage`."""

    lake: LakeIdentity
    """The lake's identity: bucket and key names, protection."""
    storage: NotRequired[dict[str, Any]]
    """The ``storage`` settings section (lifecycle, versioning, force destroy); defaults apply."""
    encryption: NotRequired[dict[str, Any]]
    """The ``encryption`` settings section (key rotation and deletion window)."""
    break_glass_principals: NotRequired[list[str]]
    """IAM principals outside the lake's roles that may still read raw, bronze and silver
    and use the key directly (``governance.break_glass_principals``)."""


class LakeStorage(pulumi.ComponentResource):
    """Customer-managed KMS key and the landing, lake, artifacts and observer buckets."""

    key_arn: pulumi.Output[str]
    """ARN of the lake's customer-managed KMS key."""
    key_id: pulumi.Output[str]
    """Id of the lake's KMS key."""
    key_alias: pulumi.Output[str]
    """Alias of the lake's KMS key."""
    landing_bucket_name: pulumi.Output[str]
    """Landing bucket (``raw/``)."""
    landing_bucket_arn: pulumi.Output[str]
    """Landing bucket ARN."""
    lake_bucket_name: pulumi.Output[str]
    """Lake bucket (``bronze/``, ``silver/``, ``gold/``, ``quarantine/``)."""
    lake_bucket_arn: pulumi.Output[str]
    """Lake bucket ARN."""
    artifacts_bucket_name: pulumi.Output[str]
    """Artifacts bucket (code bundles, run manifests)."""
    artifacts_bucket_arn: pulumi.Output[str]
    """Artifacts bucket ARN."""
    observer_bucket_name: pulumi.Output[str]
    """Observer bucket (access logs, Athena results, Spark event logs)."""
    observer_bucket_arn: pulumi.Output[str]
    """Observer bucket ARN."""

    def __init__(
        self, name: str, args: LakeStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeStorage", name, None, opts)
        lake = args["lake"]
        names = names_of(lake)
        storage = section_settings(StorageSettings, "storage", args.get("storage"))
        encryption = section_settings(EncryptionSettings, "encryption", args.get("encryption"))
        perimeter = deployment_perimeter(self, names, args.get("break_glass_principals", []))

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{names.prefix} data lake key",
            enable_key_rotation=True,
            rotation_period_in_days=encryption.key_rotation_days,
            deletion_window_in_days=encryption.key_deletion_window_days,
            policy=perimeter.apply(lambda p: json.dumps(key_policy(p))),
            opts=stateful_options(self, lake["protect"]),
        )
        self.alias = aws.kms.Alias(
            f"{name}-key-alias",
            name=names.kms_alias,
            target_key_id=self.key.key_id,
            opts=child_options(self),
        )

        self.buckets: dict[Bucket, aws.s3.Bucket] = {}
        # Observer first: the others send their access logs to it.
        for purpose in (Bucket.OBSERVER, Bucket.LANDING, Bucket.LAKE, Bucket.ARTIFACTS):
            self.buckets[purpose] = self._bucket(
                name, purpose, names, storage, lake["protect"], perimeter
            )

        self.key_arn = self.key.arn
        self.key_id = self.key.key_id
        self.key_alias = self.alias.name
        self.bucket_names = {p: b.bucket for p, b in self.buckets.items()}
        self.bucket_arns = {p: b.arn for p, b in self.buckets.items()}
        self.landing_bucket_name = self.bucket_names[Bucket.LANDING]
        self.landing_bucket_arn = self.bucket_arns[Bucket.LANDING]
        self.lake_bucket_name = self.bucket_names[Bucket.LAKE]
        self.lake_bucket_arn = self.bucket_arns[Bucket.LAKE]
        self.artifacts_bucket_name = self.bucket_names[Bucket.ARTIFACTS]
        self.artifacts_bucket_arn = self.bucket_arns[Bucket.ARTIFACTS]
        self.observer_bucket_name = self.bucket_names[Bucket.OBSERVER]
        self.observer_bucket_arn = self.bucket_arns[Bucket.OBSERVER]
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "key_alias": self.key_alias,
                **{f"{p.value}_bucket": b.bucket for p, b in self.buckets.items()},
            }
        )

    def _bucket(
        self,
        name: str,
        purpose: Bucket,
        names: LakeNames,
        storage: StorageSettings,
        protect: bool,
        perimeter: pulumi.Output[Perimeter],
    ) -> aws.s3.Bucket:
        logical = f"{name}-{purpose.value}"
        bucket = aws.s3.Bucket(
            logical,
            bucket=names.bucket(purpose),
            force_destroy=storage.force_destroy,
            tags=layer_tags(BUCKET_LAYER_TAG[purpose]),
            opts=stateful_options(self, protect),
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
            policy=pulumi.Output.all(bucket.arn, self.key.arn, perimeter).apply(
                lambda v: json.dumps(
                    bucket_policy(purpose=purpose, bucket_arn=v[0], key_arn=v[1], perimeter=v[2])
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
                    "status": "Enabled" if storage.versioning else "Suspended"
                },
                opts=opts,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{logical}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(purpose, storage),
            # Lifecycle rules on noncurrent versions need versioning in place first.
            opts=child_options(self, depends_on=[bucket] + ([versioning] if versioning else [])),
        )
        if purpose is not Bucket.OBSERVER:
            aws.s3.BucketLogging(
                f"{logical}-access-logging",
                bucket=bucket.id,
                target_bucket=self.buckets[Bucket.OBSERVER].id,
                target_prefix=access_logs_prefix(purpose.value),
                target_object_key_format={
                    "partitioned_prefix": {"partition_date_source": "EventTime"}
                },
                opts=opts,
            )
        return bucket


def lifecycle_rules(
    purpose: Bucket, storage: StorageSettings
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Lifecycle rules of one bucket: per-prefix retention/transitions plus hygiene rules."""
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
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
    for rule_name, (section, prefix) in LIFECYCLE_PREFIXES[purpose].items():
        layer: LayerStorage = getattr(storage, section)
        if layer.retention_days is None and not layer.transitions:
            continue
        rule = aws.s3.BucketLifecycleConfigurationRuleArgsDict(
            id=f"{rule_name}-lifecycle", status="Enabled", filter={"prefix": prefix}
        )
        if layer.retention_days is not None:
            rule["expiration"] = {"days": layer.retention_days}
        if layer.transitions:
            rule["transitions"] = [
                {"days": t.days, "storage_class": t.storage_class}
                for t in sorted(layer.transitions, key=lambda t: t.days)
            ]
        rules.append(rule)
    return rules
