"""Validates a batch of string columns against a table contract, vectorised with pyarrow.

Every rule yields a mask of offending rows; rows that break any rule are quarantined with every
reason, the others are cast to the contract's types. Python touches only the failing rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalake.contracts import (
    CDC_CHANGED_AT,
    CDC_OPERATION,
    CDC_SEQUENCE,
    Column,
    ColumnType,
    Operation,
    TableContract,
)

_INTEGER = r"^[+-]?[0-9]{1,18}$"
_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
OPERATIONS = [op.value for op in Operation]


@dataclass
class ValidatedBatch:
    """Typed rows that passed, and the reasons of those that did not (by batch position)."""

    valid: pa.Table
    valid_positions: np.ndarray
    reasons: dict[int, list[str]] = field(default_factory=dict)
    operations: pa.Array | None = None
    changed_at: pa.Array | None = None
    sequence: pa.Array | None = None


class _Rules:
    """Collects rule violations as (mask, reason-for-row) pairs."""

    def __init__(self, num_rows: int):
        self.bad = np.zeros(num_rows, dtype=bool)
        self.reasons: dict[int, list[str]] = {}

    def add(
        self, mask: pa.Array, explain: Callable[[object], str], values: pa.Array | None = None
    ) -> None:
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        hits = mask.to_numpy(zero_copy_only=False)
        self.bad |= hits
        shown = values.to_pylist() if values is not None else None
        for position in np.flatnonzero(hits):
            value = shown[position] if shown is not None else None
            self.reasons.setdefault(int(position), []).append(explain(value))


def validate_batch(columns: pa.Table, contract: TableContract, *, cdc: bool) -> ValidatedBatch:
    """Cast a batch to the contract's types; every row failing a rule gets its reasons."""
    rules = _Rules(columns.num_rows)
    operations = None
    if cdc:
        operations = _operations(columns.column(CDC_OPERATION).combine_chunks(), rules)
    deletes = (
        pc.fill_null(pc.equal(operations, Operation.DELETE.value), False)
        if operations is not None
        else None
    )
    typed: dict[str, pa.Array] = {}
    for column in contract.columns:
        if column.name in columns.column_names:
            text = columns.column(column.name).combine_chunks()
        else:  # a nullable column added to the contract after this file was written
            text = pa.nulls(columns.num_rows, pa.string())
        values = _cast(text, column, rules)
        _check_required(text, column, contract, deletes, rules)
        _check_range(values, column, rules)
        typed[column.name] = values
    changed_at = sequence = None
    if cdc:
        changed_at = _cast(
            columns.column(CDC_CHANGED_AT).combine_chunks(),
            Column(CDC_CHANGED_AT, ColumnType.TIMESTAMP),
            rules,
        )
        sequence = _cast(
            columns.column(CDC_SEQUENCE).combine_chunks(),
            Column(CDC_SEQUENCE, ColumnType.LONG),
            rules,
        )
    keep = pa.array(~rules.bad)
    valid = pa.table(typed).filter(keep)
    return ValidatedBatch(
        valid=valid,
        valid_positions=np.flatnonzero(~rules.bad),
        reasons=rules.reasons,
        operations=operations.filter(keep) if operations is not None else None,
        changed_at=changed_at.filter(keep) if changed_at is not None else None,
        sequence=sequence.filter(keep) if sequence is not None else None,
    )


def _operations(text: pa.Array, rules: _Rules) -> pa.Array:
    normalised = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    rules.add(pc.is_null(text), lambda _: f"{CDC_OPERATION}: missing (CDC lines need one)")
    unknown = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(normalised, pa.array(OPERATIONS))))
    rules.add(
        unknown,
        lambda v: f"{CDC_OPERATION}: {v!r} is not one of {', '.join(OPERATIONS)}",
        text,
    )
    return normalised


def _cast(text: pa.Array, column: Column, rules: _Rules) -> pa.Array:
    target = column.type.arrow
    if column.type is ColumnType.STRING:
        return text
    try:
        values = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = _cast_valid_only(text, column, rules)
    if column.type is ColumnType.DOUBLE:
        infinite = pc.and_(pc.is_valid(values), pc.invert(pc.is_finite(values)))
        rules.add(infinite, lambda v: f"{column.name}: {v!r} is not a finite number", text)
    return values


def _cast_valid_only(text: pa.Array, column: Column, rules: _Rules) -> pa.Array:
    """Slow path for a batch holding bad values: find them, null them, cast the rest."""
    if column.type is ColumnType.TIMESTAMP:
        parsed = [_parse_timestamp(v) for v in text.to_pylist()]
        ok = pa.array(
            [p is not None or v is None for p, v in zip(parsed, text.to_pylist(), strict=True)]
        )
        values = pa.array(parsed, pa.timestamp("us", tz="UTC"))
    else:
        pattern = _INTEGER if column.type is ColumnType.LONG else _DECIMAL
        ok = pc.or_(pc.is_null(text), pc.match_substring_regex(text, pattern))
        values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), column.type.arrow)
    kind = {ColumnType.LONG: "a whole number", ColumnType.DOUBLE: "a number"}.get(
        column.type, "an ISO-8601 timestamp"
    )
    rules.add(pc.invert(ok), lambda v: f"{column.name}: {v!r} is not {kind}", text)
    return values


def _parse_timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _check_required(
    text: pa.Array,
    column: Column,
    contract: TableContract,
    deletes: pa.Array | None,
    rules: _Rules,
) -> None:
    if column.nullable:
        return
    missing = pc.is_null(text)  # values that failed the cast are reported as such, not as empty
    if deletes is not None and column.name not in contract.primary_key:
        missing = pc.and_(missing, pc.invert(deletes))  # a delete carries only its key
    role = "primary key" if column.name in contract.primary_key else "required column"
    rules.add(missing, lambda _: f"{column.name}: {role} is empty")


def _check_range(values: pa.Array, column: Column, rules: _Rules) -> None:
    if column.minimum is not None:
        low = pc.less(values, column.minimum)
        rules.add(
            low, lambda v: f"{column.name}: {v} is below the minimum {column.minimum}", values
        )
    if column.maximum is not None:
        high = pc.greater(values, column.maximum)
        rules.add(
            high, lambda v: f"{column.name}: {v} is above the maximum {column.maximum}", values
        )
    if column.step is not None:
        steps = pc.divide(values, column.step)
        off = pc.not_equal(steps, pc.round(steps))
        rules.add(off, lambda v: f"{column.name}: {v} is not a multiple of {column.step}", values)
