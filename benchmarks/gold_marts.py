"""Benchmark: the beer example's marts over 1.5 million rows of their view, arrow vs Spark local[2].

    .venv/bin/python benchmarks/gold_marts.py [--rows 1500000] [--skip-spark]

The marts and their source view come from the beer example's domain file (the default
domain). The view is built once (untimed) from the example generator's batch files, with the
view's own SQL (``workloads/shared/view_sql.py``) and period columns, written as Parquet, and
loaded into each engine's own local Iceberg warehouse (untimed). Timed: every mart of the view
recomputed for every period and the partitions replaced. Each engine runs in its own process;
peak RSS covers the whole process tree.

The floor, measured in the same run: DuckDB alone over the same view Parquet computing the
same five marts (each mart's SQL with the arrow engine's partition condition, results to
Arrow), no Iceberg, no output written. Printed as ``arrow/floor`` and ``spark/floor``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402


def benchmark_view() -> tuple[Any, Any]:
    """The default domain and the source view of its first mart (the marts benchmarked)."""
    from datalake.domain import default_domain_path, load_domain

    domain = load_domain(default_domain_path())
    return domain, domain.view(domain.marts[0].source)


def write_view(rows: int, folder: Path) -> None:
    """Generate the example's input, build the view from its batch files, write Parquet."""
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from datalake.contracts import RawFormat
    from datalake.inputs import generate_input, input_files
    from workloads.shared import view_sql
    from workloads.shared.tables import conform, iceberg_schema
    from workloads.silver.views import period_values

    domain, view = benchmark_view()
    generate_input(domain, folder / "input", rows=rows, files=1, seed=42)
    batches: dict[str, list[pa.Table]] = {}
    for file in input_files(domain, folder / "input"):
        if file.format is RawFormat.CSV and file.table in view.tables:
            batches.setdefault(file.table, []).append(pacsv.read_csv(file.path))
    connection = duckdb.connect()
    relations = {table: f"t_{table}" for table in view.tables}
    for table, parts in batches.items():
        silver = iceberg_schema(domain.table(table)).as_arrow()  # audit columns read null
        rows_in = pa.concat_tables([conform(part, silver) for part in parts])
        connection.register(relations[table], rows_in)
    spec = view.spec()
    flat = connection.sql(view_sql.view_select(spec, relations)).to_arrow_table()
    source = view_sql.period_source(spec)
    values = period_values(flat.column(source), view.period.kind, [p for _, p in view.period.parts])
    for (column, _), array in zip(view.period.parts, values, strict=True):
        flat = flat.append_column(column, array)
    pq.write_table(conform(flat, iceberg_schema(view.contract).as_arrow()), folder / "view.parquet")


def partitions_of(folder: Path) -> list[tuple[int, ...]]:
    import pyarrow.parquet as pq

    _, view = benchmark_view()
    table = pq.read_table(folder / "view.parquet", columns=list(view.partition_columns))
    return sorted({tuple(row) for row in zip(*(c.to_pylist() for c in table.columns), strict=True)})


def run_arrow(folder: Path) -> dict:
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    from workloads.bronze.runtime import use_lean_memory_pool
    from workloads.gold.marts import run_marts
    from workloads.shared.tables import ensure_table, table_properties

    use_lean_memory_pool()
    domain, view = benchmark_view()
    warehouse = folder / "arrow"
    warehouse.mkdir()
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{warehouse}/c.db", warehouse=f"file://{warehouse}"
    )
    catalog.create_namespace("silver")
    catalog.create_namespace("gold")
    properties = table_properties(128, 7, 5)
    source = ensure_table(catalog, "silver", view.contract, properties)
    source.append(pq.read_table(folder / "view.parquet"))
    partitions = partitions_of(folder)
    started = time.perf_counter()
    results = run_marts(catalog, "gold", source, domain.marts_of(view.name), partitions, properties)
    return {
        "seconds": time.perf_counter() - started,
        "rows": sum(r.rows for r in results),
        "partitions": len(partitions),
    }


def run_floor(folder: Path) -> dict:
    """DuckDB alone: the marts' SQL straight over the view's Parquet file, no Iceberg."""
    import duckdb

    from workloads.shared.view_sql import partition_in

    domain, view = benchmark_view()
    partitions = partitions_of(folder)
    marts = domain.marts_of(view.name)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    parquet = str(folder / "view.parquet").replace("'", "''")
    connection.execute(f"CREATE VIEW view_rows AS SELECT * FROM read_parquet('{parquet}')")
    rows = 0
    for mart in marts:
        condition = partition_in(mart.partition_columns, partitions, mart.partition_parts)
        rows += connection.sql(mart.sql("view_rows", condition)).to_arrow_table().num_rows
    seconds = time.perf_counter() - started
    connection.close()
    return {"seconds": seconds, "rows": rows, "partitions": len(partitions)}


def run_spark(folder: Path) -> dict:
    from workloads.gold import spark_job as gold_job
    from workloads.gold.handlers import manifest
    from workloads.shared.spark_common import ensure_table
    from workloads.shared.tables import spark_spec, table_properties
    from workloads.silver.spark_session import local_iceberg_session

    domain, view = benchmark_view()
    spark = local_iceberg_session(str(folder / "spark"), catalog="bench")
    spark.sparkContext.setLogLevel("ERROR")
    properties = table_properties(128, 7, 5)
    spark.sql("CREATE NAMESPACE IF NOT EXISTS bench.lake")
    source = f"bench.lake.{view.name}"
    ensure_table(spark, source, spark_spec(view.contract, properties))
    spark.read.parquet(str(folder / "view.parquet")).writeTo(source).append()
    partitions = partitions_of(folder)
    marts = manifest(domain, properties, {view.name: partitions})["marts"]
    started = time.perf_counter()
    rows = sum(
        gold_job.run_mart(spark, source, f"bench.lake.{mart.name}", marts[mart.name], partitions)
        for mart in domain.marts_of(view.name)
    )
    seconds = time.perf_counter() - started
    spark.stop()
    return {"seconds": seconds, "rows": rows, "partitions": len(partitions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--engine", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(RUNNERS[args.engine](args.folder)))
        return
    with tempfile.TemporaryDirectory(prefix="gold-bench-") as tmp:
        folder = Path(tmp)
        write_view(args.rows, folder)
        engines = ["floor", "arrow"] if args.skip_spark else ["floor", "arrow", "spark"]
        results = [measure_child(Path(__file__), e, "--folder", str(folder)) for e in engines]
    domain, view = benchmark_view()
    print(
        f"input: {args.rows:,} generated rows, view {view.name}, {results[0]['partitions']} "
        f"partitions, {len(domain.marts_of(view.name))} marts"
    )
    print(
        "{:<7} {:>10} {:>10} {:>10} {:>12}".format(
            "engine", "marts s", "mart rows", "process s", "peak RSS MB"
        )
    )
    for r in results:
        print(
            f"{r['engine']:<7} {r['seconds']:>10.2f} {r['rows']:>10,} "
            f"{r['process_seconds']:>10.2f} {r['peak_rss_mb']:>12.0f}"
        )
    by_engine = {r["engine"]: r for r in results}
    floor = by_engine["floor"]
    for engine in ("arrow", "spark"):
        if engine in by_engine:
            seconds = by_engine[engine]["seconds"]
            print(
                f"ratio {engine}/floor: marts {seconds / floor['seconds']:.1f}x "
                f"({seconds:.2f} s / {floor['seconds']:.2f} s)"
            )
    if "spark" in by_engine:
        arrow, spark = by_engine["arrow"], by_engine["spark"]
        print(
            f"ratio spark/arrow: marts {spark['seconds'] / arrow['seconds']:.1f}x, "
            f"whole process {spark['process_seconds'] / arrow['process_seconds']:.1f}x, "
            f"peak RSS {spark['peak_rss_mb'] / arrow['peak_rss_mb']:.1f}x"
        )


RUNNERS = {"floor": run_floor, "arrow": run_arrow, "spark": run_spark}

if __name__ == "__main__":
    main()
