"""The lake's own metrics on moto's CloudWatch: emitted where the facts happen, batched, with
the dimensions the operations dashboard reads, and never a row's value in a dimension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from datalake.control import ControlStatus
from datalake.dashboards import operations_dashboard
from datalake.domain import default_domain_path
from datalake.errors import (
    DUPLICATES_METRIC,
    EXHAUSTED_METRIC,
    FILES_METRIC,
    LAKE_METRICS,
    METRIC_NAMESPACE,
    OUTCOMES,
    QUARANTINED_METRIC,
    ROWS_METRIC,
)
from tests.workloads.conftest import LAKE, LANDING, gz, s3_event
from tests.workloads.silver_fixtures import BEER_DOMAIN, sql_catalog
from tests.workloads.test_silver_pipeline import load_sample, silver_run
from workloads.bronze import handlers
from workloads.shared.metrics import MAX_DATUMS, MetricBatch

BEER_HEADER = "beer_id,brewery_id,beer_name,beer_style,beer_abv\n"
MIXED = (  # 7 rows: 2 good, 5 quarantined (the values must not reach any metric)
    BEER_HEADER
    + "1,2,Good,IPA,5.0\n"
    + "abc,2,Bad id,IPA,5.0\n"
    + ",2,No id,IPA,5.0\n"
    + "4,2,Too strong,IPA,120\n"
    + "5,2,Short row\n"
    + '6,2,"Quoted, name",Stout,\n'
    + "7,x,Bad brewery,IPA,strong\n"
)


def total(cloudwatch: Any, metric: str, **dimensions: str) -> float:
    """The sum of the series of ``metric`` with exactly ``dimensions`` over the last hour
    (moto's statistics also count the series with more dimensions: those are taken off)."""
    wanted = dict(dimensions)
    wider = [
        dims
        for name, dims in series(cloudwatch)
        if name == metric and len(dims) > len(wanted) and wanted.items() <= dims.items()
    ]
    return _statistics(cloudwatch, metric, wanted) - sum(
        total(cloudwatch, metric, **dims) for dims in wider
    )


def _statistics(cloudwatch: Any, metric: str, dimensions: dict[str, str]) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=METRIC_NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": n, "Value": v} for n, v in dimensions.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def series(cloudwatch: Any) -> list[tuple[str, dict[str, str]]]:
    """Every metric of the namespace with its dimensions."""
    metrics = cloudwatch.list_metrics(Namespace=METRIC_NAMESPACE)["Metrics"]
    return [
        (m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}) for m in metrics
    ]


@pytest.fixture
def handler_env(lake, monkeypatch):
    monkeypatch.setenv("CONTROL_TABLE", lake.store.table.name)
    monkeypatch.setenv("LAKE_BUCKET", LAKE)
    monkeypatch.setenv("DATALAKE_DOMAIN", str(default_domain_path()))
    return lake


def test_the_controller_counts_files_per_status_and_duplicates_per_table(handler_env):
    lake = handler_env
    body = gz("brewery_id,brewery_name\n1,A\n2,B\n")

    def land(key: str) -> dict[str, Any]:
        lake.put_raw(key, body)
        (registered,) = handlers.controller_handler(s3_event(LANDING, key, len(body)))["registered"]
        return registered

    first = land("raw/brewery/a.csv.gz")
    lake.worker().run(first["control_id"])
    assert land("raw/brewery/again.csv.gz")["status"] == "duplicate"  # the same content
    assert land("raw/nowhere/x.csv.gz")["status"] == "error"  # no table of the domain
    assert land("raw/brewery/a.csv.gz")["status"] == "success"  # a redelivered event
    cw = lake.cloudwatch
    assert total(cw, FILES_METRIC, Layer="bronze", Status="pending") == 1
    assert total(cw, FILES_METRIC, Layer="bronze", Status="success") == 1  # the worker's only
    assert total(cw, FILES_METRIC, Layer="bronze", Status="duplicate") == 1
    assert total(cw, FILES_METRIC, Layer="bronze", Status="error") == 1
    assert total(cw, DUPLICATES_METRIC, Table="brewery") == 1
    # per table too: what the freshness alarms watch
    assert total(cw, FILES_METRIC, Layer="bronze", Status="pending", Table="brewery") == 1


def test_the_controller_publishes_one_request_per_event(handler_env, monkeypatch):
    lake = handler_env
    calls: list[int] = []
    real = MetricBatch.publish

    def spy(self: MetricBatch, cloudwatch: Any) -> int:
        calls.append(len(self.counts))
        return real(self, cloudwatch)

    monkeypatch.setattr(MetricBatch, "publish", spy)
    event: dict[str, Any] = {"Records": []}
    for name in ("one", "two", "three"):
        key = f"raw/brewery/{name}.csv.gz"
        data = gz(f"brewery_id,brewery_name\n1,{name}\n")
        lake.put_raw(key, data)
        event["Records"] += s3_event(LANDING, key, len(data))["Records"]
    assert len(handlers.controller_handler(event)["registered"]) == 3
    assert calls == [2]  # three pending files summed (all, and per table), one request
    assert total(lake.cloudwatch, FILES_METRIC, Layer="bronze", Status="pending") == 3


def test_bronze_counts_rows_and_quarantine_per_table_without_row_content(lake):
    record = lake.register("raw/beer/mixed.csv.gz", gz(MIXED))
    done = lake.worker().run(record.control_id)
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (7, 2, 5)
    cw = lake.cloudwatch
    counts = {o: total(cw, ROWS_METRIC, Layer="bronze", Outcome=o) for o in OUTCOMES}
    assert counts == {"in": 7, "written": 2, "quarantined": 5, "skipped": 0}
    assert total(cw, QUARANTINED_METRIC, Table="beer") == 5
    assert total(cw, FILES_METRIC, Layer="bronze", Status="success") == 1
    allowed = {"bronze", "silver", "beer", *OUTCOMES, *(s.value for s in ControlStatus)}
    allowed |= set(done.quarantine_rules)  # rules: the reasons without their values
    for name, dimensions in series(cw):
        assert set(dimensions) <= {"Layer", "Status", "Outcome", "Table", "Rule"}, name
        assert set(dimensions.values()) <= allowed, (name, dimensions)  # no reason, no value


def test_a_file_out_of_attempts_counts_as_an_error_file(lake, monkeypatch):
    record = lake.register("raw/beer/flaky.csv.gz", gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))

    def broken_upload(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("S3 is having a moment")

    monkeypatch.setattr(lake.s3, "upload_file", broken_upload)
    for attempt in (1, 2, 3):
        with pytest.raises(ConnectionError):
            lake.worker(f"w{attempt}").run(record.control_id)
    cw = lake.cloudwatch
    assert total(cw, EXHAUSTED_METRIC, Table="beer") == 1
    assert (EXHAUSTED_METRIC, {}) in series(cw)  # what the alarm watches
    assert total(cw, FILES_METRIC, Layer="bronze", Status="error") == 1


def test_silver_counts_files_and_rows_merged(lake, tmp_path):
    from examples.beer.generate import generate_reviews

    load_sample(lake, generate_reviews(500, seed=3))
    run = silver_run(lake, sql_catalog(tmp_path), domain=BEER_DOMAIN)
    run.cloudwatch = lake.cloudwatch
    report = run.run()
    cw = lake.cloudwatch
    assert total(cw, FILES_METRIC, Layer="silver", Status="success") == 4
    written = sum(r.keys_written for r in report.merged.values())
    assert total(cw, ROWS_METRIC, Layer="silver", Outcome="written") == written
    skipped = sum(r.duplicates_skipped + r.late_ignored for r in report.merged.values())
    assert total(cw, ROWS_METRIC, Layer="silver", Outcome="skipped") == skipped


def test_every_lake_panel_finds_its_metric_with_the_dashboards_dimensions(handler_env):
    lake = handler_env
    for key, data in {"raw/beer/m.csv.gz": gz(MIXED), "raw/beer/n.csv.gz": gz(MIXED)}.items():
        lake.put_raw(key, data)
        (registered,) = handlers.controller_handler(s3_event(LANDING, key, len(data)))["registered"]
        if registered["status"] == "pending":
            lake.worker().run(registered["control_id"])
    emitted = {(name, frozenset(dims)) for name, dims in series(lake.cloudwatch)}
    panels = [
        p.metric
        for p in operations_dashboard(BEER_DOMAIN, streaming=False).panels
        if p.metric is not None and p.metric.metric in LAKE_METRICS
    ]
    assert {m.metric for m in panels} == set(LAKE_METRICS)
    for metric in panels:
        assert metric.namespace == METRIC_NAMESPACE
        wanted = frozenset(name for name, _ in metric.dimensions)
        assert (metric.metric, wanted) in emitted, metric


def test_a_batch_sums_equal_series_and_splits_large_requests():
    class Recorder:
        def __init__(self) -> None:
            self.requests: list[list[dict[str, Any]]] = []

        def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:
            self.requests.append(MetricData)

    batch = MetricBatch()
    batch.count(FILES_METRIC, Layer="bronze", Status="success")
    batch.count(FILES_METRIC, 2, Layer="bronze", Status="success")
    for n in range(MAX_DATUMS + 10):
        batch.count(QUARANTINED_METRIC, 1, Table=f"t{n}")
    recorder = Recorder()
    assert batch.publish(recorder) == MAX_DATUMS + 11
    assert [len(r) for r in recorder.requests] == [MAX_DATUMS, 11]
    assert recorder.requests[0][0]["Value"] == 3.0
    assert batch.publish(recorder) == 0 and len(recorder.requests) == 2  # cleared: none sent


def test_publishing_never_fails_the_work_it_measures():
    class Refusing:
        def put_metric_data(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "Throttling"}}, "PutMetricData")

    batch = MetricBatch()
    batch.count(FILES_METRIC, Layer="bronze", Status="success")
    assert batch.publish(Refusing()) == 0
