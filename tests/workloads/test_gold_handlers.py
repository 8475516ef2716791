"""The gold Lambdas on moto: the plan claims the pending months and writes the marts' manifest."""

from __future__ import annotations

import json

import pytest

from datalake.contracts.gold import MARTS
from datalake.control import ControlStatus
from datalake.runtime import GoldRuntime
from tests.workloads.conftest import LAKE
from workloads.gold import handlers
from workloads.gold.handlers import plan
from workloads.silver.pipeline import register_gold_record

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
        }
    )


def test_plan_claims_months_and_writes_every_marts_sql(lake, config):
    for year, month in ((2010, 1), (2010, 2), (2010, 1)):
        register_gold_record(lake.store, LAKE, year, month, f"snap-{year}-{month}")
    result = plan(lake.store, lake.s3, config, "run-1")
    assert result["months"] == [(2010, 1), (2010, 2)]
    assert len(result["control_ids"]) == 2  # the same month and snapshot registered once
    body = lake.s3.get_object(Bucket=ARTIFACTS, Key="gold/runs/run-1/marts.json")["Body"].read()
    marts = json.loads(body)["marts"]
    assert set(marts) == {m.name for m in MARTS}
    assert (
        "__SOURCE__" in marts["top_drinkers"]["sql"]
        and "__MONTHS__" in marts["top_drinkers"]["sql"]
    )
    assert [c["name"] for c in marts["state_by_review_volume"]["spec"]["columns"]] == [
        "review_year",
        "review_month",
        "state",
        "total_reviews",
    ]
    assert plan(lake.store, lake.s3, config, "run-2")["months"] == []


def test_finish_and_fail(lake, config, monkeypatch):
    register_gold_record(lake.store, LAKE, 2010, 1, "a")
    result = plan(lake.store, lake.s3, config, "run-1")
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    handlers.fail_handler({**result, "error": {"Error": "States.TaskFailed", "Cause": "boom"}})
    (failed,) = lake.store.by_status("gold", ControlStatus.ERROR)
    assert failed.error == "States.TaskFailed: boom"
    retried = plan(lake.store, lake.s3, config, "run-2")  # a retryable error is claimed again
    handlers.finish_handler(retried)
    (done,) = lake.store.by_status("gold", ControlStatus.SUCCESS)
    assert done.attempts == 2
