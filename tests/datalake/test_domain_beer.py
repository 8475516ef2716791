"""The beer example domain file reproduces the beer lake's tables, review_flat and marts.

``beer_contracts.json`` is a snapshot of the former Python declarations (``contracts/beer.py``,
``REVIEW_FLAT``, ``MARTS``): every field of every contract and column, and each mart's SQL.
The loaded domain must match it exactly (the snapshot was checked against those declarations
before they were deleted).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from datalake.contracts import TableContract
from datalake.domain import Domain, default_domain_path, load_domain, partition_condition

SNAPSHOT = Path(__file__).with_name("beer_contracts.json")
MONTHS = [(2024, 3), (2023, 12)]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _contract(contract: TableContract) -> dict[str, Any]:
    return _plain({**asdict(contract), "cdc": contract.cdc})


def snapshot_of_domain(domain: Domain) -> dict[str, Any]:
    """Everything the snapshot pins, read from a loaded domain."""
    view = domain.view("review_flat")
    condition = partition_condition(view.period.columns, MONTHS)
    return {
        "tables": [_contract(t) for t in domain.tables.values()],
        "review_flat": _contract(view.contract),
        "marts": [
            {
                "name": m.name,
                "description": m.description,
                "grain": list(m.grain),
                "min_count": m.min_count,
                "rank_by": list(m.rank_by),
                "measures": [
                    [x.name, x.function, x.column, x.description, x.type.value, x.sql()]
                    for x in m.measures
                ],
                "contract": _contract(m.contract),
                "sql": m.sql("src", condition),
                "condition": condition,
            }
            for m in domain.marts
        ],
    }


@pytest.fixture(scope="module")
def beer() -> Domain:
    return load_domain(default_domain_path())


def test_the_beer_domain_matches_the_snapshot(beer):
    expected = json.loads(SNAPSHOT.read_text())
    got = snapshot_of_domain(beer)
    assert [t["name"] for t in got["tables"]] == ["brewery", "beer", "profile", "review"]
    for section in ("tables", "marts"):
        for loaded, pinned in zip(got[section], expected[section], strict=True):
            assert loaded == pinned, pinned["name"]
    assert got["review_flat"] == expected["review_flat"]


def test_review_flat_is_the_view(beer):
    view = beer.view("review_flat")
    assert view.period.columns == ("review_year", "review_month")
    assert view.partition_columns == ("review_year",)
    assert view.references() == {
        "beer": ("b.beer_id", "beer_id"),
        "brewery": ("b.brewery_id", "brewery_id"),
        "profile": ("b.profile_id", "profile_id"),
    }
    assert beer.silver_contracts() == (*beer.tables.values(), view.contract)
    assert beer.marts_of("review_flat") == beer.marts
    assert "email" not in view.contract.column_names


def test_partition_condition_is_sorted_and_false_when_empty():
    assert partition_condition(("y", "m"), []) == "FALSE"
    assert partition_condition(("y", "m"), [(2024, 3), (2023, 1), (2024, 3)]) == (
        "(y = 2023 AND m = 1) OR (y = 2024 AND m = 3)"
    )
    assert partition_condition(("d",), [(5,)]) == "(d = 5)"


def test_the_view_spec_names_every_column_by_alias(beer):
    view = beer.view("review_flat")
    spec = view.spec()
    assert spec["base_key"] == ["review_id"]
    assert spec["period"] == {
        "column_ref": "b.review_time",
        "kind": "epoch_seconds",
        "parts": [["review_year", "year"], ["review_month", "month"]],
        "partition_columns": ["review_year"],
    }
    assert spec["joins"][2] == {
        "table": "profile",
        "alias": "j3",
        "on": [["b.profile_id", "profile_id"]],
        "columns": [["profile_name", "profile_name"], ["state", "state"]],
    }
    assert spec["columns"] == list(view.contract.column_names)
