"""Validates a batch of string columns against a table contract, vectorised with pyarrow.

Every rule yields a mask of offending rows; rows that break any rule are quarantined with every
reason, the others are cast to the contract's types. Reasons are written by
:class:`~workloads.bronze.reasons.ReasonWriter` only, so a PII column's value never appears.
Each reason's rule (the reason without its value) is counted per batch: the quarantined rows
per rule, a row that breaks two rules counting under both.

Columns arrive as strings, or already typed (the JSON-lines fast path, for values whose text
would cast to the very same value): casting a column to its own type changes nothing.

A value's verdict never depends on the other rows of its batch: the fast path casts a whole
column with Arrow; when that fails, the slow path casts each value that is not plainly valid
with the same Arrow cast, so both accept exactly the same values (a 64-bit integer column
accepts every value from -2**63 to 2**63-1, and says "out of range" beyond).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

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

from .reasons import ReasonWriter

# Values of these shapes always cast (a subset of what Arrow accepts): only the others are
# cast one by one on the slow path.
_PLAINLY_VALID = {
    ColumnType.LONG: r"^-?[0-9]{1,18}$",
    ColumnType.DOUBLE: r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$",
}
_INTEGER_SHAPED = re.compile(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
OPERATIONS = [op.value for op in Operation]


@dataclass
class ValidatedBatch:
    """Typed rows that passed, and the reasons of those that did not (by batch position)."""

    valid: pa.Table
    valid_positions: np.ndarray
    reasons: dict[int, list[str]] = field(default_factory=dict)
    failed_columns: dict[int, set[str]] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)
    """Quarantined rows per rule (:func:`~workloads.bronze.reasons.rule_of`): a row that
    breaks two rules counts under both, so the counts may add up to more than the rows."""
    operations: pa.Array | None = None
    changed_at: pa.Array | None = None
    sequence: pa.Array | None = None


class _Rules:
    """Collects rule violations as (mask, reason) pairs; the writer renders every reason."""

    def __init__(self, num_rows: int, writer: ReasonWriter):
        self.bad = np.zeros(num_rows, dtype=bool)
        self.reasons: dict[int, list[str]] = {}
        self.failed_columns: dict[int, set[str]] = {}
        self.rules: Counter[str] = Counter()
        self.writer = writer

    def add(
        self, mask: pa.Array, column: str, problem: str, values: pa.Array | None = None
    ) -> None:
        """Flag the rows of ``mask``; ``{value}`` in ``problem`` shows each row's value."""
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        hits = mask.to_numpy(zero_copy_only=False)
        self.bad |= hits
        shown = values.to_pylist() if values is not None else None
        positions = np.flatnonzero(hits)
        self.rules[self.writer.rule(column, problem)] += len(positions)
        for position in positions:
            if shown is None:
                reason = self.writer.column(column, problem)
            else:
                reason = self.writer.value(column, problem, shown[position])
            self.reasons.setdefault(int(position), []).append(reason)
            self.failed_columns.setdefault(int(position), set()).add(column)


def validate_batch(columns: pa.Table, contract: TableContract, *, cdc: bool) -> ValidatedBatch:
    """Cast a batch to the contract's types; every row failing a rule gets its reasons."""
    rules = _Rules(columns.num_rows, ReasonWriter.for_contract(contract))
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
    every = not rules.bad.any()  # the usual batch: nothing to filter, nothing to copy

    def kept(values: pa.Array | None) -> pa.Array | None:
        return values if values is None or every else values.filter(keep)

    return ValidatedBatch(
        valid=pa.table(typed) if every else pa.table(typed).filter(keep),
        valid_positions=np.flatnonzero(~rules.bad),
        reasons=rules.reasons,
        failed_columns=rules.failed_columns,
        rules=dict(rules.rules),
        operations=kept(operations),
        changed_at=kept(changed_at),
        sequence=kept(sequence),
    )


def _operations(text: pa.Array, rules: _Rules) -> pa.Array:
    normalised = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    rules.add(pc.is_null(text), CDC_OPERATION, "missing (CDC lines need one)")
    unknown = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(normalised, pa.array(OPERATIONS))))
    rules.add(unknown, CDC_OPERATION, f"{{value}} is not one of {', '.join(OPERATIONS)}", text)
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
        rules.add(infinite, column.name, "{value} is not a finite number", text)
    return values


def _cast_valid_only(text: pa.Array, column: Column, rules: _Rules) -> pa.Array:
    """Slow path for a batch holding bad values: find them, null them, cast the rest.

    Each value that is not plainly valid is cast on its own with the fast path's cast, so a
    value's verdict is the same in every batch.
    """
    target = column.type.arrow
    pattern = _PLAINLY_VALID.get(column.type)
    plain = pc.is_null(text)
    if pattern is not None:
        plain = pc.or_(plain, pc.fill_null(pc.match_substring_regex(text, pattern), False))
    ok = plain.to_numpy(zero_copy_only=False).copy()
    out_of_range = np.zeros(len(text), dtype=bool)
    values = text.to_pylist()
    for position in np.flatnonzero(~ok):
        value = values[position]
        try:
            pc.cast(pa.array([value], pa.string()), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out_of_range[position] = column.type is ColumnType.LONG and _beyond_int64(value)
            continue
        ok[position] = True
    kept = pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string()))
    cast = pc.cast(kept, target)
    kind = {ColumnType.LONG: "a whole number", ColumnType.DOUBLE: "a number"}.get(
        column.type, "an ISO-8601 timestamp with a time zone"
    )
    rules.add(pa.array(~ok & ~out_of_range), column.name, f"{{value}} is not {kind}", text)
    rules.add(
        pa.array(out_of_range),
        column.name,
        f"{{value}} is out of range for a 64-bit integer ({INT64_MIN} to {INT64_MAX})",
        text,
    )
    return cast


def _beyond_int64(value: str) -> bool:
    """An integer the 64-bit type cannot hold (as opposed to text that is no integer)."""
    if not _INTEGER_SHAPED.fullmatch(value):
        return False
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    base = 16 if digits[:2].lower() == "0x" else 10
    digits = (digits[2:] if base == 16 else digits).lstrip("0") or "0"
    if len(digits) > 20:  # far beyond, and too long for int()
        return True
    return not INT64_MIN <= int(sign + digits, base) <= INT64_MAX


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
    rules.add(missing, column.name, f"{role} is empty")


def _check_range(values: pa.Array, column: Column, rules: _Rules) -> None:
    if column.minimum is not None:
        low = pc.less(values, column.minimum)
        rules.add(low, column.name, f"{{value}} is below the minimum {column.minimum}", values)
    if column.maximum is not None:
        high = pc.greater(values, column.maximum)
        rules.add(high, column.name, f"{{value}} is above the maximum {column.maximum}", values)
    if column.step is not None:
        steps = pc.divide(values, column.step)
        off = pc.not_equal(steps, pc.round(steps))
        rules.add(off, column.name, f"{{value}} is not a multiple of {column.step}", values)
