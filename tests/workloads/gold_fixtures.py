"""A small review_flat with hand-checkable marts, shared by the gold tests of both engines.

Month 2010-01: beer 10 has exactly 25 live reviews (one more is soft-deleted), beer 11 has
exactly 24; review 200 is at 2010-01-31 23:59:59 UTC (January, not February).
Month 2010-02: three reviews of beer 12.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from datalake.contracts import REVIEW_FLAT
from workloads.shared.tables import iceberg_schema

T = datetime(2026, 3, 1, tzinfo=UTC)
BEERS = {
    10: ("Amber", "Lager", 1, "Abita"),
    11: ("Stout", "Stout", 2, "Guinness"),
    12: ("Pils", "Pilsner", 1, "Abita"),
}
PROFILES = {5: ("ann", "CA"), 6: ("bob", "NY"), 7: ("cy", "CA")}


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


def row(
    review_id: int,
    beer_id: int,
    profile_id: int,
    overall: float | None,
    when: int,
    deleted: bool = False,
) -> dict:
    name, style, brewery_id, brewery = BEERS[beer_id]
    profile_name, state = PROFILES[profile_id]
    moment = datetime.fromtimestamp(when, tz=UTC)
    return {
        "review_id": review_id,
        "brewery_id": brewery_id,
        "beer_id": beer_id,
        "profile_id": profile_id,
        "review_overall": overall,
        "review_aroma": None,
        "review_appearance": None,
        "review_palate": None,
        "review_taste": None,
        "review_time": when,
        "beer_name": name,
        "beer_style": style,
        "beer_abv": None,
        "brewery_name": brewery,
        "profile_name": profile_name,
        "state": state,
        "review_year": moment.year,
        "review_month": moment.month,
        "created_at": T,
        "updated_at": T,
        "deleted_at": T if deleted else None,
    }


def review_flat_rows() -> pa.Table:
    rows = []
    # Beer 10: 25 live reviews in January (scores 4.0 x 20, 5.0 x 5 -> avg 4.2), by ann and bob.
    for i in range(25):
        rows.append(
            row(
                100 + i,
                10,
                5 if i % 2 else 6,
                4.0 if i < 20 else 5.0,
                epoch(2010, 1, 1 + i % 28, 12),
            )
        )
    rows.append(row(130, 10, 5, 1.0, epoch(2010, 1, 15), deleted=True))  # soft-deleted: excluded
    # Beer 11: 24 reviews in January (avg 3.0), one of them at the last second of the month.
    for i in range(23):
        rows.append(row(150 + i, 11, 7, 3.0, epoch(2010, 1, 2, 8)))
    rows.append(row(200, 11, 7, 3.0, epoch(2010, 1, 31, 23, 59, 59)))
    # February: beer 12, three reviews, one without a score.
    rows.append(row(300, 12, 6, 2.0, epoch(2010, 2, 1, 0, 0, 0)))
    rows.append(row(301, 12, 6, 4.0, epoch(2010, 2, 10)))
    rows.append(row(302, 12, 5, None, epoch(2010, 2, 11)))
    return pa.Table.from_pylist(rows, schema=iceberg_schema(REVIEW_FLAT).as_arrow())
