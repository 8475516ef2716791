"""Bronze tables: the contract's columns plus lineage columns the ingest core adds."""

from __future__ import annotations

from datalake.contracts.model import Classification, Column, ColumnType, TableContract

LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("_operation", ColumnType.STRING, False, description="insert, update or delete."),
    Column(
        "_change_ts",
        ColumnType.TIMESTAMP,
        False,
        description="Time of the change: CDC changed_at (DMS: commit-timestamp, else "
        "timestamp), else the raw file's arrival.",
    ),
    Column(
        "_change_seq",
        ColumnType.LONG,
        False,
        description="Order of changes within their time: CDC sequence (DMS: "
        "transaction-record-id, else 0), else the source line.",
    ),
    Column("_source_key", ColumnType.STRING, False, description="Raw object key."),
    Column("_source_line", ColumnType.LONG, False, description="Line in the raw object."),
    Column("_control_id", ColumnType.STRING, False, description="Control record of the file."),
    Column("_ingested_at", ColumnType.TIMESTAMP, False, description="When bronze was written."),
)
BRONZE_PARTITION_KEYS = ("year", "month", "day")
"""Hive-style partition keys of bronze paths (the raw file's arrival date, UTC)."""


def bronze_columns(contract: TableContract) -> tuple[Column, ...]:
    """Columns of the bronze table of ``contract``, in file order."""
    return contract.columns + tuple(
        Column(c.name, c.type, c.nullable, Classification.INTERNAL, c.description)
        for c in LINEAGE_COLUMNS
    )
