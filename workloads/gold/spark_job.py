"""The gold Spark job (EMR Serverless, or local Spark in tests): the marts' SQL on Spark.

Runs on Python 3.9 with pyspark and the standard library only. The planner hands it each
mart's SQL (rendered from the declarations in ``datalake/contracts/gold.py``, the same SQL the
arrow engine runs in DuckDB) and table spec; for the given months the job recomputes the mart
from review_flat and replaces exactly those partitions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from workloads.shared.spark_common import (
    ensure_table,
    job_arguments,
    job_session,
    months_condition,
    read_json,
)

SOURCE = "__SOURCE__"
MONTHS = "__MONTHS__"


def run_mart(
    spark: Any, source: str, target: str, mart: dict[str, Any], months: Sequence[Sequence[int]]
) -> int:
    """Replace ``months`` of one mart; return the rows written."""
    from pyspark.sql import functions as F

    ensure_table(spark, target, mart["spec"])
    if not months:
        return 0
    condition = months_condition(months)
    rows = spark.sql(mart["sql"].replace(SOURCE, source).replace(MONTHS, condition))
    columns = [c["name"] for c in mart["spec"]["columns"]]
    rows = rows.select(*columns)
    rows.writeTo(target).overwrite(F.expr(condition))
    return rows.count()


def main(argv: Sequence[str] | None = None) -> int:
    """EMR Serverless entry point (the GoldMart component passes these arguments)."""
    parser = job_arguments("gold_spark_job")
    parser.add_argument("--mode", choices=["marts"], default="marts")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--mart", required=True)
    parser.add_argument("--months", required=True)
    parser.add_argument("--source-database", required=True)
    args = parser.parse_args(argv)
    spark = job_session(f"gold-{args.mart}")
    manifest = read_json(spark, args.manifest)
    mart = manifest["marts"][args.mart]
    source = f"{args.catalog}.{args.source_database}.review_flat"
    target = f"{args.catalog}.{args.database}.{args.mart}"
    written = run_mart(spark, source, target, mart, json.loads(args.months))
    print(json.dumps({"mart": args.mart, "rows": written}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
