"""Gold marts of the domain: per period of a view, measures for each grain.

Each mart renders to one SQL statement that DuckDB (arrow engine), Spark SQL and Athena all
run: live rows of the source view (``deleted_at IS NULL``) in the selected partitions, grouped
by the period and the grain, with an optional minimum row count. A mart is partitioned like
its view (by the leading period columns, the year by default), so a partition holds many
periods, each a group of its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from datalake.contracts.model import ColumnType, TableContract

Value = int | float | str
SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_CASTS = {ColumnType.LONG: "BIGINT", ColumnType.DOUBLE: "DOUBLE"}
_SPECIAL = {"'": "chr(39)", "\\": "chr(92)"}


def string_literal(text: str) -> str:
    """A string literal DuckDB, Spark and Athena read alike.

    Spark takes a backslash as an escape and ``''`` as two adjacent literals, so those two
    characters are spelled ``chr(n)``; any other text renders as a plain quoted literal.
    """
    terms = [_SPECIAL.get(p, f"'{p}'") for p in re.split(r"(['\\])", text) if p]
    if not terms:
        return "''"
    return terms[0] if len(terms) == 1 else "(" + " || ".join(terms) + ")"


def sql_literal(value: Value, column_type: ColumnType) -> str:
    """A SQL literal of ``value`` for a column of ``column_type``."""
    if column_type is ColumnType.TIMESTAMP:
        stamp = datetime.fromisoformat(str(value))
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{stamp.isoformat(sep=' ')}'"
    if column_type is ColumnType.STRING:
        return string_literal(str(value))
    return repr(float(value)) if column_type is ColumnType.DOUBLE else str(int(value))


@dataclass(frozen=True)
class MeasureFilter:
    """Which rows a measure aggregates: ``column op value``."""

    column: str
    op: str
    value: Value | tuple[Value, ...] | None = None
    column_type: ColumnType = ColumnType.STRING

    def sql(self) -> str:
        """The condition, e.g. ``amount >= 5.0`` or ``state IN ('CA', 'OR')``."""
        if self.op == "is_null":
            return f"{self.column} IS NULL"
        if self.op == "not_null":
            return f"{self.column} IS NOT NULL"
        if self.op in ("in", "not_in"):
            values = self.value if isinstance(self.value, tuple) else (self.value,)
            items = ", ".join(sql_literal(v, self.column_type) for v in values if v is not None)
            return f"{self.column} {'IN' if self.op == 'in' else 'NOT IN'} ({items})"
        if self.value is None or isinstance(self.value, tuple):
            raise ValueError(f"filter {self.op} on {self.column} needs one value")
        return f"{self.column} {SQL_OPS[self.op]} {sql_literal(self.value, self.column_type)}"


@dataclass(frozen=True)
class Measure:
    """An aggregate of a mart: ``function`` of a view column (or ``count`` of rows)."""

    name: str
    function: str
    column: str | None = None
    description: str = ""
    filter: MeasureFilter | None = None
    column_type: ColumnType | None = None
    """Type of ``column`` in the source view (None for ``count`` of rows)."""

    @property
    def type(self) -> ColumnType:
        """bigint for counts, double for avg, the column's type for min/max and sum."""
        if self.function in ("count", "count_distinct"):
            return ColumnType.LONG
        if self.function == "avg":
            return ColumnType.DOUBLE
        if self.column_type is None:
            raise ValueError(f"measure {self.name}: {self.function} needs a column")
        return self.column_type

    def sql(self) -> str:
        """The select expression, e.g. ``CAST(avg(amount) AS DOUBLE) AS avg_amount``."""
        if self.function == "count":
            inner = f"count({self.column or '*'})"
        elif self.function == "count_distinct":
            inner = f"count(DISTINCT {self.column})"
        else:
            inner = f"{self.function}({self.column})"
        if self.filter is not None:
            inner += f" FILTER (WHERE {self.filter.sql()})"
        cast = _CASTS.get(self.type)
        expression = f"CAST({inner} AS {cast})" if cast else inner
        return f"{expression} AS {self.name}"


@dataclass(frozen=True)
class Mart:
    """One mart of the domain over a view, recomputed per changed partition of the view (its
    rows are per period and grain; its partitions are the view's)."""

    name: str
    description: str
    source: str
    grain: tuple[str, ...]
    measures: tuple[Measure, ...]
    min_count: int | None
    rank_by: tuple[str, ...]
    """Measures a consumer ranks the mart by (descending), e.g. in the Athena named query."""
    period: tuple[str, ...]
    """The source view's period columns."""
    contract: TableContract
    """Output columns: the period, the grain (typed as in the view), the measures."""
    period_parts: tuple[str, ...] = ()
    """What each period column holds (``year``, ``month``, ``day``), in the same order."""
    partition_columns: tuple[str, ...] = ()
    """The leading period columns its table is partitioned by, as its view is (the unit gold
    recomputes); empty: every period column."""

    def __post_init__(self) -> None:
        if not self.partition_columns:
            object.__setattr__(self, "partition_columns", self.period)
        if self.period[: len(self.partition_columns)] != self.partition_columns:
            raise ValueError(
                f"mart {self.name}: partition columns {self.partition_columns} are not leading "
                f"period columns {self.period}"
            )

    @property
    def partition_parts(self) -> tuple[str, ...]:
        """What each partition column holds (``year``...): the leading :attr:`period_parts`."""
        return self.period_parts[: len(self.partition_columns)]

    def measure(self, name: str) -> Measure:
        """The measure called ``name``."""
        for measure in self.measures:
            if measure.name == name:
                return measure
        raise KeyError(f"mart {self.name} has no measure {name!r}")

    def sql(self, source: str, condition: str) -> str:
        """The mart's rows for the view partitions selected by ``condition``, from ``source``."""
        keys = ", ".join((*self.period, *self.grain))
        having = f"\nHAVING count(*) >= {self.min_count}" if self.min_count else ""
        return (
            f"SELECT {keys}, {', '.join(m.sql() for m in self.measures)}\n"
            f"FROM {source}\n"
            f"WHERE deleted_at IS NULL AND ({condition})\n"
            f"GROUP BY {keys}{having}"
        )


def partition_condition(columns: Sequence[str], values: Iterable[Sequence[int]]) -> str:
    """SQL selecting the given partitions: ``(y = 2024 AND m = 3) OR ...``; ``FALSE`` if none."""
    terms = []
    for row in sorted({tuple(int(v) for v in row) for row in values}):
        if len(row) != len(columns):
            raise ValueError(f"partition {row} does not match columns {tuple(columns)}")
        terms.append(
            "(" + " AND ".join(f"{c} = {v}" for c, v in zip(columns, row, strict=True)) + ")"
        )
    return " OR ".join(terms) or "FALSE"
