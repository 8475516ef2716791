"""The live rows of a table after its input files: what generated changes update and delete.

``datalake seed changes --input DIR`` and the local run read the table's batch files (gzip CSV),
then apply its change files in landing order (``datalake/inputs.py``), in both shapes bronze
reads: the home-grown one (``operation`` beside the columns) and DMS's envelope. Only the
changed rows become Python objects; the batch rows stay Arrow.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datalake.change_values import timestamp_text
from datalake.contracts import ColumnType, RawFormat, TableContract
from datalake.inputs import InputFile
from datalake.streaming import (
    DATA_KEY,
    DMS_OPERATIONS,
    METADATA_KEY,
    OPERATION_KEY,
    RECORD_TYPE_KEY,
    TABLE_NAME_KEY,
)


def existing_rows(contract: TableContract, files: Iterable[InputFile]) -> pa.Table:
    """The live rows of ``contract``'s table after its input files (an Arrow table): the
    batch files' rows, then every change file applied in the given (landing) order, in both
    shapes (home-grown and DMS). Lines that do not parse are left out, as bronze leaves them."""
    # Timestamps stay text: the generator writes them as DMS does, ISO 8601.
    schema = pa.schema([(c.name, _arrow_type(c.type)) for c in contract.columns])
    batches: list[Any] = []
    changes: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        if file.table != contract.name:
            continue
        if file.format is RawFormat.CSV:
            batches.append(_read_csv(file.body(), schema))
        else:
            changes.extend(_read_changes(file.body(), contract))
    table = pa.concat_tables(batches) if batches else schema.empty_table()
    if not changes:
        return table
    key = contract.primary_key
    state: dict[Any, dict[str, Any] | None] = {}
    touched = {tuple(data.get(k) for k in key) for _, data in changes}
    base = {tuple(r[k] for k in key): r for r in _rows_with_keys(table, key, touched)}
    for operation, data in changes:
        row_key = tuple(data.get(k) for k in key)
        if operation == "delete":
            state[row_key] = None
            continue
        previous = state.get(row_key, base.get(row_key)) or {}
        state[row_key] = {**previous, **data} if operation == "update" else dict(data)
    kept = _rows_without_keys(table, key, set(state))
    live = [_coerce_row(contract, row) for row in state.values() if row is not None]
    return pa.concat_tables([kept, pa.Table.from_pylist(live, schema=schema)])


def _read_csv(body: bytes, schema: pa.Schema) -> pa.Table:
    def read(types: dict[str, Any]) -> pa.Table:
        options = pacsv.ConvertOptions(
            column_types=types, include_columns=schema.names, include_missing_columns=True
        )
        stream = pa.CompressedInputStream(pa.BufferReader(body), "gzip")
        return pacsv.read_csv(stream, convert_options=options)

    # Never raised on: the parser's messages quote the file (PII); what fails is left out,
    # as the controller and bronze leave it out of silver.
    try:
        return read({f.name: f.type for f in schema}).cast(schema)
    except (pa.ArrowInvalid, OSError):
        pass
    try:
        text = read({name: pa.string() for name in schema.names})
    except (pa.ArrowInvalid, OSError):
        return schema.empty_table()
    columns = {}
    for field in schema:  # a value bronze would quarantine: keep what fits
        values = [_coerce(field.type, v) for v in text.column(field.name).to_pylist()]
        columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=schema)


def _read_changes(body: bytes, contract: TableContract) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    except (OSError, EOFError):
        return
    for line in text.decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        metadata = value.get(METADATA_KEY)
        if isinstance(metadata, dict):  # DMS: data rows of this table only
            if metadata.get(RECORD_TYPE_KEY, "data") != "data":
                continue
            if metadata.get(TABLE_NAME_KEY) != contract.name:
                continue
            operation = DMS_OPERATIONS.get(str(metadata.get(OPERATION_KEY, "")).lower())
            data = value.get(DATA_KEY)
        else:
            operation, data = value.get("operation"), value
        if operation not in ("insert", "update", "delete") or not isinstance(data, dict):
            continue
        row = _coerce_row(contract, data)
        if all(row.get(k) is not None for k in contract.primary_key):
            yield str(operation), row


def _coerce_row(contract: TableContract, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        c.name: _coerce(_arrow_type(c.type), data[c.name])
        for c in contract.columns
        if c.name in data
    }


def _coerce(arrow_type: Any, value: Any) -> Any:
    """A JSON or CSV value as the column's Python value; None when it does not fit."""
    if value is None or value == "":
        return None
    try:
        if arrow_type == pa.string():
            return str(value)
        if arrow_type == pa.int64():
            return int(value) if not isinstance(value, float) or value.is_integer() else None
        return float(value)
    except (TypeError, ValueError):
        return None


def _rows_with_keys(
    table: pa.Table, key: Sequence[str], keys: set[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    return list(table.filter(_key_mask(table, key, keys)).to_pylist())


def _rows_without_keys(table: pa.Table, key: Sequence[str], keys: set[tuple[Any, ...]]) -> Any:
    return table.filter(pc.invert(_key_mask(table, key, keys)))


def _key_mask(table: pa.Table, key: Sequence[str], keys: set[tuple[Any, ...]]) -> Any:
    if len(key) == 1:
        values = pa.array([k[0] for k in keys], table.schema.field(key[0]).type)
        return pc.fill_null(pc.is_in(table.column(key[0]), value_set=values), False)
    rows = zip(*(table.column(k).to_pylist() for k in key), strict=True)
    return pa.array([tuple(r) in keys for r in rows], pa.bool_())


def _arrow_type(kind: ColumnType) -> pa.DataType:
    return pa.string() if kind is ColumnType.TIMESTAMP else kind.arrow


def json_rows(
    contract: TableContract, existing: Any, rng: random.Random, *, limit: int | None
) -> tuple[list[dict[str, Any]], Any]:
    """(the live rows as JSON values, the first unused number of the first key column);
    ``existing`` is an Arrow table, row mappings or keys. With ``limit``, at most that many
    rows, drawn by ``rng``: what the changes touch (a few hundred changes need no more, and a
    large table is read only that far)."""
    first = contract.primary_key[0]
    if hasattr(existing, "column_names") and hasattr(existing, "take"):  # an Arrow table
        largest = pc.max(existing.column(first)).as_py() if existing.num_rows else None
        total = existing.num_rows
        if limit is not None and total > limit:
            rows = existing.take(sorted(rng.sample(range(total), limit))).to_pylist()
        else:
            rows = existing.to_pylist()
    else:
        items = list(existing)
        rows = [
            dict(item) if isinstance(item, Mapping) else _key_row(contract, item) for item in items
        ]
        numbers = [r.get(first) for r in rows if isinstance(r.get(first), int | float)]
        largest = max(numbers) if numbers else None
        if limit is not None and len(rows) > limit:
            rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), limit))]
    columns = contract.column_names
    normalised = [{c: _json_value(row.get(c)) for c in columns if c in row} for row in rows]
    normalised = [r for r in normalised if all(r.get(k) is not None for k in contract.primary_key)]
    next_key = math.floor(largest) + 1 if isinstance(largest, int | float) else None
    return normalised, next_key


def _key_row(contract: TableContract, key: Any) -> dict[str, Any]:
    values = key if isinstance(key, tuple | list) else (key,)
    return dict(zip(contract.primary_key, values, strict=True))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value
