"""Configuration the bronze workloads read from their environment (set by the component)."""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from datalake.errors import METRIC_NAMESPACE
from workloads.environment import EnvironmentConfig, WorkloadConfigError

__all__ = ["BronzeRuntimeConfig", "WorkloadConfigError", "use_lean_memory_pool"]


class BronzeRuntimeConfig(EnvironmentConfig):
    """Names and limits a bronze workload needs; every field is one environment variable."""

    describes = "bronze workload"

    control_table: str = Field(alias="CONTROL_TABLE")
    lake_bucket: str = Field(alias="LAKE_BUCKET")
    mass_threshold_records: int = Field(100_000, ge=1, alias="MASS_THRESHOLD_RECORDS")
    max_attempts: int = Field(3, ge=1, alias="MAX_ATTEMPTS")
    lease_seconds: int = Field(1800, ge=60, alias="LEASE_SECONDS")
    metric_namespace: str = Field(METRIC_NAMESPACE, alias="METRIC_NAMESPACE")

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
