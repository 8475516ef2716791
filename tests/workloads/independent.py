"""Gold numbers computed straight from the seed with DuckDB, never through the lake's engines:
what the end-to-end tests compare the marts with."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from examples.beer.generate import sample_file


def state_review_volume(reviews: pa.Table, deleted_profile: int) -> dict[tuple, int]:
    """Reviews per (year, month, reviewer state); a soft-deleted profile's reviews count under
    no state (review_flat joins live dimension rows only)."""
    profiles = pacsv.read_csv(sample_file("profile"))
    live = profiles.filter(pc.not_equal(profiles.column("profile_id"), deleted_profile))
    connection = duckdb.connect()
    connection.register("reviews", reviews)
    connection.register("profiles", live)
    rows = connection.sql(
        """
        SELECT year(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS y,
               month(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS m,
               p.state, count(*) AS n
        FROM reviews r LEFT JOIN profiles p ON r.profile_id = p.profile_id
        GROUP BY ALL
        """
    ).fetchall()
    return {(y, m, state): n for y, m, state, n in rows}
