"""The local run's input: the real dimension files, generated reviews, and CDC change files.

The CDC files exercise every path: inserts, updates and deletes of dimension rows, one
malformed line (quarantined), and one file delivered twice (the second is a duplicate).
Most changes touch dimension rows the CDC files insert themselves; two touch rows the
generated reviews reference, so gold shows what such changes do: the most-reviewed beer is
renamed (its reviews carry the new name in review_flat and in the beer marts) and the most
active reviewer's profile is deleted (a soft delete: its reviews stay, with no profile name
and no state, so ``state_by_review_volume`` counts them under an empty state).
:class:`SeedPlan` names both, so independent checks can apply them.
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
    renamed_beer: tuple[int, str] | None = None
    """(beer_id, new name) of the referenced beer the CDC renames."""
    deleted_profile: int | None = None
    """profile_id of the referenced profile the CDC deletes."""


def _csv_gz(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return gzip.compress(out.getvalue(), compresslevel=6)


def _jsonl_gz(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode())


def _most_frequent(ids: pa.ChunkedArray) -> int:
    """The id that occurs most often (the smallest among equals: deterministic)."""
    counts = pc.value_counts(ids.drop_null()).flatten()
    order = pc.sort_indices(
        pa.table({"n": counts[1], "id": counts[0]}),
        sort_keys=[("n", "descending"), ("id", "ascending")],
    )
    return int(counts[0][order[0].as_py()].as_py())


def _beer_row(beer_id: int) -> dict:
    """The sample file's row of ``beer_id`` (an update carries every column of the row)."""
    beers = pacsv.read_csv(sample_file("beer"))
    (row,) = beers.filter(pc.equal(beers.column("beer_id"), beer_id)).to_pylist()
    return {name: value for name, value in row.items() if value is not None}


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
    # CDC touches dimension rows it creates itself, so no generated review depends on them:
    # the first files insert, the second ones update and delete what the first inserted.
    new_beer = pc.max(pacsv.read_csv(sample_file("beer")).column("beer_id")).as_py() + 1
    new_profile = pc.max(pacsv.read_csv(sample_file("profile")).column("profile_id")).as_py() + 1
    new_brewery = pc.max(pacsv.read_csv(sample_file("brewery")).column("brewery_id")).as_py() + 1
    beer_inserts = [
        json.dumps({"operation": "insert", "beer_id": new_beer + i, "brewery_id": new_brewery,
                    "beer_name": f"Local Run Lager {i}", "beer_style": "Helles", "beer_abv": 4.9})
        for i in range(3)
    ] + [MALFORMED_LINE]  # fmt: skip
    # Changes of rows the reviews reference: the most-reviewed beer, the most active reviewer.
    renamed = _most_frequent(generated.column("beer_id"))
    deleted = _most_frequent(generated.column("profile_id"))
    plan.renamed_beer = (renamed, "Local Run Renamed Ale")
    plan.deleted_profile = deleted
    beer_changes = [
        json.dumps({"operation": "update", "beer_id": new_beer, "beer_name": "Local Run Märzen",
                    "beer_style": "Märzen", "beer_abv": 5.6}),
        json.dumps({"operation": "delete", "beer_id": new_beer + 1}),
        json.dumps({**_beer_row(renamed), "operation": "update",
                    "beer_name": plan.renamed_beer[1]}),
    ]  # fmt: skip
    profile_inserts = [
        json.dumps({"operation": "insert", "profile_id": new_profile + i,
                    "profile_name": f"laptop{i}", "email": f"laptop{i}@example.org", "state": "OR"})
        for i in range(2)
    ]  # fmt: skip
    profile_changes = [
        json.dumps({"operation": "update", "profile_id": new_profile, "state": "WA"}),
        json.dumps({"operation": "delete", "profile_id": new_profile + 1}),
        json.dumps({"operation": "delete", "profile_id": deleted}),
    ]
    brewery_inserts = [
        json.dumps({"operation": "insert", "brewery_id": new_brewery,
                    "brewery_name": "Laptop Brewing Co."}),
    ]  # fmt: skip
    first_beer_file = _jsonl_gz(beer_inserts)
    plan.files += [
        SeedFile("raw/brewery/cdc/changes-0001.jsonl.gz", _jsonl_gz(brewery_inserts)),
        SeedFile("raw/beer/cdc/changes-0001.jsonl.gz", first_beer_file),
        SeedFile("raw/profile/cdc/changes-0001.jsonl.gz", _jsonl_gz(profile_inserts)),
        SeedFile("raw/beer/cdc/changes-0002.jsonl.gz", _jsonl_gz(beer_changes)),
        SeedFile("raw/profile/cdc/changes-0002.jsonl.gz", _jsonl_gz(profile_changes)),
        # Firehose delivered the first beer changes twice: the same content, another key.
        SeedFile("raw/beer/cdc/changes-0001-redelivered.jsonl.gz", first_beer_file),
    ]
    return plan
