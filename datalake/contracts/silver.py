"""Silver tables: the contract's columns plus audit columns, and the denormalised review_flat.

Silver keeps one row per primary key (the latest state); a delete is a soft delete. Audit
columns: ``created_at`` (first change seen, kept on every update), ``updated_at`` (time of the
change applied), ``deleted_at`` (set by a delete, cleared by a later insert or update).
"""

from __future__ import annotations

from dataclasses import replace

from datalake.contracts.beer import BEER, BREWERY, PROFILE, REVIEW
from datalake.contracts.model import Classification, Column, ColumnType, TableContract

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


def _from(contract: TableContract, name: str) -> Column:
    return replace(contract.column(name), nullable=True)


REVIEW_FLAT = TableContract(
    name="review_flat",
    description="Each review with its beer, brewery and reviewer (live dimension rows only), "
    "and the review's UTC year and month.",
    columns=(
        *REVIEW.columns,
        _from(BEER, "beer_name"),
        _from(BEER, "beer_style"),
        _from(BEER, "beer_abv"),
        _from(BREWERY, "brewery_name"),
        _from(PROFILE, "profile_name"),
        _from(PROFILE, "state"),
        Column(
            "review_year",
            ColumnType.LONG,
            nullable=False,
            classification=Classification.PUBLIC,
            description="Year of review_time (UTC).",
        ),
        Column(
            "review_month",
            ColumnType.LONG,
            nullable=False,
            classification=Classification.PUBLIC,
            description="Month of review_time (UTC), 1-12.",
        ),
    ),
    primary_key=("review_id",),
    raw_formats=(),
    silver_partitioning=(("identity", "review_year"), ("identity", "review_month")),
)
"""review_flat carries no PII column: e-mail stays in silver profile only."""
