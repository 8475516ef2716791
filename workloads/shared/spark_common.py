"""What both Spark jobs share: table creation from a spec, JSON in S3, the session, arguments.

Shipped to EMR Serverless with the silver and the gold job (the component bundles the local
modules a job imports), so it runs on Python 3.9 with pyspark and the standard library only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PRIMARY_KEY_PROPERTY = "datalake.primary-key"
"""Table property holding the primary key (comma-separated) the table was created with."""
PARTITIONING_PROPERTY = "datalake.partitioning"
"""Table property holding its partitioning (``transform:column``, comma-separated)."""
PERIOD_PROPERTY = "datalake.period"
"""Table property holding a view's period columns (comma-separated; absent on other tables)."""
LOGICAL_TYPES = {"bigint": "long", "double": "double", "string": "string", "timestamp": "timestamp"}
"""Spark type -> the domain's type name (for messages)."""


def evolution_issues(
    table: str,
    existing: Mapping[str, str],
    wanted: Mapping[str, str],
    existing_key: Sequence[str] | None,
    wanted_key: Sequence[str],
) -> list[str]:
    """What an in-place evolution of ``table`` cannot do: removed or retyped columns, a new key.

    ``existing``/``wanted`` map column -> the domain's type name (long, double, string,
    timestamp); ``existing_key`` is None for a table created before keys were recorded.
    Adding columns is fine (they are added as nullable) and not reported. The same words as
    ``datalake.domain.evolution_issues``, which the pyiceberg engine uses (the job cannot).
    """
    issues = []
    for name, kind in existing.items():
        if name not in wanted:
            issues.append(
                f"table {table}: column {name} ({kind}) is in the deployed table but no longer "
                "in the domain; restore it (to drop a column, create a new table and backfill "
                "it)"
            )
        elif wanted[name] != kind:
            issues.append(
                f"table {table}: column {name} is {kind} in the deployed table but "
                f"{wanted[name]} in the domain; restore type {kind} (to retype a column, "
                "add a new column and backfill it)"
            )
    if existing_key is not None and tuple(existing_key) != tuple(wanted_key):
        issues.append(
            f"table {table}: primary key is ({', '.join(existing_key)}) in the deployed table "
            f"but ({', '.join(wanted_key)}) in the domain; restore it (to re-key a table, "
            "create a new table and backfill it)"
        )
    return issues


def partitioning_issues(table: str, existing: str | None, wanted: str) -> list[str]:
    """A changed partitioning (a view's period parts up to its ``partition_by``, see
    :func:`partitioning_text`) is refused too; ``existing`` is None for a table created before
    it was recorded."""
    if existing is None or existing == wanted:
        return []
    return [
        f"table {table}: partitioning is ({existing}) in the deployed table but ({wanted}) in "
        "the domain; restore the view's period parts and partition_by (to repartition a view "
        "and its marts, create a new view and backfill it)"
    ]


def period_issues(table: str, existing: str | None, wanted: str) -> list[str]:
    """A view's changed period columns are refused: the rows already written have the old
    ones (``existing`` is None for a table created before they were recorded)."""
    if existing is None or existing == wanted:
        return []
    shown = ", ".join(existing.split(","))
    return [
        f"table {table}: period is ({shown}) in the deployed table but "
        f"({', '.join(wanted.split(','))}) in the domain; restore the period parts (to change "
        "a view's period, create a new view and backfill it)"
    ]


def partitioning_text(partitioning: Sequence[Sequence[str]]) -> str:
    """``identity:order_year,identity:order_month`` of (transform, column) pairs."""
    return ",".join(f"{transform}:{column}" for transform, column in partitioning)


def ensure_table(spark: Any, name: str, spec: dict[str, Any]) -> None:
    """Create the Iceberg table from the spec, or add the spec's new columns (nullable).

    Refuses (``ValueError`` naming the table, the column and what to do) a column the spec
    dropped, a changed type, a changed primary key or partitioning; those are kept in the table
    properties :data:`PRIMARY_KEY_PROPERTY` and :data:`PARTITIONING_PROPERTY` (set on tables
    created before they were recorded); a view's period columns likewise in
    :data:`PERIOD_PROPERTY`.
    """
    key = ",".join(spec["primary_key"])
    layout = partitioning_text(spec["partitioning"])
    period = ",".join(spec.get("period", ()))
    recorded_period = {PERIOD_PROPERTY: period} if period else {}
    columns = ", ".join(f"{c['name']} {c['type']}" for c in spec["columns"])
    partitions = ", ".join(
        f"days({source})" if transform == "day" else source
        for transform, source in spec["partitioning"]
    )
    properties = ", ".join(
        f"'{k}'='{v}'"
        for k, v in sorted(
            {
                **spec["properties"],
                PRIMARY_KEY_PROPERTY: key,
                PARTITIONING_PROPERTY: layout,
                **recorded_period,
            }.items()
        )
    )
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING iceberg "
        f"PARTITIONED BY ({partitions}) TBLPROPERTIES ({properties})"
    )
    fields = spark.table(name).schema.fields
    stored = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    recorded = stored.get(PRIMARY_KEY_PROPERTY)
    issues = evolution_issues(
        name,
        {
            f.name: LOGICAL_TYPES.get(f.dataType.simpleString(), f.dataType.simpleString())
            for f in fields
        },
        {c["name"]: LOGICAL_TYPES.get(c["type"], c["type"]) for c in spec["columns"]},
        None if recorded is None else [k for k in recorded.split(",") if k],
        spec["primary_key"],
    ) + partitioning_issues(name, stored.get(PARTITIONING_PROPERTY), layout)
    if period:
        issues += period_issues(name, stored.get(PERIOD_PROPERTY), period)
    if issues:
        raise ValueError("; ".join(issues))
    adopted = {PRIMARY_KEY_PROPERTY: key, PARTITIONING_PROPERTY: layout, **recorded_period}
    if any(k not in stored for k in adopted):  # created before they were kept
        pairs = ", ".join(f"'{k}'='{v}'" for k, v in adopted.items())
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({pairs})")
    existing = {field.name for field in fields}
    for column in spec["columns"]:
        if column["name"] not in existing:
            spark.sql(f"ALTER TABLE {name} ADD COLUMN {column['name']} {column['type']}")


def partition_condition(columns: Sequence[str], values: Iterable[Sequence[int]]) -> str:
    """SQL selecting the given partitions: ``(y = 2024 AND m = 3) OR ...``; ``FALSE`` if none.

    The same text as ``datalake.domain.partition_condition``, which the jobs cannot import.
    """
    terms = []
    for row in sorted({tuple(int(v) for v in row) for row in values}):
        if len(row) != len(columns):
            raise ValueError(f"partition {row} does not match columns {tuple(columns)}")
        terms.append("(" + " AND ".join(f"{c} = {v}" for c, v in zip(columns, row)) + ")")
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
