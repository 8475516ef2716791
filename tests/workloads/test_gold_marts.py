"""Gold marts on the arrow engine against values computed by hand (see gold_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.workloads.gold_fixtures import (
    DOMAIN,
    MARTS,
    PROPERTIES,
    REVIEW_FLAT,
    loaded_view,
)
from workloads.gold.marts import run_marts

YEAR = (2010,)
"""The one partition of the fixture's rows: the beer example partitions by year."""


@pytest.fixture
def lake(tmp_path):
    return loaded_view(tmp_path, REVIEW_FLAT, name="gold")


def mart(catalog, name: str) -> list[dict]:
    rows = catalog.load_table(("gold", name)).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def test_top_beers_keeps_beers_with_at_least_25_reviews(lake):
    catalog, review_flat = lake
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    assert mart(catalog, "top_beers_by_rating") == [
        {
            "review_year": 2010,
            "review_month": 1,
            "beer_id": 10,
            "beer_name": "Amber",
            "beer_style": "Lager",
            "avg_rating": 4.2,  # (20 x 4.0 + 5 x 5.0) / 25; the deleted 1.0 is excluded
            "total_reviews": 25,
        }
    ]  # beer 11 has 24 reviews in January, beer 12 has 3 in February


def test_top_breweries_and_styles(lake):
    catalog, review_flat = lake
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    breweries = mart(catalog, "top_breweries_by_rating")
    assert [(r["brewery_id"], r["total_reviews"], r["avg_rating"]) for r in breweries] == [
        (1, 25, 4.2)
    ]
    styles = mart(catalog, "top_styles_by_popularity")
    assert [(r["beer_style"], r["total_reviews"]) for r in styles] == [("Lager", 25)]


def test_state_volume_and_top_drinkers_have_no_minimum(lake):
    catalog, review_flat = lake
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    states = {
        (r["review_month"], r["state"]): r["total_reviews"]
        for r in mart(catalog, "state_by_review_volume")
    }
    # January: ann (CA) 12 + cy (CA) 24 = 36, bob (NY) 13; February: bob 2, ann 1.
    assert states == {(1, "CA"): 36, (1, "NY"): 13, (2, "NY"): 2, (2, "CA"): 1}
    drinkers = {
        (r["review_month"], r["profile_id"]): (r["total_reviews"], r["avg_rating"])
        for r in mart(catalog, "top_drinkers")
    }
    assert drinkers[(1, 7)] == (24, 3.0)
    assert drinkers[(2, 6)] == (2, 3.0)
    assert drinkers[(2, 5)] == (1, None)  # an empty score counts as a review, not in the mean


def test_the_last_second_of_a_month_counts_in_that_month(lake):
    catalog, review_flat = lake
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    drinkers = {
        (r["review_month"], r["profile_id"]): r["total_reviews"]
        for r in mart(catalog, "top_drinkers")
    }
    assert drinkers[(1, 7)] == 24 and (2, 7) not in drinkers


def test_running_twice_gives_the_same_rows(lake):
    catalog, review_flat = lake
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    first = {m.name: mart(catalog, m.name) for m in MARTS}
    run_marts(catalog, "gold", review_flat, MARTS, [YEAR], PROPERTIES)
    assert {m.name: mart(catalog, m.name) for m in MARTS} == first


def test_every_mart_is_declared_with_its_period_and_measures():
    assert DOMAIN.marts == MARTS  # every beer mart reads review_flat
    names = {m.name for m in MARTS}
    assert names == {
        "top_beers_by_rating",
        "top_breweries_by_rating",
        "top_styles_by_popularity",
        "state_by_review_volume",
        "top_drinkers",
    }
    for declared in MARTS:
        assert declared.contract.column_names[:2] == ("review_year", "review_month")
