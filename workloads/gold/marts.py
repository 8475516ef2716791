"""Gold marts on the arrow engine: DuckDB over review_flat, one commit per mart.

For the given months, each mart is recomputed completely from review_flat (soft-deleted
reviews excluded) and exactly those (review_year, review_month) partitions are replaced, so a
re-run gives the same rows and other months are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from datalake.contracts.gold import MARTS, Mart, months_condition
from workloads.shared.tables import BATCH_PROPERTY, Month, conform, ensure_table, month_filter


@dataclass
class MartResult:
    """One mart's replaced months and rows."""

    mart: str
    months: list[Month]
    rows: int
    snapshot_id: int | None


def compute(mart: Mart, rows: pa.Table, months: list[Month]) -> pa.Table:
    """The mart's rows for ``months`` from review_flat ``rows``, as Arrow."""
    connection = duckdb.connect()
    try:
        connection.register("review_flat", rows)
        return connection.sql(mart.sql("review_flat", months_condition(months))).to_arrow_table()
    finally:
        connection.close()


def run_marts(
    catalog: Catalog,
    gold_namespace: str,
    review_flat: Table,
    months: list[Month],
    properties: dict[str, str],
    marts: tuple[Mart, ...] = MARTS,
    batch_id: str = "",
) -> list[MartResult]:
    """Replace ``months`` of every mart (each in one commit)."""
    results: list[MartResult] = []
    if not months:
        return results
    source = review_flat.scan(row_filter=month_filter(months)).to_arrow()  # read once
    for mart in marts:
        table = ensure_table(catalog, gold_namespace, mart.contract, properties, audit=False)
        rows = conform(compute(mart, source, months), table.schema().as_arrow())
        table.overwrite(
            rows,
            overwrite_filter=month_filter(months),
            snapshot_properties={BATCH_PROPERTY: batch_id} if batch_id else {},
        )
        snapshot = table.current_snapshot()  # the overwrite just made
        snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        results.append(MartResult(mart.name, sorted(months), rows.num_rows, snapshot_id))
    return results
