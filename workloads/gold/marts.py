"""Gold marts on the arrow engine: DuckDB over one view, one commit per mart.

For the given partitions of a view (values of its period columns), each mart of that view is
recomputed completely from the view's live rows and exactly those partitions of the mart are
replaced, so a re-run gives the same rows and other partitions are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from datalake.domain import Mart, partition_condition

from ..shared.tables import BATCH_PROPERTY, conform, ensure_table, partition_filter

Partition = tuple[int, ...]
"""Values of a view's period columns, in their order: ``(2010, 1)`` for (year, month)."""
SOURCE_NAME = "mart_source"
"""Name the view's rows are registered under in DuckDB (any view name stays a valid source)."""


@dataclass
class MartResult:
    """One mart's replaced partitions (of its source view) and rows."""

    mart: str
    view: str
    partitions: list[Partition]
    rows: int
    snapshot_id: int | None


def compute(mart: Mart, rows: pa.Table, partitions: Sequence[Partition]) -> pa.Table:
    """The mart's rows for ``partitions`` from its source view's ``rows``, as Arrow."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")  # timestamp literals compare in UTC
        connection.register(SOURCE_NAME, rows)
        condition = partition_condition(mart.period, partitions)
        return connection.sql(mart.sql(SOURCE_NAME, condition)).to_arrow_table()
    finally:
        connection.close()


def run_marts(
    catalog: Catalog,
    gold_namespace: str,
    source: Table,
    marts: Sequence[Mart],
    partitions: Sequence[Partition],
    properties: dict[str, str],
    batch_id: str = "",
) -> list[MartResult]:
    """Replace ``partitions`` of every mart of one source view (each mart in one commit).

    ``source`` is the view's Iceberg table; every mart of ``marts`` must read that view.
    """
    results: list[MartResult] = []
    if not partitions or not marts:
        return results
    sources = {(m.source, tuple(m.period)) for m in marts}
    if len(sources) != 1:
        raise ValueError(f"run_marts takes the marts of one view, not {sorted(sources)}")
    chosen = sorted({tuple(int(v) for v in p) for p in partitions})
    selected = partition_filter(marts[0].period, chosen, marts[0].period_parts)
    rows_in = source.scan(row_filter=selected).to_arrow()  # read once for every mart
    for mart in marts:
        table = ensure_table(catalog, gold_namespace, mart.contract, properties, audit=False)
        rows = conform(compute(mart, rows_in, chosen), table.schema().as_arrow())
        table.overwrite(
            rows,
            overwrite_filter=selected,
            snapshot_properties={BATCH_PROPERTY: batch_id} if batch_id else {},
        )
        snapshot = table.current_snapshot()  # the overwrite just made
        snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        results.append(MartResult(mart.name, mart.source, chosen, rows.num_rows, snapshot_id))
    return results
