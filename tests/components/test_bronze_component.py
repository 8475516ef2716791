"""BronzeZone under Pulumi mocks: event wiring, dispatch, least privilege, tables, code."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from components.code import LAMBDA_PACKAGES, pinned_requirements
from components.preview import ACCOUNT_ID, ROOT, Registered
from datalake.contracts import LINEAGE_COLUMNS
from datalake.control import failure_update_parameters
from datalake.domain import default_domain_path, load_domain
from datalake.errors import NOT_RETRYABLE
from tests.asl import validate_asl
from tests.components.inventory import Inventory, as_list, run_stack, with_lake

LANDING = "datalake-dev-landing-eu-west-1"
LAKE = "datalake-dev-lake-eu-west-1"
ARTIFACTS = "datalake-dev-artifacts-eu-west-1"
DOMAIN = load_domain(default_domain_path())
"""The dev stack's domain (no ``datalake:lake.domain``: the beer-review example)."""
DATA_BUCKETS = (LANDING, LAKE)


@pytest.fixture(scope="module")
def dev(dev_resources: list[Registered]) -> Inventory:
    return Inventory(dev_resources)


def definition(lake: Inventory) -> dict[str, Any]:
    return lake.definition("bronze-ingestion")


# --- event wiring --------------------------------------------------------------------------


def test_landing_bucket_notifies_the_controller_for_raw_gzip_objects(dev):
    (notification,) = dev.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["bucket"] == LANDING
    controller = dev.named("aws:lambda/function:Function", "bronze-controller")
    rules = notification.inputs["lambdaFunctions"]
    assert {r["filterSuffix"] for r in rules} == {".csv.gz", ".jsonl.gz", ".json.gz"}
    for rule in rules:
        assert rule["filterPrefix"] == "raw/"
        assert rule["events"] == ["s3:ObjectCreated:*"]
        assert rule["lambdaFunctionArn"].endswith(controller.inputs["name"])
    (permission,) = dev.of_type("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["sourceArn"] == f"arn:aws:s3:::{LANDING}"
    assert permission.inputs["sourceAccount"] == ACCOUNT_ID


def test_pipe_starts_ingestion_for_new_pending_bronze_records_only(dev):
    (pipe,) = dev.of_type("aws:pipes/pipe:Pipe")
    stream = pipe.inputs["sourceParameters"]["dynamodbStreamParameters"]
    assert pipe.inputs["source"].endswith(
        "datalake-dev-processing-control/stream/2026-01-01T00:00:00.000"
    )
    assert pipe.inputs["target"].endswith("datalake-dev-bronze-ingestion")
    assert stream["batchSize"] == 1 and stream["deadLetterConfig"]["arn"].endswith(
        "bronze-pipe-dlq"
    )
    (flt,) = pipe.inputs["sourceParameters"]["filterCriteria"]["filters"]
    assert json.loads(flt["pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"layer": {"S": ["bronze"]}, "status": {"S": ["pending"]}}},
    }
    template = pipe.inputs["targetParameters"]["inputTemplate"]
    assert "<$.dynamodb.NewImage.control_id.S>" in template
    assert "<$.dynamodb.NewImage.record_count.N>" in template


# --- the state machine ---------------------------------------------------------------------


def test_state_machine_is_standard_and_dispatches_on_the_settings_threshold(dev):
    machine = dev.named("aws:sfn/stateMachine:StateMachine", "bronze-ingestion")
    assert machine.inputs["type"] == "STANDARD"  # Express cannot wait on an ECS task
    states = definition(dev)["States"]
    (choice,) = states["ChooseCompute"]["Choices"]
    assert choice == {
        "Variable": "$.record_count",
        "NumericGreaterThanEquals": 100_000,
        "Next": "IngestOnFargate",
    }
    assert states["ChooseCompute"]["Default"] == "IngestOnLambda"
    assert states["IngestOnFargate"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    overrides = states["IngestOnFargate"]["Parameters"]["Overrides"]["ContainerOverrides"]
    assert overrides == [
        {"Name": "ingest", "Environment": [{"Name": "CONTROL_ID", "Value.$": "$.control_id"}]}
    ]
    assert states["IngestOnLambda"]["Parameters"]["Payload"] == {"control_id.$": "$.control_id"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_ingestion_definition_is_valid_asl(stack, dev_resources, prod_resources):
    lake = Inventory(dev_resources if stack == "dev" else prod_resources)
    assert validate_asl(lake.definition("bronze-ingestion")) == []


def test_threshold_and_retries_follow_settings():
    resources = run_stack(
        with_lake(
            ingestion={
                "mass_threshold_records": 5_000,
                "max_attempts": 5,
                "retry_interval_seconds": 20,
            }
        )
    )
    states = definition(resources)["States"]
    assert states["ChooseCompute"]["Choices"][0]["NumericGreaterThanEquals"] == 5_000
    never, backoff = states["IngestOnLambda"]["Retry"]
    assert set(never["ErrorEquals"]) == {e.__name__ for e in NOT_RETRYABLE}
    assert never["MaxAttempts"] == 0
    assert backoff["ErrorEquals"] == ["States.ALL"]
    assert (backoff["MaxAttempts"], backoff["IntervalSeconds"], backoff["BackoffRate"]) == (
        4,
        20,
        2.0,
    )
    controller = resources.named("aws:lambda/function:Function", "bronze-controller")
    assert controller.inputs["environment"]["variables"]["MASS_THRESHOLD_RECORDS"] == "5000"


def test_failures_are_caught_recorded_and_fail_the_execution(dev):
    states = definition(dev)["States"]
    for task in ("IngestOnLambda", "IngestOnFargate"):
        assert states[task]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}
        ]
    record = states["RecordFailure"]
    assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert record["Parameters"]["ConditionExpression"] == "#s IN (:pending, :running)"
    # The same control-record encoding as ControlStore.fail, not a copy of it.
    assert record["Parameters"] == failure_update_parameters("datalake-dev-processing-control")
    assert record["Next"] == "IngestFailed" and states["IngestFailed"]["Type"] == "Fail"


# --- least privilege -----------------------------------------------------------------------

S3_ACTIONS = ("s3:",)


def s3_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The S3 statements on data buckets (the domain document's read is checked apart)."""
    return [
        s
        for s in document["Statement"]
        if any(a.startswith(S3_ACTIONS) for a in as_list(s["Action"])) and s["Sid"] != "ReadDomain"
    ]


@pytest.mark.parametrize(
    "policy",
    [
        "bronze-processing-controller-policy",
        "bronze-ingest-lite-policy",
        "bronze-ingest-mass-task-policy",
    ],
)
def test_the_workers_read_only_the_published_domain_of_the_artifacts(dev, policy):
    (statement,) = [
        s for s in dev.policies("bronze-")[policy]["Statement"] if s["Sid"] == "ReadDomain"
    ]
    assert statement["Action"] == ["s3:GetObject"]
    assert statement["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/domain/*"]


def test_every_worker_reads_the_domain_the_catalog_published(dev):
    document = dev.named("aws:s3/bucketObjectv2:BucketObjectv2", "catalog-domain")
    uri = f"s3://{ARTIFACTS}/{document.inputs['key']}"
    assert document.inputs["key"] == f"domain/{DOMAIN.digest}.json"
    for name in ("bronze-controller", "bronze-ingest-lite"):
        variables = dev.named("aws:lambda/function:Function", name).inputs["environment"]
        assert variables["variables"]["DATALAKE_DOMAIN"] == uri
    (task,) = dev.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    assert {"name": "DATALAKE_DOMAIN", "value": uri} in container["environment"]


def resources_of(statement: dict[str, Any]) -> list[str]:
    return as_list(statement["Resource"])


def test_no_bronze_policy_grants_a_data_bucket_wholesale(dev):
    for name, document in dev.policies("bronze-").items():
        for statement in document["Statement"]:
            for resource in resources_of(statement):
                for bucket in DATA_BUCKETS:
                    assert resource not in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"), (
                        name
                    )
        for statement in s3_statements(document):
            assert "*" not in resources_of(statement), name


def test_controller_reads_raw_and_registers_records_only(dev):
    document = dev.policies("bronze-")["bronze-processing-controller-policy"]
    (s3,) = s3_statements(document)
    assert s3["Action"] == ["s3:GetObject"]
    assert s3["Resource"] == [f"arn:aws:s3:::{LANDING}/raw/*"]
    dynamo = next(s for s in document["Statement"] if s["Sid"] == "ControlRecords")
    assert "dynamodb:UpdateItem" not in dynamo["Action"]
    assert dynamo["Resource"][0].endswith("datalake-dev-processing-control")
    metrics = next(s for s in document["Statement"] if s["Sid"] == "PublishMetrics")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DataLake/Ingestion"}}


@pytest.mark.parametrize("policy", ["bronze-ingest-lite-policy", "bronze-ingest-mass-task-policy"])
def test_workers_read_raw_and_write_only_bronze_and_quarantine(dev, policy):
    document = dev.policies("bronze-")[policy]
    read, write = s3_statements(document)
    assert read["Resource"] == [f"arn:aws:s3:::{LANDING}/raw/*"]
    assert "s3:GetObject" in read["Action"] and "s3:PutObject" not in read["Action"]
    assert write["Resource"] == [
        f"arn:aws:s3:::{LAKE}/bronze/*",
        f"arn:aws:s3:::{LAKE}/quarantine/*",
    ]
    assert "s3:DeleteObject" not in write["Action"]
    metrics = next(s for s in document["Statement"] if s["Sid"] == "PublishMetrics")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DataLake/Ingestion"}}


def test_one_role_per_workload_trusted_by_its_service_in_this_account(dev):
    roles = {
        r.name: r.inputs for r in dev.of_type("aws:iam/role:Role") if r.name.startswith("bronze-")
    }
    expected = {
        "bronze-processing-controller-role": "lambda.amazonaws.com",
        "bronze-ingest-lite-role": "lambda.amazonaws.com",
        "bronze-ingest-mass-task-role": "ecs-tasks.amazonaws.com",
        "bronze-ingest-mass-execution-role": "ecs-tasks.amazonaws.com",
        "bronze-ingestion-role": "states.amazonaws.com",
        "bronze-pipe-role": "pipes.amazonaws.com",
        "bronze-network-flow-logs-role": "vpc-flow-logs.amazonaws.com",
    }
    assert {
        n: json.loads(r["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]
        for n, r in roles.items()
    } == expected
    # The services that name the resource assuming the role are held to the lake's own;
    # Lambda and the ECS execution role do not send aws:SourceArn.
    arn = f"arn:aws:{{}}:eu-west-1:{ACCOUNT_ID}:{{}}"
    sources = {
        "bronze-ingest-mass-task-role": [arn.format("ecs", "*")],
        "bronze-ingestion-role": [arn.format("states", "stateMachine:datalake-dev-*")],
        "bronze-pipe-role": [arn.format("pipes", "pipe/datalake-dev-*")],
        "bronze-network-flow-logs-role": [arn.format("ec2", "vpc-flow-log/*")],
    }
    for name, role in roles.items():
        trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
        condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
        if name in sources:
            condition["ArnLike"] = {"aws:SourceArn": sources[name]}
        assert trust["Condition"] == condition, name
    functions = {
        f.inputs["name"]: f.inputs["role"]
        for f in dev.of_type("aws:lambda/function:Function")
        if f.name.startswith("bronze-")
    }
    assert len(set(functions.values())) == len(functions) == 2


def test_state_machine_may_pass_only_the_task_roles_to_ecs(dev):
    document = dev.policies("bronze-")["bronze-ingestion-policy"]
    passing = next(s for s in document["Statement"] if s["Sid"] == "PassTaskRoles")
    assert sorted(passing["Resource"]) == sorted(
        f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-bronze-ingest-mass-{kind}"
        for kind in ("task", "execution")
    )
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


# --- compute -------------------------------------------------------------------------------


def test_lambdas_run_the_bundled_handlers_with_the_pyarrow_layer(dev):
    functions = {f.name: f.inputs for f in dev.of_type("aws:lambda/function:Function")}
    controller, lite = functions["bronze-controller"], functions["bronze-ingest-lite"]
    assert controller["handler"] == "workloads.bronze.handlers.controller_handler"
    assert lite["handler"] == "workloads.bronze.handlers.ingest_handler"
    for function in (controller, lite):
        assert function["runtime"] == "python3.12" and function["architectures"] == ["arm64"]
        assert function["layers"] == [
            "arn:aws:lambda:eu-west-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:26"
        ]
        assert function["loggingConfig"]["logFormat"] == "JSON"
    assert (lite["memorySize"], lite["timeout"]) == (2048, 900)
    bundle = Path(lite["code"].path)
    assert bundle == Path(controller["code"].path)
    with zipfile.ZipFile(bundle) as archive:
        for module in (
            "workloads/bronze/handlers.py",
            "workloads/bronze/ingest.py",
            "datalake/control.py",
        ):
            assert archive.read(module) == (ROOT / module).read_bytes(), module


def test_lambda_wheels_are_pinned_by_the_constraints_file():
    from importlib.metadata import version

    pins = pinned_requirements(LAMBDA_PACKAGES, ROOT / "constraints.txt")
    # The Lambdas get exactly the versions the tests ran with.
    assert pins == tuple(f"{package}=={version(package)}" for package in LAMBDA_PACKAGES)
    with pytest.raises(ValueError, match="no pinned version for left-pad"):
        pinned_requirements(("left-pad",), ROOT / "constraints.txt")


def test_async_lambda_failures_go_to_encrypted_dead_letter_queues(dev):
    configs = dev.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert len(configs) == 2
    for config in configs:
        assert config.inputs["destinationConfig"]["onFailure"]["destination"].endswith("-dlq")
    for queue in dev.of_type("aws:sqs/queue:Queue"):
        assert queue.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_fargate_task_uses_settings_sizes_and_a_read_only_root(dev):
    (task,) = dev.of_type("aws:ecs/taskDefinition:TaskDefinition")
    assert (task.inputs["cpu"], task.inputs["memory"]) == ("2048", "8192")
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": "ARM64",
    }
    (container,) = json.loads(task.inputs["containerDefinitions"])
    assert container["image"].endswith("@sha256:" + "0" * 64)
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp"}]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["LAKE_BUCKET"] == LAKE and env["MAX_ATTEMPTS"] == "3"
    (image,) = dev.of_type("docker-build:index:Image")
    assert image.inputs["platforms"] == ["linux/arm64"] and image.inputs["push"] is True
    assert image.inputs["dockerfile"]["location"].endswith("workloads/bronze/Dockerfile")


def test_a_vpc_is_created_only_when_no_subnets_are_given(dev):
    assert len(dev.of_type("aws:ec2/vpc:Vpc")) == 1
    resources = run_stack(
        with_lake(
            network={
                "subnet_ids": ["subnet-0123456789abcdef0"],
                "security_group_ids": ["sg-0123456789abcdef0"],
                "assign_public_ip": False,
            }
        )
    )
    assert resources.of_type("aws:ec2/vpc:Vpc") == []
    assert validate_asl(definition(resources)) == []
    network = definition(resources)["States"]["IngestOnFargate"]["Parameters"][
        "NetworkConfiguration"
    ]
    assert network["AwsvpcConfiguration"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroups": ["sg-0123456789abcdef0"],
        "AssignPublicIp": "DISABLED",
    }


# --- tables, logs, alarms ------------------------------------------------------------------


def test_bronze_glue_tables_come_from_the_domain_with_partition_projection(dev):
    tables = {t.inputs["name"]: t.inputs for t in dev.of_type("aws:glue/catalogTable:CatalogTable")}
    assert set(tables) == set(DOMAIN.tables)
    profile = tables["profile"]
    assert profile["databaseName"] == "datalake_dev_bronze"
    assert [k["name"] for k in profile["partitionKeys"]] == ["year", "month", "day"]
    parameters = profile["parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["storage.location.template"] == (
        f"s3://{LAKE}/bronze/profile/year=${{year}}/month=${{month}}/day=${{day}}/"
    )
    columns = {c["name"]: c for c in profile["storageDescriptor"]["columns"]}
    expected = [*DOMAIN.table("profile").column_names, *(c.name for c in LINEAGE_COLUMNS)]
    assert list(columns) == expected
    assert columns["email"]["parameters"] == {"classification": "pii"}
    assert columns["profile_id"]["type"] == "bigint"
    assert profile["storageDescriptor"]["location"] == f"s3://{LAKE}/bronze/profile/"


def test_log_groups_have_retention_and_the_lake_key(dev):
    groups = [
        g for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("bronze-")
    ]
    assert len(groups) == 5  # controller, lite, mass, machine, VPC flow logs
    for group in groups:
        assert group.inputs["retentionInDays"] == 30
        assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")


def test_alarms_watch_exhausted_files_failed_executions_and_dead_letters():
    resources = run_stack(
        with_lake(
            observability={"alarm_topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:lake-alerts"}
        )
    )
    lake_wide = {r.urn for r in resources.children_of("datalake:index:LakeObservability")}
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in resources.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.urn not in lake_wide  # the lake-wide alarms: test_observability_component
    }
    assert set(alarms) == {
        "IngestAttemptsExhausted",
        "ExecutionsFailed",
        "ApproximateNumberOfMessagesVisible",
    }
    assert alarms["IngestAttemptsExhausted"]["namespace"] == "DataLake/Ingestion"
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:lake-alerts"]
