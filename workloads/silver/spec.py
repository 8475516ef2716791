"""The table spec the Spark jobs receive: now ``workloads/shared/tables.py`` (gold uses it too).

Re-exported here for callers that still import it from silver (the benchmarks).
"""

from __future__ import annotations

from workloads.shared.tables import SPARK_TYPES, spark_spec

__all__ = ["SPARK_TYPES", "spark_spec"]
