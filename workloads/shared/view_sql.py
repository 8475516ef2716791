"""The SQL of a view, composed once for both engines from its spec (``View.spec()`` JSON).

Runs on EMR Serverless' Python 3.9 with the standard library only (the Spark job imports it),
so it reads the spec, never ``datalake.domain``. The spec::

    {"name", "base", "base_key": [k], "base_columns": [...],
     "joins": [{"table", "alias": "j1", "on": [["b.col", "lookup_key"]], "columns": [[c, out]]}],
     "period": {"column_ref": "b.time" | "j1.time", "kind", "parts": [[out, part]],
                "partition_columns": [the leading outs that partition the view]},
     "columns": [every output column, in order]}

``relations`` map each table of the view to the relation the engine reads it from (a DuckDB
name, or ``database.table`` in Spark). Lookups join on their key while live (``deleted_at IS
NULL``); a join only appears in a statement when a selected column or a later join needs it.
The period columns are computed in SQL only for Spark (``spark=True``; its session is in UTC):
the arrow engine derives them with pyarrow compute from the period column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

BASE_ALIAS = "b"
AUDIT_COLUMNS = ("created_at", "updated_at", "deleted_at")
"""Carried from the base row (the view row is the base row's state)."""
_SPARK_PARTS = {"year": "year", "month": "month", "day": "dayofmonth"}


def base_key(spec: Mapping[str, Any]) -> str:
    """The base table's key column (one column: the view's primary key)."""
    (key,) = spec["base_key"]
    return str(key)


def period_columns(spec: Mapping[str, Any]) -> list[str]:
    """The period's output columns (the marts' grain), in order."""
    return [out for out, _ in spec["period"]["parts"]]


def partition_columns(spec: Mapping[str, Any]) -> list[str]:
    """The view's partition columns: the leading period columns up to its ``partition_by``
    (every period column in a spec from before the option)."""
    return list(spec["period"].get("partition_columns") or period_columns(spec))


def column_refs(spec: Mapping[str, Any]) -> dict[str, str]:
    """Each output column read from a table -> its ``alias.column`` (audit columns included)."""
    refs = {c: f"{BASE_ALIAS}.{c}" for c in spec["base_columns"]}
    for join in spec["joins"]:
        refs.update({out: f"{join['alias']}.{column}" for column, out in join["columns"]})
    refs.update({c: f"{BASE_ALIAS}.{c}" for c in AUDIT_COLUMNS})
    return refs


def period_source(spec: Mapping[str, Any]) -> str | None:
    """The period column's name in the view, if it is an output column (it normally is)."""
    ref = spec["period"]["column_ref"]
    for column, candidate in column_refs(spec).items():
        if candidate == ref:
            return column
    return None


def spark_period_expressions(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(output column, Spark SQL) of each period part, e.g. ``year(timestamp_seconds(x))``."""
    period = spec["period"]
    source = period["column_ref"]
    if period["kind"] == "epoch_seconds":
        source = f"timestamp_seconds({source})"
    return [
        (out, f"CAST({_SPARK_PARTS[part]}({source}) AS BIGINT)") for out, part in period["parts"]
    ]


def _alias(ref: str) -> str:
    return ref.split(".", 1)[0]


def needed_joins(spec: Mapping[str, Any], refs: Iterable[str]) -> list[dict[str, Any]]:
    """The joins (in spec order) that ``refs`` read from, with the joins those depend on."""
    by_alias = {join["alias"]: join for join in spec["joins"]}
    wanted: set[str] = set()
    pending = [_alias(ref) for ref in refs]
    while pending:
        alias = pending.pop()
        if alias == BASE_ALIAS or alias in wanted:
            continue
        wanted.add(alias)
        pending.extend(_alias(ref) for ref, _ in by_alias[alias]["on"])
    return [join for join in spec["joins"] if join["alias"] in wanted]


def from_clause(
    spec: Mapping[str, Any], relations: Mapping[str, str], joins: Sequence[Mapping[str, Any]]
) -> str:
    """``FROM base b LEFT JOIN (live lookup) j1 ON ...`` for the given joins."""
    lines = [f"FROM {relations[spec['base']]} {BASE_ALIAS}"]
    for join in joins:
        alias = join["alias"]
        on = " AND ".join(f"{ref} = {alias}.{column}" for ref, column in join["on"])
        lines.append(
            f"LEFT JOIN (SELECT * FROM {relations[join['table']]} WHERE deleted_at IS NULL) "
            f"{alias} ON {on}"
        )
    return "\n".join(lines)


def view_select(
    spec: Mapping[str, Any],
    relations: Mapping[str, str],
    *,
    columns: Sequence[str] | None = None,
    spark: bool = False,
    where: str | None = None,
    distinct: bool = False,
    order: bool = False,
) -> str:
    """The view's rows: base LEFT JOIN live lookups, rows with a null period left out.

    ``columns``: output columns to select (default: every column, then the audit columns;
    without ``spark`` the period columns are left to the caller). ``where``: an extra condition
    over the base alias (``b.<key> IN (...)``, see :func:`key_in`). ``order``: by the base key.
    """
    refs = column_refs(spec)
    periods = dict(spark_period_expressions(spec)) if spark else {}
    if columns is None:
        partition = set(period_columns(spec))
        columns = [c for c in [*spec["columns"], *AUDIT_COLUMNS] if spark or c not in partition]
    selected, read = [], [spec["period"]["column_ref"]]
    for column in columns:
        if column in periods:
            selected.append(f"{periods[column]} AS {column}")
        elif column in refs:
            selected.append(f"{refs[column]} AS {column}")
            read.append(refs[column])
        else:
            raise KeyError(f"view {spec['name']}: no column {column!r} to select")
    conditions = [f"{spec['period']['column_ref']} IS NOT NULL"]
    if where:
        conditions.append(f"({where})")
    joins = needed_joins(spec, read)
    sql = (
        f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(selected)}\n"
        f"{from_clause(spec, relations, joins)}\nWHERE {' AND '.join(conditions)}"
    )
    return f"{sql}\nORDER BY {BASE_ALIAS}.{base_key(spec)}" if order else sql


def key_in(spec: Mapping[str, Any], keys: str) -> str:
    """Condition: the base key is in ``keys`` (a parenthesised list or subquery)."""
    return f"{BASE_ALIAS}.{base_key(spec)} IN {keys}"


def affected_keys_sql(
    spec: Mapping[str, Any], relations: Mapping[str, str], changed: Mapping[str, str]
) -> str | None:
    """Base keys whose join path references a changed lookup key, or None if nothing changed.

    ``changed``: lookup table -> its changed keys as SQL (``(1, 2)`` or ``(SELECT k FROM t)``).
    A join on an earlier join's column (lines -> orders -> customers) finds the base rows
    through the live rows of that earlier join. One SELECT per referencing join, UNIONed.
    """
    selects = []
    key = base_key(spec)
    for join in spec["joins"]:
        keys = changed.get(join["table"])
        if not keys:
            continue
        ref = join["on"][0][0]  # the first key column (the domain's keys are single columns)
        selects.append(
            f"SELECT {BASE_ALIAS}.{key} AS k\n"
            f"{from_clause(spec, relations, needed_joins(spec, [ref]))}\nWHERE {ref} IN {keys}"
        )
    return "\nUNION\n".join(selects) if selects else None


def stored_partitions_sql(spec: Mapping[str, Any], relation: str, keys: str) -> str:
    """The distinct partitions of the view table's stored rows whose base key is in ``keys``."""
    return (
        f"SELECT DISTINCT {', '.join(partition_columns(spec))} FROM {relation} "
        f"WHERE {base_key(spec)} IN {keys}"
    )


def sql_literals(values: Iterable[Any]) -> str:
    """``(1, 2, 'a''b')``: integers as they are, strings quoted (``(NULL)`` when empty)."""
    texts = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f"unsupported key literal {value!r}")
        texts.append(str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'")
    return f"({', '.join(texts) or 'NULL'})"


PartitionTerm = tuple[tuple[tuple[str, int], ...], str, tuple[int, ...]]
"""``((column, value), ...), column, values``: the equalities and one list condition."""


def partition_terms(
    columns: Sequence[str], values: Iterable[Sequence[int]], parts: Sequence[str] = ()
) -> list[PartitionTerm]:
    """The given partitions as a few list conditions, one per group of leading values.

    Partitions sharing all but the last value share one term (``year = 2024 AND month IN
    (1, 2, 3)``); with the period ``parts`` (``year``, ``month``, ``day``) a complete group
    becomes one value of the level above (every day of March: ``month`` 3 of 2024; all twelve
    months: the year), so a whole history of months is one term (``year IN (1998, ...)``)
    instead of one per month. Selects exactly the given partitions; none: no terms.
    """
    rows = sorted({tuple(int(v) for v in row) for row in values})
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"partition {row} does not match columns {tuple(columns)}")
    terms: list[PartitionTerm] = []
    level = len(columns)
    while rows and level:
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for row in rows:
            groups[row[:-1]].append(row[-1])
        rows = []
        for prefix, lasts in sorted(groups.items()):
            if prefix and len(lasts) == _group_size(parts[:level], prefix):
                rows.append(prefix)  # complete: the value above stands for the group
            else:
                pairs = tuple(zip(columns, prefix))
                terms.append((pairs, columns[level - 1], tuple(lasts)))
        level -= 1
    return sorted(terms)


def _group_size(parts: Sequence[str], prefix: tuple[int, ...]) -> int | None:
    """How many values the last period part takes under ``prefix``: 12 months in a year, the
    days of that month; ``None`` when unknown (no parts given, or a year last)."""
    if not parts or len(parts) != len(prefix) + 1:
        return None
    if parts[-1] == "month":
        return 12
    if parts[-1] == "day" and tuple(parts[-3:-1]) == ("year", "month"):
        year, month = prefix[-2], prefix[-1]
        if not 1 <= month <= 12:
            return None
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if month == 2 and leap else _DAYS[month - 1]
    return None


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def partition_in(
    columns: Sequence[str], values: Iterable[Sequence[int]], parts: Sequence[str] = ()
) -> str:
    """SQL selecting the given partitions with list conditions (:func:`partition_terms`):
    ``order_year IN (1998, 1999) OR (order_year = 2000 AND order_month IN (1, 2))``;
    ``FALSE`` if none. A 180-month history is one ``IN`` instead of a 180-term ``OR``."""
    texts = []
    for pairs, column, lasts in partition_terms(columns, values, parts):
        condition = " AND ".join(
            [*(f"{c} = {v}" for c, v in pairs), f"{column} IN ({', '.join(map(str, lasts))})"]
        )
        texts.append(f"({condition})" if pairs else condition)
    return " OR ".join(texts) or "FALSE"
