"""Benchmark: DMS change events (gzip JSON lines) -> bronze Parquet, the ingest core.

    .venv/bin/python benchmarks/bronze_jsonl.py [--events 1000000] [--exact] [--repeat 3]

Generates the events deterministically (untimed): one 6-column table, what DMS sends to
Kinesis (``json-unformatted``, transaction details on: the envelope of ``datalake.streaming``),
80 % updates with a key-only before-image, 12 % inserts, 8 % deletes carrying only the key, in
transactions of 1-3 records. Then runs ``convert_raw`` (read, fast path, validation, lineage,
one zstd Parquet file) on the local gzip file in a child process, sampling its memory, and
prints events/s. ``--exact`` also runs the exact per-line path on the same file, to compare.
The target (issue 13) is 500,000 events/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402

TABLE = "orders"
TARGET = 500_000


def orders_contract():
    """The benchmark's table: six columns of every type, a key, a rule."""
    from datalake.contracts import Column, ColumnType, TableContract

    return TableContract(
        name=TABLE,
        columns=(
            Column("order_id", ColumnType.LONG, nullable=False),
            Column("customer_id", ColumnType.LONG, nullable=False),
            Column("status", ColumnType.STRING),
            Column("amount", ColumnType.DOUBLE, minimum=0),
            Column("placed_at", ColumnType.TIMESTAMP),
            Column("note", ColumnType.STRING),
        ),
        primary_key=("order_id",),
    )


def dms_events(count: int, *, seed: int = 42) -> bytes:
    """``count`` DMS records as JSON lines (uncompressed)."""
    rnd = random.Random(seed)
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)
    lines: list[str] = []
    transaction = 1_000
    while len(lines) < count:
        transaction += 1
        for record_id in range(1, rnd.randint(1, 3) + 1):
            if len(lines) >= count:
                break
            at = start + timedelta(microseconds=len(lines) * 250)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            draw = rnd.random()
            operation = "update" if draw < 0.8 else "insert" if draw < 0.92 else "delete"
            key = rnd.randint(1, 200_000)
            data: dict = {
                "order_id": key,
                "customer_id": rnd.randint(1, 50_000),
                "status": rnd.choice(["new", "paid", "shipped", "cancelled"]),
                "amount": round(rnd.uniform(1, 500), 2),
                "placed_at": stamp,
                "note": rnd.choice(["gift", "", "express delivery", None]),
            }
            if operation == "delete":
                data = {"order_id": key}
            metadata = {
                "timestamp": stamp,
                "record-type": "data",
                "operation": operation,
                "partition-key-type": "primary-key",
                "schema-name": "public",
                "table-name": TABLE,
                "transaction-id": transaction,
                "transaction-record-id": record_id,
                "prev-transaction-id": transaction - 1,
                "prev-transaction-record-id": 1,
                "commit-timestamp": stamp,
                "stream-position": f"00000002/{len(lines):08X}.3.00000002/{len(lines):08X}",
            }
            event: dict = {"data": data, "metadata": metadata}
            if operation == "update":
                event = {"data": data, "before-image": {"order_id": key}, "metadata": metadata}
            lines.append(json.dumps(event, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def run_core(raw: Path, out: Path, *, exact: bool) -> dict:
    """``convert_raw`` on the local file, as the worker runs it (lean memory pool)."""
    import pyarrow as pa

    from datalake.control import ControlRecord
    from workloads.bronze import jsonl_fast
    from workloads.bronze.ingest import convert_raw
    from workloads.bronze.masking import RedactDeclaredPii
    from workloads.bronze.runtime import use_lean_memory_pool

    use_lean_memory_pool()
    if exact:  # every block through the per-line path
        jsonl_fast.FastJsonLines.for_contract = classmethod(lambda cls, contract: None)
    record = ControlRecord(
        control_id="benchmark",
        layer="bronze",
        table_name=TABLE,
        bucket="local",
        object_key=f"raw/{TABLE}/cdc/2026/12/01/10/changes.jsonl.gz",
        format="jsonl",
        checksum="-",
        created_at=datetime(2026, 12, 1, 11, tzinfo=UTC),
    )
    started = time.perf_counter()
    cpu = time.process_time()
    result = convert_raw(
        pa.CompressedInputStream(pa.OSFile(str(raw)), "gzip"),
        record,
        contract=orders_contract(),
        masker=RedactDeclaredPii(),
        parquet_path=out / "core.parquet",
        quarantine_path=out / "core-quarantine.jsonl.gz",
        ingested_at=datetime.now(UTC),
    )
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows_in": result.rows_in,
        "rows_written": result.rows_written,
        "rows_quarantined": result.rows_quarantined,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of the fast path (best).")
    parser.add_argument("--exact", action="store_true", help="Also time the exact path.")
    parser.add_argument("--engine", choices=["fast", "exact"], help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # child process: one run, its result as JSON
        print(json.dumps(run_core(args.raw, args.out, exact=args.engine == "exact")))
        return

    with tempfile.TemporaryDirectory(prefix="bronze-jsonl-") as tmp:
        raw = Path(tmp, "changes.jsonl.gz")
        text = dms_events(args.events)
        raw.write_bytes(gzip.compress(text, compresslevel=6))
        print(
            f"input: {args.events:,} DMS events of a 6-column table, "
            f"{len(text) / 2**20:.0f} MiB JSON lines, {raw.stat().st_size / 2**20:.1f} MiB gzip"
        )
        del text
        runs = [
            measure_child(Path(__file__), "fast", "--raw", str(raw), "--out", tmp)
            for _ in range(max(args.repeat, 1))
        ]
        if args.exact:
            runs.append(measure_child(Path(__file__), "exact", "--raw", str(raw), "--out", tmp))
    header = ("path", "events", "written", "job s", "cpu s", "events/s", "peak RSS MB")
    print("{:<6} {:>10} {:>10} {:>7} {:>7} {:>11} {:>12}".format(*header))
    for r in runs:
        print(
            f"{r['engine']:<6} {r['rows_in']:>10,} {r['rows_written']:>10,} {r['seconds']:>7.2f} "
            f"{r['cpu_seconds']:>7.2f} {r['rows_in'] / r['seconds']:>11,.0f} "
            f"{r['peak_rss_mb']:>12.0f}"
        )
    best = max(r["rows_in"] / r["seconds"] for r in runs if r["engine"] == "fast")
    verdict = "meets" if best >= TARGET else "misses"
    print(f"fast path, best of {args.repeat}: {best:,.0f} events/s ({verdict} {TARGET:,})")


if __name__ == "__main__":
    main()
