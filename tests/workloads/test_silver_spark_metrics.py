"""Silver on Spark publishes its metrics from the per-table Lambdas (moto's CloudWatch): the
finish Lambda the table's files as ``success`` and its rows in, the fail Lambda the files as
``error``; one request per invocation, and a refused request fails neither."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from datalake.control import ControlStatus
from datalake.domain import default_domain_path
from datalake.errors import FILES_METRIC, ROWS_METRIC
from datalake.runtime import SilverRuntime
from tests.workloads.conftest import LAKE, gz
from tests.workloads.silver_fixtures import BEER_DOMAIN
from tests.workloads.test_lake_metrics import series, total
from workloads.shared.metrics import MetricBatch
from workloads.silver import handlers

ARTIFACTS = "test-artifacts"
BEER = "beer_id,brewery_id,beer_name,beer_style,beer_abv\n"
ERROR = {"Error": "EMRServerless.JobFailed", "Cause": "OOM"}


@pytest.fixture
def planned(lake, monkeypatch) -> dict[str, dict[str, Any]]:
    """Two beer files (1 and 2 rows) and one brewery file (3 rows) through bronze, planned by
    run ``run-1`` with the Lambdas' environment set: the Map's items by table."""
    lake.s3.create_bucket(Bucket=ARTIFACTS)
    config = SilverRuntime.from_environment(
        {
            "CONTROL_TABLE": lake.store.table.name,
            "LAKE_BUCKET": LAKE,
            "ARTIFACTS_BUCKET": ARTIFACTS,
            "DATALAKE_DOMAIN": str(default_domain_path()),
        }
    )
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    for key, text in {
        "raw/beer/a.csv.gz": BEER + "1,2,A,IPA,5\n",
        "raw/beer/b.csv.gz": BEER + "2,2,B,IPA,5\n3,2,C,Stout,6\n",
        "raw/brewery/w.csv.gz": "brewery_id,brewery_name\n1,U\n2,W\n3,X\n",
    }.items():
        record = lake.register(key, gz(text))
        assert lake.worker().run(record.control_id).status is ControlStatus.SUCCESS
    plan = handlers.plan(lake.store, lake.s3, config, "run-1", BEER_DOMAIN)
    return {t["table"]: t for t in plan["tables"]}


def payload(item: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What the machine passes the finish and fail Lambdas for a Map item
    (``components/silver_machine.py``: run id, table, control ids; fail adds the error)."""
    return {"run_id": "run-1", "table": item["table"], "control_ids": item["control_ids"], **more}


def silver_series(cloudwatch: Any) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {
        (name, frozenset(dims.items()))
        for name, dims in series(cloudwatch)
        if dims.get("Layer") == "silver"
    }


@pytest.fixture
def requests(monkeypatch) -> list[int]:
    """The datapoints of every MetricBatch.publish call, in order."""
    calls: list[int] = []
    real = MetricBatch.publish

    def spy(self: MetricBatch, cloudwatch: Any) -> int:
        sent = real(self, cloudwatch)
        calls.append(sent)
        return sent

    monkeypatch.setattr(MetricBatch, "publish", spy)
    return calls


def test_finish_publishes_the_tables_files_as_success_and_its_rows_in(lake, planned, requests):
    result = handlers.finish_handler(payload(planned["beer"]))
    assert result == {"table": "beer", "status": "success", "records": 2}
    cw = lake.cloudwatch
    assert total(cw, FILES_METRIC, Layer="silver", Status="success") == 2
    assert total(cw, FILES_METRIC, Layer="silver", Status="success", Table="beer") == 2
    assert total(cw, ROWS_METRIC, Layer="silver", Outcome="in") == 3  # 1 + 2 bronze rows
    # Keys written and changes skipped are known only inside the Spark job: not published.
    assert silver_series(cw) == {
        (FILES_METRIC, frozenset({("Layer", "silver"), ("Status", "success")})),
        (
            FILES_METRIC,
            frozenset({("Layer", "silver"), ("Status", "success"), ("Table", "beer")}),
        ),
        (ROWS_METRIC, frozenset({("Layer", "silver"), ("Outcome", "in")})),
    }
    assert requests == [3]  # one request: both Files series and the rows
    done = list(lake.store.by_status("silver", ControlStatus.SUCCESS))
    assert sorted(r.rows_in for r in done) == [1, 2]  # as SilverRun records them
    assert all(r.rows_in == r.record_count for r in done)


def test_fail_publishes_the_tables_files_as_error(lake, planned, requests):
    handlers.finish_handler(payload(planned["beer"]))
    result = handlers.fail_handler(payload(planned["brewery"], error=ERROR))
    assert result == {"table": "brewery", "status": "error", "records": 1}
    cw = lake.cloudwatch
    assert total(cw, FILES_METRIC, Layer="silver", Status="error") == 1
    assert total(cw, FILES_METRIC, Layer="silver", Status="error", Table="brewery") == 1
    assert total(cw, FILES_METRIC, Layer="silver", Status="error", Table="beer") == 0
    assert total(cw, FILES_METRIC, Layer="silver", Status="success", Table="brewery") == 0
    assert total(cw, ROWS_METRIC, Layer="silver", Outcome="in") == 3  # beer's only
    assert requests == [3, 2]  # one request per invocation
    (failed,) = lake.store.by_status("silver", ControlStatus.ERROR)
    assert failed.table_name == "brewery" and failed.rows_in is None


def test_a_record_without_a_count_publishes_its_files_but_no_rows(lake, planned):
    (control_id,) = planned["brewery"]["control_ids"]
    lake.store.table.update_item(
        Key={"control_id": control_id}, UpdateExpression="REMOVE record_count"
    )
    handlers.finish_handler(payload(planned["brewery"]))
    cw = lake.cloudwatch
    assert total(cw, FILES_METRIC, Layer="silver", Status="success", Table="brewery") == 1
    assert (ROWS_METRIC, frozenset({("Layer", "silver"), ("Outcome", "in")})) not in (
        silver_series(cw)
    )
    assert lake.store.get(control_id).rows_in is None  # no count made up


def test_a_cloudwatch_error_fails_neither_handler(lake, planned, monkeypatch, caplog):
    def throttled(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate"}}, "PutMetricData")

    real = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real(service, *args, **kwargs)
        if service == "cloudwatch":
            made.meta.events.register("before-call.cloudwatch.PutMetricData", throttled)
        return made

    monkeypatch.setattr(handlers.boto3, "client", client)
    with caplog.at_level(logging.WARNING, logger="workloads.shared.metrics"):
        assert handlers.finish_handler(payload(planned["beer"]))["records"] == 2
        assert handlers.fail_handler(payload(planned["brewery"], error=ERROR))["records"] == 1
    assert len(list(lake.store.by_status("silver", ControlStatus.SUCCESS))) == 2
    (failed,) = lake.store.by_status("silver", ControlStatus.ERROR)
    assert failed.error == "EMRServerless.JobFailed: OOM"
    assert silver_series(lake.cloudwatch) == set()  # dropped, logged
    assert [r.message.startswith("could not publish") for r in caplog.records] == [True, True]
