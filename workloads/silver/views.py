"""Views of the domain on the arrow engine (pyiceberg + DuckDB), rebuilt incrementally.

A view is its base table LEFT JOIN the live rows of its lookups, with period columns derived
(UTC) from its time column; it is partitioned by the leading period columns up to the period's
``partition_by`` (the year by default: a partition holds many periods). After a batch only the
partitions the batch may have touched are rebuilt:

- K: the changed base keys, and the base keys whose join path references a changed lookup
  key (a lookup joined on an earlier join's column is followed through that join's live
  rows: order_line -> orders on order_id -> customers on orders.customer_id);
- the affected partitions: those of the view table's stored rows whose base key is in K (where
  the rows were), and those of the freshly computed view rows for K (where they are now);
- each affected partition is recomputed completely from silver (rows without a time belong to
  no period and are left out) and exactly those partitions are replaced, in one commit tagged
  with the batch id.

The SQL is ``workloads/shared/view_sql.py``'s, which the Spark job runs too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThan
from pyiceberg.table import Table

from datalake.domain import Period, View

from ..shared import view_sql
from ..shared.tables import BATCH_PROPERTY, any_of, conform, partition_filter

Partition = tuple[int, ...]
PARTS = ("year", "month", "day")
_CODE = 10_000
"""Partition values packed into one integer (years below 10000, months and days below 100)."""


@dataclass
class ViewResult:
    """What one view's rebuild replaced."""

    view: str
    partitions: list[Partition]
    rows_written: int
    snapshot_id: int | None


def period_values(
    times: pa.Array | pa.ChunkedArray, kind: str, parts: Sequence[str]
) -> list[pa.Array]:
    """The UTC year/month/day (int64) of epoch seconds or timestamps, one array per part."""
    if kind == "epoch_seconds":
        stamps = pc.cast(times.cast(pa.int64()), pa.timestamp("s", tz="UTC"))
    else:
        stamps = times.cast(pa.timestamp("us", tz="UTC"))
    functions = {"year": pc.year, "month": pc.month, "day": pc.day}
    return [functions[part](stamps).cast(pa.int64()) for part in parts]


def partitions_of(times: pa.Array | pa.ChunkedArray, period: Period) -> set[Partition]:
    """The partitions (values of the partition columns) of the given times (nulls belong to
    none)."""
    present = pc.drop_null(times)
    if len(present) == 0:
        return set()
    arrays = period_values(present, period.kind, [part for _, part in period.partition_parts])
    return set(zip(*(a.to_pylist() for a in arrays), strict=True))


def _relations(view: View) -> dict[str, str]:
    return {table: f"t_{table}" for table in view.tables}


def _rows(table: Table, fields: Sequence[str] | None = None, **scan: Any) -> pa.Table:
    """A table's rows (only ``fields``, if given); an empty table before its first commit."""
    selected = tuple(fields) if fields else ("*",)
    if table.current_snapshot() is None:
        empty = table.schema().as_arrow().empty_table()
        return empty.select(list(fields)) if fields else empty
    return table.scan(selected_fields=selected, **scan).to_arrow()


def _query(view: View, tables: Mapping[str, pa.Table], sql: str, **extra: pa.Table) -> pa.Table:
    """Run view SQL over the given rows of the view's tables (and extra named relations)."""
    connection = duckdb.connect()
    try:
        for name, relation in _relations(view).items():
            connection.register(relation, tables[name])
        for name, rows in extra.items():
            connection.register(name, rows)
        return connection.sql(sql).to_arrow_table()
    finally:
        connection.close()


def _key_fields(view: View) -> list[str]:
    """Base columns the key and partition queries read: the key, join references, the time."""
    spec = view.spec()
    refs = [ref for join in spec["joins"] for ref, _ in join["on"]]
    refs.append(spec["period"]["column_ref"])
    fields = [view_sql.base_key(spec)]
    for ref in refs:
        alias, column = ref.split(".", 1)
        if alias == view_sql.BASE_ALIAS and column not in fields:
            fields.append(column)
    return fields


def _distinct(rows: pa.Table, columns: Sequence[str]) -> set[Partition]:
    unique = rows.select(list(columns)).group_by(list(columns)).aggregate([])
    return set(zip(*(unique.column(c).to_pylist() for c in columns), strict=True))


def affected_partitions(
    view: View,
    tables: Mapping[str, Table],
    view_table: Table,
    changed: Mapping[str, Iterable[Any]],
) -> set[Partition]:
    """The view's partitions whose rows may have changed, given each table's changed keys."""
    spec = view.spec()
    key = view_sql.base_key(spec)
    keys = set(changed.get(view.base, ()))
    lookups = {j.table: list(changed.get(j.table, ())) for j in view.joins}
    lookups = {table: values for table, values in lookups.items() if values}
    if not keys and not lookups:
        return set()
    base = _rows(tables[view.base], _key_fields(view))
    live = {name: _rows(tables[name]) for name in {j.table for j in view.joins}}
    if lookups and base.num_rows:
        found = view_sql.affected_keys_sql(
            spec,
            _relations(view),
            {table: f"(SELECT k FROM changed_{table})" for table in lookups},
        )
        if found is not None:
            extra = {f"changed_{t}": pa.table({"k": pa.array(v)}) for t, v in lookups.items()}
            hits = _query(view, {view.base: base, **live}, found, **extra)
            keys |= set(hits.column("k").to_pylist())
    if not keys:
        return set()
    wanted = pa.array(sorted(keys))
    partitions: set[Partition] = set()
    columns = view.partition_columns
    stored = _rows(view_table, [key, *columns])
    if stored.num_rows:
        partitions |= _distinct(stored.filter(pc.is_in(stored.column(key), wanted)), columns)
    source = view_sql.period_source(spec)
    if source is None:
        raise ValueError(f"view {view.name}: its period column is not one of its columns")
    rows = base.filter(pc.is_in(base.column(key), wanted))
    fresh = _query(
        view,
        {view.base: rows, **live},
        view_sql.view_select(spec, _relations(view), columns=[source]),
    )
    partitions |= partitions_of(fresh.column(source), view.period)
    return partitions


def _period_range(values: Partition) -> tuple[datetime, datetime]:
    """UTC [start, end) of a partition of year[, month[, day]] values."""
    year, month, day = (*values, 1, 1)[:3]
    start = datetime(year, month, day, tzinfo=UTC)
    if len(values) == 1:
        return start, datetime(year + 1, 1, 1, tzinfo=UTC)
    if len(values) == 2:
        return start, datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, start + timedelta(days=1)


def base_time_filter(view: View, partitions: Sequence[Partition]) -> BooleanExpression:
    """A scan filter of the base rows whose time falls in ``partitions``, consecutive periods
    merged; everything when the time is a lookup's or the parts are not year[, month[, day]].
    """
    spec = view.spec()
    alias, column = spec["period"]["column_ref"].split(".", 1)
    parts = [part for _, part in view.period.partition_parts]
    if alias != view_sql.BASE_ALIAS or parts != list(PARTS[: len(parts)]) or not partitions:
        return AlwaysTrue()
    scale = 1 if view.period.kind == "epoch_seconds" else 1_000_000
    ranges: list[tuple[int, int]] = []
    for values in sorted(partitions):
        start, end = _period_range(values)
        low, high = int(start.timestamp()) * scale, int(end.timestamp()) * scale
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return any_of(
        [
            And(GreaterThanOrEqual(term=column, value=low), LessThan(term=column, value=high))
            for low, high in ranges
        ]
    )


def _code(values: Iterable[int]) -> int:
    code = 0
    for value in values:
        code = code * _CODE + value
    return code


def _codes(arrays: Sequence[pa.Array]) -> pa.Array:
    """:func:`_code` of each row of the partition arrays."""
    code = pc.multiply(arrays[0], 0)
    for values in arrays:
        code = pc.add(pc.multiply(code, _CODE), values)
    return code


def rebuild(
    view: View,
    tables: Mapping[str, Table],
    view_table: Table,
    partitions: Iterable[Partition],
    batch_id: str,
) -> ViewResult:
    """Recompute the given partitions from silver and replace exactly those (one commit)."""
    ordered = sorted(set(partitions))
    if not ordered:
        return ViewResult(view.name, [], 0, None)
    spec = view.spec()
    base = _rows(tables[view.base], row_filter=base_time_filter(view, ordered))
    live = {name: _rows(tables[name]) for name in {j.table for j in view.joins}}
    joined = _query(view, {view.base: base, **live}, view_sql.view_select(spec, _relations(view)))
    source = view_sql.period_source(spec)
    if source is None:
        raise ValueError(f"view {view.name}: its period column is not one of its columns")
    values = period_values(
        joined.column(source), view.period.kind, [p for _, p in view.period.parts]
    )
    for (column, _), array in zip(view.period.parts, values, strict=True):
        joined = joined.append_column(column, array)
    wanted = pa.array([_code(p) for p in ordered], pa.int64())
    if joined.num_rows:  # the partition columns lead the period's
        joined = joined.filter(pc.is_in(_codes(values[: len(view.partition_columns)]), wanted))
    # By period, then key: a partition coarser than the period (a year of months) keeps each
    # month's rows together, so its files' and row groups' month statistics prune queries.
    joined = joined.sort_by(
        [(c, "ascending") for c in (*view.period.columns, view_sql.base_key(spec))]
    )
    rows = conform(joined, view_table.schema().as_arrow())
    view_table.overwrite(
        rows,
        overwrite_filter=partition_filter(
            view.partition_columns, ordered, [part for _, part in view.period.partition_parts]
        ),
        snapshot_properties={BATCH_PROPERTY: batch_id},
    )
    snapshot = view_table.current_snapshot()  # the overwrite just made
    return ViewResult(view.name, ordered, rows.num_rows, snapshot.snapshot_id if snapshot else None)


def build_view(
    view: View,
    tables: Mapping[str, Table],
    view_table: Table,
    changed: Mapping[str, Iterable[Any]],
    batch_id: str,
) -> ViewResult:
    """Rebuild the partitions of ``view`` that the changed keys may have touched."""
    return rebuild(
        view, tables, view_table, affected_partitions(view, tables, view_table, changed), batch_id
    )
