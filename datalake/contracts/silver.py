"""Silver tables: the contract's columns plus audit columns (views add theirs in the domain).

Silver keeps one row per primary key (the latest state); a delete is a soft delete. Audit
columns: ``created_at`` (first change seen, kept on every update), ``updated_at`` (time of the
change applied), ``deleted_at`` (set by a delete, cleared by a later insert or update) and, on
the tables of the domain only, ``change_seq`` (the applied change's ``_change_seq``). A row's
``(updated_at, change_seq)`` is the position of the change it reflects: the merge applies a
change only after it, so a change delivered twice is applied once. Views are rebuilt from
their base rows, never merged, and carry the first three only.
"""

from __future__ import annotations

from dataclasses import replace

from datalake.contracts.model import Column, ColumnType, TableContract

VIEW_AUDIT_COLUMNS: tuple[Column, ...] = (
    Column("created_at", ColumnType.TIMESTAMP, description="First change seen for the key."),
    Column("updated_at", ColumnType.TIMESTAMP, description="Time of the latest change applied."),
    Column("deleted_at", ColumnType.TIMESTAMP, description="Set when the key was deleted."),
)
"""The audit columns of every silver table, views included."""
CHANGE_SEQ = Column(
    "change_seq",
    ColumnType.LONG,
    description=(
        "Place of the applied change within its time (its `_change_seq`): with `updated_at`, "
        "the position a redelivered or older change is compared with. Tables only, not views; "
        "null in rows merged before it existed."
    ),
)
AUDIT_COLUMNS: tuple[Column, ...] = (*VIEW_AUDIT_COLUMNS, CHANGE_SEQ)
"""Every column silver adds (the names a domain may not use)."""


def merges_changes(contract: TableContract) -> bool:
    """Whether the silver table of ``contract`` merges bronze changes: a table of the domain
    (it accepts raw files). A view's or a mart's contract accepts none: derived, not merged."""
    return bool(contract.raw_formats)


def silver_columns(contract: TableContract) -> tuple[Column, ...]:
    """Columns of the silver table of ``contract``: only the key stays required (tombstones);
    ``change_seq`` on the tables that merge changes (:func:`merges_changes`)."""
    columns = tuple(
        c if c.name in contract.primary_key else replace(c, nullable=True) for c in contract.columns
    )
    return columns + (AUDIT_COLUMNS if merges_changes(contract) else VIEW_AUDIT_COLUMNS)
