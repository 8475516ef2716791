"""JSON lines, record by record: the home-grown flat change and what DMS sends.

Each line is one JSON object, of one of two shapes (a file may mix them):

- **flat** (home-grown): the row's columns plus ``operation``, and optionally ``changed_at``
  and ``sequence`` (:data:`datalake.contracts.CDC_ENVELOPE`).
- **DMS**: an object whose ``metadata`` is an object (``datalake.streaming`` describes it).
  Its ``data`` holds the row's columns (a delete's only the key); the operation is
  ``metadata.operation`` in either of DMS's vocabularies (``load``/``insert``/``update``/
  ``delete`` or ``I``/``U``/``D``, any case; ``load`` is an insert); the change's time is
  ``commit-timestamp``, else ``timestamp``; its order within that time is
  ``transaction-record-id``, else 0. These become the flat shape's ``operation``,
  ``changed_at`` and ``sequence``, so validation and lineage are one. Control records
  (``record-type: control``) and rows of DMS's own tables (``awsdms_*``) are no rows of the
  table: skipped and counted by reason, never quarantined. ``before-image`` is never read,
  so it is never copied (not to bronze, not to the quarantine).

A line that breaks a rule of its shape is an :class:`UnparsableRow` with one reason; PII
tables get no names or values in reasons (:class:`ReasonWriter`). Its rule is the reason
without anything of the line: no value, no key or table name from the file, no JSON error
detail (``not valid JSON``, ``unknown key(s)``, ``... a record of another table ...``).

The file is read in blocks of whole lines (:func:`jsonl_batches`); each block goes through the
vectorised fast path (``jsonl_fast.py``) when it can take the block exactly, else through
:class:`JsonLineReader`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from datalake.contracts import CDC_CHANGED_AT, CDC_ENVELOPE, CDC_OPERATION, CDC_SEQUENCE
from datalake.contracts.model import (
    DMS_CONTROL_KEY,
    DMS_CONTROL_RECORD,
    DMS_DATA_RECORD,
    DMS_RECORD_TYPES,
    DMS_SEQUENCE_DEFAULT,
    TableContract,
)
from datalake.errors import InvalidRawFile
from datalake.streaming import (
    BEFORE_IMAGE_KEY,
    CHANGE_SEQUENCE_KEY,
    CHANGE_TIME_KEYS,
    DATA_KEY,
    DMS_OPERATIONS,
    DMS_OWN_TABLE,
    METADATA_KEY,
    OPERATION_KEY,
    RECORD_TYPE_KEY,
    TABLE_NAME_KEY,
)

from .batch import RawBatch, UnparsableRow
from .blocks import Block, blocks_of, prefetched
from .reasons import Reason, ReasonWriter, safe_name
from .text import TextStream, is_blank_line

JSONL_BATCH_ROWS = 50_000
"""Most rows per batch of the exact path."""
RAW_TEXT_CHARACTERS = 2_000
"""An unparsable row's text kept in the quarantine (tables without PII columns only)."""
DMS_KEYS = frozenset({DATA_KEY, METADATA_KEY, BEFORE_IMAGE_KEY, DMS_CONTROL_KEY})
"""Top-level keys of a DMS record; any other quarantines it."""
SKIPPED_CONTROL = "control record"
SKIPPED_DMS_TABLE = "DMS's own table"
"""Reasons a record is skipped (the keys of :attr:`RawBatch.skipped`)."""
BEFORE_IMAGE_WITHHELD = "[withheld: the line may hold a before-image]"
NOT_JSON = "not valid JSON"
"""The rule of a line that does not parse (its reason adds the parser's message)."""


class JsonLineReader:
    """The exact path: parses each line with :mod:`json` and applies its shape's rules."""

    def __init__(self, contract: TableContract):
        self.contract = contract
        self.writer = ReasonWriter.for_contract(contract)
        self.columns = frozenset(contract.column_names)
        self.flat_keys = self.columns | frozenset(CDC_ENVELOPE)
        self.names = [*contract.column_names, *CDC_ENVELOPE]
        self.first = True
        """Whether the file's first record is still to be seen (it decides JSON lines)."""

    def batches(self, block: Block, key: str) -> Iterator[RawBatch]:
        """Batches of the block's records, at most :data:`JSONL_BATCH_ROWS` rows each."""
        rows: list[dict[str, str | None]] = []
        lines: list[int] = []
        unparsable: list[UnparsableRow] = []
        skipped: dict[str, int] = {}
        data = bytes(block.data)
        raws = data.split(b"\n")
        if data.endswith(b"\n"):
            raws.pop()  # the empty text after the last break is no line
        for number, raw in enumerate(raws, start=block.first_line):
            text = raw.decode("utf-8")
            if is_blank_line(text):
                continue  # blank lines are no records (counted by neither controller nor ingest)
            text = text.strip()
            if self.first:
                _check_json_lines(text, number, key)
                self.first = False
            problem, row, skip, shown = self.parse(text)
            if skip is not None:
                skipped[skip] = skipped.get(skip, 0) + 1
            elif problem is not None:
                kept = shown[:RAW_TEXT_CHARACTERS]
                unparsable.append(UnparsableRow(number, problem.text, kept, problem.rule))
            else:
                assert row is not None
                rows.append(row)
                lines.append(number)
                if len(rows) >= JSONL_BATCH_ROWS:
                    yield self._batch(rows, lines, unparsable, skipped)
                    rows, lines, unparsable, skipped = [], [], [], {}
        if rows or unparsable or skipped:
            yield self._batch(rows, lines, unparsable, skipped)

    def parse(
        self, text: str
    ) -> tuple[Reason | None, dict[str, str | None] | None, str | None, str]:
        """(problem, row, skip reason, text a quarantine may show) of one stripped line."""
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            shown = BEFORE_IMAGE_WITHHELD if f'"{BEFORE_IMAGE_KEY}"' in text else text
            detail = f"not valid JSON ({error.msg} at column {error.colno})"
            return Reason(detail, NOT_JSON), None, None, shown
        except RecursionError:
            shown = BEFORE_IMAGE_WITHHELD if f'"{BEFORE_IMAGE_KEY}"' in text else text
            return Reason("not valid JSON (nested too deeply)", NOT_JSON), None, None, shown
        if not isinstance(value, dict):
            found = f"expected a JSON object, found {type(value).__name__}"  # a JSON type
            return Reason.fixed(found), None, None, text
        metadata = value.get(METADATA_KEY)
        if isinstance(metadata, dict):
            if BEFORE_IMAGE_KEY in value:  # what a quarantine may show: never the before-image
                visible = {k: v for k, v in value.items() if k != BEFORE_IMAGE_KEY}
                text = json.dumps(visible, ensure_ascii=False)
            problem, row, skip = self._dms(value, metadata)
            return problem, row, skip, text
        unknown = sorted(set(value) - self.flat_keys)
        if unknown:
            return self._unknown(unknown, ""), None, None, text
        problem, row = self._values(value)
        return problem, row, None, text

    def _dms(
        self, value: dict[str, Any], metadata: dict[str, Any]
    ) -> tuple[Reason | None, dict[str, str | None] | None, str | None]:
        record_type = metadata.get(RECORD_TYPE_KEY)
        table = metadata.get(TABLE_NAME_KEY)
        if record_type == DMS_CONTROL_RECORD:
            return None, None, SKIPPED_CONTROL
        if isinstance(table, str) and DMS_OWN_TABLE.match(table):
            return None, None, SKIPPED_DMS_TABLE
        unknown = sorted(set(value) - DMS_KEYS)
        if unknown:
            return self._unknown(unknown, ""), None, None
        problem = self._dms_record(record_type, table, metadata.get(OPERATION_KEY))
        if problem is not None:
            return problem, None, None
        if DATA_KEY not in value:
            return Reason.fixed(f"{DATA_KEY}: missing (a data record carries the row)"), None, None
        data = value[DATA_KEY]
        if not isinstance(data, dict):
            found = f"{DATA_KEY}: expected a JSON object, found {_json_kind(data)}"
            return Reason.fixed(found), None, None
        unknown = sorted(set(data) - self.columns)
        if unknown:
            return self._unknown(unknown, f"{DATA_KEY}: "), None, None
        problem, row = self._values(data)
        if problem is not None:
            return problem, None, None
        problem = self._change(metadata, row)
        return (problem, None, None) if problem else (None, row, None)

    def _dms_record(self, record_type: Any, table: Any, operation: Any) -> Reason | None:
        """The problem of a DMS record's type, table or operation, if any."""
        if record_type is None:
            return Reason.fixed(
                f"{METADATA_KEY}.{RECORD_TYPE_KEY}: missing (DMS records carry one)"
            )
        if record_type != DMS_DATA_RECORD:
            return self.writer.value_reason(
                f"{METADATA_KEY}.{RECORD_TYPE_KEY}",
                f"{{value}} is not one of {', '.join(DMS_RECORD_TYPES)}",
                record_type,
            )
        label = f"{METADATA_KEY}.{TABLE_NAME_KEY}"
        if table is None:
            return Reason.fixed(f"{label}: missing (DMS records carry one)")
        if not isinstance(table, str):
            return Reason.fixed(f"{label}: expected a string, found {_json_kind(table)}")
        if table != self.contract.name:
            other = (
                "another table (name withheld: the table has PII columns)"
                if self.writer.withholds_values
                else f"table {safe_name(table)}"
            )
            where = f"in a file of table {self.contract.name}"
            return Reason(
                f"{label}: a record of {other} {where}",
                f"{label}: a record of another table {where}",
            )
        label = f"{METADATA_KEY}.{OPERATION_KEY}"
        if operation is None:
            return Reason.fixed(f"{label}: missing (DMS records carry one)")
        known = isinstance(operation, str) and operation.strip().lower() in DMS_OPERATIONS
        if not known:
            accepted = ", ".join(DMS_OPERATIONS)
            return self.writer.value_reason(
                label, f"{{value}} is not one of {accepted} (any case)", operation
            )
        return None

    def _change(self, metadata: dict[str, Any], row: dict[str, str | None]) -> Reason | None:
        """Set the row's operation, time and order from DMS's metadata (problem, if any)."""
        row[CDC_OPERATION] = DMS_OPERATIONS[metadata[OPERATION_KEY].strip().lower()]
        row[CDC_CHANGED_AT] = None
        for name in CHANGE_TIME_KEYS:  # the commit's time, else DMS's own
            moment = metadata.get(name)
            if moment is None:
                continue
            if not isinstance(moment, str):
                found = f"{METADATA_KEY}.{name}: expected a string, found {_json_kind(moment)}"
                return Reason.fixed(found)
            row[CDC_CHANGED_AT] = moment
            break
        place = metadata.get(CHANGE_SEQUENCE_KEY)
        if place is None:
            place = DMS_SEQUENCE_DEFAULT
        if isinstance(place, bool) or not isinstance(place, int):
            label = f"{METADATA_KEY}.{CHANGE_SEQUENCE_KEY}"
            return Reason.fixed(f"{label}: expected a whole number, found {_json_kind(place)}")
        row[CDC_SEQUENCE] = str(place)
        return None

    def _unknown(self, unknown: list[str], where: str) -> Reason:
        """Keys that are no column: named (non-PII tables) in the reason, never in its rule."""
        rule = f"{where}unknown key(s)"
        if self.writer.withholds_values:  # a shifted value could be a key: names withheld too
            return Reason(
                f"{where}{len(unknown)} unknown key(s) (names withheld: the table has PII columns)",
                rule,
            )
        return Reason(f"{rule} {', '.join(safe_name(k) for k in unknown[:20])}", rule)

    def _values(self, value: dict[str, Any]) -> tuple[Reason | None, dict[str, str | None]]:
        """The values as text: strings stay, numbers are written as Python writes them."""
        row: dict[str, str | None] = {}
        for name, item in value.items():
            if item is None or isinstance(item, str):
                row[name] = item
            elif isinstance(item, bool) or not isinstance(item, int | float):
                problem = f"expected a string or number, found {_json_kind(item)}"
                return self.writer.column_reason(name, problem), {}
            else:
                row[name] = repr(item) if isinstance(item, float) else str(item)
        return None, row

    def _batch(
        self,
        rows: list[dict[str, str | None]],
        lines: list[int],
        unparsable: list[UnparsableRow],
        skipped: dict[str, int],
    ) -> RawBatch:
        columns = {n: pa.array([r.get(n) for r in rows], pa.string()) for n in self.names}
        return RawBatch(pa.table(columns), np.asarray(lines, dtype=np.int64), unparsable, skipped)


def _check_json_lines(text: str, line: int, key: str) -> None:
    """The first record decides whether the file is JSON lines at all."""
    if text.startswith("["):
        raise InvalidRawFile(
            f"{key}: line {line}: not JSON lines: the file holds a JSON array; write one JSON "
            "object per line"
        )
    if text == "{":
        raise InvalidRawFile(
            f"{key}: line {line}: not JSON lines: the file holds a pretty-printed JSON "
            "document; write one JSON object per line"
        )


def _json_kind(item: object) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true or false"
    if isinstance(item, dict):
        return "a JSON object"
    if isinstance(item, list):
        return "a JSON array"
    if isinstance(item, str):
        return "a string"
    if isinstance(item, int | float):
        return "a number"
    return "another JSON value"


def jsonl_batches(stream: Any, contract: TableContract, key: str) -> Iterator[RawBatch]:
    """The batches of a JSON-lines object: each block by the fast path when it can take it
    exactly, else by the exact path; a fast batch can be read again exactly (``reread``)."""
    from .jsonl_fast import FastJsonLines  # it builds on this module

    exact = JsonLineReader(contract)
    fast = FastJsonLines.for_contract(contract)
    text = TextStream(stream, key, csv=False)  # raises on binary content, here, not in a thread
    blocks = prefetched(blocks_of(text), name="jsonl-read")
    # Three stages, each on its thread: decompress and cut; parse (Arrow's threads); the rest
    # here (and Parquet on the writer's): while this block is validated, the next is parsed.
    parsed = prefetched(
        ((block, fast.parse(block) if fast else None) for block in blocks), name="jsonl-parse"
    )
    for block, table in parsed:
        batch = fast.batch(block, table) if fast is not None else None
        if batch is None:
            yield from exact.batches(block, key)
            continue
        exact.first = False  # the fast path took the first record: it starts with "{"
        batch.reread = lambda block=block: exact.batches(block, key)
        yield batch
