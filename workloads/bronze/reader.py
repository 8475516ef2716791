"""Streams a raw gzip CSV or JSON-lines object as batches of string columns: what a record is.

This module is the one definition of a record, used by the controller (which counts them,
:func:`count_records`) and by the ingest (which reads them, :func:`read_batches`):

- The decompressed content must be text: a leading UTF-8 byte-order mark is ignored (both
  formats); compressed or binary content is a file-level error that says what it is.
- CSV records are what the CSV parser (pyarrow, RFC 4180 quoting, quoted values may span
  lines) makes of the text. A quoted field still open at the end of the data is a file-level
  error naming the line where its record starts: records are never merged.
- JSON-lines records are the lines of the text, split at ``\\n`` (``jsonl.py``: the flat
  shape and DMS's envelope, read by a vectorised fast path wherever it is exact). A file that
  is one JSON array or a pretty-printed JSON document (its first record is ``[...`` or a lone
  ``{``) is a file-level error: it is not JSON lines. DMS control records and rows of DMS's
  own tables are records, skipped and counted (:attr:`RawBatch.skipped`).
- A *blank line* (:func:`is_blank_line`: only Unicode whitespace or invisible format
  characters such as a byte-order mark) is no record in either format: skipped, not counted.

Nothing is held whole in memory: the object is decompressed and parsed block by block. Each
batch carries the physical line where each of its records starts (line 1 is the first line of
the decompressed file, the CSV header; line breaks are counted as the parser counts them:
``\\r\\n``, ``\\r`` or ``\\n`` for CSV, ``\\n`` for JSON lines), so a record after a quoted value
that spans lines or after blank lines has the line an editor shows. Rows that cannot be
split into fields (wrong number of CSV fields, malformed JSON) come out as
:class:`UnparsableRow` with the reason, to be quarantined, never dropped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from datalake.contracts import RawFormat, TableContract
from datalake.errors import InvalidRawFile

from .batch import RawBatch, UnparsableRow
from .jsonl import RAW_TEXT_CHARACTERS, jsonl_batches
from .reasons import ELIDED, safe_name
from .text import (
    RecordLines,
    TextStream,
    inner_breaks,
    is_blank_line,
    text_breaks,
)

CSV_BLOCK_BYTES = 1 << 20
"""Decompressed bytes per parsed block: small blocks keep peak memory low at no speed cost."""
_END_MARK = f"\x1edatalake-end-of-data-{uuid.uuid4().hex}"
"""Appended after the data of a CSV: a record of its own unless a quoted field is still open."""


def open_stream(body: BinaryIO | pa.NativeFile) -> pa.NativeFile:
    """Gzip-decompressing stream over a raw object's body (a boto3 ``StreamingBody``)."""
    source = body if isinstance(body, pa.NativeFile) else pa.PythonFile(body, mode="r")
    return pa.CompressedInputStream(source, "gzip")


def read_batches(
    stream: Any, raw_format: RawFormat, contract: TableContract, key: str
) -> Iterator[RawBatch]:
    """Batches of the object at ``key`` (named in every error)."""
    try:
        if raw_format is RawFormat.CSV:
            yield from _csv_batches(stream, contract, key)
        else:
            yield from jsonl_batches(stream, contract, key)
    except InvalidRawFile:
        raise
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, EOFError) as error:
        raise InvalidRawFile(f"{key}: {describe_error(error, contract)}") from None


def count_records(stream: Any, raw_format: RawFormat, contract: TableContract, key: str) -> int:
    """The records of an object, as :func:`read_batches` reads them (what the controller counts)."""
    return sum(batch.rows_in for batch in read_batches(stream, raw_format, contract, key))


def describe_error(error: BaseException, contract: TableContract | None = None) -> str:
    """What a decompression or parse error means for the file, without quoting its content."""
    text = str(error)
    if "invalid UTF8" in text or isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text ({text})"
    if "Truncated compressed stream" in text:
        return "truncated gzip stream (the upload is incomplete)"
    if "zlib" in text or "gzip" in text.lower():
        return f"not a valid gzip stream ({text})"
    if "Empty CSV file" in text:
        return "empty file: no header row"
    parse_error = re.match(r"CSV parse error: Row #(\d+)", text)
    if parse_error:  # the parser quotes the row after this: never repeated
        return (
            f"record {parse_error.group(1)} (the header is record 1) cannot be read "
            "(not UTF-8 text?)"
        )
    if "straddling object" in text:
        return (
            f"a record without a line break is longer than the {CSV_BLOCK_BYTES // 2**20} MiB "
            "parse block (is a line break missing?)"
        )
    if contract is not None and contract.pii_columns:
        return f"unreadable ({type(error).__name__}; details withheld: the table has PII columns)"
    return text


def _csv_batches(stream: Any, contract: TableContract, key: str) -> Iterator[RawBatch]:
    end_mark = _END_MARK + "," * (len(contract.column_names) + 1)
    text = TextStream(stream, key, csv=True, suffix=b"\n" + end_mark.encode())
    if text.empty:
        raise InvalidRawFile(f"{key}: empty file: no header row")
    assert text.breaks is not None
    records = RecordLines(text.breaks, first_line=text.leading_blank_lines + 1)
    invalid: list[Any] = []  # (record number, text, expected, found) in parser order
    ended = False

    def on_invalid_row(row: Any) -> str:
        nonlocal ended
        if row.text == end_mark:
            ended = True
        else:
            invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        reader = _open_csv(text, contract, on_invalid_row)
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):  # not empty: the header swallowed the end mark
            raise _unterminated(key, text.leading_blank_lines + 1) from None
        raise
    names = reader.schema.names
    header_start = records.starts(np.asarray([sum(text_breaks(n) for n in names)]))
    if any(_END_MARK in name for name in names):
        raise _unterminated(key, int(header_start[0]))
    check_header(names, contract, key)
    next_record = 2  # the parser's record numbers: the header is record 1
    for batch in reader:
        mine = _invalid_rows_of(batch.num_rows, invalid, next_record)
        yield _csv_batch(batch, mine, next_record, records, key)
        next_record += batch.num_rows + len(mine)
        del invalid[: len(mine)]
    if invalid:  # invalid rows after the last full batch
        empty = pa.RecordBatch.from_pydict(
            {n: pa.array([], pa.string()) for n in names}, schema=reader.schema
        )
        yield _csv_batch(empty, list(invalid), next_record, records, key)
    if not ended:  # the end mark was swallowed by the last record: a quoted field never closed
        raise _unterminated(key, records.last_start)


def _open_csv(text: TextStream, contract: TableContract, on_invalid_row: Any) -> Any:
    return pacsv.open_csv(
        pa.PythonFile(text, mode="r"),
        # Single-threaded parsing is what gives row numbers to invalid rows.
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=on_invalid_row
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in contract.column_names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def _invalid_rows_of(valid: int, invalid: list[Any], first_record: int) -> list[Any]:
    """The invalid rows (in parser order) that sit among a batch's ``valid`` rows.

    The parser may report a bad row of the next block before it hands over this batch; such a
    row belongs to a later batch, or the record numbers would shift.
    """
    mine: list[Any] = []
    for row in invalid:
        if row[0] > first_record + valid + len(mine):
            break
        mine.append(row)
    return mine


def _csv_batch(
    batch: pa.RecordBatch,
    invalid: list[Any],
    first_record: int,
    records: RecordLines,
    key: str,
) -> RawBatch:
    count = batch.num_rows + len(invalid)
    numbers = np.arange(first_record, first_record + count, dtype=np.int64)
    bad_numbers = np.asarray([row[0] for row in invalid], dtype=np.int64)
    is_bad = np.isin(numbers, bad_numbers, assume_unique=True)
    if int(is_bad.sum()) != len(invalid):  # the parser numbered a bad row outside its batch
        raise InvalidRawFile(
            f"{key}: line {records.last_start}: malformed rows that cannot be placed "
            "(unbalanced quotes or delimiters); nothing from this file was ingested"
        )
    inner = np.zeros(count, dtype=np.int64)
    inner[~is_bad] = inner_breaks(batch)
    inner[is_bad] = [text_breaks(row[1]) for row in invalid]
    starts = records.starts(inner)
    unparsable = [
        UnparsableRow(
            line=int(line),
            reason=f"expected {expected} fields, found {found}",
            text=text[:RAW_TEXT_CHARACTERS],
            rule=f"expected {expected} fields, found {ELIDED}",
        )
        for (_, text, expected, found), line in zip(invalid, starts[is_bad], strict=True)
        if not is_blank_line(text)  # a line of only spaces is no record
    ]
    return RawBatch(pa.Table.from_batches([batch]), starts[~is_bad], unparsable)


def _unterminated(key: str, line: int) -> InvalidRawFile:
    return InvalidRawFile(
        f"{key}: line {line}: a quoted field opened in the record starting on this line is "
        "never closed before the end of the data (RFC 4180 requires the closing quote); "
        "nothing from this file was ingested"
    )


def check_header(names: list[str], contract: TableContract, key: str) -> None:
    """Raise :class:`InvalidRawFile` unless the header names fit ``contract``.

    Names that are not the contract's are shown only for tables without PII columns: in a
    file without a header row the first data row is read as the header.
    """
    empty = [position for position, name in enumerate(names, start=1) if not name.strip()]
    if empty:
        raise InvalidRawFile(
            f"{key}: header has an empty column name at position(s) "
            f"{', '.join(map(str, empty))} (a trailing delimiter?)"
        )
    known = set(contract.column_names)

    def listed(items: list[str]) -> str:
        if contract.pii_columns and any(n not in known for n in items):
            shown = [n for n in items if n in known]
            hidden = len(items) - len(shown)
            return ", ".join([*shown, f"{hidden} name(s) withheld (the table has PII columns)"])
        return ", ".join(safe_name(n) for n in items)

    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidRawFile(f"{key}: header repeats column(s) {listed(duplicated)}")
    missing = [c for c in contract.required_columns if c not in names]
    if missing:
        raise InvalidRawFile(
            f"{key}: header lacks required column(s) {', '.join(missing)} of table "
            f"{contract.name} (header: {listed(names)})"
        )
    extra = [n for n in names if n not in known]
    if extra:
        raise InvalidRawFile(
            f"{key}: header has column(s) {listed(extra)} not in the {contract.name} "
            f"contract (allowed: {', '.join(contract.column_names)}); update the contract "
            "before sending them"
        )
