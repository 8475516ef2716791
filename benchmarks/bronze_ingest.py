"""Benchmark: raw gzip CSV -> bronze Parquet, the ingest core against PySpark local[2].

    .venv/bin/python benchmarks/bronze_ingest.py [--rows 1500000] [--skip-spark]

Generates the reviews deterministically (untimed), then runs each engine in its own process
and samples the resident memory of that process and its children (Spark's JVM) every 20 ms.
Both engines do the same work: parse, cast to the contract's types, apply the contract's
rules (non-null key, ranges, 0.5 steps), add lineage columns, write one zstd Parquet file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402


def review_contract():
    """The review table of the beer example domain (the benchmark's input)."""
    from datalake.domain import default_domain_path, load_domain

    return load_domain(default_domain_path()).table("review")


def run_core(raw: Path, out: Path) -> dict:
    """The ingest core (reader + validation + masking hook + Parquet), on local files."""
    import pyarrow as pa

    from datalake.control import ControlRecord
    from workloads.bronze.ingest import convert_raw
    from workloads.bronze.masking import RedactDeclaredPii
    from workloads.bronze.runtime import use_lean_memory_pool

    use_lean_memory_pool()  # as the Lambda and ECS entry points do

    record = ControlRecord(
        control_id="benchmark",
        layer="bronze",
        table_name="review",
        bucket="local",
        object_key="raw/review/reviews.csv.gz",
        format="csv",
        checksum="-",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    started = time.perf_counter()
    result = convert_raw(
        pa.CompressedInputStream(pa.OSFile(str(raw)), "gzip"),
        record,
        contract=review_contract(),
        masker=RedactDeclaredPii(),
        parquet_path=out / "core.parquet",
        quarantine_path=out / "core-quarantine.jsonl.gz",
        ingested_at=datetime.now(UTC),
    )
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows_written": result.rows_written, "rows_in": result.rows_in}


def run_spark(raw: Path, out: Path) -> dict:
    """The same conversion with PySpark local[2]."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    review = review_contract()
    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bronze-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session_seconds = time.perf_counter() - started
    job_started = time.perf_counter()
    text = spark.read.option("header", True).option("inferSchema", False).csv(str(raw))
    typed = text.select(
        *[
            F.col(c.name)
            .cast({"long": "bigint", "double": "double"}.get(c.type.value, "string"))
            .alias(c.name)
            for c in review.columns
        ]
    )
    ok = F.col("review_id").isNotNull()
    for column in review.columns:
        if column.minimum is not None:
            ok = ok & (F.col(column.name).isNull() | (F.col(column.name) >= column.minimum))
        if column.maximum is not None:
            ok = ok & (F.col(column.name).isNull() | (F.col(column.name) <= column.maximum))
        if column.step is not None:
            ok = ok & (
                F.col(column.name).isNull()
                | ((F.col(column.name) / column.step) == F.round(F.col(column.name) / column.step))
            )
    valid = typed.where(ok).select(
        "*",
        F.lit("insert").alias("_operation"),
        F.lit("2026-01-01 00:00:00").cast("timestamp").alias("_change_ts"),
        F.monotonically_increasing_id().alias("_change_seq"),
        F.lit("raw/review/reviews.csv.gz").alias("_source_key"),
        F.monotonically_increasing_id().alias("_source_line"),
        F.lit("benchmark").alias("_control_id"),
        F.current_timestamp().alias("_ingested_at"),
    )
    valid.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(
        str(out / "spark")
    )
    rows = spark.read.parquet(str(out / "spark")).count()
    job_seconds = time.perf_counter() - job_started
    spark.stop()
    return {"seconds": job_seconds, "session_seconds": session_seconds, "rows_written": rows}


def _measure(engine: str, raw: Path, out: Path) -> dict:
    return measure_child(Path(__file__), engine, "--raw", str(raw), "--out", str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--engine", choices=["core", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # child process: run one engine, print its result as JSON
        runner = run_core if args.engine == "core" else run_spark
        print(json.dumps(runner(args.raw, args.out)))
        return

    from examples.beer.generate import csv_gz, generate_reviews

    with tempfile.TemporaryDirectory(prefix="bronze-bench-") as tmp:
        raw = Path(tmp, "reviews.csv.gz")
        raw.write_bytes(csv_gz(generate_reviews(args.rows, seed=42)))
        print(f"input: {args.rows:,} review rows, {raw.stat().st_size / 2**20:.1f} MiB gzip CSV")
        results = [_measure("core", raw, Path(tmp))]
        if not args.skip_spark:
            results.append(_measure("spark", raw, Path(tmp)))
    header = ("engine", "rows", "job s", "rows/s", "process s", "peak RSS MB")
    print("{:<8} {:>10} {:>8} {:>12} {:>10} {:>12}".format(*header))
    for r in results:
        print(
            f"{r['engine']:<8} {r['rows_written']:>10,} {r['seconds']:>8.2f} "
            f"{r['rows_written'] / r['seconds']:>12,.0f} {r['process_seconds']:>10.2f} "
            f"{r['peak_rss_mb']:>12.0f}"
        )
    if len(results) == 2:
        core, spark = results
        print(f"spark session start-up: {spark['session_seconds']:.2f} s (not in 'job s')")
        print(
            f"ratio spark/core: job {spark['seconds'] / core['seconds']:.1f}x, "
            f"whole process {spark['process_seconds'] / core['process_seconds']:.1f}x, "
            f"peak RSS {spark['peak_rss_mb'] / core['peak_rss_mb']:.1f}x"
        )


if __name__ == "__main__":
    main()
