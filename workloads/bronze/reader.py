"""Streams a raw gzip CSV or JSON-lines object as batches of string columns.

Nothing is held whole in memory: the object is decompressed and parsed block by block. Each
batch carries the source line of every row (the header is line 1; for CSV a "line" is a record,
so it equals the physical line unless a quoted value spans lines). Rows that cannot be parsed
at all (wrong number of CSV fields, malformed JSON) come out as :class:`UnparsableRow` with the
reason, to be quarantined, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from datalake.contracts import CDC_ENVELOPE, RawFormat, TableContract
from datalake.errors import InvalidRawFile

CSV_BLOCK_BYTES = 1 << 20
"""Decompressed bytes per parsed block: small blocks keep peak memory low at no speed cost."""
JSONL_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class UnparsableRow:
    """A source row that could not be split into fields."""

    line: int
    reason: str
    text: str


@dataclass
class RawBatch:
    """Rows of one block as strings, with their source lines, plus rows that did not parse."""

    columns: pa.Table
    lines: np.ndarray
    unparsable: list[UnparsableRow] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        """Every source row this batch accounts for."""
        return self.columns.num_rows + len(self.unparsable)


def open_stream(body: BinaryIO | pa.NativeFile) -> pa.NativeFile:
    """Gzip-decompressing stream over a raw object's body (a boto3 ``StreamingBody``)."""
    source = body if isinstance(body, pa.NativeFile) else pa.PythonFile(body, mode="r")
    return pa.CompressedInputStream(source, "gzip")


def read_batches(
    stream: pa.NativeFile, raw_format: RawFormat, contract: TableContract, key: str
) -> Iterator[RawBatch]:
    """Batches of the object at ``key`` (named in every error)."""
    try:
        if raw_format is RawFormat.CSV:
            yield from _csv_batches(stream, contract, key)
        else:
            yield from _jsonl_batches(stream, contract, key)
    except InvalidRawFile:
        raise
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, EOFError) as error:
        raise InvalidRawFile(f"{key}: {_describe(error)}") from error


def _describe(error: BaseException) -> str:
    text = str(error)
    if "invalid UTF8" in text or isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text ({text})"
    if "Truncated compressed stream" in text:
        return "truncated gzip stream (the upload is incomplete)"
    if "zlib" in text or "gzip" in text.lower():
        return f"not a valid gzip stream ({text})"
    if "Empty CSV file" in text:
        return "empty file: no header row"
    return text


def _csv_batches(stream: pa.NativeFile, contract: TableContract, key: str) -> Iterator[RawBatch]:
    unparsable: list[UnparsableRow] = []

    def on_invalid_row(row: Any) -> str:
        unparsable.append(
            UnparsableRow(
                line=row.number,
                reason=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                text=row.text,
            )
        )
        return "skip"

    every_column_as_text = {name: pa.string() for name in contract.column_names}
    reader = pacsv.open_csv(
        stream,
        # Single-threaded parsing is what gives row numbers to invalid rows.
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=on_invalid_row
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=every_column_as_text,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    _check_header(reader.schema.names, contract, key)
    next_line = 2
    for batch in reader:
        bad = [row.line for row in unparsable]
        span = np.arange(next_line, next_line + batch.num_rows + len(bad), dtype=np.int64)
        lines = np.setdiff1d(span, np.asarray(bad, dtype=np.int64), assume_unique=True)
        next_line = int(span[-1]) + 1 if len(span) else next_line
        yield RawBatch(pa.Table.from_batches([batch]), lines, list(unparsable))
        unparsable.clear()
    if unparsable:  # invalid rows after the last full batch
        yield RawBatch(_empty(contract), np.empty(0, dtype=np.int64), list(unparsable))


def _check_header(names: list[str], contract: TableContract, key: str) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidRawFile(f"{key}: header repeats column(s) {', '.join(duplicated)}")
    missing = [c for c in contract.required_columns if c not in names]
    if missing:
        raise InvalidRawFile(
            f"{key}: header lacks required column(s) {', '.join(missing)} of table "
            f"{contract.name} (header: {', '.join(names)})"
        )
    extra = [n for n in names if n not in contract.column_names]
    if extra:
        raise InvalidRawFile(
            f"{key}: header has column(s) {', '.join(extra)} not in the {contract.name} "
            f"contract (allowed: {', '.join(contract.column_names)}); update the contract "
            "before sending them"
        )


def _empty(contract: TableContract) -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in contract.column_names})


def _jsonl_batches(stream: pa.NativeFile, contract: TableContract, key: str) -> Iterator[RawBatch]:
    allowed = set(contract.column_names) | set(CDC_ENVELOPE)
    names = [*contract.column_names, *CDC_ENVELOPE]
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    unparsable: list[UnparsableRow] = []
    for number, raw in enumerate(_lines(stream), start=1):
        text = raw.strip()
        if not text:
            continue  # blank lines are not records (the controller does not count them)
        problem, row = _parse_json_line(text, allowed)
        if problem:
            unparsable.append(UnparsableRow(number, problem, text[:2000]))
            continue
        rows.append(row)
        lines.append(number)
        if len(rows) >= JSONL_BATCH_ROWS:
            yield _json_batch(rows, lines, unparsable, names)
            rows, lines, unparsable = [], [], []
    if rows or unparsable:
        yield _json_batch(rows, lines, unparsable, names)


def _lines(stream: pa.NativeFile) -> Iterator[str]:
    pending = b""
    while chunk := stream.read(1 << 20):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8")
    if pending:
        yield pending.decode("utf-8")


def _parse_json_line(text: str, allowed: set[str]) -> tuple[str | None, dict[str, str | None]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error.msg} at column {error.colno})", {}
    if not isinstance(value, dict):
        return f"expected a JSON object, found {type(value).__name__}", {}
    unknown = sorted(set(value) - allowed)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}", {}
    row: dict[str, str | None] = {}
    for name, item in value.items():
        if item is None or isinstance(item, str):
            row[name] = item
        elif isinstance(item, bool) or not isinstance(item, int | float):
            return f"{name}: expected a string or number, found {json.dumps(item)[:100]}", {}
        else:
            row[name] = repr(item) if isinstance(item, float) else str(item)
    return None, row


def _json_batch(
    rows: list[dict[str, str | None]],
    lines: list[int],
    unparsable: list[UnparsableRow],
    names: list[str],
) -> RawBatch:
    columns = {n: pa.array([r.get(n) for r in rows], pa.string()) for n in names}
    return RawBatch(pa.table(columns), np.asarray(lines, dtype=np.int64), unparsable)
