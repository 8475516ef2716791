"""The ingest core: one raw object -> one bronze Parquet file + its quarantined rows.

Stream, validate, mask, write; then reconcile ``rows_in == rows_written + rows_quarantined +
rows_skipped`` (skipped: DMS control records and DMS's own tables, no rows of the table) and
against the controller's count. Keys are deterministic, so a retry overwrites. The quarantined
rows are also counted per rule (a reason without its value, ``reasons.py``): the file's most
frequent :data:`MAX_QUARANTINE_RULES`, for its control record and the ``QuarantineReasons``
metric.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import queue
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datalake.contracts import Operation, RawFormat, TableContract, bronze_columns
from datalake.control import ControlRecord, utc_now
from datalake.domain import Domain
from datalake.errors import ReconciliationError
from datalake.layout import bronze_key, parse_raw_key, quarantine_key

from .masking import PiiMasker, mask_batch
from .reader import RawBatch, open_stream, read_batches
from .reasons import WITHHELD
from .validation import ValidatedBatch, validate_batch

PARQUET_COMPRESSION = "zstd"
MAX_QUARANTINE_RULES = 20
"""Rules kept per file (the most frequent); the rows of the others count under
:data:`OTHER_RULES`."""
OTHER_RULES = "other"


@dataclass
class IngestResult:
    """What one ingest wrote, with the counts recorded on the control record."""

    rows_in: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    """Records that are no rows of the table (DMS control records, DMS's own tables)."""
    bronze_key: str | None = None
    bronze_checksum: str | None = None
    bronze_size: int = 0
    quarantine_key: str | None = None
    masked_columns: tuple[str, ...] = field(default_factory=tuple)
    quarantine_rules: dict[str, int] = field(default_factory=dict)
    """Quarantined rows per rule (:func:`top_rules`): a row that broke two rules counts under
    both, an unparsable row under its one rule."""


def top_rules(rows: Mapping[str, int], limit: int = MAX_QUARANTINE_RULES) -> dict[str, int]:
    """The ``limit`` rules with the most rows, most first (then by rule), the rows of the rest
    summed under :data:`OTHER_RULES` (last)."""
    ranked = sorted(((r, n) for r, n in rows.items() if n), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:limit])
    rest = sum(n for _, n in ranked[limit:])
    if rest:
        kept[OTHER_RULES] = rest  # no rule is called so: each names a column or a shape
    return kept


def bronze_schema(contract: TableContract) -> pa.Schema:
    """Arrow schema of the bronze Parquet files of ``contract``.

    Only the key and the lineage are never null: a CDC delete carries only its key, so even a
    required column may be null in bronze (validation enforces it for inserts and updates).
    """
    changes = set(contract.column_names) - set(contract.primary_key)
    return pa.schema(
        [
            pa.field(c.name, c.type.arrow, nullable=c.nullable or c.name in changes)
            for c in bronze_columns(contract)
        ]
    )


def ingest_object(
    s3: Any,
    record: ControlRecord,
    *,
    lake_bucket: str,
    masker: PiiMasker,
    domain: Domain,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest the raw object of ``record`` (a table of ``domain``) into ``lake_bucket``; raise
    if it cannot be read."""
    raw = parse_raw_key(record.object_key, domain.tables)
    contract = domain.table(raw.table)
    body = s3.get_object(Bucket=record.bucket, Key=record.object_key)["Body"]
    with tempfile.TemporaryDirectory(prefix="bronze-") as tmp:
        parquet_path, quarantine_path = Path(tmp, "out.parquet"), Path(tmp, "bad.jsonl.gz")
        result = convert_raw(
            open_stream(body),
            record,
            contract=contract,
            masker=masker,
            parquet_path=parquet_path,
            quarantine_path=quarantine_path,
            ingested_at=now or utc_now(),
        )
        arrived = record.created_at
        if result.rows_quarantined:
            result.quarantine_key = quarantine_key(
                raw.table, raw.source_name, record.control_id, arrived
            )
            s3.upload_file(str(quarantine_path), lake_bucket, result.quarantine_key)
        if result.rows_written:
            result.bronze_key = bronze_key(raw.table, raw.source_name, record.control_id, arrived)
            s3.upload_file(str(parquet_path), lake_bucket, result.bronze_key)
    return result


def convert_raw(
    stream: pa.NativeFile,
    record: ControlRecord,
    *,
    contract: TableContract,
    masker: PiiMasker,
    parquet_path: Path,
    quarantine_path: Path,
    ingested_at: datetime,
) -> IngestResult:
    """The storage-independent core: decompressed raw stream of a ``contract`` table -> local
    Parquet + quarantine."""
    raw = parse_raw_key(record.object_key, (contract.name,))
    schema = bronze_schema(contract)
    result = IngestResult(masked_columns=contract.pii_columns)
    rules: Counter[str] = Counter()
    with (
        _BackgroundParquetWriter(parquet_path, schema) as writer,
        gzip.open(quarantine_path, "wt", encoding="utf-8") as quarantine,
    ):
        cdc = raw.format is RawFormat.JSONL
        batches = read_batches(stream, raw.format, contract, record.object_key)
        for batch, validated in _validated(batches, contract, cdc=cdc):
            result.rows_in += batch.rows_in
            result.rows_skipped += batch.rows_skipped
            result.rows_quarantined += _quarantine(quarantine, batch, validated, contract, masker)
            rules.update(row.rule for row in batch.unparsable)
            rules.update(validated.rules)
            if validated.valid.num_rows:
                masked = mask_batch(validated.valid, contract, masker)
                table = _with_lineage(masked, batch, validated, record, ingested_at)
                writer.write(table.cast(schema))
                result.rows_written += table.num_rows
    _reconcile(result, record)
    result.quarantine_rules = top_rules(rules)
    masked = getattr(masker, "masked_columns", None)
    if callable(masked):
        result.masked_columns = tuple(masked(contract.name))
    if result.rows_written:
        result.bronze_checksum = _sha256(parquet_path)
        result.bronze_size = parquet_path.stat().st_size
    return result


class _BackgroundParquetWriter:
    """Writes Parquet on a second thread, so encoding overlaps with parsing the next block.

    pyarrow releases the GIL while encoding; the queue holds at most two batches, which bounds
    memory. An error on the writer thread is raised in the caller at the next write or at exit.
    """

    def __init__(self, path: Path, schema: pa.Schema):
        # Dictionary encoding pays for text (constant lineage, categories) but not for keys,
        # numbers and times, where it costs time and makes the file larger (zstd does better).
        # Statistics of the file's key and control id, one value per file, tell nothing.
        text = [f.name for f in schema if pa.types.is_string(f.type)]
        constant = {"_source_key", "_control_id"}
        self._writer = pq.ParquetWriter(
            path,
            schema,
            compression=PARQUET_COMPRESSION,
            use_dictionary=text,
            write_statistics=[n for n in schema.names if n not in constant],
        )
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="parquet-writer", daemon=True)

    def __enter__(self) -> _BackgroundParquetWriter:
        self._thread.start()
        return self

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as error:  # noqa: BLE001 handed to the caller
                    self._error = error

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None and exc[0] is None:
            raise self._error


def _validated(
    batches: Iterable[RawBatch], contract: TableContract, *, cdc: bool
) -> Iterator[tuple[RawBatch, ValidatedBatch]]:
    """Each batch with its validation; a fast-path batch in which a row fails a rule is
    replaced by the exact path's reading of the same lines, so every quarantined row and
    reason is the exact path's (its valid rows are the same either way)."""
    for batch in batches:
        validated = validate_batch(batch.columns, contract, cdc=cdc)
        if not validated.reasons or batch.reread is None:
            yield batch, validated
            continue
        for exact in batch.reread():
            yield exact, validate_batch(exact.columns, contract, cdc=cdc)


def _reconcile(result: IngestResult, record: ControlRecord) -> None:
    accounted = result.rows_written + result.rows_quarantined + result.rows_skipped
    if result.rows_in != accounted:
        raise ReconciliationError(
            f"{record.object_key}: rows_in {result.rows_in} != rows_written "
            f"{result.rows_written} + rows_quarantined {result.rows_quarantined} + "
            f"rows_skipped {result.rows_skipped}"
        )
    if record.record_count is not None and record.record_count != result.rows_in:
        raise ReconciliationError(
            f"{record.object_key}: the controller counted {record.record_count} records, "
            f"ingest read {result.rows_in}; the object changed or a reader is wrong"
        )


def _with_lineage(
    masked: pa.Table,
    batch: RawBatch,
    validated: ValidatedBatch,
    record: ControlRecord,
    ingested_at: datetime,
) -> pa.Table:
    n = masked.num_rows
    timestamp = pa.timestamp("us", tz="UTC")
    lines = pa.array(batch.lines[validated.valid_positions], pa.int64())
    arrived = pa.scalar(record.created_at, timestamp)
    if validated.operations is None:  # batch CSV: every row is an insert
        operation = pa.repeat(pa.scalar(Operation.INSERT.value, pa.string()), n)
        change_ts = pa.repeat(arrived, n)
        change_seq = lines
    else:
        operation = validated.operations
        change_ts = pc.fill_null(validated.changed_at, arrived)
        change_seq = pc.fill_null(validated.sequence, lines)
    lineage = {
        "_operation": operation,
        "_change_ts": change_ts,
        "_change_seq": change_seq,
        "_source_key": pa.repeat(pa.scalar(record.object_key, pa.string()), n),
        "_source_line": lines,
        "_control_id": pa.repeat(pa.scalar(record.control_id, pa.string()), n),
        "_ingested_at": pa.repeat(pa.scalar(ingested_at, timestamp), n),
    }
    for name, values in lineage.items():
        masked = masked.append_column(name, values)
    return masked


def _quarantine(
    out: Any,
    batch: RawBatch,
    validated: ValidatedBatch,
    contract: TableContract,
    masker: PiiMasker,
) -> int:
    """Write the failing rows of a batch as JSON lines; PII stays masked here too.

    In a table with PII columns the raw text of an unparsable row, and the fields of a row that
    failed a rule, are withheld: a malformed line may have shifted a PII value into them.
    """
    withheld = bool(contract.pii_columns)
    for row in batch.unparsable:
        text = "[withheld: the table has PII columns; see the raw object]" if withheld else row.text
        entry = {"line": row.line, "reasons": [row.reason], "raw": text}
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    if not validated.reasons:
        return len(batch.unparsable)
    positions = sorted(validated.reasons)
    bad = batch.columns.take(pa.array(positions, pa.int64()))
    bad = mask_batch(bad, contract, masker)
    for position, values in zip(positions, bad.to_pylist(), strict=True):
        line = int(batch.lines[position])
        if withheld:
            for name in validated.failed_columns.get(position, ()):
                if name in values and name not in contract.pii_columns:
                    values[name] = WITHHELD
        entry = {"line": line, "reasons": validated.reasons[position], "row": values}
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return len(batch.unparsable) + len(positions)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
