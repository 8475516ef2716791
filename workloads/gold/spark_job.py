"""The gold Spark job (EMR Serverless, or local Spark in tests): the marts' SQL on Spark.

Runs on Python 3.9 with pyspark and the standard library only. The planner hands it each
mart's SQL (rendered from the domain's mart declarations, the same SQL the arrow engine runs
in DuckDB), its source view, the view's period and partition columns and the table spec, and
the run's partitions of each view (values of its partition columns, the leading period
columns); for those partitions of its view the job recomputes the mart and replaces exactly
those partitions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

# EMR runs this file as a script, beside a zip with workloads/ at its root; installed from the
# wheel (the local Spark engine) the package is datalake.workloads.
try:
    from workloads.shared import spark_common
except ModuleNotFoundError as missing:
    if missing.name != "workloads":
        raise
    from datalake.workloads.shared import spark_common  # type: ignore[import-not-found, no-redef]

ensure_table = spark_common.ensure_table
job_arguments = spark_common.job_arguments
job_session = spark_common.job_session
partition_condition = spark_common.partition_condition
read_json = spark_common.read_json

SOURCE = "__SOURCE__"
PARTITIONS = "__PARTITIONS__"
"""Placeholders of a mart's SQL in the manifest: the source view's table, the condition."""


def run_mart(
    spark: Any,
    source: str,
    target: str,
    mart: dict[str, Any],
    partitions: Sequence[Sequence[int]],
) -> int:
    """Replace ``partitions`` of one mart (from its manifest entry); return the rows written."""
    from pyspark.sql import functions as F

    ensure_table(spark, target, mart["spec"])
    if not partitions:
        return 0
    condition = partition_condition(mart["partition_columns"], partitions)
    rows = spark.sql(mart["sql"].replace(SOURCE, source).replace(PARTITIONS, condition))
    columns = [c["name"] for c in mart["spec"]["columns"]]
    rows = rows.select(*columns)
    rows.writeTo(target).overwrite(F.expr(condition))
    return rows.count()


def main(argv: Sequence[str] | None = None) -> int:
    """EMR Serverless entry point (the GoldMart state machine passes these arguments)."""
    parser = job_arguments("gold_spark_job")
    parser.add_argument("--mode", choices=["marts"], default="marts")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--mart", required=True)
    parser.add_argument("--source-database", required=True)
    args = parser.parse_args(argv)
    spark = job_session(f"gold-{args.mart}")
    manifest = read_json(spark, args.manifest)
    mart = manifest["marts"][args.mart]
    source = f"{args.catalog}.{args.source_database}.{mart['source']}"
    target = f"{args.catalog}.{args.database}.{args.mart}"
    partitions = manifest["partitions"].get(mart["source"], [])
    written = run_mart(spark, source, target, mart, partitions)
    print(json.dumps({"mart": args.mart, "rows": written}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
