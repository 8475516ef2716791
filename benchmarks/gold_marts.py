"""Benchmark: the five gold marts over 1.5 million review_flat rows, arrow vs Spark local[2].

    .venv/bin/python benchmarks/gold_marts.py [--rows 1500000] [--skip-spark]

review_flat is built once (untimed) from generated reviews joined with the sample beers,
breweries and profiles, written as Parquet, and loaded into each engine's own local Iceberg
warehouse (untimed). Timed: every mart recomputed for every month and the partitions replaced.
Each engine runs in its own process; peak RSS covers the whole process tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402


def write_review_flat(rows: int, folder: Path) -> None:
    import duckdb
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from datalake.contracts import REVIEW_FLAT
    from datalake.reviews import generate_reviews, sample_file
    from workloads.shared.tables import iceberg_schema
    from workloads.silver.merge import conform

    connection = duckdb.connect()
    connection.register("reviews", generate_reviews(rows, seed=42))
    for table in ("beer", "brewery", "profile"):
        connection.register(table, pacsv.read_csv(sample_file(table)))
    flat = connection.sql(
        """
        SELECT r.*, b.beer_name, b.beer_style, b.beer_abv, w.brewery_name, p.profile_name,
               p.state, year(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS review_year,
               month(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS review_month,
               NULL::TIMESTAMPTZ AS created_at, NULL::TIMESTAMPTZ AS updated_at,
               NULL::TIMESTAMPTZ AS deleted_at
        FROM reviews r
        LEFT JOIN beer b ON r.beer_id = b.beer_id
        LEFT JOIN brewery w ON r.brewery_id = w.brewery_id
        LEFT JOIN profile p ON r.profile_id = p.profile_id
        """
    ).to_arrow_table()
    pq.write_table(
        conform(flat, iceberg_schema(REVIEW_FLAT).as_arrow()), folder / "review_flat.parquet"
    )


def months_of(folder: Path) -> list[list[int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "review_flat.parquet", columns=["review_year", "review_month"])
    return sorted({(y, m) for y, m in zip(*(c.to_pylist() for c in table.columns), strict=True)})


def run_arrow(folder: Path) -> dict:
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    from datalake.contracts import REVIEW_FLAT
    from workloads.bronze.runtime import use_lean_memory_pool
    from workloads.gold.marts import run_marts
    from workloads.shared.tables import ensure_table, table_properties

    use_lean_memory_pool()
    warehouse = folder / "arrow"
    warehouse.mkdir()
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{warehouse}/c.db", warehouse=f"file://{warehouse}"
    )
    catalog.create_namespace("silver")
    catalog.create_namespace("gold")
    properties = table_properties(128, 7, 5)
    review_flat = ensure_table(catalog, "silver", REVIEW_FLAT, properties)
    review_flat.append(pq.read_table(folder / "review_flat.parquet"))
    months = [tuple(m) for m in months_of(folder)]
    started = time.perf_counter()
    results = run_marts(catalog, "gold", review_flat, months, properties)
    return {
        "seconds": time.perf_counter() - started,
        "rows": sum(r.rows for r in results),
        "months": len(months),
    }


def run_spark(folder: Path) -> dict:
    from datalake.contracts import REVIEW_FLAT
    from workloads.gold import spark_job as gold_job
    from workloads.gold.handlers import manifest
    from workloads.shared.tables import spark_spec, table_properties
    from workloads.silver import spark_job as silver_job
    from workloads.silver.spark_session import local_iceberg_session

    spark = local_iceberg_session(str(folder / "spark"), catalog="bench")
    spark.sparkContext.setLogLevel("ERROR")
    properties = table_properties(128, 7, 5)
    spark.sql("CREATE NAMESPACE IF NOT EXISTS bench.lake")
    source = "bench.lake.review_flat"
    silver_job.ensure_table(spark, source, spark_spec(REVIEW_FLAT, properties))
    spark.read.parquet(str(folder / "review_flat.parquet")).writeTo(source).append()
    months = months_of(folder)
    marts = manifest(properties)["marts"]
    started = time.perf_counter()
    rows = sum(
        gold_job.run_mart(spark, source, f"bench.lake.{name}", mart, months)
        for name, mart in marts.items()
    )
    seconds = time.perf_counter() - started
    spark.stop()
    return {"seconds": seconds, "rows": rows, "months": len(months)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--engine", choices=["arrow", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        runner = run_arrow if args.engine == "arrow" else run_spark
        print(json.dumps(runner(args.folder)))
        return
    with tempfile.TemporaryDirectory(prefix="gold-bench-") as tmp:
        folder = Path(tmp)
        write_review_flat(args.rows, folder)
        engines = ["arrow"] if args.skip_spark else ["arrow", "spark"]
        results = [measure_child(Path(__file__), e, "--folder", str(folder)) for e in engines]
    print(f"input: {args.rows:,} review_flat rows, {results[0]['months']} months, five marts")
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
    if len(results) == 2:
        arrow, spark = results
        print(
            f"ratio spark/arrow: marts {spark['seconds'] / arrow['seconds']:.1f}x, "
            f"whole process {spark['process_seconds'] / arrow['process_seconds']:.1f}x, "
            f"peak RSS {spark['peak_rss_mb'] / arrow['peak_rss_mb']:.1f}x"
        )


if __name__ == "__main__":
    main()
