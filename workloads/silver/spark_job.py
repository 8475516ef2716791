"""The silver Spark job (EMR Serverless, or local Spark in tests): the same rules as merge.py.

Runs on Python 3.9 with pyspark and the standard library only. Modes:

- ``merge``: one table's batch of bronze files (from the run's manifest) into its Iceberg table
  with ``MERGE INTO``: last change per key (``_change_ts``, ``_change_seq``, ``_source_key``,
  ``_source_line``), late changes ignored, ``created_at`` kept, deletes soft, unknown deletes
  as tombstones. Writes what changed (keys, review months) for review_flat.
- ``review_flat``: rebuild the touched (review_year, review_month) partitions and replace only
  those.
- ``maintenance``: compact small files and expire old snapshots of every silver table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from workloads.shared.spark_common import (
    ensure_table,
    job_arguments,
    job_session,
    months_condition,
    read_json,
    write_json,
)

ORDER = "_change_ts DESC, _change_seq DESC, _source_key DESC, _source_line DESC"
DIMENSION_KEYS = {"beer": "beer_id", "brewery": "brewery_id", "profile": "profile_id"}
Partition = tuple[int, int]


def merge(spark: Any, name: str, spec: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Apply a batch of bronze changes to table ``name``; return what changed."""
    (key,) = spec["primary_key"]
    values = [c for c in spec["source_columns"] if c != key]
    changes.createOrReplaceTempView("bronze_changes")
    spark.sql(
        f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) "
        f"AS _rank FROM bronze_changes) WHERE _rank = 1"
    ).createOrReplaceTempView("latest_changes")
    # What the merge will change, read before it does: keys not late, and their old state.
    time = "review_time" if "review_time" in spec["source_columns"] else "CAST(NULL AS BIGINT)"
    applied = spark.sql(
        f"SELECT c.{key} AS key, c.review_time_new, t.review_time_old FROM "
        f"(SELECT {key}, {time} AS review_time_new, _change_ts FROM latest_changes) c "
        f"LEFT JOIN (SELECT {key}, {time} AS review_time_old, updated_at FROM {name}) t "
        f"ON c.{key} = t.{key} WHERE t.{key} IS NULL OR c._change_ts >= t.updated_at"
    ).collect()
    updates = ", ".join(f"t.{v} = c.{v}" for v in values)
    inserted = ", ".join([key, *values, "created_at", "updated_at", "deleted_at"])
    sources = ", ".join(
        [
            f"c.{key}",
            *(f"c.{v}" for v in values),
            "c._change_ts",
            "c._change_ts",
            "CASE WHEN c._operation = 'delete' THEN c._change_ts END",
        ]
    )
    spark.sql(
        f"""
        MERGE INTO {name} t USING latest_changes c ON t.{key} = c.{key}
        WHEN MATCHED AND c._change_ts >= t.updated_at AND c._operation = 'delete' THEN
          UPDATE SET t.updated_at = c._change_ts, t.deleted_at = c._change_ts
        WHEN MATCHED AND c._change_ts >= t.updated_at THEN
          UPDATE SET {updates}, t.updated_at = c._change_ts, t.deleted_at = NULL
        WHEN NOT MATCHED THEN INSERT ({inserted}) VALUES ({sources})
        """
    )
    months: set[Partition] = set()
    if spec["table"] == "review":
        for row in applied:
            for value in (row["review_time_new"], row["review_time_old"]):
                if value is not None:
                    months.add(_month(value))
    return {
        "table": spec["table"],
        "keys": sorted(row["key"] for row in applied),
        "months": sorted(months),
    }


def _month(epoch_seconds: int) -> Partition:
    moment = datetime.fromtimestamp(int(epoch_seconds), tz=timezone.utc)
    return moment.year, moment.month


def changed_partitions(
    spark: Any, database: str, changes: Sequence[dict[str, Any]]
) -> set[Partition]:
    """Months of changed reviews, and of reviews that reference changed dimension rows."""
    months: set[Partition] = set()
    conditions = []
    for change in changes:
        months |= {(int(y), int(m)) for y, m in change.get("months", [])}
        column = DIMENSION_KEYS.get(change["table"])
        if column and change["keys"]:
            keys = ", ".join(str(int(k)) for k in change["keys"])
            conditions.append(f"{column} IN ({keys})")
    if conditions:
        rows = spark.sql(
            f"SELECT DISTINCT year(from_unixtime(review_time)) AS y, "
            f"month(from_unixtime(review_time)) AS m FROM {database}.review "
            f"WHERE review_time IS NOT NULL AND ({' OR '.join(conditions)})"
        ).collect()
        months |= {(row["y"], row["m"]) for row in rows}
    return months


def review_flat(spark: Any, database: str, spec: dict[str, Any], partitions: set[Partition]) -> int:
    """Recompute the given months of review_flat from silver and replace exactly those."""
    from pyspark.sql import functions as F

    name = f"{database}.review_flat"
    ensure_table(spark, name, spec)
    if not partitions:
        return 0
    months = months_condition(sorted(partitions))
    rows = spark.sql(
        f"""
        SELECT r.review_id, r.brewery_id, r.beer_id, r.profile_id, r.review_overall,
               r.review_aroma, r.review_appearance, r.review_palate, r.review_taste,
               r.review_time, b.beer_name, b.beer_style, b.beer_abv, w.brewery_name,
               p.profile_name, p.state,
               CAST(year(from_unixtime(r.review_time)) AS BIGINT) AS review_year,
               CAST(month(from_unixtime(r.review_time)) AS BIGINT) AS review_month,
               r.created_at, r.updated_at, r.deleted_at
        FROM {database}.review r
        LEFT JOIN (SELECT * FROM {database}.beer WHERE deleted_at IS NULL) b
          ON r.beer_id = b.beer_id
        LEFT JOIN (SELECT * FROM {database}.brewery WHERE deleted_at IS NULL) w
          ON r.brewery_id = w.brewery_id
        LEFT JOIN (SELECT * FROM {database}.profile WHERE deleted_at IS NULL) p
          ON r.profile_id = p.profile_id
        WHERE r.review_time IS NOT NULL
        """
    ).where(months)
    columns = [c["name"] for c in spec["columns"]]
    rows.select(*columns).writeTo(name).overwrite(F.expr(months))
    return len(partitions)


def maintenance(
    spark: Any,
    catalog: str,
    database: str,
    target_file_size_mb: int,
    retention_days: int,
    min_snapshots: int,
) -> list[str]:
    """Compact small files and expire old snapshots of every table of the database."""
    tables = [
        row["tableName"] for row in spark.sql(f"SHOW TABLES IN {catalog}.{database}").collect()
    ]
    older_than = datetime.now(timezone.utc) - timedelta(days=retention_days)
    for table in tables:
        qualified = f"{database}.{table}"
        spark.sql(
            f"CALL {catalog}.system.rewrite_data_files(table => '{qualified}', options => "
            f"map('target-file-size-bytes', '{target_file_size_mb * 2**20}'))"
        )
        spark.sql(
            f"CALL {catalog}.system.expire_snapshots(table => '{qualified}', "
            f"older_than => TIMESTAMP '{older_than:%Y-%m-%d %H:%M:%S}', "
            f"retain_last => {min_snapshots})"
        )
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """EMR Serverless entry point (the SilverPipeline component passes these arguments)."""
    parser = job_arguments("spark_job")
    parser.add_argument("--mode", choices=["merge", "review_flat", "maintenance"], required=True)
    parser.add_argument("--manifest")
    parser.add_argument("--changes")
    parser.add_argument("--target-file-size-mb", type=int, default=128)
    parser.add_argument("--snapshot-retention-days", type=int, default=7)
    parser.add_argument("--min-snapshots-to-keep", type=int, default=5)
    args = parser.parse_args(argv)
    spark = job_session(f"silver-{args.mode}")
    database = f"{args.catalog}.{args.database}"
    if args.mode == "merge":
        manifest = read_json(spark, args.manifest)
        spec = manifest["spec"]
        name = f"{database}.{spec['table']}"
        ensure_table(spark, name, spec)
        changes = spark.read.option("mergeSchema", "true").parquet(*manifest["files"])
        result = merge(spark, name, spec, changes)
        write_json(spark, manifest["changes_out"], result)
        print(json.dumps({"table": spec["table"], "keys_written": len(result["keys"])}))
    elif args.mode == "review_flat":
        plan = json.loads(args.changes)
        for table_spec in plan.get("table_specs", []):
            ensure_table(spark, f"{database}.{table_spec['table']}", table_spec)
        changes = [read_json(spark, uri) for uri in plan["changes"]]
        partitions = changed_partitions(spark, database, changes)
        review_flat(spark, database, plan["spec"], partitions)
        if plan.get("partitions_out"):
            write_json(spark, plan["partitions_out"], sorted(partitions))
        print(json.dumps({"partitions": sorted(partitions)}))
    else:
        maintenance(
            spark,
            args.catalog,
            args.database,
            args.target_file_size_mb,
            args.snapshot_retention_days,
            args.min_snapshots_to_keep,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
