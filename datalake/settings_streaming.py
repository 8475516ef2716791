"""The ``streaming`` settings section: database changes through DMS, Kinesis and Firehose.

``datalake/settings.py`` composes it into :class:`~datalake.settings.LakeSettings`;
:func:`streaming_issues` holds its rules that span fields (reported with their config path).
The path itself, shared by the component and the local emulator, is ``datalake/streaming.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from datalake.settings_sections import Issue, _Section

SecretArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
DMS_CAPACITY_UNITS = (1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384)
"""DMS Serverless capacity units (DCU) it accepts."""
SOURCE_PORTS = {"postgres": 5432, "aurora-postgresql": 5432, "mysql": 3306, "aurora": 3306}
"""Default port of each source engine (DMS engine names)."""


class KinesisStreamSettings(_Section):
    """The Kinesis Data Stream the changes flow through (encrypted with the lake key)."""

    mode: Literal["on-demand", "provisioned"] = Field(
        "on-demand",
        description="Capacity mode: on-demand scales by itself; provisioned bills per shard-hour.",
    )
    shards: int = Field(
        1, ge=1, le=64, description="Shards of a provisioned stream (ignored when on-demand)."
    )
    max_shards: int = Field(
        4,
        ge=1,
        le=64,
        description="Cost cap: a provisioned stream may have at most this many shards "
        "(checked before any resource is declared).",
    )
    retention_hours: int = Field(
        24,
        ge=24,
        le=8760,
        description="How long records stay readable: the window to recover a stalled delivery.",
    )

    @model_validator(mode="after")
    def _capped(self) -> KinesisStreamSettings:
        if self.mode == "provisioned" and self.shards > self.max_shards:
            raise ValueError(
                f"shards {self.shards} exceeds max_shards {self.max_shards} (the cost cap); "
                "lower shards or raise max_shards"
            )
        return self


class DeliverySettings(_Section):
    """The Firehose delivery stream that writes the changes to `raw/<table>/cdc/`."""

    buffer_size_mb: int = Field(
        64,
        ge=64,
        le=128,
        description="Deliver after this much data per table (dynamic partitioning needs 64-128).",
    )
    buffer_interval_seconds: int = Field(
        60,
        ge=0,
        le=900,
        description="Deliver after this long even if the buffer is not full (whichever of "
        "the two comes first).",
    )
    retry_seconds: int = Field(
        300,
        ge=0,
        le=7200,
        description="How long Firehose retries a failed S3 write before the error prefix.",
    )


class DmsSourceSettings(_Section):
    """The source database and the DMS Serverless replication that reads its changes."""

    engine: Literal["postgres", "aurora-postgresql", "mysql", "aurora"] = Field(
        description="DMS engine name of the source (RDS/Aurora PostgreSQL or MySQL)."
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port the security group lets DMS reach; null is the engine's (5432 or "
        "3306). DMS itself reads host and port from the secret.",
    )
    database_name: str = Field(min_length=1, max_length=63, description="Database to replicate.")
    secret_arn: SecretArn = Field(
        description="Secrets Manager secret with `username`, `password`, `host` and `port` of "
        "the source (DMS reads the connection from it; nothing of it is in config)."
    )
    secret_kms_key_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$",
        description="Customer key of that secret, if it has one (DMS decrypts through it).",
    )
    schema_name: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Source schema of the tables; null is `public` for PostgreSQL and the "
        "database itself for MySQL (where schema and database are one).",
    )
    table_names: dict[str, str] = Field(
        default_factory=dict,
        description="Source table of a domain CDC table when its name differs (`<domain table>: "
        "<source table>`); DMS renames it to the domain's name.",
    )
    subnet_ids: list[SubnetId] = Field(
        default_factory=list,
        description="Subnets DMS runs in (they must reach the database, Kinesis and Secrets "
        "Manager); empty uses `network.subnet_ids`.",
    )
    min_capacity_units: int = Field(1, description="Least DMS capacity units (DCU).")
    max_capacity_units: int = Field(4, description="Most DMS capacity units (DCU).")
    start_replication: bool = Field(
        False,
        description="Start the replication on deploy; false creates it stopped (start it with "
        "`aws dms start-replication`, see docs/streaming.md).",
    )

    @property
    def source_schema(self) -> str:
        """The schema DMS selects the tables from (``schema_name`` or the engine's default)."""
        if self.schema_name is not None:
            return self.schema_name
        return "public" if "postgres" in self.engine else self.database_name


class StreamingSettings(_Section):
    """Streaming CDC: DMS (optional) → Kinesis → Firehose → `raw/<table>/cdc/` → bronze."""

    enabled: bool = Field(
        False, description="Create the stream and the delivery for the domain's CDC tables."
    )
    stream: KinesisStreamSettings = Field(KinesisStreamSettings(), description="Kinesis.")
    delivery: DeliverySettings = Field(DeliverySettings(), description="Firehose.")
    source: DmsSourceSettings | None = Field(
        None, description="The DMS source side; null: producers put DMS-shaped records themselves."
    )


MIN_DMS_SUBNETS = 2
"""A DMS subnet group needs subnets in at least two availability zones."""


def streaming_issues(streaming: StreamingSettings, network_subnets: list[str]) -> list[Issue]:
    """Rules spanning fields of the section (and ``network.subnet_ids``), each with its path."""
    issues: list[Issue] = []
    source = streaming.source
    if source is None:
        return issues
    if not streaming.enabled:
        issues.append(
            (("streaming", "enabled"), "a source needs the stream: set enabled: true", False)
        )
    allowed = ", ".join(map(str, DMS_CAPACITY_UNITS))
    for name in ("min_capacity_units", "max_capacity_units"):
        value = getattr(source, name)
        if value not in DMS_CAPACITY_UNITS:
            issues.append((("streaming", "source", name), f"allowed: {allowed}", value))
    if source.min_capacity_units > source.max_capacity_units:
        issues.append(
            (
                ("streaming", "source", "min_capacity_units"),
                "must not exceed max_capacity_units",
                source.min_capacity_units,
            )
        )
    subnets = source.subnet_ids or network_subnets
    where = (
        ("streaming", "source", "subnet_ids") if source.subnet_ids else ("network", "subnet_ids")
    )
    if not subnets:
        issues.append(
            (
                ("streaming", "source", "subnet_ids"),
                "DMS needs subnets that reach the database; set streaming.source.subnet_ids or "
                "network.subnet_ids (the VPC the lake creates has no route to your database)",
                [],
            )
        )
    elif len(subnets) < MIN_DMS_SUBNETS:
        issues.append(
            (where, "a DMS subnet group needs subnets in two availability zones", subnets)
        )
    return issues


def streaming_domain_issues(
    streaming: StreamingSettings, cdc_tables: list[str], domain_name: str
) -> list[Issue]:
    """Rules between the section and the domain's CDC tables (``cdc: true``), like
    :func:`streaming_issues`: an enabled stream needs one, a renamed table must be one."""
    issues: list[Issue] = []
    if streaming.enabled and not cdc_tables:
        issues.append(
            (
                ("streaming", "enabled"),
                f"the domain {domain_name} has no CDC table (cdc: true) to stream; "
                "declare one or set enabled: false",
                True,
            )
        )
    for table in streaming.source.table_names if streaming.source else ():
        if table not in cdc_tables:
            issues.append(
                (
                    ("streaming", "source", "table_names", table),
                    f"not a CDC table of the domain {domain_name}; its CDC tables: "
                    + (", ".join(cdc_tables) or "none"),
                    None,
                )
            )
    return issues
