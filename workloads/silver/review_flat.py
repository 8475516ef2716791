"""review_flat: each review with its beer, brewery and reviewer, rebuilt incrementally.

Only the (review_year, review_month) partitions touched by a batch are rebuilt: the months of
changed reviews (before and after the change, since review_time may move), and the months of
reviews that reference a changed beer, brewery or profile. Each rebuilt partition is recomputed
completely from silver and replaced in one commit. Dimension rows join only while live (not
soft-deleted); reviews without a review_time belong to no month and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    And,
    GreaterThanOrEqual,
    LessThan,
)
from pyiceberg.table import Table

from workloads.shared.tables import any_of as _any_of
from workloads.shared.tables import conform, month_filter
from workloads.silver.merge import MergeResult

Partition = tuple[int, int]


@dataclass
class ReviewFlatResult:
    """What a rebuild replaced."""

    partitions: list[Partition]
    rows_written: int
    snapshot_id: int | None


def months_of(review_time: pa.Array) -> set[Partition]:
    """(year, month) in UTC of epoch-second review times (nulls have no month)."""
    present = pc.drop_null(review_time)
    if len(present) == 0:
        return set()
    stamps = pc.cast(present.cast(pa.int64()), pa.timestamp("s", tz="UTC"))
    years, months = pc.year(stamps).to_pylist(), pc.month(stamps).to_pylist()
    return set(zip(years, months, strict=True))


def affected_partitions(results: dict[str, MergeResult], reviews: Table) -> set[Partition]:
    """Months whose review_flat rows may have changed in this batch."""
    partitions: set[Partition] = set()
    review = results.get("review")
    if review is not None:
        for rows in (review.before, review.after):
            if rows is not None and rows.num_rows:
                partitions |= months_of(rows.column("review_time"))
    changed = {
        column: pa.array(results[table].keys)
        for table, column in (
            ("beer", "beer_id"),
            ("brewery", "brewery_id"),
            ("profile", "profile_id"),
        )
        if table in results and results[table].keys
    }
    if changed and reviews.current_snapshot() is not None:
        columns = ("review_time", *changed)
        touched = reviews.scan(selected_fields=columns).to_arrow()
        hit = pa.array([False] * touched.num_rows)
        for column, keys in changed.items():
            hit = pc.or_(hit, pc.fill_null(pc.is_in(touched.column(column), keys), False))
        partitions |= months_of(touched.filter(hit).column("review_time"))
    return partitions


def _month_range(year: int, month: int) -> tuple[int, int]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def _time_ranges(months: list[Partition]) -> list[tuple[int, int]]:
    """Epoch-second ranges covering the months, consecutive months merged into one range."""
    ranges: list[tuple[int, int]] = []
    for year, month in sorted(months):
        low, high = _month_range(year, month)
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return ranges


def rebuild(
    review_flat: Table,
    *,
    reviews: Table,
    beers: Table,
    breweries: Table,
    profiles: Table,
    partitions: set[Partition],
    batch_id: str,
) -> ReviewFlatResult:
    """Recompute the given months from silver and replace exactly those partitions."""
    ordered = sorted(partitions)
    if not ordered:
        return ReviewFlatResult([], 0, None)
    in_months = _any_of(
        [
            And(
                GreaterThanOrEqual(term="review_time", value=low),
                LessThan(term="review_time", value=high),
            )
            for low, high in _time_ranges(ordered)
        ]
    )
    connection = duckdb.connect()
    try:
        connection.register("review", reviews.scan(row_filter=in_months).to_arrow())
        for name, table in (("beer", beers), ("brewery", breweries), ("profile", profiles)):
            connection.register(name, _live(table))
        joined = connection.sql(
            """
            SELECT r.review_id, r.brewery_id, r.beer_id, r.profile_id, r.review_overall,
                   r.review_aroma, r.review_appearance, r.review_palate, r.review_taste,
                   r.review_time, b.beer_name, b.beer_style, b.beer_abv, w.brewery_name,
                   p.profile_name, p.state,
                   r.created_at, r.updated_at, r.deleted_at
            FROM review r
            LEFT JOIN beer b ON r.beer_id = b.beer_id
            LEFT JOIN brewery w ON r.brewery_id = w.brewery_id
            LEFT JOIN profile p ON r.profile_id = p.profile_id
            WHERE r.review_time IS NOT NULL
            ORDER BY r.review_id
            """
        ).to_arrow_table()
    finally:
        connection.close()
    stamps = pc.cast(joined.column("review_time").cast(pa.int64()), pa.timestamp("s", tz="UTC"))
    joined = joined.append_column("review_year", pc.year(stamps).cast(pa.int64()))
    joined = joined.append_column("review_month", pc.month(stamps).cast(pa.int64()))
    rows = conform(joined, review_flat.schema().as_arrow())
    partition_filter = month_filter(ordered)
    review_flat.overwrite(
        rows,
        overwrite_filter=partition_filter,
        snapshot_properties={"datalake.batch-id": batch_id},
    )
    snapshot = review_flat.current_snapshot()  # the overwrite just made
    return ReviewFlatResult(ordered, rows.num_rows, snapshot.snapshot_id if snapshot else None)


def _live(table: Table) -> pa.Table:
    rows = (
        table.scan().to_arrow()
        if table.current_snapshot() is not None
        else table.schema().as_arrow().empty_table()
    )
    return rows.filter(pc.is_null(rows.column("deleted_at")))
