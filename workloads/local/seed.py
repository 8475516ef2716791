"""The local run's input: the real dimension files, generated reviews, and CDC change files.

The CDC files exercise every path: inserts, updates and deletes of dimension rows, one
malformed line (quarantined), and one file delivered twice (the second is a duplicate).
They change dimension rows that no generated review references, so gold can be checked
against an independent computation over the generated reviews and the sample files.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datalake.reviews import generate_reviews, sample_file

MALFORMED_LINE = '{"operation": "update", "beer_id": '


@dataclass
class SeedFile:
    """One object to land under raw/, in upload order."""

    key: str
    body: bytes


@dataclass
class SeedPlan:
    """The files, and what the run should therefore show."""

    files: list[SeedFile] = field(default_factory=list)
    reviews: pa.Table | None = None
    malformed_lines: int = 1
    duplicate_files: int = 1


def _csv_gz(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return gzip.compress(out.getvalue(), compresslevel=6)


def _jsonl_gz(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode())


def _unreviewed(ids: pa.Array, reviewed: pa.Array, count: int) -> list[int]:
    free = pc.filter(ids, pc.invert(pc.is_in(ids, reviewed)))
    return free.slice(0, count).to_pylist()


def seed_plan(reviews: int, files: int, seed: int) -> SeedPlan:
    """Dimension files, ``reviews`` generated reviews in ``files`` parts, then CDC files."""
    plan = SeedPlan()
    for table in ("brewery", "beer", "profile"):
        plan.files.append(SeedFile(f"raw/{table}/{table}.csv.gz", sample_file(table).read_bytes()))
    generated = generate_reviews(reviews, seed=seed)
    plan.reviews = generated
    size = -(-reviews // files)
    for part, start in enumerate(range(0, reviews, size), start=1):
        plan.files.append(
            SeedFile(f"raw/review/reviews-{part:04d}.csv.gz", _csv_gz(generated.slice(start, size)))
        )
    beers = pacsv.read_csv(sample_file("beer")).column("beer_id")
    profiles = pacsv.read_csv(sample_file("profile")).column("profile_id")
    breweries = pacsv.read_csv(sample_file("brewery")).column("brewery_id")
    *renamed, deleted = _unreviewed(beers, generated.column("beer_id"), 4)
    new_beer = pc.max(beers).as_py() + 1
    beer_lines = [
        json.dumps({"operation": "insert", "beer_id": new_beer, "brewery_id": breweries[0].as_py(),
                    "beer_name": "Local Run Lager", "beer_style": "Helles", "beer_abv": 4.9}),
        *(json.dumps({"operation": "update", "beer_id": b, "beer_name": f"B{b}"}) for b in renamed),
        json.dumps({"operation": "delete", "beer_id": deleted}),
        MALFORMED_LINE,
    ]  # fmt: skip
    moved, removed = _unreviewed(profiles, generated.column("profile_id"), 2)
    profile_lines = [
        json.dumps({"operation": "update", "profile_id": moved, "state": "WA"}),
        json.dumps({"operation": "delete", "profile_id": removed}),
    ]
    brewery_lines = [
        json.dumps({"operation": "insert", "brewery_id": pc.max(breweries).as_py() + 1,
                    "brewery_name": "Laptop Brewing Co."}),
    ]  # fmt: skip
    changes = _jsonl_gz(beer_lines)
    plan.files += [
        SeedFile("raw/beer/cdc/changes-0001.jsonl.gz", changes),
        SeedFile("raw/profile/cdc/changes-0001.jsonl.gz", _jsonl_gz(profile_lines)),
        SeedFile("raw/brewery/cdc/changes-0001.jsonl.gz", _jsonl_gz(brewery_lines)),
        # Firehose delivered the beer changes twice: the same content, another key.
        SeedFile("raw/beer/cdc/changes-0001-redelivered.jsonl.gz", changes),
    ]
    return plan
