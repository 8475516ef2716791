"""Cross-reference checks of the views and marts of a domain document."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from datalake.contracts.model import Classification, ColumnType
from datalake.domain.build import period_parts
from datalake.domain.checks import NUMERIC, RESERVED_COLUMNS, Checker, ViewColumn
from datalake.domain.errors import listing, shown
from datalake.domain.model import (
    PERIOD_KIND_TYPES,
    PERIOD_PARTS,
    ColumnDoc,
    FilterDoc,
    JoinDoc,
    MartDoc,
    TableDoc,
    ViewDoc,
)

COUNTS = ("count", "count_distinct")
LIST_OPS = ("in", "not_in")
NULL_OPS = ("is_null", "not_null")


def _columns_of(table: TableDoc) -> dict[str, ColumnDoc]:
    """A table's columns by name (the first of a name given twice)."""
    found: dict[str, ColumnDoc] = {}
    for column in table.columns:
        found.setdefault(column.name, column)
    return found


def _table_ref(checker: Checker, path: str, name: str) -> TableDoc | None:
    """The table a view names, or None (with the problem recorded unless already reported)."""
    kinds = checker.kinds_of(name)
    if "table" in kinds:
        return checker.tables[name]
    tables = listing(checker.names("tables"))
    if kinds:
        checker.add(path, f"{name!r} is a {kinds[0]}; views join tables only (tables: {tables})")
    elif name not in checker.unparsed:
        checker.add(path, f"{name!r} is not a table (tables: {tables})")
    return None


def check_view(checker: Checker, index: int, view: ViewDoc) -> None:
    """Base, kept columns, joins and period of one view."""

    def at(*rest: str | int) -> str:
        return checker.path("views", index, *rest)

    before = len(checker.issues)
    columns: dict[str, ViewColumn] = {}
    base = _table_ref(checker, at("base"), view.base)
    if base is not None:
        found = _columns_of(base)
        kept: list[str] = []
        if view.columns is None:
            kept = [n for n, c in found.items() if c.classification is not Classification.PII]
        for position, name in enumerate(view.columns or ()):
            if name not in found:
                checker.add(
                    at("columns", position),
                    f"{name!r} is not a column of {base.name} (columns: {listing(found)})",
                )
            elif name in kept:
                checker.add(at("columns", position), f"{name!r} is given twice")
            else:
                kept.append(name)
        missing = [k for k in base.primary_key if k in found and k not in kept]
        if missing:
            checker.add(
                at("columns"),
                f"must keep the primary key of {base.name} ({listing(missing)}): the view has "
                "one row per base row",
            )
        for name in kept:
            columns[name] = ViewColumn(found[name].type, found[name].classification, base.name)
    joined: dict[str, int] = {}
    for position, join in enumerate(view.joins):
        _check_join(checker, at, view, position, join, columns if base else None, joined)
    _check_period(checker, at, view, columns if base else None)
    complete = not any(t in checker.unparsed for t in (view.base, *(j.table for j in view.joins)))
    ok = base is not None and complete and len(checker.issues) == before
    checker.view_columns[view.name] = columns if ok else None


def _check_join(
    checker: Checker,
    at: Callable[..., str],
    view: ViewDoc,
    position: int,
    join: JoinDoc,
    columns: dict[str, ViewColumn] | None,
    joined: dict[str, int],
) -> None:
    """One lookup: its table, keys, columns and their output names."""
    where = at("joins", position)
    if join.table == view.base:
        checker.add(
            f"{where}.table",
            f"{join.table!r} is the view's base; a table joins a view once in this version",
        )
        return
    if join.table in joined:
        checker.add(
            f"{where}.table",
            f"{join.table!r} is already joined at joins[{joined[join.table]}]; a table joins a "
            "view once in this version",
        )
        return
    table = _table_ref(checker, f"{where}.table", join.table)
    if table is None:
        return
    joined[join.table] = position
    found = _columns_of(table)
    for left, right in join.on.items():
        key_path = f"{where}.on.{left}"
        mine = columns.get(left) if columns is not None else None
        if columns is not None and mine is None:
            checker.add(
                key_path,
                f"{left!r} is not a column of the view at this point (columns: {listing(columns)})",
            )
        theirs = found.get(right)
        if theirs is None:
            checker.add(
                key_path, f"{right!r} is not a column of {table.name} (columns: {listing(found)})"
            )
        elif mine is not None and mine.type is not theirs.type:
            checker.add(
                key_path,
                f"{left} is {mine.type.value} in the view but {table.name}.{right} is "
                f"{theirs.type.value}; join keys need one type",
            )
    rights = list(join.on.values())
    if all(r in found for r in rights) and sorted(rights) != sorted(table.primary_key):
        checker.add(
            f"{where}.on",
            f"must join on the primary key of {table.name} ({listing(table.primary_key)}), so "
            f"each row finds at most one {table.name} row (got {shown(rights)})",
        )
    if join.columns is None:
        keys = set(rights)
        selection = [
            name
            for name, c in found.items()
            if c.classification is not Classification.PII
            and name not in keys
            and name not in RESERVED_COLUMNS  # reported on the table
        ]
    else:
        selection = []
        for index, name in enumerate(join.columns):
            if name not in found:
                checker.add(
                    f"{where}.columns[{index}]",
                    f"{name!r} is not a column of {table.name} (columns: {listing(found)})",
                )
            elif name in selection:
                checker.add(f"{where}.columns[{index}]", f"{name!r} is given twice")
            else:
                selection.append(name)
    for name in join.rename:
        if name not in selection:
            checker.add(
                f"{where}.rename.{name}",
                f"{name!r} is not among the columns this join adds ({listing(selection)})",
            )
    if columns is None:
        return
    for name in selection:
        out = join.rename.get(name, name)
        if name in join.rename:
            out_path = f"{where}.rename.{name}"
        elif join.columns is not None:
            out_path = f"{where}.columns[{join.columns.index(name)}]"
        else:
            out_path = f"{where}.columns"
        if out in RESERVED_COLUMNS:
            checker.add(out_path, f"{out!r} is reserved: it is {RESERVED_COLUMNS[out]}")
        elif out in columns:
            default = "" if join.columns is not None else f" (a default column of {table.name})"
            checker.add(
                out_path,
                f"output column {out!r}{default} clashes with the view's column {out} (from "
                f"{columns[out].origin}); rename it, e.g. rename: "
                f"{{{name}: {table.name}_{name}}}",
            )
        else:
            column = found[name]
            columns[out] = ViewColumn(column.type, column.classification, table.name)


def _check_period(
    checker: Checker,
    at: Callable[..., str],
    view: ViewDoc,
    columns: dict[str, ViewColumn] | None,
) -> None:
    """The period's time column, parts and output columns."""
    period = view.period
    if columns is not None:
        column = columns.get(period.column)
        expected = PERIOD_KIND_TYPES[period.kind]
        if column is None:
            checker.add(
                at("period", "column"),
                f"{period.column!r} is not a column of the view (columns: {listing(columns)})",
            )
        elif column.type is not expected:
            checker.add(
                at("period", "column"),
                f"{period.column} is {column.type.value}; kind {period.kind} needs a "
                f"{expected.value} column (allowed: epoch_seconds for long, timestamp for "
                "timestamp)",
            )
    parts = list(period.parts)
    if len(set(parts)) != len(parts):
        checker.add(at("period", "parts"), f"each part once (got {shown(parts)})")
    elif parts != [p for p in PERIOD_PARTS if p in parts]:
        checker.add(
            at("period", "parts"),
            f"parts go in the order {listing(PERIOD_PARTS)} (got {shown(parts)})",
        )
    if period.partition_by is not None and period.partition_by not in parts:
        checker.add(
            at("period", "partition_by"),
            f"{period.partition_by!r} is not one of the view's parts (allowed: {listing(parts)})",
        )
    periods = []
    for out, _ in period_parts(period):
        periods.append(out)
        if len(out) > 63:
            checker.add(at("period", "prefix"), f"period column {out!r} is over 63 characters")
        elif out in RESERVED_COLUMNS:
            checker.add(at("period", "prefix"), f"{out!r} is reserved: {RESERVED_COLUMNS[out]}")
        elif columns is not None and out in columns:
            checker.add(
                at("period", "prefix"),
                f"period column {out!r} clashes with the view's column {out} (from "
                f"{columns[out].origin}); set another prefix",
            )
        elif columns is not None:
            columns[out] = ViewColumn(ColumnType.LONG, Classification.PUBLIC, "period")
    checker.view_periods[view.name] = tuple(periods)


def _view_ref(checker: Checker, path: str, name: str) -> dict[str, ViewColumn] | None:
    """Columns of the view a mart reads, or None (problem recorded unless already reported)."""
    kinds = checker.kinds_of(name)
    if "view" in kinds:
        return checker.view_columns.get(name)
    views = listing(checker.names("views"))
    if kinds:
        checker.add(path, f"{name!r} is a {kinds[0]}; a mart reads a view (views: {views})")
    elif name not in checker.unparsed:
        checker.add(path, f"{name!r} is not a view (views: {views})")
    return None


def check_mart(checker: Checker, index: int, mart: MartDoc) -> None:
    """Source, grain, measures and ranking of one mart."""

    def at(*rest: str | int) -> str:
        return checker.path("marts", index, *rest)

    columns = _view_ref(checker, at("source"), mart.source)
    period = checker.view_periods.get(mart.source, ())
    source = mart.source
    grain: list[str] = []
    for position, name in enumerate(mart.grain):
        if name in grain:
            checker.add(at("grain", position), f"{name!r} is given twice")
        elif name in period:
            checker.add(
                at("grain", position),
                f"{name!r} is a period column of {source}, always in the grain; remove it",
            )
        elif columns is not None and name not in columns:
            checker.add(
                at("grain", position),
                f"{name!r} is not a column of {source} (columns: {listing(columns)})",
            )
        grain.append(name)
    names: dict[str, int] = {}
    for position, measure in enumerate(mart.measures):
        where = at("measures", position)
        if measure.name in names:
            checker.add(
                f"{where}.name",
                f"{measure.name!r} is given twice in {mart.name} (first at "
                f"measures[{names[measure.name]}])",
            )
        elif measure.name in grain or measure.name in period:
            checker.add(
                f"{where}.name",
                f"{measure.name!r} clashes with a grain column of {mart.name}; rename the measure",
            )
        names.setdefault(measure.name, position)
        if measure.column is None and measure.function != "count":
            checker.add(
                f"{where}.column", f"required for {measure.function} (a column of {source})"
            )
        elif measure.column is not None and columns is not None:
            column = columns.get(measure.column)
            if column is None:
                checker.add(
                    f"{where}.column",
                    f"{measure.column!r} is not a column of {source} (columns: {listing(columns)})",
                )
            elif measure.function in ("sum", "avg") and column.type not in NUMERIC:
                checker.add(
                    f"{where}.column",
                    f"{measure.function} needs a long or double column; {measure.column} is "
                    f"{column.type.value}",
                )
        if measure.filter is not None:
            _check_filter(checker, f"{where}.filter", measure.filter, columns, source)
    ranked: set[str] = set()
    for position, name in enumerate(mart.rank_by):
        if name in ranked:
            checker.add(at("rank_by", position), f"{name!r} is given twice")
        elif name not in names:
            checker.add(
                at("rank_by", position),
                f"{name!r} is not a measure of {mart.name} (measures: {listing(names)})",
            )
        ranked.add(name)


def _fits(value: Any, column_type: ColumnType) -> bool:
    if column_type is ColumnType.LONG:
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type is ColumnType.DOUBLE:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if column_type is ColumnType.TIMESTAMP:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
    return True


def _check_filter(
    checker: Checker,
    where: str,
    condition: FilterDoc,
    columns: dict[str, ViewColumn] | None,
    source: str,
) -> None:
    """A measure's filter: its column, and a value fitting the operator and the column."""
    column = None
    if columns is not None:
        column = columns.get(condition.column)
        if column is None:
            checker.add(
                f"{where}.column",
                f"{condition.column!r} is not a column of {source} (columns: {listing(columns)})",
            )
    op, value, at = condition.op, condition.value, f"{where}.value"
    if op in NULL_OPS:
        if value is not None:
            checker.add(at, f"{op} takes no value (got {shown(value)})")
        return
    if op in LIST_OPS:
        if not isinstance(value, list) or not value:
            checker.add(at, f"{op} takes a non-empty list of values (got {shown(value)})")
            return
        values = value
    elif value is None:
        checker.add(at, f"{op} needs a value")
        return
    elif isinstance(value, list):
        checker.add(at, f"{op} takes one value, not a list (got {shown(value)}; use in)")
        return
    else:
        values = [value]
    if column is not None:
        for item in values:
            if not _fits(item, column.type):
                expected = {
                    ColumnType.LONG: "an integer",
                    ColumnType.DOUBLE: "a number",
                    ColumnType.STRING: "a string",
                    ColumnType.TIMESTAMP: "an ISO-8601 timestamp",
                }[column.type]
                checker.add(
                    at,
                    f"{item!r} is not {expected} ({condition.column} is {column.type.value})",
                )
