"""Benchmark: silver merge of the beer example's reviews, arrow engine against Spark local[2],
each against the floor.

    .venv/bin/python benchmarks/silver_merge.py [--rows 1500000] [--changes 50000] [--skip-spark]

An initial load of ``--rows`` reviews, then one batch of ``--changes`` mixed changes (80 %
updates, 10 % deletes, 10 % inserts). Each engine runs in its own process on its own local
Iceberg warehouse; the RSS of its whole process tree (Spark's JVM included) is sampled every
20 ms. Bronze inputs are generated deterministically and written as Parquet first (untimed).

The floor is DuckDB alone over plain Parquet, no Iceberg: each step reads the silver Parquet
and the batch, keeps the last change per key, applies it where it comes after the row (the
same ``(ts, seq)`` rule), and writes the whole table again as one zstd Parquet file (the rows
of the other keys by an anti-join, plus the merged ones). The engines' ratios to it are
printed every run, of wall time and of CPU time (the process's and its children's: on a
machine shared with other work the CPU ratio is the steadier one).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402


def _contract():
    """The merged table: the beer example's base table of its view (the reviews)."""
    from datalake.domain import default_domain_path, load_domain

    domain = load_domain(default_domain_path())
    return domain.table(next(iter(domain.views.values())).base)


def write_inputs(rows: int, changes: int, folder: Path) -> tuple[Path, Path]:
    """Initial and change batches of bronze review rows, as Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from examples.beer.generate import generate_reviews
    from workloads.bronze.ingest import bronze_schema

    schema = bronze_schema(_contract())
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def bronze(table: pa.Table, operations: list[str], at: datetime) -> pa.Table:
        n = table.num_rows
        lineage = {
            "_operation": pa.array(operations),
            "_change_ts": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            "_change_seq": pa.array(np.arange(n, dtype=np.int64)),
            "_source_key": pa.array(["raw/review/bench.csv.gz"] * n),
            "_source_line": pa.array(np.arange(2, n + 2, dtype=np.int64)),
            "_control_id": pa.array(["bench"] * n),
            "_ingested_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        }
        for name, values in lineage.items():
            table = table.append_column(name, values)
        return table.cast(schema)

    initial = generate_reviews(rows, seed=42)
    pq.write_table(bronze(initial, ["insert"] * rows, start), folder / "initial.parquet")
    rng = np.random.default_rng(7)
    n_update, n_delete = int(changes * 0.8), int(changes * 0.1)
    n_insert = changes - n_update - n_delete
    picked = rng.choice(rows, size=n_update + n_delete, replace=False)
    updates = initial.take(pa.array(picked[:n_update]))
    updates = updates.set_column(
        4, "review_overall", pc.if_else(pc.is_null(updates.column(4)), 3.0, 1.0)
    )
    deletes = initial.take(pa.array(picked[n_update:]))
    inserts = generate_reviews(n_insert, seed=43, first_id=rows + 1)
    batch = pa.concat_tables(
        [
            bronze(updates, ["update"] * n_update, start + timedelta(days=1)),
            bronze(deletes, ["delete"] * n_delete, start + timedelta(days=1)),
            bronze(inserts, ["insert"] * n_insert, start + timedelta(days=1)),
        ]
    )
    pq.write_table(batch, folder / "changes.parquet")
    return folder / "initial.parquet", folder / "changes.parquet"


def run_arrow(folder: Path) -> dict:
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    from workloads.bronze.runtime import use_lean_memory_pool
    from workloads.shared.tables import ensure_table, table_properties
    from workloads.silver.merge import merge_batch

    use_lean_memory_pool()
    warehouse = folder / "arrow-warehouse"
    warehouse.mkdir()
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{warehouse}/c.db", warehouse=f"file://{warehouse}"
    )
    catalog.create_namespace("silver")
    contract = _contract()
    table = ensure_table(catalog, "silver", contract, table_properties(128, 7, 5))
    timings: dict = {}
    for step in ("initial", "changes"):
        with _step(timings, step):
            batch = pq.read_table(folder / f"{step}.parquet")
            result = merge_batch(table, batch, contract, f"bench-{step}")
        timings[f"{step}_keys"] = result.keys_written
    timings["rows"] = table.scan().to_arrow().num_rows
    return timings


def floor_sql(contract, silver: Path, changes: Path, out: Path) -> str:
    """DuckDB: the merge of ``changes`` into ``silver``, the whole table written to ``out``."""
    from workloads.silver.change_rules import AFTER_ROW, ORDER

    (key,) = contract.primary_key
    values = [c.name for c in contract.columns if c.name != key]
    picked = ", ".join(
        f"CASE WHEN c._operation = 'delete' AND t.{key} IS NOT NULL THEN t.{v} ELSE c.{v} END"
        f" AS {v}"
        for v in values
    )
    return f"""
        COPY (
          WITH c AS (
            SELECT * FROM read_parquet('{changes}')
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) = 1
          ), t AS (
            SELECT * FROM read_parquet('{silver}')
          ), merged AS (
            SELECT c.{key} AS {key}, {picked},
                   coalesce(t.created_at, c._change_ts) AS created_at,
                   c._change_ts AS updated_at,
                   CASE WHEN c._operation = 'delete' THEN c._change_ts END AS deleted_at,
                   c._change_seq AS change_seq
            FROM c LEFT JOIN t ON c.{key} = t.{key}
            WHERE t.{key} IS NULL OR {AFTER_ROW}
          )
          SELECT t.* FROM t ANTI JOIN merged ON t.{key} = merged.{key}
          UNION ALL
          SELECT * FROM merged
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
    """


def run_floor(folder: Path) -> dict:
    """The floor: DuckDB alone over the same Parquet (no Iceberg), the same two steps."""
    import duckdb
    import pyarrow.parquet as pq

    from workloads.shared.tables import iceberg_schema

    contract = _contract()
    silver = folder / "floor-empty.parquet"
    pq.write_table(iceberg_schema(contract).as_arrow().empty_table(), silver)
    timings: dict = {}
    for step in ("initial", "changes"):
        out = folder / f"floor-{step}.parquet"
        with _step(timings, step):
            connection = duckdb.connect()
            connection.execute(floor_sql(contract, silver, folder / f"{step}.parquet", out))
            connection.close()
        silver = out
    timings["rows"] = pq.ParquetFile(silver).metadata.num_rows
    return timings


def run_spark(folder: Path) -> dict:
    from workloads.shared.tables import spark_spec, table_properties
    from workloads.silver import spark_job
    from workloads.silver.spark_session import local_iceberg_session

    started = time.perf_counter()
    spark = local_iceberg_session(str(folder / "spark-warehouse"), catalog="bench")
    spark.sparkContext.setLogLevel("ERROR")
    timings = {"session": time.perf_counter() - started}
    spark.sql("CREATE NAMESPACE IF NOT EXISTS bench.silver")
    spec = spark_spec(_contract(), table_properties(128, 7, 5))
    spark_job.ensure_table(spark, "bench.silver.review", spec)
    for step in ("initial", "changes"):
        with _step(timings, step):
            changes = spark.read.parquet(str(folder / f"{step}.parquet"))
            result = spark_job.merge(spark, "bench.silver.review", spec, changes)
        timings[f"{step}_keys"] = len(result["keys"])
    timings["rows"] = spark.table("bench.silver.review").count()
    spark.stop()
    return timings


@contextmanager
def _step(timings: dict, step: str) -> Iterator[None]:
    """Record the wall time of ``step`` and the CPU time of this process and its children
    (Spark's JVM) over it: on a shared machine the CPU time is the steadier measure."""
    started, cpu = time.perf_counter(), _cpu_seconds()
    yield
    timings[step] = time.perf_counter() - started
    timings[f"{step}_cpu"] = _cpu_seconds() - cpu


def _cpu_seconds() -> float:
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _measure(engine: str, folder: Path) -> dict:
    return measure_child(Path(__file__), engine, "--folder", str(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--engine", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(RUNNERS[args.engine](args.folder)))
        return
    with tempfile.TemporaryDirectory(prefix="silver-bench-") as tmp:
        folder = Path(tmp)
        write_inputs(args.rows, args.changes, folder)
        print(f"input: {args.rows:,} reviews, then {args.changes:,} mixed changes")
        floor = _measure("floor", folder)
        results = [_measure("arrow", folder)]
        if not args.skip_spark:
            results.append(_measure("spark", folder))
    header = ("engine", "initial s", "cpu s", "changes s", "cpu s", "silver rows", "process s")
    print("{:<7} {:>10} {:>7} {:>10} {:>7} {:>12} {:>10} {:>12}".format(*header, "peak RSS MB"))
    for r in [*results, floor]:
        print(
            f"{r['engine']:<7} {r['initial']:>10.2f} {r['initial_cpu']:>7.2f} "
            f"{r['changes']:>10.2f} {r['changes_cpu']:>7.2f} {r['rows']:>12,} "
            f"{r['process_seconds']:>10.2f} {r['peak_rss_mb']:>12.0f}"
        )
    for r in results:
        print(
            f"{r['engine']}/floor: initial {r['initial'] / floor['initial']:.1f}x "
            f"(cpu {r['initial_cpu'] / floor['initial_cpu']:.1f}x), "
            f"changes {r['changes'] / floor['changes']:.1f}x "
            f"(cpu {r['changes_cpu'] / floor['changes_cpu']:.1f}x)"
        )
    if len(results) == 2:
        arrow, spark = results
        print(f"spark session start-up: {spark['session']:.2f} s (not in the step times)")
        print(
            f"ratio spark/arrow: initial {spark['initial'] / arrow['initial']:.1f}x, "
            f"changes {spark['changes'] / arrow['changes']:.1f}x, "
            f"whole process {spark['process_seconds'] / arrow['process_seconds']:.1f}x, "
            f"peak RSS {spark['peak_rss_mb'] / arrow['peak_rss_mb']:.1f}x"
        )


RUNNERS = {"arrow": run_arrow, "spark": run_spark, "floor": run_floor}


if __name__ == "__main__":
    main()
