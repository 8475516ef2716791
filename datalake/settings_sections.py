"""The sections of the settings model: one pydantic model per ``datalake:lake.<section>``.

``datalake/settings.py`` composes them into :class:`~datalake.settings.LakeSettings` and holds
the rules that span sections; every name here is re-exported from there.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datalake.schedules import validate_schedule_expression

StorageClass = Literal[
    "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"
]
# Iceberg reads any data file of a live snapshot at any time: archive classes would break reads.
INSTANT_ACCESS_CLASSES = frozenset(
    {"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"}
)
IamPrincipalArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9_+=,.@/-]+$", max_length=2048
    ),
]
GlueName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")]
# Fargate's valid CPU units -> allowed memory (MiB) range and step.
FARGATE_MEMORY: dict[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}


Issue = tuple[tuple[str | int, ...], str, object]
"""A rule's problem: (config path parts under ``datalake:lake``, message, the value given)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Transition(_Section):
    """Move objects of a layer to another storage class after some days."""

    days: int = Field(ge=0, le=36500, description="Days after creation.")
    storage_class: StorageClass = Field(description="Target S3 storage class.")


class LayerStorage(_Section):
    """Lifecycle of the objects under one layer's prefix."""

    retention_days: int | None = Field(
        None, ge=1, le=36500, description="Expire objects after this many days; null keeps them."
    )
    transitions: list[Transition] = Field(
        default_factory=list, description="Storage-class transitions, in any order."
    )


class StorageSettings(_Section):
    """Buckets, per-layer lifecycle and versioning."""

    raw: LayerStorage = Field(
        LayerStorage(retention_days=90),
        description="Landing bucket, `raw/` prefix. Raw files are the replay source: keep "
        "them at least as long as you may need to re-ingest.",
    )
    bronze: LayerStorage = Field(
        LayerStorage(transitions=[Transition(days=30, storage_class="INTELLIGENT_TIERING")]),
        description="Lake bucket, `bronze/` prefix.",
    )
    silver: LayerStorage = Field(
        LayerStorage(),
        description="Lake bucket, `silver/` prefix (Iceberg: no expiry, instant-access classes).",
    )
    gold: LayerStorage = Field(
        LayerStorage(),
        description="Lake bucket, `gold/` prefix (Iceberg: no expiry, instant-access classes).",
    )
    quarantine: LayerStorage = Field(
        LayerStorage(retention_days=180), description="Lake bucket, `quarantine/` prefix."
    )
    access_logs: LayerStorage = Field(
        LayerStorage(
            retention_days=365, transitions=[Transition(days=30, storage_class="GLACIER_IR")]
        ),
        description="Observer bucket, `access-logs/` prefix (S3 server access logs).",
    )
    athena_results: LayerStorage = Field(
        LayerStorage(retention_days=30), description="Observer bucket, `athena-results/` prefix."
    )
    emr_logs: LayerStorage = Field(
        LayerStorage(retention_days=30),
        description="Observer bucket, `emr-logs/` prefix (Spark event logs of the silver and "
        "gold jobs).",
    )
    versioning: bool = Field(
        True,
        description="Versioning on the landing (the replay source), lake and artifacts buckets "
        "(required outside dev).",
    )
    noncurrent_version_retention_days: int = Field(
        30, ge=1, le=3650, description="Expire overwritten object versions after this many days."
    )
    abort_incomplete_multipart_days: int = Field(
        7, ge=1, le=365, description="Abort unfinished multipart uploads after this many days."
    )
    force_destroy: bool = Field(
        False, description="Let `pulumi destroy` delete non-empty data buckets (dev only)."
    )
    bucket_suffix: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,19}$",
        description="Appended to bucket names to make them globally unique (e.g. the account id).",
    )


class EncryptionSettings(_Section):
    """The lake's customer-managed KMS key (rotation is always on)."""

    key_rotation_days: int = Field(365, ge=90, le=2560, description="Automatic rotation period.")
    key_deletion_window_days: int = Field(
        30, ge=7, le=30, description="Waiting period before a deleted key is destroyed."
    )


class CatalogSettings(_Section):
    """Glue database names; null derives `<project>_<environment>_<layer>`."""

    bronze_database: GlueName | None = Field(None, description="Bronze Glue database.")
    silver_database: GlueName | None = Field(None, description="Silver Glue database.")
    gold_database: GlueName | None = Field(None, description="Gold Glue database.")


class IngestionSettings(_Section):
    """Raw -> bronze ingestion: dispatch threshold and compute sizes."""

    mass_threshold_records: int = Field(
        100_000, ge=1, description="Files with at least this many records run on ECS Fargate."
    )
    lambda_memory_mb: int = Field(2048, ge=128, le=10240, description="Ingest Lambda memory.")
    lambda_timeout_seconds: int = Field(900, ge=1, le=900, description="Ingest Lambda timeout.")
    ecs_cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(
        2048, description="Fargate task CPU units."
    )
    ecs_memory_mb: int = Field(
        8192, description="Fargate task memory (MiB); must be valid for `ecs_cpu`."
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts before a file stays in error.")
    lease_seconds: int = Field(
        1800, ge=60, le=43200, description="A claimed record may be re-claimed after this long."
    )
    retry_interval_seconds: int = Field(
        30, ge=1, le=3600, description="First wait before the state machine retries a file."
    )
    retry_backoff_rate: float = Field(2.0, ge=1.0, le=10.0, description="Retry wait multiplier.")
    lambda_runtime: Literal["python3.12", "python3.13"] = Field(
        "python3.12", description="Python runtime of the Lambda functions."
    )
    lambda_architecture: Literal["arm64", "x86_64"] = Field(
        "arm64", description="CPU architecture of the Lambda functions and the Fargate task."
    )
    controller_memory_mb: int = Field(
        1024, ge=128, le=10240, description="Processing controller Lambda memory."
    )
    controller_timeout_seconds: int = Field(
        300, ge=1, le=900, description="Processing controller Lambda timeout."
    )
    pandas_layer_version: str = Field(
        "3.16.0",
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        description="AWS SDK for pandas release whose managed layer provides pyarrow to the "
        "Lambdas (resolved through its public SSM parameter). 3.16.1's layer is 204 MB "
        "unzipped and leaves too little of Lambda's 250 MB for the bundle.",
    )
    pyarrow_layer_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$",
        description="A Lambda layer with pyarrow and numpy to use instead of AWS SDK for pandas.",
    )


class NetworkSettings(_Section):
    """Where the Fargate ingestion tasks run; empty lists create a small dedicated VPC."""

    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Existing subnets for the Fargate tasks."
    )
    security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Existing security groups for the Fargate tasks."
    )
    assign_public_ip: bool = Field(
        False,
        description="Give tasks a public IP. The VPC created when no subnets are given is then "
        "public (internet gateway) instead of private with VPC endpoints (the default); with "
        "your own subnets, true only if they are public (no NAT gateway or endpoints).",
    )
    vpc_cidr: str = Field(
        "10.42.0.0/16",
        pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/(1[6-9]|2[0-4])$",
        description="CIDR of the VPC created when no subnets are given.",
    )


class PiiSettings(_Section):
    """PII detection and masking policy."""

    comprehend_enabled: bool = Field(True, description="Use Amazon Comprehend to detect PII.")
    sample_size: int = Field(200, ge=1, le=10_000, description="Values sampled per string column.")
    min_fraction: float = Field(
        0.5, gt=0, le=1, description="Share of sampled values with an entity to call a column PII."
    )
    min_score: float = Field(0.7, ge=0, le=1, description="Minimum mean Comprehend score.")
    default_strategy: Literal["hash", "partial", "redact"] = Field(
        "hash", description="Masking strategy unless overridden."
    )
    strategies: dict[str, Literal["hash", "partial", "redact"]] = Field(
        default_factory=dict,
        description="Overrides by `<table>.<column>` of the domain or PII type (e.g. `EMAIL`); "
        "a column entry wins over a type entry.",
    )
    language_code: str = Field(
        "en", pattern=r"^[a-z]{2}$", description="Language Comprehend assumes for the text."
    )
    comprehend_max_attempts: int = Field(
        5, ge=1, le=10, description="Attempts per Comprehend call (throttling backs off)."
    )
    redaction_token: str = Field(
        "[REDACTED]", min_length=1, max_length=64, description="Token of `redact`."
    )
    secret_rotation_days: int | None = Field(
        None, ge=1, le=1000, description="Rotate the HMAC key secret; null never rotates."
    )


class EmrServerlessSettings(_Section):
    """EMR Serverless application running the Spark jobs."""

    release_label: str = Field(
        "emr-7.5.0", pattern=r"^emr-\d+\.\d+\.\d+$", description="EMR release (Spark 3.5)."
    )
    architecture: Literal["ARM64", "X86_64"] = Field("ARM64", description="CPU architecture.")
    max_vcpu: int = Field(16, ge=1, le=4000, description="Maximum vCPU of the application.")
    max_memory_gb: int = Field(64, ge=1, le=16000, description="Maximum memory (GB).")
    max_disk_gb: int = Field(200, ge=20, le=100000, description="Maximum disk (GB).")
    idle_timeout_minutes: int = Field(15, ge=1, le=10080, description="Auto-stop after idle.")
    job_timeout_minutes: int = Field(
        240,
        ge=5,
        le=10080,
        description="Execution timeout of every Spark job run (StartJobRun "
        "`ExecutionTimeoutMinutes`): EMR cancels a run still going after this long.",
    )


class SilverSettings(_Section):
    """Bronze -> silver Iceberg upserts."""

    schedule: str = Field("rate(1 hour)", description="EventBridge schedule expression.")
    emr: EmrServerlessSettings = Field(EmrServerlessSettings(), description="EMR Serverless.")
    target_file_size_mb: int = Field(128, ge=8, le=2048, description="Iceberg target file size.")
    snapshot_retention_days: int = Field(7, ge=1, le=3650, description="Expire older snapshots.")
    min_snapshots_to_keep: int = Field(5, ge=1, le=1000, description="Snapshots always kept.")
    max_concurrency: int = Field(
        4, ge=1, le=40, description="Tables merged at the same time (Spark jobs in parallel)."
    )
    schedule_timezone: str = Field(
        "UTC",
        description="IANA time zone of `schedule` and `maintenance_schedule` "
        "(e.g. `Europe/Paris`); cron expressions follow its daylight saving time.",
    )
    maintenance_schedule: str = Field(
        "cron(0 3 ? * SUN *)",
        description="EventBridge schedule expression of the table maintenance (compaction "
        "to `target_file_size_mb`, snapshot expiry).",
    )

    @field_validator("schedule", "maintenance_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return validate_schedule_expression(value)

    @field_validator("schedule_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (ValueError, KeyError, OSError):
            raise ValueError(
                "expected an IANA time zone name such as 'Europe/Paris', "
                "'America/New_York' or 'UTC'"
            ) from None
        return value


class GoldSettings(_Section):
    """Silver -> gold marts and consumer access through Athena."""

    schedule: str | None = Field(
        None,
        description="Extra schedule (in `silver.schedule_timezone`); null runs gold only after "
        "each successful silver run.",
    )
    reuse_silver_application: bool = Field(
        True,
        description="Run gold on the silver EMR Serverless application; false gives gold its "
        "own application with the same `silver.emr` settings.",
    )
    max_concurrency: int = Field(
        5, ge=1, le=40, description="Marts rebuilt at the same time (Spark jobs in parallel)."
    )
    athena_bytes_scanned_cutoff_mb: int = Field(
        10_240, ge=10, description="Per-query cutoff in the consumer workgroup (Athena minimum 10)."
    )
    demo_user: bool = Field(
        False,
        description="Create an IAM user with exactly the consumer role's permissions, for trying "
        "gold in the AWS console (no access keys or password are created; set a console "
        "password by hand). Leave off in shared accounts.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else validate_schedule_expression(value)


class GovernanceSettings(_Section):
    """Lake Formation administration and consumers."""

    admins: list[IamPrincipalArn] = Field(
        default_factory=list,
        description="Lake Formation admins besides the identity running `pulumi up`, which "
        "always stays an admin (the deploy creates tags, grants and tables that need it).",
    )
    data_lake_settings: Literal["managed", "external"] = Field(
        "managed",
        description="`managed`: this stack owns the account's Lake Formation settings (admins, "
        "default permissions); one stack per account and region may. `external`: another stack "
        "or team owns them; the deployer must already be a Lake Formation admin "
        "(`datalake verify` checks it) and `admins` must be empty.",
    )
    consumers: list[IamPrincipalArn] = Field(
        default_factory=list, description="Principals granted gold (PII-free) access."
    )
    break_glass_principals: list[IamPrincipalArn] = Field(
        default_factory=list,
        description="Principals besides the lake's own roles that may read raw, bronze, "
        "silver, quarantine and the PII HMAC key and use the lake key directly (incident "
        "response); everyone else is denied by the bucket, key and secret policies.",
    )
    permission_mode: Literal["lake-formation", "iam-compatible"] = Field(
        "lake-formation",
        description="`lake-formation`: only LF grants count. `iam-compatible`: new databases "
        "and tables also grant IAM_ALLOWED_PRINCIPALS (IAM policies alone give access).",
    )


class ProtectionSettings(_Section):
    """Protection of stateful resources (buckets, KMS key, control table)."""

    enabled: bool | None = Field(
        None,
        description="`protect` + `retain_on_delete` on stateful resources; null means on "
        "outside dev environments. Cannot be false outside dev.",
    )
