"""The runtime contract: what each workload reads from its environment, as one model each.

    ControlRuntime  what every layer's workers share             CONTROL_TABLE, DATALAKE_DOMAIN..
    BronzeRuntime   controller + ingest Lambdas, Fargate task    CONTROL_TABLE, LAKE_BUCKET, ...
    IngestTask      the Fargate task's record (state machine)    CONTROL_ID
    PiiRuntime      the ingest workers' masker                   PII_*, LAKE_BUCKET
    SilverRuntime   silver plan / finish / fail / gold-records   CONTROL_TABLE, ARTIFACTS_BUCKET..
    GoldRuntime     gold plan / finish / fail                    CONTROL_TABLE, ARTIFACTS_BUCKET..

A component sets a workload's variables only with ``Model.for_lake(...).to_environment()``,
the handlers read them only with ``Model.from_environment()``, and the local runner builds
them with the same constructors: a variable cannot be set under one name and read under
another, or forgotten in one place. Each field's alias is its environment variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datalake.domain import DOMAIN_VARIABLE
from datalake.errors import METRIC_NAMESPACE
from datalake.layout import PII_VERDICT_PREFIX

if TYPE_CHECKING:  # the workloads read only their environment, never the stack settings
    from datalake.settings import IngestionSettings, PiiSettings, SilverSettings

MaskingStrategy = Literal["hash", "partial", "redact"]
"""The masking strategies the PII workers implement (``workloads/pii/strategies.py``)."""
CONTROL_ID = "CONTROL_ID"
"""The variable the ingestion state machine overrides on the Fargate task."""


class RuntimeConfigError(RuntimeError):
    """A workload's environment lacks a variable, or holds a bad value (all are named)."""


class RuntimeModel(BaseModel):
    """A frozen model whose fields are environment variables (their aliases)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")
    describes: ClassVar[str] = "workload"

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """The environment variables of this model, in field order."""
        return tuple(f.alias for f in cls.model_fields.values() if f.alias)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read from ``environ`` (default ``os.environ``); other variables are ignored.

        Raises :class:`RuntimeConfigError` naming every missing or bad variable.
        """
        source = os.environ if environ is None else environ
        names = set(cls.variables())
        try:
            return cls.model_validate({k: v for k, v in source.items() if k in names})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise RuntimeConfigError(f"{cls.describes} environment: {problems}") from None

    def to_environment(self) -> dict[str, str]:
        """The variables that reproduce this model through :meth:`from_environment`."""
        values = self.model_dump(by_alias=True)
        return {name: _text(values[name]) for name in self.variables()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


class ControlRuntime(RuntimeModel):
    """The control table, its claim policy and the lake's domain: what every layer's workers
    share."""

    control_table: str = Field(alias="CONTROL_TABLE", min_length=1)
    domain_uri: str = Field(
        alias=DOMAIN_VARIABLE,
        min_length=1,
        description="The domain document the workers read their tables, views and marts from "
        "(``datalake.domain.load_domain_uri``): ``s3://<artifacts>/domain/<digest>.json`` in "
        "AWS (published by ``LakeCatalog``), a file path locally.",
    )
    max_attempts: int = Field(3, ge=1, alias="MAX_ATTEMPTS")
    lease_seconds: int = Field(1800, ge=60, alias="LEASE_SECONDS")


class BronzeRuntime(ControlRuntime):
    """The bronze controller, the ingest Lambda and the Fargate task."""

    describes = "bronze workload"

    lake_bucket: str = Field(alias="LAKE_BUCKET", min_length=1)
    mass_threshold_records: int = Field(100_000, ge=1, alias="MASS_THRESHOLD_RECORDS")
    metric_namespace: str = Field(METRIC_NAMESPACE, alias="METRIC_NAMESPACE")

    @classmethod
    def for_lake(
        cls,
        ingestion: IngestionSettings,
        *,
        control_table: str,
        lake_bucket: str,
        domain_uri: str,
    ) -> BronzeRuntime:
        """The bronze workers' configuration from the ``ingestion`` settings and names."""
        return cls(
            control_table=control_table,
            domain_uri=domain_uri,
            lake_bucket=lake_bucket,
            mass_threshold_records=ingestion.mass_threshold_records,
            max_attempts=ingestion.max_attempts,
            lease_seconds=ingestion.lease_seconds,
        )


class IngestTask(RuntimeModel):
    """The one record a Fargate ingest task processes (set per run by the state machine)."""

    describes = "bronze ingest task"

    control_id: str = Field(alias=CONTROL_ID, min_length=1)


class PiiRuntime(RuntimeModel):
    """The masking policy and detection limits of the ingest workers."""

    describes = "PII masking"

    secret_id: str = Field(alias="PII_SECRET_ID", min_length=1)
    verdict_bucket: str = Field(alias="LAKE_BUCKET", min_length=1)
    verdict_prefix: str = Field(PII_VERDICT_PREFIX, alias="PII_VERDICT_PREFIX")
    default_strategy: MaskingStrategy = Field("hash", alias="PII_DEFAULT_STRATEGY")
    strategies: dict[str, MaskingStrategy] = Field(default_factory=dict, alias="PII_STRATEGIES")
    redaction_token: str = Field("[REDACTED]", alias="PII_REDACTION_TOKEN")
    comprehend_enabled: bool = Field(True, alias="PII_COMPREHEND_ENABLED")
    language_code: str = Field("en", alias="PII_LANGUAGE_CODE")
    comprehend_max_attempts: int = Field(5, ge=1, alias="PII_COMPREHEND_MAX_ATTEMPTS")
    sample_size: int = Field(200, ge=1, alias="PII_SAMPLE_SIZE")
    min_fraction: float = Field(0.5, gt=0, le=1, alias="PII_MIN_FRACTION")
    min_score: float = Field(0.7, ge=0, le=1, alias="PII_MIN_SCORE")

    @field_validator("strategies", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def for_lake(
        cls,
        pii: PiiSettings,
        *,
        secret_id: str,
        lake_bucket: str,
        comprehend_enabled: bool | None = None,
    ) -> PiiRuntime:
        """The workers' policy from the ``pii`` settings; ``comprehend_enabled=False``
        overrides the settings where Comprehend is not reachable (the local run)."""
        return cls(
            secret_id=secret_id,
            verdict_bucket=lake_bucket,
            default_strategy=pii.default_strategy,
            strategies=dict(pii.strategies),
            redaction_token=pii.redaction_token,
            comprehend_enabled=(
                pii.comprehend_enabled if comprehend_enabled is None else comprehend_enabled
            ),
            language_code=pii.language_code,
            comprehend_max_attempts=pii.comprehend_max_attempts,
            sample_size=pii.sample_size,
            min_fraction=pii.min_fraction,
            min_score=pii.min_score,
        )


class SilverRuntime(ControlRuntime):
    """The silver Lambdas: plan (manifests), finish, fail, gold records."""

    describes = "silver workload"

    lake_bucket: str = Field(alias="LAKE_BUCKET", min_length=1)
    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET", min_length=1)
    target_file_size_mb: int = Field(128, ge=8, alias="TARGET_FILE_SIZE_MB")
    snapshot_retention_days: int = Field(7, ge=1, alias="SNAPSHOT_RETENTION_DAYS")
    min_snapshots_to_keep: int = Field(5, ge=1, alias="MIN_SNAPSHOTS_TO_KEEP")
    metric_namespace: str = Field(METRIC_NAMESPACE, alias="METRIC_NAMESPACE")

    @classmethod
    def for_lake(
        cls,
        silver: SilverSettings,
        ingestion: IngestionSettings,
        *,
        control_table: str,
        lake_bucket: str,
        artifacts_bucket: str,
        domain_uri: str,
    ) -> SilverRuntime:
        """From the ``silver`` settings, the lake's claim policy (``ingestion``) and names."""
        return cls(
            control_table=control_table,
            domain_uri=domain_uri,
            lake_bucket=lake_bucket,
            artifacts_bucket=artifacts_bucket,
            max_attempts=ingestion.max_attempts,
            lease_seconds=ingestion.lease_seconds,
            target_file_size_mb=silver.target_file_size_mb,
            snapshot_retention_days=silver.snapshot_retention_days,
            min_snapshots_to_keep=silver.min_snapshots_to_keep,
        )


class GoldRuntime(ControlRuntime):
    """The gold Lambdas: plan (the marts' manifest), finish, fail."""

    describes = "gold workload"

    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET", min_length=1)
    target_file_size_mb: int = Field(128, ge=8, alias="TARGET_FILE_SIZE_MB")

    @classmethod
    def for_lake(
        cls,
        ingestion: IngestionSettings,
        *,
        control_table: str,
        artifacts_bucket: str,
        target_file_size_mb: int,
        domain_uri: str,
    ) -> GoldRuntime:
        """From the lake's claim policy (``ingestion``), the Iceberg file size and names."""
        return cls(
            control_table=control_table,
            domain_uri=domain_uri,
            artifacts_bucket=artifacts_bucket,
            max_attempts=ingestion.max_attempts,
            lease_seconds=ingestion.lease_seconds,
            target_file_size_mb=target_file_size_mb,
        )


def combined_environment(*runtimes: RuntimeModel) -> dict[str, str]:
    """The variables of several models for one process (the ingest workers read bronze and
    PII); a variable two models share must have one value."""
    merged: dict[str, str] = {}
    for runtime in runtimes:
        for name, value in runtime.to_environment().items():
            if merged.setdefault(name, value) != value:
                raise RuntimeConfigError(f"{name}: {merged[name]!r} and {value!r} disagree")
    return merged
