"""The gold Lambdas on moto: the plan claims the pending view partitions, writes the marts'
manifest, and returns the marts of the views that changed."""

from __future__ import annotations

import json

import pytest

from datalake.control import ControlStatus
from datalake.domain import DOMAIN_VARIABLE, default_domain_path
from datalake.runtime import GoldRuntime
from tests.workloads.gold_fixtures import (
    DOMAIN,
    MARTS,
    REVIEW_FLAT,
    register_commit,
    register_old_partition,
    register_partition,
    shop_domain,
)
from workloads.gold import handlers
from workloads.gold.handlers import plan

ARTIFACTS = "test-artifacts"


@pytest.fixture
def config(lake) -> GoldRuntime:
    lake.s3.create_bucket(Bucket=ARTIFACTS)
    return GoldRuntime.from_environment(
        {
            "CONTROL_TABLE": lake.store.table.name,
            "ARTIFACTS_BUCKET": ARTIFACTS,
            "MAX_ATTEMPTS": "3",
            "LEASE_SECONDS": "600",
            DOMAIN_VARIABLE: str(default_domain_path()),
        }
    )


def year(lake, value: int, checksum: str) -> str:
    """Register a pending partition of review_flat: a year (the beer example's partitioning)."""
    return register_partition(
        lake.store, REVIEW_FLAT.name, REVIEW_FLAT.partition_columns, (value,), checksum
    )


def manifest_of(lake, run_id: str) -> dict:
    key = f"gold/runs/{run_id}/marts.json"
    return json.loads(lake.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())


def test_plan_claims_partitions_and_writes_every_marts_sql(lake, config):
    for value in (2010, 2011, 2010):
        year(lake, value, f"snap-{value}")
    result = plan(lake.store, lake.s3, config, "run-1", DOMAIN)
    assert result["marts"] == [m.name for m in MARTS]  # every mart of review_flat
    assert len(result["control_ids"]) == 2  # the same year and snapshot registered once
    body = manifest_of(lake, "run-1")
    assert body["partitions"] == {"review_flat": [[2010], [2011]]}
    marts = body["marts"]
    assert set(marts) == {m.name for m in MARTS}
    drinkers = marts["top_drinkers"]
    assert "__SOURCE__" in drinkers["sql"] and "__PARTITIONS__" in drinkers["sql"]
    assert (drinkers["source"], drinkers["period"], drinkers["partition_columns"]) == (
        "review_flat",
        ["review_year", "review_month"],
        ["review_year"],
    )
    assert [c["name"] for c in marts["state_by_review_volume"]["spec"]["columns"]] == [
        "review_year",
        "review_month",
        "state",
        "total_reviews",
    ]
    assert plan(lake.store, lake.s3, config, "run-2", DOMAIN)["marts"] == []


def test_plan_unions_the_partitions_of_every_record_of_a_view(lake, config, monkeypatch):
    columns = REVIEW_FLAT.partition_columns
    dec, jan, feb = (p[: len(columns)] for p in ((2009, 12), (2010, 1), (2010, 2)))
    ids = {
        register_commit(lake.store, REVIEW_FLAT.name, columns, [feb, jan], "snapshot-1"),
        register_commit(lake.store, REVIEW_FLAT.name, columns, [jan, dec], "snapshot-2"),
        register_old_partition(lake.store, REVIEW_FLAT.name, columns, feb),  # before the upgrade
    }
    result = plan(lake.store, lake.s3, config, "run-1", DOMAIN)
    assert result["marts"] == [m.name for m in MARTS]  # each mart once
    assert set(result["control_ids"]) == ids
    expected = [list(p) for p in sorted({dec, jan, feb})]
    assert manifest_of(lake, "run-1")["partitions"] == {"review_flat": expected}
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    assert handlers.finish_handler(result)["records"] == 3  # settled together
    assert {r.control_id for r in lake.store.by_status("gold", ControlStatus.SUCCESS)} == ids


def test_plan_builds_only_the_marts_of_views_with_pending_partitions(lake, config, tmp_path):
    shop = shop_domain(tmp_path)
    register_partition(lake.store, "visit_view", ("visit_year", "visit_month"), (2024, 3))
    stray = register_partition(lake.store, "review_flat", ("review_year",), (2024,))
    result = plan(lake.store, lake.s3, config, "run-1", shop)
    assert result["marts"] == ["visits_month"]  # store_day's view has nothing pending
    assert manifest_of(lake, "run-1")["partitions"] == {"visit_view": [[2024, 3]]}
    (failed,) = lake.store.by_status("gold", ControlStatus.ERROR)  # no such view in shop
    assert failed.control_id == stray and "review_flat" in (failed.error or "")
    assert stray not in result["control_ids"]


def test_the_plan_handler_reads_the_domain_from_its_environment(lake, config, monkeypatch):
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    year(lake, 2010, "a")
    result = handlers.plan_handler({"execution_name": "run-env"})
    assert result["marts"] == [m.name for m in MARTS]


def test_finish_and_fail(lake, config, monkeypatch):
    year(lake, 2010, "a")
    result = plan(lake.store, lake.s3, config, "run-1", DOMAIN)
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    handlers.fail_handler({**result, "error": {"Error": "States.TaskFailed", "Cause": "boom"}})
    (failed,) = lake.store.by_status("gold", ControlStatus.ERROR)
    assert failed.error == "States.TaskFailed: boom"
    retried = plan(lake.store, lake.s3, config, "run-2", DOMAIN)  # retryable: claimed again
    handlers.finish_handler(retried)
    (done,) = lake.store.by_status("gold", ControlStatus.SUCCESS)
    assert done.attempts == 2
