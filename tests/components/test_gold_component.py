"""GoldMart under Pulumi mocks: compute, least privilege, the machine, starts, Athena, consumers.

The last tests evaluate the consumer's generated IAM policy against concrete requests with
moto (see :func:`test_consumer_policy_decides_concrete_requests` for how and why).
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.api import lint
from moto import mock_aws
from moto.core import enable_iam_authentication
from moto.iam.access_control import IAMPolicy, PermissionResult

from components.asl import JsonPath, states_array
from components.gold import (
    check_no_pii_columns,
    example_queries_markdown,
    example_query,
)
from components.gold_queries import example_description
from components.preview import ACCOUNT_ID, ROOT, Registered, run_program
from components.silver_machine import EVENT_SOURCE, SUCCEEDED_DETAIL_TYPE
from components.spark_bundle import build_spark_job_bundle
from components.spark_tasks import job_retry
from datalake.contracts import Classification, Column, ColumnType
from datalake.domain import default_domain_path, load_domain
from datalake.settings import SettingsError, load_settings
from datalake.stack_file import load_stack_file
from tests.asl import validate_asl
from tests.components.inventory import Inventory, as_list, assert_starts_only, with_lake
from tests.workloads.gold_fixtures import shop_domain

REGION = "eu-west-1"
LAKE = "datalake-dev-lake-eu-west-1"
ARTIFACTS = "datalake-dev-artifacts-eu-west-1"
OBSERVER = "datalake-dev-observer-eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-storage-key"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}"
WORKGROUP = "datalake-dev-gold-consumers"
COMPONENT = "datalake:index:GoldMart"
MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
GRANT = "aws:lakeformation/permissions:Permissions"
APPLICATION = "aws:emrserverless/application:Application"
SPARK_RUNTIME = "datalake:index:SparkRuntime"
DOMAIN = load_domain(default_domain_path())
"""The domain the dev and prod stacks deploy (the beer example, the default)."""
MART_NAMES = [mart.name for mart in DOMAIN.marts]


def with_gold(**gold: Any) -> dict[str, Any]:
    return with_lake(gold=gold)


@pytest.fixture(scope="module")
def variant_resources() -> list[Registered]:
    """The dev stack with every optional gold branch on: own application, schedule, demo user."""
    return run_program(
        "dev",
        with_gold(
            reuse_silver_application=False,
            schedule="cron(0 5 * * ? *)",
            demo_user=True,
            max_concurrency=3,
        ),
    )


@pytest.fixture(scope="module")
def dev_settings():
    return load_stack_file(ROOT / "Pulumi.dev.yaml")


# --- compute -------------------------------------------------------------------------------


def test_gold_reuses_the_silver_application_by_default(dev_resources):
    (application,) = Inventory(dev_resources).of_type(APPLICATION)  # silver's, and no other
    assert application.name == "silver-spark"
    states = Inventory(dev_resources).definition("gold-marts")["States"]
    build = states["BuildMarts"]["ItemProcessor"]["States"]["BuildMart"]["Parameters"]
    app_id = "00" + hashlib.sha256(b"silver-spark").hexdigest()[:14]
    assert build["ApplicationId"] == app_id
    start = Inventory(dev_resources).policy("gold-marts-policy")["StartSparkJobs"]
    assert start["Resource"].endswith(f"/applications/{app_id}")


def test_own_application_has_the_silver_emr_settings(variant_resources, dev_settings):
    applications = {a.name: a for a in Inventory(variant_resources).of_type(APPLICATION)}
    assert set(applications) == {"silver-spark", "gold-spark"}
    silver, gold = applications["silver-spark"].inputs, applications["gold-spark"].inputs
    assert gold["name"] == "datalake-dev-gold-spark"
    same = ("type", "releaseLabel", "architecture", "maximumCapacity")
    assert {k: gold[k] for k in same} == {k: silver[k] for k in same}
    assert gold["autoStopConfiguration"] == {
        "enabled": True,
        "idleTimeoutMinutes": dev_settings.silver.emr.idle_timeout_minutes,
    }
    assert gold["tags"] == {"layer": "gold"}
    # in the gold component, through its Spark runtime
    lake = Inventory(variant_resources)
    assert applications["gold-spark"].urn in {r.urn for r in lake.children_of(COMPONENT)}
    assert applications["gold-spark"].parent == lake.named(SPARK_RUNTIME, "gold").urn
    build = Inventory(variant_resources).definition("gold-marts")["States"]["BuildMarts"][
        "ItemProcessor"
    ]["States"]
    app_id = "00" + hashlib.sha256(b"gold-spark").hexdigest()[:14]
    assert build["BuildMart"]["Parameters"]["ApplicationId"] == app_id


# --- the job -------------------------------------------------------------------------------


def test_job_role_reads_silver_writes_gold_and_nothing_else_of_the_lake(dev_resources):
    role = Inventory(dev_resources).named(ROLE, "gold-spark-job-role")
    assert role.inputs["name"] == "datalake-dev-gold-spark-job"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    statements = Inventory(dev_resources).policy("gold-spark-job-policy")
    assert statements["ReadSilver"]["Action"] == ["s3:GetObject"]
    assert statements["ReadSilver"]["Resource"] == [f"arn:aws:s3:::{LAKE}/silver/*"]
    assert statements["ReadWriteGold"]["Resource"] == [f"arn:aws:s3:::{LAKE}/gold/*"]
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(statements["ReadWriteGold"]["Action"])
    assert statements["ListSilverAndGold"]["Condition"] == {
        "StringLike": {"s3:prefix": ["silver/", "silver/*", "gold/", "gold/*"]}
    }
    assert statements["ReadCodeAndManifests"]["Resource"] == [
        f"arn:aws:s3:::{ARTIFACTS}/gold/jobs/*",
        f"arn:aws:s3:::{ARTIFACTS}/gold/runs/*",
    ]
    writes = [
        resource
        for s in statements.values()
        if {"s3:PutObject", "s3:DeleteObject"} & set(as_list(s["Action"]))
        for resource in as_list(s["Resource"])
    ]
    assert writes == [f"arn:aws:s3:::{LAKE}/gold/*", f"arn:aws:s3:::{OBSERVER}/emr-logs/gold/*"]
    everything = json.dumps(statements)
    assert "bronze" not in everything and "quarantine" not in everything
    for statement in statements.values():
        if any(a.startswith("s3:") for a in as_list(statement["Action"])):
            assert "*" not in as_list(statement["Resource"]), statement["Sid"]
    assert statements["LakeFormationDataAccess"]["Action"] == "lakeformation:GetDataAccess"


def test_job_role_reads_the_silver_catalog_and_writes_the_gold_one(dev_resources):
    statements = Inventory(dev_resources).policy("gold-spark-job-policy")
    silver, gold = statements["ReadSilverCatalog"], statements["GoldCatalog"]
    assert silver["Resource"] == [
        f"{GLUE}:catalog",
        f"{GLUE}:database/datalake_dev_silver",
        f"{GLUE}:table/datalake_dev_silver/*",
    ]
    assert all(a.startswith("glue:Get") for a in silver["Action"])
    assert gold["Resource"] == [
        f"{GLUE}:catalog",
        f"{GLUE}:database/datalake_dev_gold",
        f"{GLUE}:table/datalake_dev_gold/*",
    ]
    assert {"glue:CreateTable", "glue:UpdateTable"} <= set(gold["Action"])
    grants = {
        r.name: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == GRANT and r.name.startswith("gold-job-")
    }
    assert {g["principal"] for g in grants.values()} == {
        f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-gold-spark-job"
    }
    assert grants["gold-job-silver-tables-grant"]["permissions"] == ["SELECT", "DESCRIBE"]
    assert grants["gold-job-silver-database-grant"]["permissions"] == ["DESCRIBE"]
    assert grants["gold-job-gold-location-grant"]["dataLocation"] == {
        "arn": f"arn:aws:s3:::{LAKE}/gold"
    }
    assert "bronze" not in json.dumps(grants)


def test_job_code_is_uploaded_content_addressed(dev_resources):
    objects = {
        r.name: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:s3/bucketObjectv2:BucketObjectv2"
    }
    script, modules = objects["gold-job-script"], objects["gold-job-modules"]
    bundle = build_spark_job_bundle(ROOT / "workloads" / "gold" / "spark_job.py")
    assert script["bucket"] == modules["bucket"] == ARTIFACTS
    assert script["key"] == f"gold/jobs/{bundle.digest}/spark_job.py"
    assert modules["key"] == f"gold/jobs/{bundle.digest}/gold_job_modules.zip"
    assert script["sourceHash"] == bundle.entry_sha256
    assert modules["sourceHash"] == bundle.zip_sha256 and "etag" not in modules


def test_the_bundle_ships_modules_the_job_imports_from_a_sibling_package(tmp_path):
    top = tmp_path / "workloads"
    for package in ("gold", "silver", "bronze"):
        (top / package).mkdir(parents=True)
        (top / package / "__init__.py").write_text("")
    (top / "__init__.py").write_text("")
    (top / "silver" / "spark_job.py").write_text("def ensure_table():\n    pass\n")
    (top / "bronze" / "unused.py").write_text("")
    entry = top / "gold" / "spark_job.py"
    entry.write_text("from workloads.silver.spark_job import ensure_table\n")
    assert sorted(build_spark_job_bundle(entry).modules) == [
        "workloads/__init__.py",
        "workloads/silver/__init__.py",
        "workloads/silver/spark_job.py",
    ]


def test_the_gold_bundle_ships_the_module_both_spark_jobs_share():
    bundle = build_spark_job_bundle(ROOT / "workloads" / "gold" / "spark_job.py")
    assert "workloads/shared/spark_common.py" in bundle.modules
    assert "workloads/shared/__init__.py" in bundle.modules
    assert not [m for m in bundle.modules if m.startswith("workloads/silver/")]


@pytest.mark.parametrize("fixture", ["dev_resources", "prod_resources", "variant_resources"])
def test_the_gold_definition_is_valid_asl(fixture, request):
    assert validate_asl(Inventory(request.getfixturevalue(fixture)).definition("gold-marts")) == []


# --- Lambdas -------------------------------------------------------------------------------


def test_lambdas_run_the_gold_handlers_with_one_role_each(dev_resources):
    functions = {
        f.name: f.inputs
        for f in Inventory(dev_resources).children_of(COMPONENT)
        if f.type == "aws:lambda/function:Function"
    }
    assert {n: f["handler"] for n, f in functions.items()} == {
        "gold-plan": "workloads.gold.handlers.plan_handler",
        "gold-finish": "workloads.gold.handlers.finish_handler",
        "gold-fail": "workloads.gold.handlers.fail_handler",
    }
    assert len({f["role"] for f in functions.values()}) == 3
    for function in functions.values():
        env = function["environment"]["variables"]
        assert env["CONTROL_TABLE"] == "datalake-dev-processing-control"
        assert env["ARTIFACTS_BUCKET"] == ARTIFACTS
        # The domain the catalog published: the plan renders the marts' SQL from it.
        assert env["DATALAKE_DOMAIN"] == f"s3://{ARTIFACTS}/domain/{DOMAIN.digest}.json"
        assert function["loggingConfig"]["logGroup"].startswith("/aws/lambda/datalake-dev-gold-")
    for purpose in ("plan", "finish", "fail"):
        statements = Inventory(dev_resources).policy(f"gold-{purpose}-policy")
        assert statements["ControlRecords"]["Resource"][1].endswith("processing-control/index/*")
        assert statements["UseLakeKey"]["Resource"] == KEY_ARN
        assert statements["WriteOwnLogs"]["Resource"][0].endswith(f"datalake-dev-gold-{purpose}")
        extra = set(statements) - {"ControlRecords", "UseLakeKey", "WriteOwnLogs"}
        # The planner reads the domain and writes the run's manifest of marts for the Spark job.
        assert extra == ({"WriteManifests", "ReadDomain"} if purpose == "plan" else set())
    domain = Inventory(dev_resources).policy("gold-plan-policy")["ReadDomain"]
    assert domain["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/domain/*"]
    manifests = Inventory(dev_resources).policy("gold-plan-policy")["WriteManifests"]
    assert manifests["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/gold/runs/*"]


def test_log_groups_are_encrypted_with_retention(dev_resources):
    groups = {
        r.inputs["name"]: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    assert set(groups) == {
        "/aws/emr-serverless/datalake-dev-gold-spark",
        "/aws/lambda/datalake-dev-gold-plan",
        "/aws/lambda/datalake-dev-gold-finish",
        "/aws/lambda/datalake-dev-gold-fail",
        "/aws/vendedlogs/states/datalake-dev-gold-marts",
    }
    assert all(g["retentionInDays"] == 30 and g["kmsKeyId"] == KEY_ARN for g in groups.values())


# --- the state machine ---------------------------------------------------------------------


def test_machine_plans_then_maps_over_the_marts_the_plan_returns(dev_resources):
    machine = Inventory(dev_resources).named(MACHINE, "gold-marts")
    assert machine.inputs["name"] == "datalake-dev-gold-marts"
    assert machine.inputs["type"] == "STANDARD"
    document = Inventory(dev_resources).definition("gold-marts")
    states = document["States"]
    assert document["StartAt"] == "Plan"
    plan = states["Plan"]
    assert plan["Parameters"]["FunctionName"].endswith("datalake-dev-gold-plan")
    # The marts of the views with pending partitions, from the domain the plan reads.
    assert plan["ResultSelector"] == {
        "run_id.$": "$.Payload.run_id",
        "marts.$": "$.Payload.marts",
        "control_ids.$": "$.Payload.control_ids",
        "manifest.$": "$.Payload.manifest",
    }
    assert plan["ResultPath"] == "$.plan" and plan["Next"] == "AnyPending"
    pending = states["AnyPending"]
    assert pending["Choices"] == [
        {"Variable": "$.plan.marts[0]", "IsPresent": True, "Next": "BuildMarts"}
    ]
    assert states[pending["Default"]]["Type"] == "Succeed"
    marts = states["BuildMarts"]
    assert marts["Type"] == "Map" and marts["ItemsPath"] == "$.plan.marts"
    assert marts["ItemSelector"] == {"mart.$": "$$.Map.Item.Value", "manifest.$": "$.plan.manifest"}
    assert marts["MaxConcurrency"] == 5
    assert marts["Next"] == "AnyMartFailed"


def test_each_mart_runs_on_spark_with_retry_and_a_catch_that_spares_the_others(
    dev_resources, dev_settings
):
    processor = Inventory(dev_resources).definition("gold-marts")["States"]["BuildMarts"][
        "ItemProcessor"
    ]
    states = processor["States"]
    build = states[processor["StartAt"]]
    assert build["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    parameters = build["Parameters"]
    assert parameters["Name.$"] == "States.Format('gold-{}', $.mart)"
    assert parameters["ExecutionRoleArn"].endswith(":role/datalake-dev-gold-spark-job")
    submit = parameters["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"].startswith(f"s3://{ARTIFACTS}/gold/jobs/")
    assert submit["EntryPoint"].endswith("/spark_job.py")
    assert f"spark.sql.catalog.glue.warehouse=s3://{LAKE}/gold/" in submit["SparkSubmitParameters"]
    assert (
        submit["EntryPointArguments.$"]
        == states_array(
            [
                *("--mode", "marts", "--mart", JsonPath("$.mart")),
                *("--manifest", JsonPath("$.manifest")),
                *("--source-database", "datalake_dev_silver"),
                *("--catalog", "glue", "--database", "datalake_dev_gold"),
            ]
        ).expression
    )
    logging = parameters["ConfigurationOverrides"]["MonitoringConfiguration"]
    assert logging["S3MonitoringConfiguration"] == {"LogUri": f"s3://{OBSERVER}/emr-logs/gold/"}
    ingestion = dev_settings.ingestion
    assert build["Retry"] == [
        retry.to_asl()
        for retry in job_retry(
            max_attempts=ingestion.max_attempts,
            interval_seconds=ingestion.retry_interval_seconds,
            backoff_rate=ingestion.retry_backoff_rate,
        )
    ]
    assert build["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "MartFailed"}
    ]
    assert states["MartFailed"] == {
        "Type": "Pass",
        "Parameters": {"mart.$": "$.mart", "status": "error", "error.$": "$.failure"},
        "End": True,
    }
    assert states[build["Next"]]["Parameters"] == {"mart.$": "$.mart", "status": "success"}


def test_a_failed_mart_records_the_failure_and_fails_the_run(dev_resources):
    states = Inventory(dev_resources).definition("gold-marts")["States"]
    assert states["BuildMarts"]["ResultSelector"] == {
        "results.$": "$",
        "failed.$": "$[?(@.status == 'error')]",
    }
    decide = states["AnyMartFailed"]
    assert decide["Choices"] == [
        {"Variable": "$.marts.failed[0]", "IsPresent": True, "Next": "MartsFailed"}
    ]
    assert decide["Default"] == "Finish"
    summary = states["MartsFailed"]
    assert summary["Parameters"]["Cause.$"] == "States.JsonToString($.marts.failed)"
    assert (summary["ResultPath"], summary["Next"]) == ("$.failure", "RecordFailure")
    record = states["RecordFailure"]
    assert record["Parameters"]["FunctionName"].endswith("datalake-dev-gold-fail")
    assert record["Parameters"]["Payload"] == {
        "run_id.$": "$.plan.run_id",
        "control_ids.$": "$.plan.control_ids",
        "error.$": "$.failure",
    }
    assert record["Next"] == record["Catch"][0]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"
    finish = states["Finish"]
    assert finish["Parameters"]["FunctionName"].endswith("datalake-dev-gold-finish")
    assert finish["Parameters"]["Payload"] == {
        "run_id.$": "$.plan.run_id",
        "control_ids.$": "$.plan.control_ids",
    }
    assert finish["End"] is True and finish["Catch"][0]["Next"] == "RecordFailure"


def test_the_definition_is_valid_amazon_states_language(dev_resources):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Gold": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/gold",
                    "Definition": Inventory(dev_resources).definition("gold-marts"),
                },
            }
        },
    }
    assert [str(m) for m in lint(json.dumps(template))] == []


def test_concurrency_follows_settings(variant_resources):
    assert (
        Inventory(variant_resources).definition("gold-marts")["States"]["BuildMarts"][
            "MaxConcurrency"
        ]
        == 3
    )
    with pytest.raises(SettingsError, match=r"datalake:lake\.gold\.max_concurrency"):
        load_settings({"gold": {"max_concurrency": 41}}, project="datalake", environment="dev")


def test_machine_role_is_least_privilege(dev_resources):
    statements = Inventory(dev_resources).policy("gold-marts-policy")
    functions = statements["InvokeGoldFunctions"]["Resource"]
    assert len(functions) == 6  # three functions and their versions
    assert all("datalake-dev-gold-" in f for f in functions)
    assert statements["PassJobRole"]["Resource"].endswith(":role/datalake-dev-gold-spark-job")
    assert statements["WatchSparkJobs"]["Resource"] == (
        statements["StartSparkJobs"]["Resource"] + "/jobruns/*"
    )
    wildcard = {s["Sid"] for s in statements.values() if "*" in as_list(s["Resource"])}
    assert wildcard == {"DeliverLogs"}


# --- starts --------------------------------------------------------------------------------


def test_the_silver_success_event_starts_gold(dev_resources):
    rule = Inventory(dev_resources).named("aws:cloudwatch/eventRule:EventRule", "gold-after-silver")
    assert rule.inputs["name"] == "datalake-dev-gold-after-silver"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": [EVENT_SOURCE],
        "detail-type": [SUCCEEDED_DETAIL_TYPE],
        "detail": {"database": ["datalake_dev_silver"]},  # this lake's silver only
    }
    (target,) = Inventory(dev_resources).of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["rule"] == "datalake-dev-gold-after-silver"
    assert target.inputs["arn"].endswith("datalake-dev-gold-marts")
    assert target.inputs["roleArn"].endswith(":role/datalake-dev-gold-after-silver")
    role = Inventory(dev_resources).named(ROLE, "gold-after-silver-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert_starts_only(
        Inventory(dev_resources).policy("gold-after-silver-policy"), target.inputs["arn"]
    )


def test_schedule_only_when_set(dev_resources, variant_resources):
    def gold_schedules(resources: list[Registered]) -> list[dict[str, Any]]:
        return [
            r.inputs
            for r in Inventory(resources).children_of(COMPONENT)
            if r.type == "aws:scheduler/schedule:Schedule"
        ]

    assert gold_schedules(dev_resources) == []
    (schedule,) = gold_schedules(variant_resources)
    assert schedule["name"] == "datalake-dev-gold-marts"
    assert schedule["scheduleExpression"] == "cron(0 5 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["target"]["arn"].endswith("datalake-dev-gold-marts")
    assert schedule["target"]["roleArn"].endswith(":role/datalake-dev-gold-marts-start")
    start = Inventory(variant_resources).policy("gold-marts-start-policy")
    dead_letters = schedule["target"]["deadLetterConfig"]["arn"]
    assert dead_letters.endswith(":datalake-dev-gold-marts-schedule-dlq")
    assert_starts_only(start, schedule["target"]["arn"], dead_letters)


# --- Athena --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_workgroup_is_enforced_engine_3_with_encrypted_results_and_a_cutoff(
    stack, dev_resources, prod_resources
):
    resources = dev_resources if stack == "dev" else prod_resources
    (workgroup,) = Inventory(resources).of_type("aws:athena/workgroup:Workgroup")
    assert workgroup.inputs["name"] == f"datalake-{stack}-gold-consumers"
    assert workgroup.inputs["forceDestroy"] is (stack == "dev")  # saved queries block a destroy
    configuration = workgroup.inputs["configuration"]
    assert configuration["engineVersion"] == {"selectedEngineVersion": "Athena engine version 3"}
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert configuration["publishCloudwatchMetricsEnabled"] is True
    observer = "datalake-dev-observer-eu-west-1"
    if stack == "prod":
        observer = "datalake-prod-observer-eu-west-1-123456789012"
    assert (
        configuration["resultConfiguration"]["outputLocation"] == f"s3://{observer}/athena-results/"
    )
    encryption = configuration["resultConfiguration"]["encryptionConfiguration"]
    assert encryption == {"encryptionOption": "SSE_KMS", "kmsKeyArn": KEY_ARN}
    cutoff_mb = 10_240 if stack == "dev" else 51_200  # default; Pulumi.prod.yaml
    assert configuration["bytesScannedCutoffPerQuery"] == cutoff_mb * 1024 * 1024


def test_one_named_query_per_mart_built_from_its_declaration(dev_resources):
    declared = Inventory(dev_resources).of_type("aws:athena/namedQuery:NamedQuery")
    queries = {q.inputs["name"]: q.inputs for q in declared}
    assert sorted(queries) == sorted(MART_NAMES)
    for mart in DOMAIN.marts:
        query = queries[mart.name]
        assert query["workgroup"] == WORKGROUP
        assert query["database"] == "datalake_dev_gold"
        assert query["query"] == example_query(mart, DOMAIN)
        assert query["description"] == f"{mart.description} Top 10 of one month."
    assert queries["top_beers_by_rating"]["query"] == (
        "SELECT * FROM top_beers_by_rating WHERE review_year = 2012 AND review_month = 1 "
        "ORDER BY avg_rating DESC, total_reviews DESC LIMIT 10"
    )


def test_named_queries_follow_the_period_of_any_domain(tmp_path):
    shop = shop_domain(tmp_path)
    daily, monthly = shop.mart("store_day"), shop.mart("visits_month")
    assert example_query(daily, shop) == (
        "SELECT * FROM store_day WHERE sold_year = 2012 AND sold_month = 1 AND sold_day = 1 "
        "ORDER BY revenue DESC, units DESC LIMIT 10"
    )
    assert example_description(daily, shop) == "Sales per store and day. Top 10 of one day."
    assert example_query(monthly, shop) == (
        "SELECT * FROM visits_month WHERE visit_year = 2012 AND visit_month = 1 "
        "ORDER BY visits DESC LIMIT 10"
    )
    check_no_pii_columns(shop.marts)


def test_the_consuming_doc_shows_every_mart_query():
    doc = (ROOT / "docs" / "consuming.md").read_text()
    marts = example_queries_markdown(DOMAIN)
    assert marts in doc, "regenerate the marts section of docs/consuming.md"
    for mart in DOMAIN.marts:
        assert example_query(mart, DOMAIN) in doc


# --- consumers: IAM ------------------------------------------------------------------------


def consumer_document(resources: list[Registered]) -> dict[str, Any]:
    return json.loads(
        Inventory(resources).named(ROLE_POLICY, "gold-consumer-policy").inputs["policy"]
    )


def test_consumer_role_trusts_the_configured_consumers_or_the_account(
    dev_resources, prod_resources
):
    def trust(resources: list[Registered]) -> dict[str, Any]:
        role = Inventory(resources).named(ROLE, "gold-consumer-role")
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        return statement["Principal"]

    assert Inventory(dev_resources).named(ROLE, "gold-consumer-role").inputs["name"] == (
        "datalake-dev-gold-consumer"
    )
    assert trust(dev_resources) == {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root"]}
    assert trust(prod_resources) == {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:role/AnalystsReadOnly"]}


def test_consumer_policy_is_exactly_athena_glue_gold_results_and_key(dev_resources):
    statements = {s["Sid"]: s for s in consumer_document(dev_resources)["Statement"]}
    athena = statements["QueryInGoldWorkgroup"]
    assert set(athena["Action"]) == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
        "athena:ListNamedQueries",
        "athena:GetNamedQuery",
        "athena:BatchGetNamedQuery",
    }
    assert athena["Resource"] == f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{WORKGROUP}"
    glue = statements["ReadGoldCatalog"]
    assert set(glue["Action"]) == {
        "glue:GetDatabase",
        "glue:GetDatabases",
        "glue:GetTable",
        "glue:GetTables",
        "glue:GetPartitions",
    }
    assert glue["Resource"] == [
        f"{GLUE}:catalog",
        f"{GLUE}:database/datalake_dev_gold",
        f"{GLUE}:table/datalake_dev_gold/*",
    ]
    assert statements["LakeFormationDataAccess"] == {
        "Sid": "LakeFormationDataAccess",
        "Effect": "Allow",
        "Action": "lakeformation:GetDataAccess",
        "Resource": "*",
    }
    assert statements["ReadWriteQueryResults"]["Resource"] == (
        f"arn:aws:s3:::{OBSERVER}/athena-results/*"
    )
    assert statements["LocateResultsBucket"]["Action"] == "s3:GetBucketLocation"
    assert statements["UseLakeKeyForResults"]["Resource"] == KEY_ARN
    assert statements["UseLakeKeyForResults"]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [f"s3.{REGION}.amazonaws.com", f"athena.{REGION}.amazonaws.com"]
        }
    }
    assert LAKE not in json.dumps(statements)  # no S3 statement on the lake bucket at all
    s3 = {sid for sid, s in statements.items() if "s3:" in json.dumps(s["Action"])}
    assert all(OBSERVER in json.dumps(statements[sid]["Resource"]) for sid in s3)


def test_demo_user_only_when_enabled_without_credentials(dev_resources, variant_resources):
    assert Inventory(dev_resources).of_type("aws:iam/user:User") == []
    (user,) = Inventory(variant_resources).of_type("aws:iam/user:User")
    assert user.inputs["name"] == "datalake-dev-gold-demo"
    for kind in ("aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile"):
        assert Inventory(variant_resources).of_type(kind) == []
    (group,) = Inventory(variant_resources).of_type("aws:iam/group:Group")
    assert group.inputs["name"] == "datalake-dev-gold-consumers"
    (membership,) = Inventory(variant_resources).of_type(
        "aws:iam/userGroupMembership:UserGroupMembership"
    )
    assert membership.inputs == {"user": user.inputs["name"], "groups": [group.inputs["name"]]}
    (group_policy,) = Inventory(variant_resources).of_type("aws:iam/groupPolicy:GroupPolicy")
    assert json.loads(group_policy.inputs["policy"]) == consumer_document(variant_resources)
    demo_grants = [r for r in Inventory(variant_resources).of_type(GRANT) if "demo-user" in r.name]
    assert {g.inputs["principal"] for g in demo_grants} == {
        f"arn:aws:iam::{ACCOUNT_ID}:user/datalake-dev-gold-demo"
    }
    assert len(demo_grants) == 2


# --- consumers: Lake Formation -------------------------------------------------------------


def test_layer_tag_and_database_tags(dev_resources):
    tags = {
        r.name: r.inputs for r in Inventory(dev_resources).of_type("aws:lakeformation/lfTag:LfTag")
    }
    # governance owns the layer tag; gold tags the databases with it
    assert tags["governance-layer-tag"] == {
        "key": "datalake-dev-layer",
        "values": ["bronze", "silver", "gold"],
    }
    database_tags = {
        r.inputs["database"]["name"]: r.inputs["lfTags"]
        for r in Inventory(dev_resources).of_type("aws:lakeformation/resourceLfTags:ResourceLfTags")
        if "database" in r.inputs
    }
    assert database_tags == {
        "datalake_dev_bronze": [{"key": "datalake-dev-layer", "value": "bronze"}],
        "datalake_dev_silver": [{"key": "datalake-dev-layer", "value": "silver"}],
        "datalake_dev_gold": [
            {"key": "datalake-dev-layer", "value": "gold"},
            {"key": "datalake-dev-classification", "value": "internal"},
        ],
    }


def test_consumers_get_pii_free_gold_tables_and_the_gold_database(dev_resources):
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-gold-consumer"
    grants = {r.name: r.inputs for r in Inventory(dev_resources).of_type(GRANT)}
    expression = [
        {"key": "datalake-dev-classification", "values": ["public", "internal"]},
        {"key": "datalake-dev-layer", "values": ["gold"]},
    ]
    tables = grants["gold-consumer-tables-grant"]
    assert tables["principal"] == role_arn
    assert tables["permissions"] == ["SELECT", "DESCRIBE"]
    assert tables["lfTagPolicy"] == {"resourceType": "TABLE", "expressions": expression}
    database = grants["gold-consumer-database-grant"]
    assert database["principal"] == role_arn
    assert database["permissions"] == ["DESCRIBE"]
    assert database["lfTagPolicy"] == {"resourceType": "DATABASE", "expressions": expression}
    # Nothing else names the consumer: no grant on a named database, table or location.
    assert sorted(n for n, g in grants.items() if g["principal"] == role_arn) == [
        "gold-consumer-database-grant",
        "gold-consumer-tables-grant",
    ]


def test_no_tag_grant_can_match_bronze_silver_or_pii(dev_resources, variant_resources):
    for resources in (dev_resources, variant_resources):
        policies = [r.inputs.get("lfTagPolicy") for r in Inventory(resources).of_type(GRANT)]
        policies = [p for p in policies if p]
        assert len(policies) in (2, 4)
        for lf_policy in policies:
            terms = {e["key"]: e["values"] for e in lf_policy["expressions"]}
            assert terms["datalake-dev-layer"] == ["gold"]  # never bronze or silver
            assert "pii" not in terms["datalake-dev-classification"]


def test_a_mart_with_a_pii_column_is_refused():
    check_no_pii_columns(DOMAIN.marts)  # the declared marts carry no pii column
    email = Column("email", ColumnType.STRING, classification=Classification.PII)
    leaky = SimpleNamespace(name="contacts", contract=SimpleNamespace(columns=(email,)))
    with pytest.raises(ValueError, match=r"contacts\.email"):
        check_no_pii_columns([leaky])


PII_MART_DOMAIN = """
name: contacts
description: A view that lists a PII column explicitly, and a mart grouped by it.
tables:
  - name: person
    description: People.
    primary_key: [person_id]
    columns:
      - {name: person_id, type: long, nullable: false}
      - {name: email, type: string, classification: pii, pii_type: EMAIL}
      - {name: seen_at, type: long}
views:
  - name: person_view
    description: People by year.
    base: person
    columns: [person_id, email, seen_at]
    period: {column: seen_at, kind: epoch_seconds, parts: [year], prefix: seen}
marts:
  - name: by_email
    description: People per e-mail.
    source: person_view
    grain: [email]
    measures:
      - {name: people, function: count}
"""


def test_a_domain_mart_grouped_by_a_listed_pii_column_is_refused(tmp_path):
    path = tmp_path / "contacts.yaml"
    path.write_text(PII_MART_DOMAIN)
    with pytest.raises(ValueError, match=r"by_email\.email"):
        check_no_pii_columns(load_domain(path).marts)


# --- names and outputs ---------------------------------------------------------------------


def test_every_gold_physical_name_is_planned(variant_resources, dev_settings):
    planned = {name for _, _, name in dev_settings.names.all_names()}
    named_kinds = {
        "aws:iam/role:Role",
        "aws:iam/user:User",
        "aws:iam/group:Group",
        "aws:lambda/function:Function",
        "aws:sfn/stateMachine:StateMachine",
        "aws:scheduler/schedule:Schedule",
        "aws:emrserverless/application:Application",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:athena/workgroup:Workgroup",
    }
    physical = [
        r.inputs["name"]
        for r in Inventory(variant_resources).children_of(COMPONENT)
        if r.type in named_kinds
    ]
    assert len(physical) == 18
    assert sorted(set(physical) - planned) == []


def test_component_registers_its_outputs(dev_resources, variant_resources):
    (component,) = Inventory(dev_resources).of_type(COMPONENT)
    outputs = component.outputs
    assert outputs["state_machine_arn"].endswith("datalake-dev-gold-marts")
    assert outputs["workgroup_name"] == WORKGROUP
    assert outputs["consumer_role_arn"].endswith(":role/datalake-dev-gold-consumer")
    assert outputs["job_role_arn"].endswith(":role/datalake-dev-gold-spark-job")
    assert "demo_user_name" not in outputs
    (variant,) = Inventory(variant_resources).of_type(COMPONENT)
    assert variant.outputs["demo_user_name"] == "datalake-dev-gold-demo"


# --- the consumer policy against concrete requests -----------------------------------------


def denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied", error.response
        return True
    return False


def iam_allows(
    document: str, action: str, resources: list[str], context: dict[str, str] | None = None
) -> bool:
    """moto's IAM policy evaluator: allowed when every resource the request touches is.

    ``context`` holds the request's condition keys as AWS sends them. moto skips a condition
    whose key the request lacks; in AWS such a condition (no ``IfExists``) is false, so a
    statement conditioned on an absent key is dropped before moto evaluates the rest.
    """
    context = context or {}
    policy = json.loads(document)
    policy["Statement"] = [
        s
        for s in policy["Statement"]
        if all(key in context for keys in s.get("Condition", {}).values() for key in keys)
    ]
    evaluated = IAMPolicy(json.dumps(policy))
    return all(
        evaluated.is_action_permitted(action, r, incoming_condition_values=context)
        is PermissionResult.PERMITTED
        for r in resources
    )


@mock_aws
def test_consumer_policy_decides_concrete_requests(variant_resources, monkeypatch):
    """The generated consumer policy, evaluated by moto against concrete requests.

    S3 goes through moto's IAM enforcement end to end: the role's exact inline policy (and the
    demo user's group policy) are created in moto's IAM, requests are signed with the role's
    STS credentials and the user's access key, and moto authorizes each against the object's
    ARN. The consumer is denied every object of the lake bucket, gold/ included: IAM grants it
    nothing there, because Athena reads gold with credentials that Lake Formation vends for
    the tables it granted. What IAM does allow is the results prefix of the observer bucket.

    Glue and Athena cannot go through moto's enforcement: it authorizes every request of those
    services against the resource ``*``, so a policy scoped to the gold database would be
    denied on gold and silver alike. For them the test hands moto's evaluator (the one its
    enforcement uses) the ARNs AWS authorizes for the request, per the Service Authorization
    Reference: GetTable needs the catalog, the database and the table; StartQueryExecution the
    workgroup. Lake Formation's own check comes on top of these and is covered by the grant
    tests above.
    """
    for variable, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(variable, value)
    document = json.dumps(consumer_document(variant_resources))
    (group_policy,) = Inventory(variant_resources).of_type("aws:iam/groupPolicy:GroupPolicy")
    assert json.loads(group_policy.inputs["policy"]) == json.loads(document)
    role = Inventory(variant_resources).named(ROLE, "gold-consumer-role").inputs

    iam, s3 = boto3.client("iam"), boto3.client("s3")
    group, user = "datalake-dev-gold-consumers", "datalake-dev-gold-demo"
    iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=role["assumeRolePolicy"])
    iam.put_role_policy(RoleName=role["name"], PolicyName="consumer", PolicyDocument=document)
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="consumer", PolicyDocument=document)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    user_key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role['name']}", RoleSessionName="analyst"
    )["Credentials"]
    location = {"LocationConstraint": REGION}
    for bucket in (LAKE, OBSERVER):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    lake_keys = [f"{layer}/review_flat/data/part-0.parquet" for layer in ("bronze", "silver")]
    lake_keys.append("gold/top_beers_by_rating/data/part-0.parquet")
    for key in lake_keys:
        s3.put_object(Bucket=LAKE, Key=key, Body=b"rows")
    s3.put_object(Bucket=OBSERVER, Key="athena-results/q-1.csv", Body=b"a,b\n")
    s3.put_object(Bucket=OBSERVER, Key="access-logs/lake/2026-01-01", Body=b"log")

    credentials = {
        "role": {
            "aws_access_key_id": session["AccessKeyId"],
            "aws_secret_access_key": session["SecretAccessKey"],
            "aws_session_token": session["SessionToken"],
        },
        "demo user": {
            "aws_access_key_id": user_key["AccessKeyId"],
            "aws_secret_access_key": user_key["SecretAccessKey"],
        },
    }
    with enable_iam_authentication():
        for who, keys in credentials.items():
            consumer = boto3.client("s3", region_name=REGION, **keys)
            for key in lake_keys:
                assert denied(consumer.get_object, Bucket=LAKE, Key=key), (who, key)
            assert denied(consumer.put_object, Bucket=LAKE, Key="gold/x", Body=b"x"), who
            results = consumer.get_object(Bucket=OBSERVER, Key="athena-results/q-1.csv")
            assert results["Body"].read() == b"a,b\n"
            consumer.put_object(Bucket=OBSERVER, Key="athena-results/q-2.csv", Body=b"c\n")
            key = "access-logs/lake/2026-01-01"
            assert denied(consumer.get_object, Bucket=OBSERVER, Key=key), who

    def table(database: str) -> list[str]:
        return [f"{GLUE}:catalog", f"{GLUE}:database/{database}", f"{GLUE}:table/{database}/t"]

    assert iam_allows(document, "glue:GetTable", table("datalake_dev_gold"))
    assert not iam_allows(document, "glue:GetTable", table("datalake_dev_silver"))
    assert not iam_allows(document, "glue:GetTable", table("datalake_dev_bronze"))
    athena = f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup"
    start = "athena:StartQueryExecution"
    assert iam_allows(document, start, [f"{athena}/{WORKGROUP}"])
    assert not iam_allows(document, start, [f"{athena}/primary"])
    assert not iam_allows(document, "s3:GetObject", [f"arn:aws:s3:::{LAKE}/gold/t/part-0"])
    # The lake key: through S3 (results written and read by Athena) or Athena, never directly.
    for service in ("s3", "athena"):
        via = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
        assert iam_allows(document, "kms:Decrypt", [KEY_ARN], via), service
        assert iam_allows(document, "kms:GenerateDataKey", [KEY_ARN], via), service
    assert not iam_allows(document, "kms:Decrypt", [KEY_ARN])
    assert not iam_allows(document, "kms:GenerateDataKey", [KEY_ARN])
    via_other = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    assert not iam_allows(document, "kms:Decrypt", [KEY_ARN], via_other)


def test_the_policy_evaluator_sees_a_grant_when_there_is_one():
    """Guard against a vacuous access test: the same evaluator allows what a policy allows."""
    broad = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "glue:GetTable", "Resource": f"{GLUE}:*"},
                {"Effect": "Deny", "Action": "glue:GetTable", "Resource": f"{GLUE}:table/x/*"},
            ],
        }
    )
    assert iam_allows(broad, "glue:GetTable", [f"{GLUE}:catalog", f"{GLUE}:table/y/t"])
    assert not iam_allows(broad, "glue:GetTable", [f"{GLUE}:catalog", f"{GLUE}:table/x/t"])
