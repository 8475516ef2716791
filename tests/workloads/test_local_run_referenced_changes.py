"""The local run's CDC changes rows the reviews reference: the marts react as specified.

The seed renames the most-reviewed beer and deletes (softly) the most active reviewer's
profile. Silver's review_flat joins dimension rows only while live, so the renamed beer's
reviews carry the new name, and the deleted profile's reviews stay with no name and no state:
``state_by_review_volume`` counts them under an empty state, ``top_drinkers`` keeps the profile
id without name or state. Checked against an independent DuckDB computation.
"""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from examples.beer.generate import BeerInput, generate
from tests.workloads.independent import state_review_volume

REVIEWS, FILES, SEED = 6_000, 2, 7

# In a process of its own: the embedded emulator's state is per process.
RUN = """
import sys
import pyarrow as pa
import pyarrow.parquet as pq
from datalake.naming import Layer
from workloads.local.runner import run_local
from workloads.silver.catalogs import glue_catalog

out = sys.argv[1]


def inspect(lake, report):
    catalog = glue_catalog(lake.settings.region, endpoint=lake.endpoint)
    silver, gold = lake.database(Layer.SILVER), lake.database(Layer.GOLD)
    tables = {"review_flat": (silver, "review_flat")}
    for mart in ("state_by_review_volume", "top_drinkers", "top_beers_by_rating"):
        tables[mart] = (gold, mart)
    for name, identifier in tables.items():
        pq.write_table(catalog.load_table(identifier).scan().to_arrow(), f"{out}/{name}.parquet")
    pq.write_table(pa.table({"n": [len(report.errors)]}), f"{out}/errors.parquet")


run_local(rows=int(sys.argv[2]), files=int(sys.argv[3]), seed=int(sys.argv[4]), serve=inspect)
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> BeerInput:
    """What the run's generator wrote (the same arguments, the same files)."""
    return generate(tmp_path_factory.mktemp("input"), rows=REVIEWS, files=FILES, seed=SEED)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pa.Table]:
    out = tmp_path_factory.mktemp("referenced")
    arguments = [str(out), str(REVIEWS), str(FILES), str(SEED)]
    result = subprocess.run(
        [sys.executable, "-c", RUN, *arguments], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {path.stem: pq.read_table(path) for path in out.glob("*.parquet")}


def test_the_seed_changes_referenced_rows(plan):
    assert plan.renamed_beer is not None and plan.deleted_profile is not None
    reviews = plan.reviews
    assert pc.sum(pc.equal(reviews.column("beer_id"), plan.renamed_beer[0])).as_py() > 10
    assert pc.sum(pc.equal(reviews.column("profile_id"), plan.deleted_profile)).as_py() > 10


def test_review_flat_carries_the_new_name_and_no_deleted_profile(tables, plan):
    assert tables["errors"].column("n")[0].as_py() == 0
    flat = tables["review_flat"]
    beer_id, new_name = plan.renamed_beer
    renamed = flat.filter(pc.equal(flat.column("beer_id"), beer_id))
    assert renamed.num_rows > 10
    assert set(renamed.column("beer_name").to_pylist()) == {new_name}
    gone = flat.filter(pc.equal(flat.column("profile_id"), plan.deleted_profile))
    assert gone.num_rows > 10  # the reviews stay
    assert set(gone.column("profile_name").to_pylist()) == {None}
    assert set(gone.column("state").to_pylist()) == {None}


def test_state_marts_count_the_deleted_profiles_reviews_under_no_state(tables, plan):
    got = {
        (r["review_year"], r["review_month"], r["state"]): r["total_reviews"]
        for r in tables["state_by_review_volume"].to_pylist()
    }
    assert got == state_review_volume(plan.reviews, plan.deleted_profile)
    deleted = [
        r for r in tables["top_drinkers"].to_pylist() if r["profile_id"] == plan.deleted_profile
    ]
    assert deleted and all(r["profile_name"] is None and r["state"] is None for r in deleted)


def test_beer_marts_never_show_the_old_name(tables, plan):
    beer_id, new_name = plan.renamed_beer
    rows = [r for r in tables["top_beers_by_rating"].to_pylist() if r["beer_id"] == beer_id]
    assert all(r["beer_name"] == new_name for r in rows)
