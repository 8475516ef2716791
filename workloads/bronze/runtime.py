"""Configuration the bronze workloads read from their environment (set by the component)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datalake.errors import METRIC_NAMESPACE


class WorkloadConfigError(RuntimeError):
    """A required environment variable is missing or invalid."""


class BronzeRuntimeConfig(BaseModel):
    """Names and limits a bronze workload needs; every field is one environment variable."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    control_table: str = Field(alias="CONTROL_TABLE")
    lake_bucket: str = Field(alias="LAKE_BUCKET")
    mass_threshold_records: int = Field(100_000, ge=1, alias="MASS_THRESHOLD_RECORDS")
    max_attempts: int = Field(3, ge=1, alias="MAX_ATTEMPTS")
    lease_seconds: int = Field(1800, ge=60, alias="LEASE_SECONDS")
    metric_namespace: str = Field(METRIC_NAMESPACE, alias="METRIC_NAMESPACE")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BronzeRuntimeConfig:
        """Read from ``os.environ``; the error names every missing or bad variable."""
        source = os.environ if environ is None else environ
        names = {f.alias for f in cls.model_fields.values() if f.alias}
        try:
            return cls.model_validate({k: v for k, v in source.items() if k in names})
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            raise WorkloadConfigError(f"bronze workload environment: {problems}") from None

    def environment(self) -> dict[str, str]:
        """The environment variables that reproduce this config (for the component)."""
        return {
            field.alias: str(getattr(self, name))
            for name, field in type(self).model_fields.items()
            if field.alias
        }


def use_lean_memory_pool() -> str:
    """Switch Arrow to jemalloc (else the system allocator) and return the pool's name.

    Arrow's default mimalloc pool keeps freed blocks, which shows as 100+ MB more peak RSS
    when streaming a large file (benchmarks/bronze_ingest.py measures it); called by the
    entry points, not on import.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return pool.backend_name
