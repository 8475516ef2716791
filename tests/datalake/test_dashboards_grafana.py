"""Grafana dashboard JSON from the panel model (``datalake.dashboards.grafana``).

The JSON of every dashboard of the beer domain (with streaming, so the Firehose panels are in)
and of the retail domain (batch only) is pinned under ``tests/datalake/dashboards/<case>/``.
After an intended change, regenerate the snapshots and review the diff:

    UPDATE_GRAFANA_SNAPSHOTS=1 python -m pytest -q tests/datalake/test_dashboards_grafana.py

Besides the snapshots: each Athena panel's SQL (placeholders filled) parses as Trino SQL, each
model panel appears exactly once with its title and visual, ranking panels read the ``period``
template variable, CloudWatch panels carry the metric of the model, and uids are the lake's
(its prefix and the key: distinct across lakes, at most 40 characters, stable).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from datalake.dashboards import dashboards
from datalake.dashboards.grafana import (
    dashboard_uid,
    fill_sql,
    grafana_dashboard,
    grafana_visual,
    panel_keys,
    uses_period,
)
from datalake.dashboards.model import ANY_VALUE, Dashboard, MetricQuery, Panel, Row, SqlQuery
from datalake.domain import Domain, load_domain

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).with_name("dashboards")
UPDATE = os.environ.get("UPDATE_GRAFANA_SNAPSHOTS") == "1"
CASES = {
    "beer": (ROOT / "examples" / "beer" / "domain.yaml", True),
    "retail": (ROOT / "examples" / "retail" / "domain.yaml", False),
}
DATABASES = {"gold": "lake_gold", "silver": "lake_silver"}
PREFIX = "lake-test"
OPTIONS: dict[str, Any] = {
    "prefix": PREFIX,
    "athena_uid": "lake-athena",
    "cloudwatch_uid": "lake-cloudwatch",
    "databases": DATABASES,
    "region": "eu-west-1",
    "workgroup": "lake-workgroup",
}
SAMPLE_PERIOD = "2024-03"
TYPES = {"timeseries": "timeseries", "bar": "barchart", "table": "table", "stat": "stat"}


@cache
def _domain(case: str) -> Domain:
    return load_domain(CASES[case][0])


@cache
def _rendered(case: str) -> tuple[tuple[Dashboard, dict[str, Any]], ...]:
    models = dashboards(_domain(case), streaming=CASES[case][1])
    return tuple((model, grafana_dashboard(model, **OPTIONS)) for model in models)


def _panels(grafana: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every non-row panel, rows' nested panels included."""
    for panel in grafana["panels"]:
        for nested in [panel, *panel.get("panels", [])]:
            if nested["type"] != "row":
                yield nested


def _by_key(grafana: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {panel["tags"][0]: panel for panel in _panels(grafana)}


def _athena_targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in panel["targets"] if t["datasource"]["type"] == "grafana-athena-datasource"]


def _variables(grafana: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in grafana.get("templating", {}).get("list", [])}


def _cloudwatch_targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in panel["targets"] if t["datasource"]["type"] == "cloudwatch"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_matches_the_snapshots(case: str) -> None:
    folder = SNAPSHOTS / case
    expected_files = set()
    for model, grafana in _rendered(case):
        path = folder / f"{model.key}.json"
        expected_files.add(path.name)
        text = json.dumps(grafana, indent=2, sort_keys=True) + "\n"
        if UPDATE:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"no snapshot {path}: run with UPDATE_GRAFANA_SNAPSHOTS=1"
        assert path.read_text() == text, f"{path} differs: regenerate (see the module docstring)"
    if UPDATE:
        for stale in set(p.name for p in folder.glob("*.json")) - expected_files:
            (folder / stale).unlink()
    assert {p.name for p in folder.glob("*.json")} == expected_files


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_athena_sql_parses_as_trino(case: str) -> None:
    checked = 0
    for _, grafana in _rendered(case):
        targets = [t for panel in _panels(grafana) for t in _athena_targets(panel)]
        period = _variables(grafana).get("period", {})
        if period.get("type") == "query":
            targets.append(period["query"])
        for target in targets:
            sql = target["rawSQL"].replace("${period}", SAMPLE_PERIOD)
            assert "{" not in sql, f"placeholder left in {sql}"
            assert DATABASES["gold"] in sql or DATABASES["silver"] in sql
            sqlglot.parse_one(sql, read="trino")
            assert target["connectionArgs"]["region"] == OPTIONS["region"]
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_model_panel_appears_once_with_its_title_and_visual(case: str) -> None:
    for model, grafana in _rendered(case):
        assert grafana["title"] == model.title
        assert grafana["uid"] == dashboard_uid(PREFIX, model.key)
        assert panel_keys(grafana) == [p.key for p in model.panels]
        rows = [p["title"] for p in grafana["panels"] if p["type"] == "row"]
        assert rows == [r.title for r in model.rows]
        by_key = _by_key(grafana)
        for panel in model.panels:
            assert by_key[panel.key]["title"] == panel.title
            assert by_key[panel.key]["type"] == TYPES[grafana_visual(panel)]
            if panel.unit:
                assert by_key[panel.key]["fieldConfig"]["defaults"]["unit"] == panel.unit
    ids = [p["id"] for _, g in _rendered(case) for p in g["panels"]]
    assert all(isinstance(i, int) for i in ids)
    uids = [g["uid"] for _, g in _rendered(case)]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ranking_panels_read_the_period_variable(case: str) -> None:
    rendered = {model.key: (model, grafana) for model, grafana in _rendered(case)}
    rankings = {
        (key, panel.key)
        for key, (model, _) in rendered.items()
        for panel in model.panels
        if uses_period(panel)
    }
    keys = {panel for _, panel in rankings}
    assert {f"{mart.name}.ranking" for mart in _domain(case).marts} <= keys
    for dashboard_key, panel_key in rankings:
        model, grafana = rendered[dashboard_key]
        period = _variables(grafana)["period"]
        if model.periods is not None:
            assert period["type"] == "query"
            assert period["datasource"]["uid"] == OPTIONS["athena_uid"]
            assert period["query"]["rawSQL"] == model.periods.render(**DATABASES)
        else:
            assert period["type"] == "textbox"
        (target,) = _athena_targets(_by_key(grafana)[panel_key])
        assert "${period}" in target["rawSQL"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cloudwatch_panels_carry_the_metric(case: str) -> None:
    checked = 0
    for model, grafana in _rendered(case):
        by_key = _by_key(grafana)
        for panel in model.panels:
            if panel.metric is None:
                continue
            (target,) = _cloudwatch_targets(by_key[panel.key])
            assert target["datasource"]["uid"] == OPTIONS["cloudwatch_uid"]
            assert target["namespace"] == panel.metric.namespace
            assert target["metricName"] == panel.metric.metric
            assert target["statistic"] == panel.metric.statistic
            dimensions = dict(panel.metric.render(workgroup=OPTIONS["workgroup"]))
            assert target["dimensions"] == dimensions
            assert target["matchExact"] is True  # exactly these dimensions, "*" any value
            assert target["period"] == str(panel.metric.period_seconds)
            assert target["region"] == OPTIONS["region"]
            checked += 1
    if CASES[case][1]:
        assert checked > 0


def _sample() -> Dashboard:
    sql = SqlQuery(
        "SELECT name, n FROM {gold}.m WHERE p = '{period}' ORDER BY n DESC LIMIT 10",
        label_column="name",
        value_columns=("n",),
    )
    metric = MetricQuery("AWS/States", "ExecutionsFailed", dimensions=(("StateMachineArn", "a"),))
    return Dashboard(
        "sample",
        "Sample",
        (
            Row("one", (Panel("m.ranking", "Top", "bar", query=sql),)),
            Row("two", (Panel("both", "Both", "stat", query=sql, metric=metric, unit="short"),)),
        ),
    )


def test_a_panel_with_sql_and_metric_uses_the_mixed_data_source() -> None:
    grafana = grafana_dashboard(_sample(), **OPTIONS)
    both = _by_key(grafana)["both"]
    assert both["datasource"]["uid"] == "-- Mixed --"
    assert [t["refId"] for t in both["targets"]] == ["A", "B"]
    assert [t["datasource"]["type"] for t in both["targets"]] == [
        "grafana-athena-datasource",
        "cloudwatch",
    ]
    assert _by_key(grafana)["m.ranking"]["options"]["xField"] == "name"


def test_a_panel_without_sql_or_metric_is_refused() -> None:
    local = Panel("x", "X", "table", local=SqlQuery("SELECT 1"))
    with pytest.raises(ValueError, match="only a local query"):
        grafana_dashboard(Dashboard("d", "D", (Row("r", (local,)),)), **OPTIONS)


def test_no_period_variable_without_period_panels() -> None:
    panel = Panel("t", "T", "table", query=SqlQuery("SELECT 1 AS x FROM {gold}.m"))
    grafana = grafana_dashboard(Dashboard("d", "D", (Row("r", (panel,)),)), **OPTIONS)
    assert "period" not in _variables(grafana)


def test_without_a_periods_query_the_period_variable_is_a_text_box() -> None:
    grafana = grafana_dashboard(_sample(), **OPTIONS)
    assert _variables(grafana)["period"]["type"] == "textbox"


def test_metric_dimensions_fill_the_workgroup_and_match_any_value() -> None:
    metric = MetricQuery(
        "AWS/Athena",
        "ProcessedBytes",
        dimensions=(("WorkGroup", "{workgroup}"), ("QueryType", ANY_VALUE)),
    )
    panel = Panel("scan", "Scan", "timeseries", metric=metric, unit="bytes")
    grafana = grafana_dashboard(Dashboard("d", "D", (Row("r", (panel,)),)), **OPTIONS)
    (target,) = _by_key(grafana)["scan"]["targets"]
    assert target["dimensions"] == {"WorkGroup": "lake-workgroup", "QueryType": "*"}
    # Exact: Grafana searches {AWS/Athena,QueryType,WorkGroup}, "*" naming QueryType only.
    assert target["matchExact"] is True


def test_a_metric_only_panel_is_a_time_series_unless_a_stat() -> None:
    metric = MetricQuery("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum")
    bar = Panel("dlq", "DLQ", "bar", metric=metric, local=SqlQuery("SELECT 1 AS n"))
    number = Panel("dlq.now", "DLQ now", "stat", metric=metric)
    grafana = grafana_dashboard(Dashboard("d", "D", (Row("r", (bar, number)),)), **OPTIONS)
    assert [p["type"] for p in _panels(grafana)] == ["timeseries", "stat"]


def test_fill_sql_replaces_only_the_placeholders() -> None:
    query = SqlQuery("SELECT '{x}' FROM {gold}.a JOIN {silver}.b ON p = '{period}'")
    assert fill_sql(query, DATABASES) == (
        "SELECT '{x}' FROM lake_gold.a JOIN lake_silver.b ON p = '${period}'"
    )
    assert fill_sql(SqlQuery("{period}"), DATABASES, period="2024-03") == "2024-03"


UID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
"""Grafana's uid characters (``[a-zA-Z0-9-_]``), kept to those of Kubernetes-style names."""


def _model_keys() -> list[str]:
    keys = {m.key for case in CASES for m, _ in _rendered(case)}
    return [*sorted(keys), "folder", "athena", "cloudwatch"]  # components/dashboards.py's


def test_two_lakes_never_share_a_uid() -> None:
    keys = _model_keys()
    for one, other in [
        ("datalake-dev", "datalake-prod"),
        ("datalake-dev", "analytics-dev"),
        ("x-y-analytics", "x-y"),  # readable parts alike: x-y-analytics-operations
    ]:
        assert {dashboard_uid(one, k) for k in keys}.isdisjoint(
            {dashboard_uid(other, k) for k in keys}
        )
    # The two readings of x-y-analytics-operations: the hash tells them apart.
    assert dashboard_uid("x-y-analytics", "operations") != dashboard_uid(
        "x-y", "analytics.operations"
    )
    uids = [dashboard_uid("datalake-dev", k) for k in keys]
    assert len(set(uids)) == len(uids)


def test_uids_are_short_valid_and_readable() -> None:
    long_prefix = "a" * 24 + "-" + "b" * 12  # the longest project and environment
    keys = [*_model_keys(), "analytics." + "v" * 63]
    for prefix in ("datalake-dev", long_prefix, "Odd.Prefix_1"):
        for key in keys:
            uid = dashboard_uid(prefix, key)
            assert len(uid) <= 40 and UID_PATTERN.match(uid), uid
    assert dashboard_uid("datalake-dev", "operations").startswith("datalake-dev-operations-")
    assert dashboard_uid("datalake-dev", "analytics.sales").startswith(
        "datalake-dev-analytics-sales-"
    )
    cut = dashboard_uid(long_prefix, "analytics." + "v" * 63)
    assert cut.startswith("a" * 24) and len(cut) == 40
    assert dashboard_uid(long_prefix, "operations") != dashboard_uid(long_prefix, "athena")


def test_the_same_input_gives_the_same_uid() -> None:
    for key in _model_keys():
        assert dashboard_uid("datalake-dev", key) == dashboard_uid("datalake-dev", key)
    assert (
        dashboard_uid("datalake-dev", "operations")
        == "datalake-dev-operations-"
        + (hashlib.sha256(b'["datalake-dev", "operations"]').hexdigest()[:8])
    )
    model = _rendered("beer")[0][0]
    assert grafana_dashboard(model, **OPTIONS) == grafana_dashboard(model, **OPTIONS)


def test_the_dashboard_uid_follows_the_prefix() -> None:
    model = _rendered("retail")[0][0]
    dev = grafana_dashboard(model, **{**OPTIONS, "prefix": "datalake-dev"})
    prod = grafana_dashboard(model, **{**OPTIONS, "prefix": "datalake-prod"})
    assert dev["uid"] == dashboard_uid("datalake-dev", model.key) != prod["uid"]


def test_arn_dimensions_are_in_the_lake_partition() -> None:
    arn = "arn:aws:states:::emr-serverless:startJobRun.sync"
    metric = MetricQuery("AWS/States", "ServiceIntegrationRunTime", "Average", (("R", arn),))
    panel = Panel("emr", "EMR", "timeseries", metric=metric)
    board = Dashboard("d", "D", (Row("r", (panel,)),))
    gov = grafana_dashboard(board, **{**OPTIONS, "region": "us-gov-west-1"})
    (target,) = _by_key(gov)["emr"]["targets"]
    assert target["dimensions"] == {"R": "arn:aws-us-gov:states:::emr-serverless:startJobRun.sync"}
    (target,) = _by_key(grafana_dashboard(board, **OPTIONS))["emr"]["targets"]
    assert target["dimensions"] == {"R": arn}


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_dashboards_open_on_a_range_cloudwatch_answers(case: str) -> None:
    # A 300 s period has no datapoints for a range starting over 63 days ago (MetricStat).
    for model, grafana in _rendered(case):
        metrics = [p.metric for p in model.panels if p.metric is not None]
        if metrics:
            assert grafana["time"] == {"from": "now-7d", "to": "now"}
            assert all(m.period_seconds % 60 == 0 for m in metrics)
        else:
            assert grafana["time"] == {"from": "now-2y", "to": "now"}
            (board, options) = (model, {**OPTIONS, "time_from": "now-30y"})
            assert grafana_dashboard(board, **options)["time"] == {"from": "now-30y", "to": "now"}
