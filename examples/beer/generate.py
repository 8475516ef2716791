"""The beer example's generator: the shipped dimension files, generated reviews, CDC changes.

``datalake local run`` (with no ``--input``) and ``datalake seed upload`` call :func:`generate`
(the convention of ``datalake/inputs.py``). Reviews are skewed like the real archive: a few
beers and a few reviewers account for most reviews, each beer has its own mean quality, scores
are 1.0-5.0 in 0.5 steps (a few left empty), and review times spread over 1998-2012 with
growth. Every review references an existing beer and profile and the beer's brewery.
Vectorised with numpy: 1.5 million rows take a few seconds.

The CDC files exercise every path: inserts, updates and deletes of dimension rows, one
malformed line (quarantined), and one file delivered twice (the second is a duplicate).
Most changes touch dimension rows the CDC files insert themselves; two touch rows the
generated reviews reference, so gold shows what such changes do: the most-reviewed beer is
renamed (its reviews carry the new name in review_flat and in the beer marts) and the most
active reviewer's profile is deleted (a soft delete: its reviews stay, with no profile name
and no state, so ``state_by_review_volume`` counts them under an empty state).
:class:`BeerInput` names both, so independent checks can apply them.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datalake.inputs import GeneratedInput, gzip_bytes, part_sizes

DATA = Path(__file__).resolve().parent / "data"
DIMENSIONS = ("brewery", "beer", "profile")
"""Shipped as they are (``data/<table>.csv.gz``); reviews are generated."""
SCORE_COLUMNS = (
    "review_overall",
    "review_aroma",
    "review_appearance",
    "review_palate",
    "review_taste",
)
REVIEW_COLUMNS = ("review_id", "brewery_id", "beer_id", "profile_id", *SCORE_COLUMNS, "review_time")
START = int(datetime(1998, 1, 1, tzinfo=UTC).timestamp())
END = int(datetime(2012, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
EMPTY_SCORE_SHARE = 0.002
MALFORMED_LINE = '{"operation": "update", "beer_id": '
RENAMED_TO = "Local Run Renamed Ale"


@dataclass
class BeerInput(GeneratedInput):
    """The generated folder, the reviews, and the two referenced rows the CDC changes."""

    reviews: pa.Table | None = None
    renamed_beer: tuple[int, str] | None = None
    """(beer_id, new name) of the referenced beer the CDC renames."""
    deleted_profile: int | None = None
    """profile_id of the referenced profile the CDC deletes."""


def sample_file(table: str) -> Path:
    """Path of a shipped sample file (brewery, beer or profile)."""
    return DATA / f"{table}.csv.gz"


def _read_ids(table: str, columns: list[str]) -> pa.Table:
    return pacsv.read_csv(
        sample_file(table), convert_options=pacsv.ConvertOptions(include_columns=columns)
    )


def generate_reviews(count: int, *, seed: int = 7, first_id: int = 1) -> pa.Table:
    """``count`` reviews as an Arrow table with the review table's columns."""
    rng = np.random.default_rng(seed)
    beers = _read_ids("beer", ["beer_id", "brewery_id"])
    profiles = _read_ids("profile", ["profile_id"])
    beer_ids = beers.column("beer_id").to_numpy()
    brewery_ids = beers.column("brewery_id").to_numpy()
    profile_ids = profiles.column("profile_id").to_numpy()

    beer_pick = _zipf_pick(rng, len(beer_ids), count, exponent=0.8)
    profile_pick = _zipf_pick(rng, len(profile_ids), count, exponent=0.75)
    quality = rng.normal(3.8, 0.45, size=len(beer_ids))[beer_pick]
    columns: dict[str, pa.Array] = {
        "review_id": pa.array(np.arange(first_id, first_id + count, dtype=np.int64)),
        "brewery_id": pa.array(brewery_ids[beer_pick]),
        "beer_id": pa.array(beer_ids[beer_pick]),
        "profile_id": pa.array(profile_ids[profile_pick]),
    }
    for name in SCORE_COLUMNS:
        raw = quality + rng.normal(0.0, 0.55, size=count)
        scores = np.clip(np.round(raw * 2) / 2, 1.0, 5.0)
        empty = rng.random(count) < EMPTY_SCORE_SHARE
        columns[name] = pa.array(scores, mask=empty)
    # Growth: the density of review times rises over the years (square-root of uniform).
    times = START + (np.sqrt(rng.random(count)) * (END - START)).astype(np.int64)
    columns["review_time"] = pa.array(times)
    return pa.table(columns).select(list(REVIEW_COLUMNS))


def _zipf_pick(rng: np.random.Generator, size: int, count: int, *, exponent: float) -> np.ndarray:
    """Indices in [0, size) with a heavy head: rank r is drawn with weight 1 / r**exponent."""
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    order = rng.permutation(size)  # which ids are popular is random, but fixed by the seed
    picks = rng.choice(size, size=count, p=weights / weights.sum())
    return order[picks]


def csv_gz(table: pa.Table) -> bytes:
    """A gzip CSV with a header row (the batch raw shape), the same bytes for the same rows."""
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return gzip_bytes(out.getvalue())


def _jsonl_gz(changes: list[dict] | list[str]) -> bytes:
    lines = [c if isinstance(c, str) else json.dumps(c) for c in changes]
    return gzip_bytes(("\n".join(lines) + "\n").encode())


def _most_frequent(ids: pa.ChunkedArray) -> int:
    """The id that occurs most often (the smallest among equals: deterministic)."""
    counts = pc.value_counts(ids.drop_null()).flatten()
    order = pc.sort_indices(
        pa.table({"n": counts[1], "id": counts[0]}),
        sort_keys=[("n", "descending"), ("id", "ascending")],
    )
    return int(counts[0][order[0].as_py()].as_py())


def _write(out: Path, relative: str, body: bytes) -> None:
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def generate(out: Path, *, rows: int, files: int, seed: int, first_id: int = 1) -> BeerInput:
    """Dimension files, ``rows`` generated reviews in ``files`` parts, then the CDC files."""
    dimensions = {table: pacsv.read_csv(sample_file(table)) for table in DIMENSIONS}
    for table in DIMENSIONS:
        (out / table).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_file(table), out / table / f"{table}.csv.gz")
    reviews = generate_reviews(rows, seed=seed, first_id=first_id)
    start = 0
    for part, size in enumerate(part_sizes(rows, files), start=1):
        _write(out, f"review/reviews-{part:04d}.csv.gz", csv_gz(reviews.slice(start, size)))
        start += size
    renamed = _most_frequent(reviews.column("beer_id"))
    generated = BeerInput(
        folder=out,
        summary=f"{rows:,} reviews in {files} files",
        malformed_lines=1,
        duplicate_files=1,
        reviews=reviews,
        renamed_beer=(renamed, RENAMED_TO),
        deleted_profile=_most_frequent(reviews.column("profile_id")),
    )
    for relative, body in _changes(dimensions, generated).items():
        _write(out, relative, body)
    return generated


def _changes(dimensions: dict[str, pa.Table], generated: BeerInput) -> dict[str, bytes]:
    """The CDC files by path. Most touch rows the first files insert (no review references
    them); two change rows the reviews reference: a rename and a profile delete."""
    new = {t: pc.max(dimensions[t].column(f"{t}_id")).as_py() + 1 for t in DIMENSIONS}
    new_beer, new_profile, new_brewery = new["beer"], new["profile"], new["brewery"]
    assert generated.renamed_beer is not None
    renamed, new_name = generated.renamed_beer
    beers = dimensions["beer"]
    (renamed_row,) = beers.filter(pc.equal(beers.column("beer_id"), renamed)).to_pylist()
    beer_inserts = [
        {"operation": "insert", "beer_id": new_beer + i, "brewery_id": new_brewery,
         "beer_name": f"Local Run Lager {i}", "beer_style": "Helles", "beer_abv": 4.9}
        for i in range(3)
    ]  # fmt: skip
    beer_changes = [
        {"operation": "update", "beer_id": new_beer, "beer_name": "Local Run Märzen",
         "beer_style": "Märzen", "beer_abv": 5.6},
        {"operation": "delete", "beer_id": new_beer + 1},
        # An update carries every column of the row.
        {**{k: v for k, v in renamed_row.items() if v is not None}, "operation": "update",
         "beer_name": new_name},
    ]  # fmt: skip
    profile_inserts = [
        {"operation": "insert", "profile_id": new_profile + i, "profile_name": f"laptop{i}",
         "email": f"laptop{i}@example.org", "state": "OR"}
        for i in range(2)
    ]  # fmt: skip
    profile_changes = [
        {"operation": "update", "profile_id": new_profile, "state": "WA"},
        {"operation": "delete", "profile_id": new_profile + 1},
        {"operation": "delete", "profile_id": generated.deleted_profile},
    ]
    brewery_inserts = [
        {"operation": "insert", "brewery_id": new_brewery, "brewery_name": "Laptop Brewing Co."}
    ]
    first_beer_file = _jsonl_gz([*(json.dumps(c) for c in beer_inserts), MALFORMED_LINE])
    return {
        "brewery/cdc/changes-0001.jsonl.gz": _jsonl_gz(brewery_inserts),
        "beer/cdc/changes-0001.jsonl.gz": first_beer_file,
        "profile/cdc/changes-0001.jsonl.gz": _jsonl_gz(profile_inserts),
        "beer/cdc/changes-0002.jsonl.gz": _jsonl_gz(beer_changes),
        "profile/cdc/changes-0002.jsonl.gz": _jsonl_gz(profile_changes),
        # Firehose delivered the first beer changes twice: the same content, another key.
        "beer/cdc/changes-0001-redelivered.jsonl.gz": first_beer_file,
    }
