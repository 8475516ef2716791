"""The processing controller: one control record per raw object, from its S3 event.

Streams the object once to count its records and compute its SHA-256, picks the compute
target from the threshold, and registers the record. The same content already ingested for
the same table becomes ``duplicate``; a key outside ``raw/<table of the domain>/`` or an
unreadable file becomes a non-retryable ``error`` record with the reason (and the object stays
in raw).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from datalake.contracts import RawFormat
from datalake.control import ControlRecord, ControlStatus, ControlStore, control_id_for
from datalake.domain import Domain
from datalake.errors import InvalidRawFile
from datalake.layout import RAW_PREFIX, RawKeyError, parse_raw_key

from .reader import count_records, describe_error

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


def inspect_object(body: Any, key: str, domain: Domain) -> Inspection:
    """Hash the object and, for a valid raw key of a table of ``domain``, count its records.

    The count is :func:`workloads.bronze.reader.count_records`: the records exactly as the
    ingest reads them, so the reconciliation can only fail if the object changed.
    """
    reader = _HashingReader(body)
    count: int | None = None
    problem: str | None = None
    try:
        raw = parse_raw_key(key, domain.tables)
        contract = domain.table(raw.table)
        stream = pa.CompressedInputStream(pa.PythonFile(reader, mode="r"), "gzip")
        count = count_records(stream, raw.format, contract, key)
    except (RawKeyError, InvalidRawFile) as error:
        problem = str(error)
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, EOFError) as error:
        problem = f"{key}: {describe_error(error)}"
    reader.drain()
    return Inspection(reader.digest.hexdigest(), reader.size, count, problem)


def register_object(
    store: ControlStore,
    s3: Any,
    *,
    bucket: str,
    key: str,
    arrived: datetime,
    mass_threshold_records: int,
    domain: Domain,
) -> ControlRecord:
    """Create (idempotently) the bronze control record of one raw object of ``domain``."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    seen = inspect_object(body, key, domain)
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
