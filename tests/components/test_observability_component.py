"""Alarms and cost guardrails under Pulumi mocks: the alarm topic and its policy, the lake-wide
alarms, the CloudWatch dashboard generated from the operations panels, the budget, the Spark
job timeout, the Kinesis shard cap, and the settings refused before any resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.preview import ACCOUNT_ID, run_program
from datalake.dashboards.cloudwatch import dashboard_body
from datalake.dashboards.model import ANY_VALUE
from datalake.dashboards.operations import operations_dashboard
from datalake.domain import default_domain_path, load_domain
from datalake.settings import SettingsError, load_settings
from datalake.stack import domain_issues
from tests.components.inventory import ALARM, STATE_MACHINE, Inventory, run_stack, with_lake

REGION = "eu-west-1"
DOMAIN = load_domain(default_domain_path())
TABLE = next(iter(DOMAIN.tables))
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
BUDGET = "aws:budgets/budget:Budget"
KEY = "aws:kms/key:Key"
OWN_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:lake-alerts"


@pytest.fixture(scope="module")
def dev(dev_resources) -> Inventory:
    return Inventory(dev_resources)


@pytest.fixture(scope="module")
def tuned() -> Inventory:
    """Dev with streaming on, gold on its own application and freshness alarms on a table."""
    return run_stack(
        with_lake(
            streaming={"enabled": True},
            gold={"reuse_silver_application": False},
            observability={
                "freshness_hours": {TABLE: 6},
                "quarantine_rate_threshold": 0.1,
                "athena_scan_limit_gb": 500,
                "athena_scan_period_hours": 6,
                "budget": {"monthly_limit_usd": 250, "actual_percent": [50, 90]},
            },
            silver={"emr": {"job_timeout_minutes": 90}},
        )
    )


def lake_wide(lake: Inventory) -> dict[str, dict[str, Any]]:
    """The observability component's alarms by physical name."""
    children = {r.urn for r in lake.children_of("datalake:index:LakeObservability")}
    return {a.inputs["name"]: a.inputs for a in lake.of_type(ALARM) if a.urn in children}


# --- the topic -----------------------------------------------------------------------------


def test_without_a_topic_in_the_settings_one_is_created_with_the_lake_key(dev):
    topic = dev.one(TOPIC)
    assert topic.inputs["name"] == "datalake-dev-alarms"
    assert (
        topic.inputs["kmsMasterKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-storage-key"
    )


def test_every_alarm_and_the_budget_notify_the_created_topic(dev):
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:datalake-dev-alarms"
    alarms = dev.of_type(ALARM)
    assert len(alarms) > 10
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name
    for notification in dev.one(BUDGET).inputs["notifications"]:
        assert notification["subscriberSnsTopicArns"] == [topic_arn]


def _topic_statements(lake) -> dict[str, dict]:
    policy = json.loads(lake.one(TOPIC_POLICY).inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_the_topic_policy_lets_the_lakes_alarms_and_the_accounts_budgets_publish(dev):
    statements = _topic_statements(dev)
    alarms, budgets = statements["LakeAlarmsPublish"], statements["BudgetsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == budgets["Action"] == "sns:Publish"
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:datalake-dev-*"
    )
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT_ID}:*"},
    }


def test_the_lake_key_and_the_topic_name_the_same_sources_for_each_publisher(dev):
    key = json.loads(dev.one(KEY).inputs["policy"])["Statement"]
    topic = _topic_statements(dev)
    for key_sid, topic_sid in (
        ("LakeAlarmsToTheTopic", "LakeAlarmsPublish"),
        ("BudgetsToTheTopic", "BudgetsPublish"),
    ):
        (on_key,) = [s for s in key if s["Sid"] == key_sid]
        assert on_key["Principal"] == topic[topic_sid]["Principal"]
        assert on_key["Condition"] == topic[topic_sid]["Condition"]


def test_a_topic_in_the_settings_is_used_and_none_is_created():
    lake = run_stack(with_lake(observability={"alarm_topic_arn": OWN_TOPIC}))
    assert lake.of_type(TOPIC) == [] and lake.of_type(TOPIC_POLICY) == []
    for alarm in lake.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == [OWN_TOPIC]


# --- the alarms ----------------------------------------------------------------------------


def test_the_layers_alarms_remain_one_per_state_machine_and_queue(dev):
    machines = dev.of_type(STATE_MACHINE)
    failed = [a for a in dev.of_type(ALARM) if a.inputs.get("metricName") == "ExecutionsFailed"]
    assert len(failed) == len(machines)
    queues = [
        a
        for a in dev.of_type(ALARM)
        if a.inputs.get("metricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(queues) == len(dev.of_type("aws:sqs/queue:Queue"))
    assert [
        a for a in dev.of_type(ALARM) if a.inputs.get("metricName") == "IngestAttemptsExhausted"
    ]


def test_default_lake_wide_alarms(dev):
    alarms = lake_wide(dev)
    assert set(alarms) == {
        "datalake-dev-emr-silver-failed-jobs",
        "datalake-dev-bronze-quarantine-rate",
        "datalake-dev-athena-data-usage",
    }
    emr = alarms["datalake-dev-emr-silver-failed-jobs"]
    assert (emr["namespace"], emr["metricName"]) == ("AWS/EMRServerless", "FailedJobs")
    assert set(emr["dimensions"]) == {"ApplicationId"}


def test_emr_and_firehose_alarms_follow_the_applications_and_the_stream(tuned):
    alarms = lake_wide(tuned)
    assert {"datalake-dev-emr-silver-failed-jobs", "datalake-dev-emr-gold-failed-jobs"} <= set(
        alarms
    )
    firehose = alarms["datalake-dev-streaming-delivery-errors"]
    assert (firehose["namespace"], firehose["metricName"]) == (
        "AWS/Firehose",
        "DeliveryToS3.Success",
    )
    assert firehose["dimensions"] == {"DeliveryStreamName": "datalake-dev-cdc-delivery"}
    assert (firehose["comparisonOperator"], firehose["threshold"]) == ("LessThanThreshold", 1)


def test_the_quarantine_rate_is_metric_math_over_the_lakes_rows(tuned):
    alarm = lake_wide(tuned)["datalake-dev-bronze-quarantine-rate"]
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["rate"]["expression"] == "IF(in > 0, quarantined / in)"
    assert queries["rate"]["returnData"] is True
    for outcome in ("in", "quarantined"):
        metric = queries[outcome]["metric"]
        assert (metric["namespace"], metric["metricName"]) == ("DataLake/Ingestion", "Rows")
        assert metric["dimensions"] == {"Layer": "bronze", "Outcome": outcome}
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (0.1, "GreaterThanThreshold")
    assert "period" not in alarm


def test_freshness_alarms_per_table_count_missing_hours_as_breaching(tuned):
    alarm = lake_wide(tuned)[f"datalake-dev-raw-{TABLE}-freshness"]
    assert (alarm["namespace"], alarm["metricName"]) == ("DataLake/Ingestion", "Files")
    assert alarm["dimensions"] == {"Layer": "bronze", "Status": "pending", "Table": TABLE}
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (
        3600,
        6,
        6,
    )
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["comparisonOperator"] == "LessThanThreshold"


def test_the_athena_workgroup_has_a_data_usage_alarm_next_to_its_per_query_cutoff(tuned):
    alarm = lake_wide(tuned)["datalake-dev-athena-data-usage"]
    (workgroup,) = tuned.of_type("aws:athena/workgroup:Workgroup")
    assert alarm["dimensions"] == {"WorkGroup": workgroup.inputs["name"]}
    assert (alarm["metricName"], alarm["statistic"]) == ("ProcessedBytes", "Sum")
    assert alarm["threshold"] == 500 * 1024**3
    assert alarm["period"] == 6 * 3600
    assert workgroup.inputs["configuration"]["bytesScannedCutoffPerQuery"] > 0


# --- the dashboard -------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True])
def test_every_metric_panel_of_the_model_has_a_widget(streaming):
    model = operations_dashboard(DOMAIN, streaming=streaming)
    body = dashboard_body(model, region=REGION, workgroup="wg")
    widgets = [w for w in body["widgets"] if w["type"] == "metric"]
    panels = [p for p in model.panels if p.metric is not None]
    assert [w["properties"]["title"] for w in widgets] == [p.title for p in panels]
    for widget, panel in zip(widgets, panels, strict=True):
        assert panel.metric is not None
        (entry,) = widget["properties"]["metrics"]
        if any(v == ANY_VALUE for _, v in panel.metric.dimensions):
            assert entry[0]["expression"].startswith("SEARCH('{" + panel.metric.namespace)
            assert f'MetricName="{panel.metric.metric}"' in entry[0]["expression"]
        else:
            assert entry[:2] == [panel.metric.namespace, panel.metric.metric]
        view = "singleValue" if panel.visual == "stat" else "timeSeries"
        assert widget["properties"]["view"] == view
    headers = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert headers == [f"## {row.title}" for row in model.rows]


def test_widgets_do_not_overlap_and_fit_the_grid():
    body = dashboard_body(
        operations_dashboard(DOMAIN, streaming=True), region=REGION, workgroup="w"
    )
    cells = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells
                cells.add((x, y))


def test_the_program_declares_the_dashboard_with_the_workgroup_filled_in(tuned):
    dashboard = tuned.one(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "datalake-dev-operations"
    body = json.loads(dashboard.inputs["dashboardBody"])
    (workgroup,) = tuned.of_type("aws:athena/workgroup:Workgroup")
    expected = dashboard_body(
        operations_dashboard(DOMAIN, streaming=True),
        region=REGION,
        workgroup=workgroup.inputs["name"],
    )
    assert body == expected


# --- the budget ----------------------------------------------------------------------------


def test_the_budget_is_filtered_to_the_lakes_tags_with_its_thresholds(tuned):
    budget = tuned.one(BUDGET).inputs
    assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == (
        "COST",
        "MONTHLY",
        "USD",
    )
    assert budget["limitAmount"] == "250.00"
    tags = [operand["tags"] for operand in budget["filterExpression"]["ands"]]
    assert {(t["key"], t["values"][0]) for t in tags} == {
        ("project", "datalake"),
        ("environment", "dev"),
    }
    kinds = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert kinds == {("ACTUAL", 50), ("ACTUAL", 90), ("FORECASTED", 100)}


def test_no_budget_when_its_limit_is_null():
    lake = run_stack(with_lake(observability={"budget": {"monthly_limit_usd": None}}))
    assert lake.of_type(BUDGET) == []


# --- the Spark job timeout -----------------------------------------------------------------


def _job_runs(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("Resource", "")).endswith("emr-serverless:startJobRun.sync"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    return found


@pytest.mark.parametrize(("lake", "minutes"), [("dev", 240), ("tuned", 90)])
def test_every_job_run_has_the_settings_execution_timeout(lake, minutes, request):
    inventory = request.getfixturevalue(lake)
    runs = [run for d in inventory.definitions().values() for run in _job_runs(d)]
    assert len(runs) >= 3  # silver merge, silver maintenance, gold marts
    for run in runs:
        assert run["Parameters"]["ExecutionTimeoutMinutes"] == minutes


# --- settings errors -----------------------------------------------------------------------


def _paths(config: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(config, project="datalake", environment="dev")
    return [issue.path for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("config", "path"),
    [
        (
            {"observability": {"quarantine_rate_threshold": 0}},
            "observability.quarantine_rate_threshold",
        ),
        (
            {"observability": {"freshness_hours": {"orders": 0}}},
            "observability.freshness_hours.orders",
        ),
        (
            {"observability": {"athena_scan_period_hours": 5}},
            "observability.athena_scan_period_hours",
        ),
        (
            {"observability": {"budget": {"actual_percent": [80, 80]}}},
            "observability.budget.actual_percent",
        ),
        (
            {"observability": {"budget": {"monthly_limit_usd": -1}}},
            "observability.budget.monthly_limit_usd",
        ),
        ({"silver": {"emr": {"job_timeout_minutes": 1}}}, "silver.emr.job_timeout_minutes"),
        (
            {"streaming": {"stream": {"mode": "provisioned", "shards": 8, "max_shards": 4}}},
            "streaming.stream",
        ),
    ],
    ids=["rate", "hours", "period", "percent-twice", "limit", "timeout", "shards-over-cap"],
)
def test_bad_guardrail_settings_name_their_path(config, path):
    assert f"datalake:lake.{path}" in _paths(config)


def test_on_demand_streams_are_not_refused_by_the_shard_cap():
    settings = load_settings(
        {"streaming": {"stream": {"shards": 8, "max_shards": 4}}},
        project="datalake",
        environment="dev",
    )
    assert settings.streaming.stream.max_shards == 4


def test_a_freshness_table_the_domain_lacks_is_an_error():
    settings = load_settings(
        {"observability": {"freshness_hours": {"no_such_table": 3}}},
        project="datalake",
        environment="dev",
    )
    (issue,) = domain_issues(settings, DOMAIN)
    assert issue.path == "datalake:lake.observability.freshness_hours.no_such_table"


def test_the_program_refuses_too_many_shards_before_any_resource():
    config = with_lake(streaming={"enabled": True, "stream": {"mode": "provisioned", "shards": 9}})
    with pytest.raises(pulumi.RunError, match=r"datalake:lake\.streaming\.stream"):
        run_program("dev", config)


def test_the_dashboards_arns_follow_the_lakes_partition():
    body = dashboard_body(
        operations_dashboard(DOMAIN, streaming=False),
        region="us-gov-west-1",
        workgroup="w",
        partition="aws-us-gov",
    )
    text = json.dumps(body)
    assert "arn:aws-us-gov:states:::emr-serverless:startJobRun.sync" in text
    assert "arn:aws:" not in text
