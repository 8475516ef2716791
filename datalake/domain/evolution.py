"""Which changes of a table the lake applies in place, and which it refuses.

Adding a nullable column evolves the bronze Glue table and the silver Iceberg table in place
(rows written before read null). Removing a column, changing its type, adding a required
column or changing the primary key would break the data already written: refused, with what
to do instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from datalake.contracts.bronze import BRONZE_PARTITION_KEYS, LINEAGE_COLUMNS
from datalake.contracts.model import TableContract
from datalake.contracts.silver import AUDIT_COLUMNS
from datalake.domain.domain import Domain
from datalake.domain.errors import DomainIssue

LAKE_COLUMNS = frozenset(
    {c.name for c in (*AUDIT_COLUMNS, *LINEAGE_COLUMNS)} | set(BRONZE_PARTITION_KEYS)
)
"""Columns the lake adds to a table itself (never compared with the domain)."""
_TYPE_ALIASES = {
    "bigint": "long",
    "int64": "long",
    "float64": "double",
    "varchar": "string",
    "timestamptz": "timestamp",
}


def _type_name(value: str) -> str:
    return _TYPE_ALIASES.get(value.lower(), value.lower())


def evolution_issues(
    table: str,
    existing: Sequence[tuple[str, str, bool]],
    existing_key: Sequence[str] | None,
    contract: TableContract,
) -> list[str]:
    """Why the deployed ``table`` cannot become ``contract`` in place; empty if it can.

    ``existing``: the deployed columns as (name, ``ColumnType`` value, nullable); the lake's
    own columns (audit, lineage, bronze partitions) are ignored. ``existing_key``: the deployed
    primary key, if known. Adding nullable columns is fine (the caller adds them).
    """
    problems: list[str] = []
    deployed = {name: _type_name(kind) for name, kind, _ in existing if name not in LAKE_COLUMNS}
    wanted = {c.name: c for c in contract.columns}
    for name, kind in deployed.items():
        column = wanted.get(name)
        if column is None:
            problems.append(
                f"table {table}: column {name} ({kind}) is in the deployed table but no longer "
                "in the domain; restore it (to drop a column, create a new table and backfill "
                "it)"
            )
        elif column.type.value != kind:
            problems.append(
                f"table {table}: column {name} is {kind} in the deployed table but "
                f"{column.type.value} in the domain; restore type {kind} (to retype a column, "
                "add a new column and backfill it)"
            )
    key = tuple(existing_key) if existing_key is not None else None
    if key is not None and key != contract.primary_key:
        problems.append(
            f"table {table}: primary key is ({', '.join(key)}) in the deployed table but "
            f"({', '.join(contract.primary_key)}) in the domain; restore it (to re-key a "
            "table, create a new table and backfill it)"
        )
    for column in contract.columns:
        if column.name in deployed or column.nullable:
            continue
        if key is not None and key != contract.primary_key and column.name in contract.primary_key:
            continue  # reported as a key change
        problems.append(
            f"table {table}: new column {column.name} is not nullable; add it as nullable "
            "(rows written before have no value for it)"
        )
    return problems


def check_table_evolution(previous: TableContract, current: TableContract) -> list[str]:
    """Why ``previous`` cannot evolve into ``current`` in place (``evolution_issues``), or be
    partitioned otherwise, or (a view) derive other period columns: the same words as the runs'
    refusals (``workloads/shared/spark_common.py``)."""
    reperiodised = bool(previous.period and current.period and previous.period != current.period)
    if reperiodised:  # one message for the period, not one per period column added or gone
        periods = {*previous.period, *current.period}
        previous, current = (
            replace(c, columns=tuple(x for x in c.columns if x.name not in periods))
            for c in (previous, current)
        )
    existing = [(c.name, c.type.value, c.nullable) for c in previous.columns]
    problems = evolution_issues(current.name, existing, previous.primary_key, current)
    if previous.silver_partitioning != current.silver_partitioning:
        before, after = (
            ",".join(f"{t}:{c}" for t, c in p)
            for p in (previous.silver_partitioning, current.silver_partitioning)
        )
        problems.append(
            f"table {current.name}: partitioning is ({before}) in the deployed table but "
            f"({after}) in the domain; restore the view's period parts and partition_by (to "
            "repartition a view and its marts, create a new view and backfill it)"
        )
    if reperiodised:
        problems.append(
            f"table {current.name}: period is ({', '.join(previous.period)}) in the deployed "
            f"table but ({', '.join(current.period)}) in the domain; restore the period parts "
            "(to change a view's period, create a new view and backfill it)"
        )
    return problems


def check_evolution(previous: Domain, current: Domain) -> list[DomainIssue]:
    """Refused changes from ``previous`` to ``current``, at the path of each entry.

    Tables, views and marts present in both are compared; new ones are fine; removed ones
    are not compared (their deployed tables stay until removed by hand).
    """
    issues: list[DomainIssue] = []
    pairs = [
        ("tables", list(previous.tables.values()), list(current.tables.values())),
        (
            "views",
            [v.contract for v in previous.views.values()],
            [v.contract for v in current.views.values()],
        ),
        ("marts", list(previous.gold_contracts()), list(current.gold_contracts())),
    ]
    for section, before, after in pairs:
        old = {c.name: c for c in before}
        for index, contract in enumerate(after):
            if contract.name in old:
                issues.extend(
                    DomainIssue(f"{section}[{index}]", problem)
                    for problem in check_table_evolution(old[contract.name], contract)
                )
    return issues
