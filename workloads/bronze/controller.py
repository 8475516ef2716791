"""The processing controller: one control record per raw object, from its S3 event.

Streams the object once to count its records and compute its SHA-256, picks the compute
target from the threshold, and registers the record. The same content already ingested for
the same table becomes ``duplicate``; a key outside ``raw/<known table>/`` or an unreadable
file becomes a non-retryable ``error`` record with the reason (and the object stays in raw).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from datalake.contracts import RawFormat, TableContract, get_contract
from datalake.control import ControlRecord, ControlStatus, ControlStore, control_id_for
from datalake.errors import InvalidRawFile
from datalake.layout import RAW_PREFIX, RawKeyError, parse_raw_key
from workloads.bronze.reader import _check_header, _describe

LAMBDA_TARGET = "lambda"
ECS_TARGET = "ecs"


class _HashingReader:
    """File-like view of a stream that hashes and counts every byte read through it."""

    def __init__(self, body: Any):
        self.body = body
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self.body.read(size) if size is not None and size >= 0 else self.body.read()
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class Inspection:
    """What the controller learnt from one pass over an object."""

    checksum: str
    size: int
    record_count: int | None
    problem: str | None


def inspect_object(body: Any, key: str) -> Inspection:
    """Hash the object and, for a valid raw key, count its records."""
    reader = _HashingReader(body)
    count: int | None = None
    problem: str | None = None
    try:
        raw = parse_raw_key(key)
        stream = pa.CompressedInputStream(pa.PythonFile(reader, mode="r"), "gzip")
        count = _count_records(stream, raw.format, get_contract(raw.table), key)
    except (RawKeyError, InvalidRawFile) as error:
        problem = str(error)
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, EOFError) as error:
        problem = f"{key}: {_describe(error)}"
    reader.drain()
    return Inspection(reader.digest.hexdigest(), reader.size, count, problem)


def _count_records(
    stream: pa.NativeFile, raw_format: RawFormat, contract: TableContract, key: str
) -> int:
    if raw_format is RawFormat.JSONL:
        count, pending = 0, b""
        while chunk := stream.read(1 << 20):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            count += sum(1 for line in lines if line.strip())
            for line in lines:
                line.decode("utf-8")  # an undecodable line makes the file unreadable
        pending.decode("utf-8")
        return count + (1 if pending.strip() else 0)
    invalid = 0

    def on_invalid_row(_: Any) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(block_size=4 << 20),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=on_invalid_row
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in contract.column_names}
        ),
    )
    _check_header(reader.schema.names, contract, key)
    return sum(batch.num_rows for batch in reader) + invalid


def register_object(
    store: ControlStore,
    s3: Any,
    *,
    bucket: str,
    key: str,
    arrived: datetime,
    mass_threshold_records: int,
) -> ControlRecord:
    """Create (idempotently) the bronze control record of one raw object."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    seen = inspect_object(body, key)
    table = key[len(RAW_PREFIX) :].split("/")[0] if key.startswith(RAW_PREFIX) else "unknown"
    raw_format = next((f.value for f in RawFormat if key.endswith(f".{f.value}.gz")), "unknown")
    record = ControlRecord(
        control_id=control_id_for("bronze", bucket, key, seen.checksum),
        layer="bronze",
        table_name=table or "unknown",
        bucket=bucket,
        object_key=key,
        format=raw_format,
        size_bytes=seen.size,
        record_count=seen.record_count,
        checksum=seen.checksum,
        created_at=arrived,
        updated_at=arrived,
    )
    if seen.problem is not None:
        record = record.model_copy(
            update={"status": ControlStatus.ERROR, "error": seen.problem, "retryable": False}
        )
    else:
        assert seen.record_count is not None
        target = ECS_TARGET if seen.record_count >= mass_threshold_records else LAMBDA_TARGET
        record = record.model_copy(update={"compute_target": target})
    return store.register(record)
