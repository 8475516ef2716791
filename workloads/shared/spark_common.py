"""What both Spark jobs share: table creation from a spec, JSON in S3, the session, arguments.

Shipped to EMR Serverless with the silver and the gold job (the component bundles the local
modules a job imports), so it runs on Python 3.9 with pyspark and the standard library only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

Month = tuple[int, int]


def ensure_table(spark: Any, name: str, spec: dict[str, Any]) -> None:
    """Create the Iceberg table from the spec, or add the spec's new columns (nullable)."""
    columns = ", ".join(f"{c['name']} {c['type']}" for c in spec["columns"])
    partitions = ", ".join(
        f"days({source})" if transform == "day" else source
        for transform, source in spec["partitioning"]
    )
    properties = ", ".join(f"'{k}'='{v}'" for k, v in sorted(spec["properties"].items()))
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING iceberg "
        f"PARTITIONED BY ({partitions}) TBLPROPERTIES ({properties})"
    )
    existing = {field.name for field in spark.table(name).schema.fields}
    for column in spec["columns"]:
        if column["name"] not in existing:
            spark.sql(f"ALTER TABLE {name} ADD COLUMN {column['name']} {column['type']}")


def months_condition(months: Sequence[Sequence[int]]) -> str:
    """SQL condition selecting the given (review_year, review_month) pairs (``FALSE`` if none).

    The same text as ``datalake.contracts.gold.months_condition``, which the job cannot import.
    """
    pairs = sorted((int(y), int(m)) for y, m in months)
    terms = [f"(review_year = {y} AND review_month = {m})" for y, m in pairs]
    return " OR ".join(terms) or "FALSE"


def read_json(spark: Any, uri: str) -> Any:
    """A JSON document from S3 (or a local path), read through Spark."""
    return json.loads("\n".join(row.value for row in spark.read.text(uri).collect()))


def write_json(spark: Any, uri: str, value: Any) -> None:
    """Write ``value`` as one JSON text file under ``uri`` (Spark writes a folder)."""
    spark.createDataFrame([(json.dumps(value),)], ["value"]).coalesce(1).write.mode(
        "overwrite"
    ).text(uri)


def job_arguments(prog: str) -> argparse.ArgumentParser:
    """The parser every job starts from: the Iceberg catalog and the database it writes.

    The catalog's warehouse is Spark configuration (set by the component), not an argument.
    """
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--database", required=True)
    return parser


def job_session(app_name: str) -> Any:
    """The job's Spark session, computing in UTC (month partitions must not shift)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(app_name).getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark
