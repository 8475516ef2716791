"""Silver Iceberg tables as code: now ``workloads/shared/tables.py`` (gold's marts use it too).

Re-exported here for callers that still import it from silver (the benchmarks).
"""

from __future__ import annotations

from workloads.shared.tables import (
    ensure_table,
    iceberg_schema,
    partition_spec,
    table_properties,
)

__all__ = ["ensure_table", "iceberg_schema", "partition_spec", "table_properties"]
