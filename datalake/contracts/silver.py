"""Silver tables: the contract's columns plus audit columns (views add theirs in the domain).

Silver keeps one row per primary key (the latest state); a delete is a soft delete. Audit
columns: ``created_at`` (first change seen, kept on every update), ``updated_at`` (time of the
change applied), ``deleted_at`` (set by a delete, cleared by a later insert or update).
"""

from __future__ import annotations

from dataclasses import replace

from datalake.contracts.model import Column, ColumnType, TableContract

AUDIT_COLUMNS: tuple[Column, ...] = (
    Column("created_at", ColumnType.TIMESTAMP, description="First change seen for the key."),
    Column("updated_at", ColumnType.TIMESTAMP, description="Time of the latest change applied."),
    Column("deleted_at", ColumnType.TIMESTAMP, description="Set when the key was deleted."),
)


def silver_columns(contract: TableContract) -> tuple[Column, ...]:
    """Columns of the silver table of ``contract``: only the key stays required (tombstones)."""
    columns = tuple(
        c if c.name in contract.primary_key else replace(c, nullable=True) for c in contract.columns
    )
    return columns + AUDIT_COLUMNS
