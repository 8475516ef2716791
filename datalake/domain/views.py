"""Views of the domain: a base table with lookups joined and period columns derived.

A view's rows are its base table's rows (one per base key, soft-deleted ones included, with
``deleted_at`` carried), each with the chosen columns of the live lookup rows it references
(LEFT JOIN) and the period columns derived from its time column. Rows without a time belong to
no period and are left out. The view's silver Iceberg table is partitioned by the period's
leading parts up to ``partition_by`` (by default the first: the year), a coarser unit than the
period itself: the period is the marts' grain, the partition the unit silver replaces and gold
recomputes (``docs/domain.md``, "Partitioning").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datalake.contracts.model import TableContract

BASE_ALIAS = "b"


def join_alias(index: int) -> str:
    """Alias of the ``index``-th join (0-based) in a view's SQL: ``j1``, ``j2``..."""
    return f"j{index + 1}"


@dataclass(frozen=True)
class ViewJoin:
    """One lookup of a view: a LEFT JOIN of a table's live rows."""

    table: str
    alias: str
    on: tuple[tuple[str, str], ...]
    """(view column, lookup column) pairs; the lookup columns are its primary key."""
    columns: tuple[tuple[str, str], ...]
    """(lookup column, output column) pairs, in output order."""


@dataclass(frozen=True)
class Period:
    """The view's time column and the period columns derived from it (UTC)."""

    column: str
    kind: str
    """``epoch_seconds`` (a long column) or ``timestamp``."""
    parts: tuple[tuple[str, str], ...]
    """(output column, ``year`` | ``month`` | ``day``), in order."""
    partition_by: str = ""
    """The last part the view and its marts are partitioned by; empty: the first part."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The period's output columns, in order (the marts' grain)."""
        return tuple(column for column, _ in self.parts)

    @property
    def partition_parts(self) -> tuple[tuple[str, str], ...]:
        """The leading parts up to and including ``partition_by``: (output column, part)."""
        names = [part for _, part in self.parts]
        last = names.index(self.partition_by) if self.partition_by else 0
        return self.parts[: last + 1]

    @property
    def partition_columns(self) -> tuple[str, ...]:
        """The output columns of :attr:`partition_parts`, in order."""
        return tuple(column for column, _ in self.partition_parts)


@dataclass(frozen=True)
class View:
    """A view of the domain and its silver table."""

    name: str
    description: str
    base: str
    base_columns: tuple[str, ...]
    joins: tuple[ViewJoin, ...]
    period: Period
    contract: TableContract
    """Its silver Iceberg table: the base's key, identity partitions on the partition columns."""

    @property
    def partition_columns(self) -> tuple[str, ...]:
        """The leading period columns that partition the view and its marts: the unit silver
        replaces and gold recomputes (``(year,)`` by default; the period columns are the
        marts' grain)."""
        return self.period.partition_columns

    @property
    def tables(self) -> tuple[str, ...]:
        """The base, then each joined table."""
        return (self.base, *(j.table for j in self.joins))

    def column_refs(self) -> dict[str, str]:
        """Each non-period output column -> ``alias.column`` it is read from."""
        refs = {c: f"{BASE_ALIAS}.{c}" for c in self.base_columns}
        for join in self.joins:
            refs.update({out: f"{join.alias}.{col}" for col, out in join.columns})
        return refs

    def ref(self, column: str) -> str:
        """``alias.column`` of a view column that is read from a table."""
        if column in self.base_columns:
            return f"{BASE_ALIAS}.{column}"
        for join in self.joins:
            for lookup, out in join.columns:
                if out == column:
                    return f"{join.alias}.{lookup}"
        raise KeyError(f"view {self.name} reads no column {column!r} from a table")

    def references(self) -> dict[str, tuple[str, str]]:
        """Lookup table -> (``alias.column`` referencing it, its key column).

        For a lookup keyed on several columns, the first pair (enough to find every view row a
        changed lookup row may touch, and a few more).
        """
        return {j.table: (self.ref(j.on[0][0]), j.on[0][1]) for j in self.joins}

    def spec(self) -> dict[str, Any]:
        """Plain JSON the view's SQL builders take (workloads/shared/view_sql.py)."""
        return {
            "name": self.name,
            "base": self.base,
            "base_key": list(self.contract.primary_key),
            "base_columns": list(self.base_columns),
            "joins": [
                {
                    "table": j.table,
                    "alias": j.alias,
                    "on": [[self.ref(view_column), key] for view_column, key in j.on],
                    "columns": [[column, out] for column, out in j.columns],
                }
                for j in self.joins
            ],
            "period": {
                "column_ref": self.ref(self.period.column),
                "kind": self.period.kind,
                "parts": [[out, part] for out, part in self.period.parts],
                "partition_columns": list(self.partition_columns),
            },
            "columns": list(self.contract.column_names),
        }
