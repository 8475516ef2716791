"""The silver Spark job (EMR Serverless, or local Spark in tests): the rules of change_rules.py.

Runs on Python 3.9 with pyspark and the standard library only. Modes:

- ``merge``: one table's batch of bronze files (from the run's manifest) into its Iceberg table
  with ``MERGE INTO``: copies of one change (key, ``_change_ts``, ``_change_seq``) once, last
  change per key (``_change_ts``, ``_change_seq``, ``_source_key``, ``_source_line``),
  applied only after the row's ``(updated_at, change_seq)`` (equal: a duplicate, smaller:
  late), ``created_at`` kept (a new key's: its earliest change in the batch), deletes soft
  keeping the last values (those of the key's latest non-delete change in the batch, else
  the row's), unknown deletes as tombstones: the same rows however the changes are split
  into batches or delivered again; no commit when nothing changes. Writes what changed (the
  keys written, for the views) and what it skipped (duplicates, late changes).
- ``view``: for each view of the run's plan (``--plan``, written by the plan Lambda), find the
  partitions the changes touched, recompute them and replace only those, as
  ``workloads/silver/views.py`` does (the same SQL, from ``workloads/shared/view_sql.py``);
  writes the partitions it replaced for the gold records.
- ``maintenance``: compact small files and expire old snapshots of every silver table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

# EMR runs this file as a script, beside a zip with workloads/ at its root; installed from the
# wheel (the local Spark engine) the package is datalake.workloads.
try:
    from workloads.shared import spark_common, view_sql
except ModuleNotFoundError as missing:
    if missing.name != "workloads":
        raise
    from datalake.workloads.shared import spark_common, view_sql  # type: ignore[import-not-found, no-redef]

ensure_table = spark_common.ensure_table
job_arguments = spark_common.job_arguments
job_session = spark_common.job_session
partition_condition = spark_common.partition_condition
read_json = spark_common.read_json
write_json = spark_common.write_json

ORDER = "_change_ts DESC, _change_seq DESC, _source_key, _source_line"
"""As change_rules.py: the last change first; of copies of one change, the first delivered."""
Partition = tuple[int, ...]


def after_row(ts: str, seq: str) -> str:
    """SQL: the change at ``(ts, seq)`` comes after the position of row ``t``, as in
    change_rules.py (a row without ``change_seq``, merged before it existed, takes any change
    of its time)."""
    return (
        f"({ts} > t.updated_at OR ({ts} = t.updated_at "
        f"AND (t.change_seq IS NULL OR {seq} > t.change_seq)))"
    )


AFTER_ROW = after_row("c._change_ts", "c._change_seq")
SAME_AS_ROW = "(c._change_ts = t.updated_at AND c._change_seq = t.change_seq)"


def merge(spark: Any, name: str, spec: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Apply a batch of bronze changes to table ``name``; return what changed and what was
    skipped (``duplicates_skipped``, ``late_ignored``, counted as merge.merge_batch does)."""
    (key,) = spec["primary_key"]
    values = [c for c in spec["source_columns"] if c != key]
    changes.createOrReplaceTempView("bronze_changes")
    # The last change per key; a delete carries the values of the key's latest non-delete
    # change in the batch (``_prior_ts``, ``_prior_seq``: its position), as
    # change_rules.latest_changes does.
    selected = ", ".join(
        f"CASE WHEN p.{key} IS NOT NULL THEN p.{c} ELSE c.{c} END AS {c}"
        if c in values
        else f"c.{c}"
        for c in changes.columns
    )
    spark.sql(
        f"""
        WITH ranked AS (
          SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) AS _rank,
                 min(_change_ts) OVER (PARTITION BY {key}) AS _first_ts
          FROM bronze_changes
        ), prior AS (
          SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) AS _rank
            FROM bronze_changes WHERE _operation <> 'delete'
          ) WHERE _rank = 1
        )
        SELECT {selected}, c._first_ts, p._change_ts AS _prior_ts, p._change_seq AS _prior_seq
        FROM ranked c LEFT JOIN prior p ON c.{key} = p.{key} AND c._operation = 'delete'
        WHERE c._rank = 1
        """
    ).createOrReplaceTempView("latest_changes")
    # What the merge will do, read before it does: each key's last change is applied (no
    # row, or after the row), the row's own change again, or late.
    outcomes = spark.sql(
        f"""
        SELECT c.{key} AS key, CASE WHEN t.{key} IS NULL OR {AFTER_ROW} THEN 'applied'
                                    WHEN {SAME_AS_ROW} THEN 'same' ELSE 'late' END AS outcome
        FROM latest_changes c LEFT JOIN {name} t ON c.{key} = t.{key}
        """
    ).collect()
    # Copies of one change (key, time, sequence) count once; and the rows whose very change
    # the batch holds again.
    (counts,) = spark.sql(
        f"""
        SELECT (SELECT count(*) - count(DISTINCT {key}, _change_ts, _change_seq)
                FROM bronze_changes) AS copies,
               (SELECT count(DISTINCT t.{key}) FROM bronze_changes c
                JOIN {name} t ON c.{key} = t.{key} AND {SAME_AS_ROW}) AS again
        """
    ).collect()
    applied = sorted(row["key"] for row in outcomes if row["outcome"] == "applied")
    result = {
        "table": spec["table"],
        "keys": applied,
        "duplicates_skipped": int(counts["copies"]) + int(counts["again"]),
        "late_ignored": sum(1 for row in outcomes if row["outcome"] == "late"),
    }
    if not applied:  # all duplicates or late: no commit, as merge.py
        return result
    # Only the changes that apply are merged, so a matched row is always one that changes
    # (copy-on-write rewrites only the files holding those keys).
    spark.sql(
        f"SELECT c.* FROM latest_changes c LEFT JOIN {name} t ON c.{key} = t.{key} "
        f"WHERE t.{key} IS NULL OR {AFTER_ROW}"
    ).createOrReplaceTempView("applied_changes")
    updates = ", ".join(f"t.{v} = c.{v}" for v in values)
    position = "t.updated_at = c._change_ts, t.change_seq = c._change_seq"
    inserted = ", ".join([key, *values, "created_at", "updated_at", "deleted_at", "change_seq"])
    sources = ", ".join(
        [
            f"c.{key}",
            *(f"c.{v}" for v in values),
            "c._first_ts",
            "c._change_ts",
            "CASE WHEN c._operation = 'delete' THEN c._change_ts END",
            "c._change_seq",
        ]
    )
    # A delete keeps the row's values unless the batch changed them after the row.
    prior_after = after_row("c._prior_ts", "c._prior_seq")
    spark.sql(
        f"""
        MERGE INTO {name} t USING applied_changes c ON t.{key} = c.{key}
        WHEN MATCHED AND c._operation = 'delete' AND c._prior_ts IS NOT NULL
          AND {prior_after} THEN
          UPDATE SET {updates}, {position}, t.deleted_at = c._change_ts
        WHEN MATCHED AND c._operation = 'delete' THEN
          UPDATE SET {position}, t.deleted_at = c._change_ts
        WHEN MATCHED THEN
          UPDATE SET {updates}, {position}, t.deleted_at = NULL
        WHEN NOT MATCHED THEN INSERT ({inserted}) VALUES ({sources})
        """
    )
    return result


def _relations(database: str, spec: dict[str, Any]) -> dict[str, str]:
    """Each table of the view -> its Iceberg table in ``database``."""
    return {t: f"{database}.{t}" for t in [spec["base"], *(j["table"] for j in spec["joins"])]}


def _keys_view(spark: Any, name: str, keys: Any, key_type: str) -> str:
    """Register ``keys`` (values, or a DataFrame of column ``k``) as temp view ``name``."""
    if not hasattr(keys, "createOrReplaceTempView"):
        keys = spark.createDataFrame([(k,) for k in keys], f"k {key_type}")
    keys.createOrReplaceTempView(name)
    return f"(SELECT k FROM {name})"


def view_partitions(
    spark: Any,
    database: str,
    view: dict[str, Any],
    changes: Sequence[dict[str, Any]],
    key_types: dict[str, str],
) -> set[Partition]:
    """The view's partitions the changes may have touched: those of its stored rows whose base
    key is in K, and those of its rows computed afresh for K, where K is the changed base keys
    and the base keys whose join path references a changed lookup key."""
    spec = view["spec"]
    relations = _relations(database, spec)
    changed: dict[str, set[Any]] = {}
    for change in changes:
        changed.setdefault(change["table"], set()).update(change["keys"])
    base = spec["base"]
    lookups = {j["table"] for j in spec["joins"] if changed.get(j["table"])}
    if not changed.get(base) and not lookups:
        return set()
    key_type = key_types[base]
    found = spark.createDataFrame([(k,) for k in sorted(changed.get(base, ()))], f"k {key_type}")
    sql = view_sql.affected_keys_sql(
        spec,
        relations,
        {t: _keys_view(spark, f"changed_{t}", sorted(changed[t]), key_types[t]) for t in lookups},
    )
    if sql is not None:
        found = found.union(spark.sql(sql))
    keys = _keys_view(spark, "view_keys", found.distinct(), key_type)
    columns = view_sql.partition_columns(spec)
    stored = spark.sql(view_sql.stored_partitions_sql(spec, f"{database}.{view['view']}", keys))
    fresh = spark.sql(
        view_sql.view_select(
            spec,
            relations,
            columns=columns,
            spark=True,
            where=view_sql.key_in(spec, keys),
            distinct=True,
        )
    )
    rows = stored.union(fresh).distinct().collect()
    return {tuple(int(row[c]) for c in columns) for row in rows}


def build_view(spark: Any, database: str, view: dict[str, Any], partitions: set[Partition]) -> int:
    """Recompute the given partitions of the view from silver and replace exactly those."""
    from pyspark.sql import functions as F

    name = f"{database}.{view['view']}"
    ensure_table(spark, name, view["table"])
    if not partitions:
        return 0
    spec = view["spec"]
    relations = _relations(database, spec)
    condition = partition_condition(view_sql.partition_columns(spec), sorted(partitions))
    rows = spark.sql(view_sql.view_select(spec, relations, spark=True)).where(condition)
    columns = [c["name"] for c in view["table"]["columns"]]
    rows.select(*columns).writeTo(name).overwrite(F.expr(condition))
    return len(partitions)


def build_views(
    spark: Any, database: str, plan: dict[str, Any], changes: Sequence[dict[str, Any]]
) -> dict[str, list[list[int]]]:
    """Every view of the plan, in order: its touched partitions rebuilt (and written to its
    ``partitions_out``, if any). Returns the partitions replaced, per view."""
    specs = {spec["table"]: spec for spec in plan["table_specs"]}
    for spec in plan["table_specs"]:
        ensure_table(spark, f"{database}.{spec['table']}", spec)
    key_types = {
        table: next(c["type"] for c in spec["columns"] if c["name"] == spec["primary_key"][0])
        for table, spec in specs.items()
    }
    replaced = {}
    for view in plan["views"]:
        ensure_table(spark, f"{database}.{view['view']}", view["table"])
        partitions = view_partitions(spark, database, view, changes, key_types)
        build_view(spark, database, view, partitions)
        replaced[view["view"]] = [list(p) for p in sorted(partitions)]
        if view.get("partitions_out"):
            write_json(spark, view["partitions_out"], replaced[view["view"]])
    return replaced


def read_changes(spark: Any, uris: Sequence[str]) -> list[dict[str, Any]]:
    """The change lists of the run's tables; a table whose merge failed wrote none."""
    from pyspark.sql.utils import AnalysisException

    changes = []
    for uri in uris:
        try:
            changes.append(read_json(spark, uri))
        except AnalysisException as error:  # Path does not exist
            print(json.dumps({"changes_missing": uri, "error": str(error).splitlines()[0]}))
    return changes


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
    parser.add_argument("--mode", choices=["merge", "view", "maintenance"], required=True)
    parser.add_argument("--manifest")
    parser.add_argument("--plan")
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
        counts = {k: result[k] for k in ("duplicates_skipped", "late_ignored")}
        print(json.dumps({"table": spec["table"], "keys_written": len(result["keys"]), **counts}))
    elif args.mode == "view":
        plan = read_json(spark, args.plan)
        replaced = build_views(spark, database, plan, read_changes(spark, plan["changes"]))
        print(json.dumps({"partitions": replaced}))
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
