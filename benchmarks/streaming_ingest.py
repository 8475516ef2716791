"""Benchmark: streamed DMS changes through delivery → bronze → silver, against the batch path.

    .venv/bin/python benchmarks/streaming_ingest.py [--events 1000000] [--keys 200000]
                                                   [--transport 20000]

One table (the retail example's ``orders``: 6 columns), ``--keys`` existing rows merged into
silver first (untimed), then ``--events`` DMS-shaped changes from the project's generator
(``datalake/changes.py``: 80 % updates of existing keys, 20 % inserts; untimed):

- **stream path**: the local delivery loop (``workloads/local/delivery.py``: deaggregation, the
  JQ query evaluated by ``jq``, the prefix expressions, GZIP, objects put to the emulator's S3)
  → bronze (``convert_raw`` of every delivered object) → one silver merge of their rows;
- **batch path**: the same rows as one gzip CSV (what a batch producer would send) → bronze →
  one silver merge, into a twin table with the same initial rows;
- **floors**: DuckDB reading the delivered JSON lines and the CSV, doing nothing else.

Kinesis itself is not in the path: the delivery reads in-memory records shaped as GetRecords
returns them. The emulator's Kinesis (moto) moves a few thousand records per second, which
would measure moto; its rate is printed separately for a ``--transport`` sample. The lag of
the last event is the time from its arrival at the delivery until silver committed it.
Targets (issue 13): bronze at least 500,000 events/s; the stream path within 2x of the batch
path.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLE = "orders"


def _contract():
    from datalake.domain import load_domain

    return load_domain(ROOT / "examples/retail/domain.yaml").table(TABLE)


def _record(key: str, fmt: str, arrived: datetime):
    from datalake.control import ControlRecord

    return ControlRecord(
        control_id=f"bench-{fmt}-{abs(hash(key)) % 10**12:012d}",
        layer="bronze",
        table_name=TABLE,
        bucket="landing",
        object_key=key,
        format=fmt,
        checksum="-",
        created_at=arrived,
    )


def _bronze(stream: Any, key: str, fmt: str, out: Path, arrived: datetime) -> tuple[Any, Any]:
    """convert_raw of one raw stream into ``out``: the result and the Parquet table."""
    import pyarrow.parquet as pq

    from workloads.bronze.ingest import convert_raw
    from workloads.bronze.masking import RedactDeclaredPii

    result = convert_raw(
        stream,
        _record(key, fmt, arrived),
        contract=_contract(),
        masker=RedactDeclaredPii(),
        parquet_path=out,
        quarantine_path=out.with_suffix(".bad.jsonl.gz"),
        ingested_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return result, pq.read_table(out) if result.rows_written else None


def _catalog(folder: Path):
    from pyiceberg.catalog.sql import SqlCatalog

    folder.mkdir()
    catalog = SqlCatalog("bench", uri=f"sqlite:///{folder}/c.db", warehouse=f"file://{folder}")
    catalog.create_namespace("silver")
    return catalog


def _csv_gz(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({c: pa.array([r.get(c) for r in rows]) for c in columns})
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return gzip.compress(sink.getvalue(), compresslevel=6)


def _transport(endpoint: str, records: list[dict[str, Any]]) -> dict[str, float]:
    """The emulator's Kinesis: PutRecords then GetRecords of a sample (moto's speed)."""
    import boto3

    from workloads.local.delivery import DeliveryLoop, create_stream, put_changes

    client = lambda s: boto3.client(s, endpoint_url=endpoint, region_name="us-east-1")  # noqa: E731
    kinesis, s3 = client("kinesis"), client("s3")
    s3.create_bucket(Bucket="transport")
    create_stream(kinesis, "transport", shards=2)
    started = time.perf_counter()
    put_changes(kinesis, "transport", records, contracts={TABLE: _contract()})
    put = time.perf_counter() - started
    loop = DeliveryLoop(
        kinesis, s3, stream="transport", bucket="transport", key_arn="", delivery_stream="t"
    )
    started = time.perf_counter()
    loop.poll()
    loop.flush()
    read = time.perf_counter() - started
    return {"put_per_s": len(records) / put, "get_and_deliver_per_s": len(records) / read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--transport", type=int, default=20_000)
    options = parser.parse_args()

    import boto3
    import duckdb
    import pyarrow as pa

    from datalake.changes import generate_changes
    from workloads.bronze.runtime import use_lean_memory_pool
    from workloads.local.delivery import DeliveryLoop
    from workloads.local.emulator import running_emulator
    from workloads.shared.tables import ensure_table, table_properties
    from workloads.silver.merge import merge_batch

    use_lean_memory_pool()
    contract = _contract()
    columns = list(contract.column_names)
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    began = time.perf_counter()
    initial = generate_changes(
        contract, (), count=options.keys, seed=1, start=start, mix=(1.0, 0.0, 0.0)
    )
    rows = [r["data"] for r in initial]
    events = generate_changes(
        contract,
        rows,
        count=options.events,
        seed=2,
        start=start + timedelta(hours=1),
        mix=(0.2, 0.8, 0.0),
    )
    lines = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    operations: dict[str, int] = {}
    for event in events:
        operation = event["metadata"]["operation"]
        operations[operation] = operations.get(operation, 0) + 1
    print(
        f"generated {len(events):,} events {operations} on {len(rows):,} existing keys "
        f"in {time.perf_counter() - began:.1f} s (untimed)",
        flush=True,
    )

    with (
        tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp,
        running_emulator("us-east-1") as endpoint,
    ):
        folder = Path(tmp)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="landing")
        properties = table_properties(128, 7, 5)
        tables = {}
        for path in ("stream", "batch"):
            catalog = _catalog(folder / f"{path}-warehouse")
            tables[path] = ensure_table(catalog, "silver", contract, properties)
        seed_csv = folder / "initial.csv.gz"
        seed_csv.write_bytes(_csv_gz(rows, columns))
        _, seed_rows = _bronze(
            pa.CompressedInputStream(pa.OSFile(str(seed_csv)), "gzip"),
            "raw/orders/initial.csv.gz",
            "csv",
            folder / "initial.parquet",
            start,
        )
        for path, table in tables.items():  # the same initial state, untimed
            merge_batch(table, seed_rows, contract, f"initial-{path}")

        timings: dict[str, float] = {}
        # --- stream path ------------------------------------------------------------------
        arrival = datetime.now(UTC)
        kinesis_records = [{"Data": line, "ApproximateArrivalTimestamp": arrival} for line in lines]
        loop = DeliveryLoop(
            None, s3, stream="bench", bucket="landing", key_arn="", delivery_stream="bench-cdc"
        )
        started = time.perf_counter()
        loop.accept(kinesis_records)
        loop.flush()
        delivered = loop.stats.objects  # written by size while accepting, and by the flush
        timings["delivery"] = time.perf_counter() - started
        last_arrival = time.perf_counter()
        local = []  # the objects on local disk, like the batch file (downloading is S3's time)
        for number, obj in enumerate(delivered):
            path = folder / f"delivered-{number}.jsonl.gz"
            path.write_bytes(s3.get_object(Bucket="landing", Key=obj.key)["Body"].read())
            local.append(str(path))
        downloaded = time.perf_counter() - last_arrival
        started = time.perf_counter()
        parts, skipped, quarantined = [], 0, 0
        for number, (obj, path) in enumerate(zip(delivered, local, strict=True)):
            result, part = _bronze(
                pa.CompressedInputStream(pa.OSFile(path), "gzip"),
                obj.key,
                "jsonl",
                folder / f"stream-{number}.parquet",
                datetime.now(UTC),
            )
            skipped += result.rows_skipped
            quarantined += result.rows_quarantined
            if part is not None:
                parts.append(part)
        timings["stream bronze"] = time.perf_counter() - started
        started = time.perf_counter()
        changes = pa.concat_tables(parts)
        stream_merge = merge_batch(tables["stream"], changes, contract, "stream")
        timings["stream silver"] = time.perf_counter() - started
        lag = time.perf_counter() - last_arrival - downloaded + timings["delivery"]

        # --- batch path -------------------------------------------------------------------
        csv_path = folder / "changes.csv.gz"
        csv_path.write_bytes(_csv_gz([e["data"] for e in events], columns))  # untimed
        started = time.perf_counter()
        _, batch_rows = _bronze(
            pa.CompressedInputStream(pa.OSFile(str(csv_path)), "gzip"),
            "raw/orders/changes.csv.gz",
            "csv",
            folder / "batch.parquet",
            start + timedelta(hours=2),  # after the initial rows, as a later file would
        )
        timings["batch bronze"] = time.perf_counter() - started
        started = time.perf_counter()
        batch_merge = merge_batch(tables["batch"], batch_rows, contract, "batch")
        timings["batch silver"] = time.perf_counter() - started

        # --- floors -----------------------------------------------------------------------
        connection = duckdb.connect()
        started = time.perf_counter()
        connection.sql(
            "SELECT count(*), count(DISTINCT data.order_id) "
            "FROM read_json(?, format='newline_delimited')",
            params=[local],
        ).fetchall()
        timings["floor: DuckDB reads the JSON lines"] = time.perf_counter() - started
        started = time.perf_counter()
        connection.sql(
            "SELECT count(*), count(DISTINCT order_id) FROM read_csv(?)", params=[str(csv_path)]
        ).fetchall()
        timings["floor: DuckDB reads the CSV"] = time.perf_counter() - started
        transport = _transport(endpoint, events[: options.transport])

    n = len(events)
    stream_total = timings["delivery"] + timings["stream bronze"] + timings["stream silver"]
    batch_total = timings["batch bronze"] + timings["batch silver"]
    print(
        f"\n{n:,} events, {len(delivered)} delivered objects, {skipped} skipped, "
        f"{quarantined} quarantined"
    )
    for stage, seconds in timings.items():
        print(f"  {stage:<38} {seconds:7.2f} s  {n / seconds:>12,.0f} events/s")
    print(
        f"  {'stream path (delivery+bronze+silver)':<38} {stream_total:7.2f} s  "
        f"{n / stream_total:>12,.0f} events/s"
    )
    print(
        f"  {'batch path (bronze+silver)':<38} {batch_total:7.2f} s  "
        f"{n / batch_total:>12,.0f} events/s"
    )
    after = timings["stream bronze"] + timings["stream silver"]
    print(
        f"  stream bronze+silver / batch: {after / batch_total:.2f}x (what runs in AWS: "
        "Firehose does the delivery)"
    )
    print(
        f"  stream / batch: {stream_total / batch_total:.2f}x (target <= 2x); "
        f"bronze {n / timings['stream bronze']:,.0f} events/s (target >= 500,000)"
    )
    print(f"  lag of the last event (arrival -> silver commit): {lag:.2f} s")
    print(
        f"  silver keys written: stream {stream_merge.keys_written:,}, "
        f"batch {batch_merge.keys_written:,}; duplicates skipped "
        f"{stream_merge.duplicates_skipped:,}"
    )
    print(
        f"  emulator Kinesis (moto), {options.transport:,} events: "
        f"PutRecords {transport['put_per_s']:,.0f}/s, GetRecords + delivery "
        f"{transport['get_and_deliver_per_s']:,.0f}/s (not in the path)"
    )
    print(
        json.dumps(
            {
                "events": n,
                "timings": timings,
                "lag_seconds": lag,
                "stream_over_batch": stream_total / batch_total,
                "transport": transport,
            }
        )
    )


if __name__ == "__main__":
    main()
