"""SilverPipeline under Pulumi mocks: Spark capacity, job bundle, least privilege, machines."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

import components.silver as silver_module
from components import options
from components.asl import JsonPath, states_array
from components.preview import ACCOUNT_ID, ROOT, Registered, run_program, stack_config
from components.spark_bundle import build_spark_job_bundle, deterministic_zip, modules_zip_name
from components.spark_tasks import NOT_RETRYABLE_JOB_ERRORS
from datalake.errors import METRIC_NAMESPACE
from datalake.settings import SettingsError, load_settings
from datalake.stack_file import load_stack_file
from tests.asl import validate_asl
from tests.components.inventory import (
    ROLE,
    ROLE_POLICY,
    Inventory,
    as_list,
    assert_starts_only,
    with_lake,
)
from tests.components.test_perimeter import Request, decide

LAKE = "datalake-dev-lake-eu-west-1"
ARTIFACTS = "datalake-dev-artifacts-eu-west-1"
DATA_BUCKETS = (
    LAKE,
    ARTIFACTS,
    "datalake-dev-landing-eu-west-1",
    "datalake-dev-observer-eu-west-1",
)
COMPONENT = "datalake:index:SilverPipeline"
MACHINE = "aws:sfn/stateMachine:StateMachine"
JOB_MODULES_ZIP = modules_zip_name("silver")


def with_silver_settings(**silver: Any) -> dict[str, Any]:
    return with_lake(silver=silver)


@pytest.fixture(scope="module")
def dev_settings():
    return load_stack_file(ROOT / "Pulumi.dev.yaml")


@pytest.fixture(scope="module")
def prod_settings():
    return load_stack_file(ROOT / "Pulumi.prod.yaml")


# --- EMR Serverless ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_application_capacity_and_auto_start_stop_come_from_settings(
    stack, dev_resources, prod_resources, dev_settings, prod_settings
):
    resources, settings = (
        (dev_resources, dev_settings) if stack == "dev" else (prod_resources, prod_settings)
    )
    emr = settings.silver.emr
    (application,) = Inventory(resources).of_type("aws:emrserverless/application:Application")
    inputs = application.inputs
    assert inputs["name"] == settings.names.resource("silver-spark")
    assert (inputs["type"], inputs["releaseLabel"], inputs["architecture"]) == (
        "SPARK",
        emr.release_label,
        emr.architecture,
    )
    assert inputs["maximumCapacity"] == {
        "cpu": f"{emr.max_vcpu} vCPU",
        "memory": f"{emr.max_memory_gb} GB",
        "disk": f"{emr.max_disk_gb} GB",
    }
    assert inputs["autoStartConfiguration"] == {"enabled": True}
    assert inputs["autoStopConfiguration"] == {
        "enabled": True,
        "idleTimeoutMinutes": emr.idle_timeout_minutes,
    }
    assert "initialCapacities" not in inputs  # nothing pre-initialised, nothing billed idle
    # in the silver component, through its Spark runtime
    lake = Inventory(resources)
    assert application.urn in {r.urn for r in lake.children_of(COMPONENT)}
    assert application.parent == lake.named("datalake:index:SparkRuntime", "silver").urn


def test_prod_stack_raises_the_spark_caps(prod_resources):
    (application,) = Inventory(prod_resources).of_type("aws:emrserverless/application:Application")
    assert application.inputs["maximumCapacity"]["cpu"] == "64 vCPU"
    assert application.inputs["maximumCapacity"]["memory"] == "256 GB"


# --- the job runtime role ------------------------------------------------------------------


def test_job_role_is_trusted_by_emr_serverless_in_this_account(dev_resources):
    role = Inventory(dev_resources).named("aws:iam/role:Role", "silver-spark-job-role")
    assert role.inputs["name"] == "datalake-dev-silver-spark-job"
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {
            "aws:SourceArn": [f"arn:aws:emr-serverless:eu-west-1:{ACCOUNT_ID}:/applications/*"]
        },
    }


def test_job_role_reads_bronze_and_writes_only_silver(dev_resources):
    statements = Inventory(dev_resources).policy("silver-spark-job-policy")
    assert statements["ReadBronze"]["Action"] == ["s3:GetObject"]
    assert statements["ReadBronze"]["Resource"] == [f"arn:aws:s3:::{LAKE}/bronze/*"]
    silver = statements["ReadWriteSilver"]
    assert silver["Resource"] == [f"arn:aws:s3:::{LAKE}/silver/*"]
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(silver["Action"])
    listing = statements["ListBronzeAndSilver"]
    assert listing["Resource"] == f"arn:aws:s3:::{LAKE}"
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["bronze/", "bronze/*", "silver/", "silver/*"]}
    }
    assert statements["ReadCodeAndManifests"]["Resource"] == [
        f"arn:aws:s3:::{ARTIFACTS}/silver/jobs/*",
        f"arn:aws:s3:::{ARTIFACTS}/silver/runs/*",
    ]
    writes = [
        resource
        for s in statements.values()
        if any(a in as_list(s["Action"]) for a in ("s3:PutObject", "s3:DeleteObject"))
        for resource in as_list(s["Resource"])
    ]
    assert not [w for w in writes if "/bronze/" in w or "/quarantine/" in w or "/gold/" in w]


def test_no_silver_policy_grants_a_data_bucket_wholesale(dev_resources):
    for document in (
        json.loads(r.inputs["policy"])
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:iam/rolePolicy:RolePolicy"
    ):
        for statement in document["Statement"]:
            resources = as_list(statement["Resource"])
            if any(a.startswith("s3:") for a in as_list(statement["Action"])):
                assert "*" not in resources, statement["Sid"]
            for bucket in DATA_BUCKETS:
                assert f"arn:aws:s3:::{bucket}/*" not in resources, statement["Sid"]
                if f"arn:aws:s3:::{bucket}" in resources:  # bucket-level: listing by prefix only
                    assert statement["Action"] == "s3:ListBucket"
                    assert "s3:prefix" in statement["Condition"]["StringLike"]


def test_job_role_uses_the_silver_database_only(dev_resources):
    glue = Inventory(dev_resources).policy("silver-spark-job-policy")["SilverCatalog"]
    prefix = f"arn:aws:glue:eu-west-1:{ACCOUNT_ID}"
    assert glue["Resource"] == [
        f"{prefix}:catalog",
        f"{prefix}:database/datalake_dev_silver",
        f"{prefix}:table/datalake_dev_silver/*",
    ]
    assert set(glue["Action"]) == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:CreateTable",
        "glue:UpdateTable",
    }


def test_job_role_gets_lake_formation_grants_on_silver_only(dev_resources):
    grants = {
        r.name: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:lakeformation/permissions:Permissions"
    }
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-silver-spark-job"
    assert all(g["principal"] == role_arn for g in grants.values())
    assert grants["silver-job-database-grant"]["database"] == {"name": "datalake_dev_silver"}
    assert grants["silver-job-tables-grant"]["table"] == {
        "databaseName": "datalake_dev_silver",
        "wildcard": True,
    }
    assert grants["silver-job-location-grant"]["dataLocation"] == {
        "arn": f"arn:aws:s3:::{LAKE}/silver"
    }


def test_job_logs_go_to_an_encrypted_log_group_with_retention(dev_resources):
    groups = {
        r.inputs["name"]: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    assert set(groups) == {
        "/aws/emr-serverless/datalake-dev-silver-spark",
        "/aws/lambda/datalake-dev-silver-plan",
        "/aws/lambda/datalake-dev-silver-finish",
        "/aws/lambda/datalake-dev-silver-fail",
        "/aws/lambda/datalake-dev-silver-gold-records",
        "/aws/vendedlogs/states/datalake-dev-silver-pipeline",
        "/aws/vendedlogs/states/datalake-dev-silver-maintenance",
    }
    for group in groups.values():
        assert group["retentionInDays"] == 30
        assert group["kmsKeyId"].startswith("arn:aws:kms:")
    writes = Inventory(dev_resources).policy("silver-spark-job-policy")["WriteJobLogs"]
    assert writes["Resource"][0].endswith("/aws/emr-serverless/datalake-dev-silver-spark")


# --- Lambdas -------------------------------------------------------------------------------


def test_lambdas_run_the_silver_handlers_with_one_role_each(dev_resources):
    functions = {
        f.name: f.inputs
        for f in Inventory(dev_resources).children_of(COMPONENT)
        if f.type == "aws:lambda/function:Function"
    }
    assert {n: f["handler"] for n, f in functions.items()} == {
        "silver-plan": "workloads.silver.handlers.plan_handler",
        "silver-finish": "workloads.silver.handlers.finish_handler",
        "silver-fail": "workloads.silver.handlers.fail_handler",
        "silver-gold-records": "workloads.silver.handlers.gold_records_handler",
    }
    assert len({f["role"] for f in functions.values()}) == 4
    assert len({Path(f["code"].path) for f in functions.values()}) == 1  # one bundle
    for function in functions.values():
        assert function["runtime"] == "python3.12" and function["architectures"] == ["arm64"]
        env = function["environment"]["variables"]
        assert env["CONTROL_TABLE"] == "datalake-dev-processing-control"
        assert (env["LAKE_BUCKET"], env["ARTIFACTS_BUCKET"]) == (LAKE, ARTIFACTS)
        assert "SILVER_DATABASE" not in env  # nothing reads it
    for purpose in ("plan", "finish", "fail", "gold-records"):
        role = Inventory(dev_resources).named("aws:iam/role:Role", f"silver-{purpose}-role")
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_only_the_planner_writes_and_only_run_manifests(dev_resources):
    plan = Inventory(dev_resources).policy("silver-plan-policy")
    assert plan["WriteManifests"]["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/silver/runs/*"]
    assert plan["ControlRecords"]["Resource"][1].endswith("processing-control/index/*")
    for name in ("silver-finish-policy", "silver-fail-policy"):
        statements = Inventory(dev_resources).policy(name)
        assert set(statements) == {"ControlRecords", "UseLakeKey", "WriteOwnLogs", "PublishMetrics"}
        assert "dynamodb:UpdateItem" in statements["ControlRecords"]["Action"]
    gold = Inventory(dev_resources).policy("silver-gold-records-policy")
    assert gold["ReadPartitions"]["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/silver/runs/*"]
    assert "WriteManifests" not in gold


def publishes_metrics(lake: Inventory, purpose: str, **context: str) -> bool:
    """Whether the ``silver-<purpose>`` Lambda's role may ``PutMetricData`` (identity
    policies only: the action has no resource policy) with ``context``."""
    name = lake.named(ROLE, f"silver-{purpose}-role").inputs["name"]
    identity = [json.loads(p.inputs["policy"]) for p in lake.of_type(ROLE_POLICY)
                if p.inputs["role"] == name]  # fmt: skip
    request = Request(
        f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "cloudwatch:PutMetricData", "*", context
    )
    return decide(request, identity, {"Version": "2012-10-17", "Statement": []})


def test_finish_and_fail_publish_metrics_in_the_lake_namespace_only(dev_resources):
    lake = Inventory(dev_resources)
    lake_namespace = {"cloudwatch:namespace": METRIC_NAMESPACE}
    for purpose in ("finish", "fail"):
        assert publishes_metrics(lake, purpose, **lake_namespace), purpose
        assert not publishes_metrics(lake, purpose, **{"cloudwatch:namespace": "AWS/Lambda"})
        assert not publishes_metrics(lake, purpose)  # no namespace in the request: no match
    for purpose in ("plan", "gold-records"):  # they publish nothing
        assert not publishes_metrics(lake, purpose, **lake_namespace), purpose


# --- the pipeline state machine ------------------------------------------------------------


def test_pipeline_plans_then_maps_the_tables_with_the_settings_concurrency(dev_resources):
    machine = Inventory(dev_resources).named(MACHINE, "silver-pipeline")
    assert machine.inputs["name"] == "datalake-dev-silver-pipeline"
    assert machine.inputs["type"] == "STANDARD"  # waits on Spark jobs for longer than 5 minutes
    states = Inventory(dev_resources).definition("silver-pipeline")["States"]
    assert Inventory(dev_resources).definition("silver-pipeline")["StartAt"] == "Plan"
    plan = states["Plan"]
    assert plan["Parameters"]["FunctionName"].endswith("datalake-dev-silver-plan")
    assert set(plan["ResultSelector"]) == {"run_id.$", "tables.$", "views.$"}
    assert plan["Next"] == "AnyChanges"
    assert states["AnyChanges"]["Choices"][0]["Next"] == "MergeTables"
    assert states[states["AnyChanges"]["Default"]]["Type"] == "Succeed"
    tables = states["MergeTables"]
    assert tables["Type"] == "Map" and tables["ItemsPath"] == "$.plan.tables"
    assert tables["MaxConcurrency"] == 4
    assert tables["ItemSelector"]["run_id.$"] == "$.plan.run_id"
    assert tables["Next"] == "Views"


def test_each_table_merges_on_spark_with_retry_and_a_catch_that_spares_the_others(
    dev_resources, dev_settings
):
    per_table = Inventory(dev_resources).definition("silver-pipeline")["States"]["MergeTables"][
        "ItemProcessor"
    ]
    states = per_table["States"]
    merge = states[per_table["StartAt"]]
    assert merge["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    arguments = merge["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPointArguments.$"]
    # the table is in the manifest; the warehouse is Spark configuration
    assert arguments == (
        states_array(
            [
                *("--mode", "merge", "--manifest", JsonPath("$.manifest")),
                *("--catalog", "glue", "--database", "datalake_dev_silver"),
            ]
        ).expression
    )
    never, backoff = merge["Retry"]
    assert never == {"ErrorEquals": list(NOT_RETRYABLE_JOB_ERRORS), "MaxAttempts": 0}
    ingestion = dev_settings.ingestion
    assert backoff["ErrorEquals"] == ["States.ALL"]
    assert (backoff["MaxAttempts"], backoff["IntervalSeconds"], backoff["BackoffRate"]) == (
        ingestion.max_attempts - 1,
        ingestion.retry_interval_seconds,
        ingestion.retry_backoff_rate,
    )
    assert merge["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordTableFailure"}
    ]
    # success: finish marks the records; failure: fail marks them, then a Pass ends the branch
    assert merge["Next"] == "FinishTable"
    finish, record = states["FinishTable"], states["RecordTableFailure"]
    assert finish["Parameters"]["FunctionName"].endswith("datalake-dev-silver-finish")
    assert finish["Catch"][0]["Next"] == "RecordTableFailure"
    assert record["Parameters"]["FunctionName"].endswith("datalake-dev-silver-fail")
    assert record["Parameters"]["Payload"]["error.$"] == "$.failure"
    assert record["Catch"][0]["Next"] == record["Next"] == "TableFailed"
    assert states["TableFailed"]["Type"] == "Pass" and states["TableFailed"]["End"] is True
    assert not [s for s in states.values() if s["Type"] == "Fail"]


def test_spark_jobs_run_the_bundle_with_the_iceberg_glue_catalog(dev_resources):
    merge = Inventory(dev_resources).definition("silver-pipeline")["States"]["MergeTables"][
        "ItemProcessor"
    ]["States"]["MergeTable"]["Parameters"]
    script = Inventory(dev_resources).named(
        "aws:s3/bucketObjectv2:BucketObjectv2", "silver-job-script"
    )
    modules = Inventory(dev_resources).named(
        "aws:s3/bucketObjectv2:BucketObjectv2", "silver-job-modules"
    )
    # the mocks give the application the id "00" + 14 hex digits, as EMR Serverless does
    assert merge["ApplicationId"] == "00" + sha256(b"silver-spark")[:14]
    assert merge["ExecutionRoleArn"].endswith(":role/datalake-dev-silver-spark-job")
    submit = merge["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"] == f"s3://{ARTIFACTS}/{script.inputs['key']}"
    parameters = submit["SparkSubmitParameters"]
    assert f"--py-files s3://{ARTIFACTS}/{modules.inputs['key']}" in parameters
    for conf in (
        "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.glue=org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.glue.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog",
        f"spark.sql.catalog.glue.warehouse=s3://{LAKE}/silver/",
        "spark.jars=/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar",
    ):
        assert f"--conf {conf}" in parameters
    logging = merge["ConfigurationOverrides"]["MonitoringConfiguration"]
    assert logging["CloudWatchLoggingConfiguration"] == {
        "Enabled": True,
        "LogGroupName": "/aws/emr-serverless/datalake-dev-silver-spark",
    }
    assert logging["S3MonitoringConfiguration"] == {
        "LogUri": "s3://datalake-dev-observer-eu-west-1/emr-logs/silver/"
    }


def test_after_the_tables_the_domains_views_run_then_the_success_event(dev_resources):
    states = Inventory(dev_resources).definition("silver-pipeline")["States"]
    views = states["Views"]
    assert views["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    arguments = views["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPointArguments.$"]
    assert arguments.startswith("States.Array('--mode', 'view', '--plan', $.plan.views.plan, ")
    assert views["Retry"][-1]["ErrorEquals"] == ["States.ALL"]
    assert views["Next"] == "RegisterGoldRecords"
    gold = states["RegisterGoldRecords"]
    assert gold["Parameters"]["FunctionName"].endswith("datalake-dev-silver-gold-records")
    assert gold["Parameters"]["Payload"]["views.$"] == "$.plan.views.outputs"
    assert gold["Next"] == "PublishSucceeded"
    publish = states["PublishSucceeded"]
    assert publish["Resource"] == "arn:aws:states:::events:putEvents"
    (entry,) = publish["Parameters"]["Entries"]
    assert (entry["Source"], entry["DetailType"]) == ("datalake.silver", "SilverPipelineSucceeded")
    assert entry["Detail"]["run_id.$"] == "$.plan.run_id"
    assert entry["Detail"]["tables.$"] == "$.merged"  # each table with its status
    assert publish["End"] is True


def test_concurrency_and_retries_follow_settings():
    config = with_silver_settings(max_concurrency=9)
    config["datalake:lake"]["ingestion"] = {"max_attempts": 5, "retry_interval_seconds": 60}
    states = Inventory(run_program("dev", config)).definition("silver-pipeline")["States"]
    assert states["MergeTables"]["MaxConcurrency"] == 9
    backoff = states["MergeTables"]["ItemProcessor"]["States"]["MergeTable"]["Retry"][-1]
    assert (backoff["MaxAttempts"], backoff["IntervalSeconds"]) == (4, 60)


def test_state_machine_role_is_least_privilege(dev_resources):
    statements = Inventory(dev_resources).policy("silver-pipeline-policy")
    functions = statements["InvokeSilverFunctions"]["Resource"]
    assert len(functions) == 8  # four functions and their versions
    for purpose in ("plan", "finish", "fail"):
        assert any(f.endswith(f"datalake-dev-silver-{purpose}") for f in functions)
    app_arn = f"arn:aws:emr-serverless:eu-west-1:{ACCOUNT_ID}:/applications/"
    assert statements["StartSparkJobs"]["Resource"].startswith(app_arn)
    assert statements["StartSparkJobs"]["Action"] == "emr-serverless:StartJobRun"
    assert statements["WatchSparkJobs"]["Resource"] == (
        statements["StartSparkJobs"]["Resource"] + "/jobruns/*"
    )
    assert statements["PassJobRole"]["Resource"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-silver-spark-job"
    )
    assert statements["PassJobRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}
    }
    assert statements["SyncJobEvents"]["Resource"] == (
        f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:rule/StepFunctionsGetEventsForEMRServerlessJobRule"
    )
    assert statements["PublishSucceeded"] == {
        "Sid": "PublishSucceeded",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:event-bus/datalake-dev-lake",
    }
    wildcard = {s["Sid"] for s in statements.values() if "*" in as_list(s["Resource"])}
    assert wildcard == {"DeliverLogs"}  # CloudWatch log delivery has no resource scoping


# --- schedules and maintenance -------------------------------------------------------------


def schedules(resources: list[Registered]) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["name"]: r.inputs
        for r in Inventory(resources).of_type("aws:scheduler/schedule:Schedule")
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_schedule_comes_from_settings_and_starts_the_pipeline(
    stack, dev_resources, prod_resources, dev_settings, prod_settings
):
    resources, settings = (
        (dev_resources, dev_settings) if stack == "dev" else (prod_resources, prod_settings)
    )
    names = settings.names
    schedule = schedules(resources)[names.resource("silver-pipeline")]
    assert schedule["scheduleExpression"] == settings.silver.schedule
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"].endswith(names.resource("silver-pipeline"))
    assert target["roleArn"].endswith(f":role/{names.resource('silver-pipeline-start')}")
    role = Inventory(resources).named("aws:iam/role:Role", "silver-pipeline-start-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    dead_letters = target["deadLetterConfig"]["arn"]
    assert dead_letters.endswith(f":{names.resource('silver-pipeline-schedule-dlq')}")
    assert_starts_only(
        Inventory(resources).policy("silver-pipeline-start-policy"), target["arn"], dead_letters
    )


def test_prod_schedule_is_the_stack_file_cron(prod_resources):
    schedule = schedules(prod_resources)["datalake-prod-silver-pipeline"]
    assert schedule["scheduleExpression"] == "cron(15 * * * ? *)"


def test_time_zone_and_maintenance_schedule_follow_settings():
    resources = run_program(
        "dev",
        with_silver_settings(
            schedule="cron(0 6 * * ? *)",
            schedule_timezone="Europe/Paris",
            maintenance_schedule="cron(30 2 ? * SAT *)",
        ),
    )
    by_name = schedules(resources)
    pipeline = by_name["datalake-dev-silver-pipeline"]
    maintenance = by_name["datalake-dev-silver-maintenance"]
    assert pipeline["scheduleExpression"] == "cron(0 6 * * ? *)"
    assert maintenance["scheduleExpression"] == "cron(30 2 ? * SAT *)"
    assert pipeline["scheduleExpressionTimezone"] == "Europe/Paris"
    assert maintenance["scheduleExpressionTimezone"] == "Europe/Paris"


def test_maintenance_compacts_and_expires_snapshots_weekly(dev_resources, dev_settings):
    maintenance = schedules(dev_resources)["datalake-dev-silver-maintenance"]
    assert maintenance["scheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert maintenance["target"]["arn"].endswith("datalake-dev-silver-maintenance")
    states = Inventory(dev_resources).definition("silver-maintenance")["States"]
    (task,) = states.values()
    assert task["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    silver = dev_settings.silver
    arguments = task["Parameters"]["JobDriver"]["SparkSubmit"]["EntryPointArguments.$"]
    assert arguments.startswith(
        "States.Array('--mode', 'maintenance', "
        f"'--target-file-size-mb', '{silver.target_file_size_mb}', "
        f"'--snapshot-retention-days', '{silver.snapshot_retention_days}', "
        f"'--min-snapshots-to-keep', '{silver.min_snapshots_to_keep}', "
    )
    assert task["Retry"][0]["MaxAttempts"] == 0 and task["Retry"][-1]["JitterStrategy"] == "FULL"
    statements = Inventory(dev_resources).policy("silver-maintenance-policy")
    assert "InvokeSilverFunctions" not in statements and "PublishSucceeded" not in statements
    assert statements["PassJobRole"]["Resource"].endswith(":role/datalake-dev-silver-spark-job")


def test_new_silver_settings_are_validated():
    def problems(**silver: Any) -> str:
        with pytest.raises(SettingsError) as caught:
            load_settings({"silver": silver}, project="datalake", environment="dev")
        return str(caught.value)

    assert "datalake:lake.silver.schedule_timezone" in problems(schedule_timezone="CET+1")
    assert "'Europe/Paris'" in problems(schedule_timezone="europe/paris")
    assert "datalake:lake.silver.maintenance_schedule" in problems(
        maintenance_schedule="cron(0 3 * * SUN *)"
    )
    assert "datalake:lake.silver.max_concurrency" in problems(max_concurrency=41)
    defaults = load_settings({}, project="datalake", environment="dev").silver
    assert (defaults.max_concurrency, defaults.schedule_timezone) == (4, "UTC")
    assert defaults.maintenance_schedule == "cron(0 3 ? * SUN *)"


# --- names, outputs, alarms ----------------------------------------------------------------


def test_every_silver_physical_name_is_planned(dev_resources, dev_settings):
    planned = {name for _, _, name in dev_settings.names.all_names()}
    named_kinds = {
        "aws:iam/role:Role",
        "aws:lambda/function:Function",
        "aws:sfn/stateMachine:StateMachine",
        "aws:scheduler/schedule:Schedule",
        "aws:emrserverless/application:Application",
    }
    physical = [
        r.inputs["name"]
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type in named_kinds
    ]
    assert len(physical) == 18
    assert sorted(set(physical) - planned) == []


def test_component_registers_its_outputs(dev_resources):
    (component,) = Inventory(dev_resources).of_type(COMPONENT)
    outputs = component.outputs
    assert outputs["state_machine_arn"].endswith("datalake-dev-silver-pipeline")
    assert outputs["maintenance_state_machine_arn"].endswith("datalake-dev-silver-maintenance")
    assert outputs["application_arn"].endswith(f"/applications/{outputs['application_id']}")
    assert outputs["job_entry_point"].startswith(f"s3://{ARTIFACTS}/silver/jobs/")


def test_failed_executions_raise_alarms(dev_resources):
    alarms = {
        r.inputs["name"]: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
    }
    executions = {n: a for n, a in alarms.items() if a["namespace"] == "AWS/States"}
    assert set(executions) == {
        "datalake-dev-silver-failed-runs",
        "datalake-dev-silver-failed-maintenance",
    }
    for alarm in executions.values():
        assert alarm["metricName"] == "ExecutionsFailed"
    # The rest: one per schedule's dead-letter queue.
    assert set(alarms) - set(executions) == {
        "datalake-dev-silver-pipeline-schedule-dlq",
        "datalake-dev-silver-maintenance-schedule-dlq",
    }


# --- the job bundle ------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_job_bundle_objects_are_content_addressed_with_source_hash(dev_resources):
    objects = {
        r.name: r.inputs
        for r in Inventory(dev_resources).children_of(COMPONENT)
        if r.type == "aws:s3/bucketObjectv2:BucketObjectv2"
    }
    script, modules = objects["silver-job-script"], objects["silver-job-modules"]
    bundle = build_spark_job_bundle(silver_module.SPARK_JOB_ENTRY)
    assert script["bucket"] == modules["bucket"] == ARTIFACTS
    assert script["key"] == f"silver/jobs/{bundle.digest}/spark_job.py"
    assert modules["key"] == f"silver/jobs/{bundle.digest}/{JOB_MODULES_ZIP}"
    # SSE-KMS objects have no MD5 etag: changes are tracked by the content's SHA-256.
    assert "etag" not in script and "etag" not in modules
    assert Path(script["source"].path) == silver_module.SPARK_JOB_ENTRY
    assert script["sourceHash"] == sha256(bundle.entry_source)
    zipped = Path(modules["source"].path).read_bytes()
    assert modules["sourceHash"] == sha256(zipped) == sha256(bundle.zip_bytes)


def test_the_modules_zip_is_deterministic():
    members = {"b.py": b"B = 2\n", "a.py": b"A = 1\n"}
    first = deterministic_zip(members)
    assert first == deterministic_zip(dict(reversed(list(members.items()))))
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["a.py", "b.py"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def write_package(root: Path, files: dict[str, str]) -> Path:
    """A ``workloads/silver`` tree under ``root``; returns the entry script's path."""
    package = root / "workloads" / "silver"
    package.mkdir(parents=True)
    (root / "workloads" / "__init__.py").write_text('"""Workloads."""\n')
    for name, text in files.items():
        (package / name).write_text(text)
    return package / "spark_job.py"


def test_the_bundle_holds_exactly_what_the_entry_script_imports(tmp_path, monkeypatch):
    entry = write_package(
        tmp_path,
        {
            "__init__.py": '"""Silver."""\n',
            "spark_job.py": "import argparse\nimport helpers\n"
            "from workloads.silver.spark_session import build\n",
            "helpers.py": "import json\nfrom workloads.silver import shared\n",
            "shared.py": "X = 1\n",
            "spark_session.py": "from pyspark.sql import SparkSession\n",
            "handlers.py": "import boto3\n",  # a Lambda module: never shipped to EMR
        },
    )
    bundle = build_spark_job_bundle(entry)
    assert sorted(bundle.modules) == [
        "helpers.py",
        "workloads/__init__.py",
        "workloads/silver/__init__.py",
        "workloads/silver/shared.py",
        "workloads/silver/spark_session.py",
    ]
    assert job_bundle_problems(bundle.sources()) == []
    # the program uploads that entry and that zip, under a new content address
    monkeypatch.setattr(silver_module, "SPARK_JOB_ENTRY", entry)
    resources = run_program("dev", stack_config("dev"))
    script = Inventory(resources).named("aws:s3/bucketObjectv2:BucketObjectv2", "silver-job-script")
    modules = Inventory(resources).named(
        "aws:s3/bucketObjectv2:BucketObjectv2", "silver-job-modules"
    )
    assert Path(script.inputs["source"].path) == entry
    assert script.inputs["sourceHash"] == sha256(entry.read_bytes())
    assert script.inputs["key"] == f"silver/jobs/{bundle.digest}/spark_job.py"
    with zipfile.ZipFile(modules.inputs["source"].path) as archive:
        assert sorted(archive.namelist()) == sorted(bundle.modules)
    entry.write_text(entry.read_text() + "# changed\n")
    assert build_spark_job_bundle(entry).digest != bundle.digest


# --- Python 3.9, pyspark and the standard library only -------------------------------------

PYSPARK_DISTRIBUTION = frozenset({"pyspark", "py4j"})
"""pyspark and the py4j it ships with (EMR Serverless images have both, and nothing else)."""
NEWER_THAN_39 = frozenset({"tomllib"})
"""Standard-library modules this interpreter has and Python 3.9 does not."""
STDLIB_39 = frozenset(sys.stdlib_module_names) - NEWER_THAN_39


def job_bundle_problems(sources: dict[str, bytes]) -> list[str]:
    """Why a bundle would not run on EMR Serverless' Python 3.9 with only pyspark, or []."""
    bundled = {
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in sources
    }
    problems = []
    for name, source in sorted(sources.items()):
        try:
            tree = ast.parse(source, filename=name, feature_version=(3, 9))
        except SyntaxError as error:
            problems.append(f"{name}:{error.lineno}: not Python 3.9 syntax: {error.msg}")
            continue
        # A fallback in `except ModuleNotFoundError` runs only where the bundled package is
        # missing (installed from the wheel), never on EMR, which has the zip.
        fallbacks = {
            id(child)
            for handler in ast.walk(tree)
            if isinstance(handler, ast.ExceptHandler)
            and isinstance(handler.type, ast.Name)
            and handler.type.id == "ModuleNotFoundError"
            for child in ast.walk(handler)
        }
        postponed = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names)
            for node in tree.body
        )
        for node in ast.walk(tree):
            if id(node) in fallbacks:
                continue
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    problems.append(f"{name}:{node.lineno}: relative import (run as a script)")
                    continue
                modules = [node.module or ""]
            else:
                if not postponed and _evaluated_union_annotation(node):
                    problems.append(f"{name}:{node.lineno}: `X | Y` annotation needs 3.10")
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in STDLIB_39 or top in PYSPARK_DISTRIBUTION or module in bundled:
                    continue
                problems.append(f"{name}:{node.lineno}: imports {module}: not bundled")
    return problems


def _evaluated_union_annotation(node: ast.AST) -> bool:
    annotations: list[ast.expr | None] = []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a]
        annotations = [a.annotation for a in every] + [node.returns]
    elif isinstance(node, ast.AnnAssign):
        annotations = [node.annotation]
    return any(
        isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr)
        for annotation in annotations
        if annotation is not None
        for part in ast.walk(annotation)
    )


def test_the_real_job_bundle_is_python_39_with_pyspark_and_stdlib_only(dev_resources):
    """Every module the program ships to EMR, from the real workloads/silver."""
    bundle = build_spark_job_bundle(silver_module.SPARK_JOB_ENTRY)
    assert silver_module.SPARK_JOB_ENTRY == ROOT / "workloads" / "silver" / "spark_job.py"
    modules = Inventory(dev_resources).named(
        "aws:s3/bucketObjectv2:BucketObjectv2", "silver-job-modules"
    )
    with zipfile.ZipFile(modules.inputs["source"].path) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist()}
    if silver_module.SPARK_JOB_ENTRY.is_file():  # the program ran on the same files
        shipped[silver_module.SPARK_JOB_ENTRY.name] = silver_module.SPARK_JOB_ENTRY.read_bytes()
        assert shipped == bundle.sources()
    assert job_bundle_problems(bundle.sources()) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("match x:\n    case 1:\n        pass\n", "not Python 3.9 syntax"),
        ("import boto3\n", "imports boto3: not bundled"),
        ("from pyiceberg.catalog import Catalog\n", "imports pyiceberg.catalog: not bundled"),
        ("from datalake.contracts import BEER\n", "imports datalake.contracts: not bundled"),
        (
            "try:\n    import boto3\nexcept ModuleNotFoundError:\n    import datalake\n",
            "imports boto3: not bundled",
        ),
        ("import tomllib\n", "imports tomllib: not bundled"),
        ("from . import helpers\n", "relative import"),
        ("def f(x: int | None): ...\n", "`X | Y` annotation needs 3.10"),
    ],
)
def test_the_bundle_check_rejects_what_emr_cannot_run(source, problem):
    (found,) = job_bundle_problems({"spark_job.py": source.encode()})
    assert problem in found


def test_the_bundle_check_accepts_what_emr_can_run():
    sources = {
        "spark_job.py": b"from __future__ import annotations\nimport argparse\n"
        b"from pyspark.sql import SparkSession\nfrom py4j.protocol import Py4JJavaError\n"
        b"import helpers\nfrom workloads.silver.spark_session import build\n"
        b"def f(x: int | None) -> str | None: ...\n",
        "helpers.py": b"import zoneinfo\n",
        "workloads/__init__.py": b"",
        "workloads/silver/__init__.py": b"",
        "workloads/silver/spark_session.py": b"import os\n",
    }
    assert job_bundle_problems(sources) == []


def test_a_bundle_with_a_module_that_imports_the_arrow_engine_is_rejected(tmp_path):
    entry = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "spark_job.py": "from workloads.silver.merge import merge_batch\n",
            "merge.py": "import duckdb\nfrom pyiceberg.table import Table\n",
        },
    )
    problems = job_bundle_problems(build_spark_job_bundle(entry).sources())
    assert [p.split(": ", 1)[1] for p in problems] == [
        "imports duckdb: not bundled",
        "imports pyiceberg.table: not bundled",
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("machine", ["silver-pipeline", "silver-maintenance"])
def test_every_silver_definition_is_valid_asl(stack, machine, dev_resources, prod_resources):
    resources = dev_resources if stack == "dev" else prod_resources
    assert validate_asl(Inventory(resources).definition(machine)) == []


# --- moved into child components: same identity --------------------------------------------


def test_resources_moved_into_child_components_are_aliased_to_their_old_parent(monkeypatch):
    """SparkRuntime and GoldConsumerAccess took over resources of SilverPipeline and GoldMart:
    each is aliased to its old parent, so a deployed stack moves it instead of replacing it."""
    moved: dict[str, list[str]] = {}

    def recording(old_parent: pulumi.Resource) -> pulumi.ResourceTransformation:
        transform = original(old_parent)

        def record(args: pulumi.ResourceTransformationArgs) -> Any:
            result = transform(args)
            parents = [
                a.parent
                for a in result.opts.aliases or []
                if isinstance(a, pulumi.Alias) and isinstance(a.parent, pulumi.Resource)
            ]
            if parents:
                moved[args.name] = [p._name for p in parents]
            return result

        return record

    original = options.moved_from
    monkeypatch.setattr(options, "moved_from", recording)
    lake = Inventory(run_program("dev", stack_config("dev")))
    for component, name in (
        ("datalake:index:SparkRuntime", "silver"),
        ("datalake:index:SparkRuntime", "gold"),
        ("datalake:index:GoldConsumerAccess", "gold"),
    ):
        runtime = lake.named(component, name)
        children = [r.name for r in lake.resources if r.parent == runtime.urn]
        assert children, component
        assert {child: moved.get(child) for child in children} == {c: [name] for c in children}
    assert "silver" not in moved and "gold" not in moved  # the child components are new
