"""BronzeZone under Pulumi mocks: event wiring, dispatch, least privilege, tables, code."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from components.code import LAMBDA_PACKAGES, pinned_requirements
from components.preview import ACCOUNT_ID, ROOT, Registered, run_program, stack_config
from datalake.contracts import CONTRACTS, LINEAGE_COLUMNS
from datalake.errors import NOT_RETRYABLE

LANDING = "datalake-dev-landing-eu-west-1"
LAKE = "datalake-dev-lake-eu-west-1"
DATA_BUCKETS = (LANDING, LAKE)


def of_type(resources: list[Registered], type_: str) -> list[Registered]:
    return [r for r in resources if r.type == type_]


def named(resources: list[Registered], type_: str, name: str) -> Registered:
    (found,) = [r for r in of_type(resources, type_) if r.name == name]
    return found


def definition(resources: list[Registered]) -> dict[str, Any]:
    machine = named(resources, "aws:sfn/stateMachine:StateMachine", "bronze-ingestion")
    return json.loads(machine.inputs["definition"])


def policies(resources: list[Registered]) -> dict[str, dict[str, Any]]:
    """Inline policy documents of the bronze roles, by logical policy name."""
    return {
        r.name: json.loads(r.inputs["policy"])
        for r in of_type(resources, "aws:iam/rolePolicy:RolePolicy")
        if r.name.startswith("bronze-")
    }


def with_lake(overrides: dict[str, Any]) -> dict[str, Any]:
    config = stack_config("dev")
    lake = dict(config["datalake:lake"])
    for key, value in overrides.items():
        lake[key] = {**lake.get(key, {}), **value}
    config["datalake:lake"] = lake
    return config


# --- event wiring --------------------------------------------------------------------------


def test_landing_bucket_notifies_the_controller_for_raw_gzip_objects(dev_resources):
    (notification,) = of_type(dev_resources, "aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["bucket"] == LANDING
    controller = named(dev_resources, "aws:lambda/function:Function", "bronze-controller")
    rules = notification.inputs["lambdaFunctions"]
    assert {r["filterSuffix"] for r in rules} == {".csv.gz", ".jsonl.gz", ".json.gz"}
    for rule in rules:
        assert rule["filterPrefix"] == "raw/"
        assert rule["events"] == ["s3:ObjectCreated:*"]
        assert rule["lambdaFunctionArn"].endswith(controller.inputs["name"])
    (permission,) = of_type(dev_resources, "aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["sourceArn"] == f"arn:aws:s3:::{LANDING}"
    assert permission.inputs["sourceAccount"] == ACCOUNT_ID


def test_pipe_starts_ingestion_for_new_pending_bronze_records_only(dev_resources):
    (pipe,) = of_type(dev_resources, "aws:pipes/pipe:Pipe")
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


def test_state_machine_is_standard_and_dispatches_on_the_settings_threshold(dev_resources):
    machine = named(dev_resources, "aws:sfn/stateMachine:StateMachine", "bronze-ingestion")
    assert machine.inputs["type"] == "STANDARD"  # Express cannot wait on an ECS task
    states = definition(dev_resources)["States"]
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


def test_threshold_and_retries_follow_settings():
    resources = run_program(
        "dev",
        with_lake(
            {
                "ingestion": {
                    "mass_threshold_records": 5_000,
                    "max_attempts": 5,
                    "retry_interval_seconds": 20,
                }
            }
        ),
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
    controller = named(resources, "aws:lambda/function:Function", "bronze-controller")
    assert controller.inputs["environment"]["variables"]["MASS_THRESHOLD_RECORDS"] == "5000"


def test_failures_are_caught_recorded_and_fail_the_execution(dev_resources):
    states = definition(dev_resources)["States"]
    for task in ("IngestOnLambda", "IngestOnFargate"):
        assert states[task]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}
        ]
    record = states["RecordFailure"]
    assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert record["Parameters"]["ConditionExpression"] == "#s IN (:pending, :running)"
    assert record["Next"] == "IngestFailed" and states["IngestFailed"]["Type"] == "Fail"


# --- least privilege -----------------------------------------------------------------------

S3_ACTIONS = ("s3:",)


def s3_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if any(a.startswith(S3_ACTIONS) for a in actions):
            out.append(statement)
    return out


def resources_of(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return value if isinstance(value, list) else [value]


def test_no_bronze_policy_grants_a_data_bucket_wholesale(dev_resources):
    for name, document in policies(dev_resources).items():
        for statement in document["Statement"]:
            for resource in resources_of(statement):
                for bucket in DATA_BUCKETS:
                    assert resource not in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"), (
                        name
                    )
        for statement in s3_statements(document):
            assert "*" not in resources_of(statement), name


def test_controller_reads_raw_and_registers_records_only(dev_resources):
    document = policies(dev_resources)["bronze-processing-controller-policy"]
    (s3,) = s3_statements(document)
    assert s3["Action"] == ["s3:GetObject"]
    assert s3["Resource"] == [f"arn:aws:s3:::{LANDING}/raw/*"]
    dynamo = next(s for s in document["Statement"] if s["Sid"] == "ControlRecords")
    assert "dynamodb:UpdateItem" not in dynamo["Action"]
    assert dynamo["Resource"][0].endswith("datalake-dev-processing-control")


@pytest.mark.parametrize("policy", ["bronze-ingest-lite-policy", "bronze-ingest-mass-task-policy"])
def test_workers_read_raw_and_write_only_bronze_and_quarantine(dev_resources, policy):
    document = policies(dev_resources)[policy]
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


def test_one_role_per_workload_trusted_by_its_service_in_this_account(dev_resources):
    roles = {
        r.name: r.inputs
        for r in of_type(dev_resources, "aws:iam/role:Role")
        if r.name.startswith("bronze-")
    }
    expected = {
        "bronze-processing-controller-role": "lambda.amazonaws.com",
        "bronze-ingest-lite-role": "lambda.amazonaws.com",
        "bronze-ingest-mass-task-role": "ecs-tasks.amazonaws.com",
        "bronze-ingest-mass-execution-role": "ecs-tasks.amazonaws.com",
        "bronze-ingestion-role": "states.amazonaws.com",
        "bronze-pipe-role": "pipes.amazonaws.com",
    }
    assert {
        n: json.loads(r["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]
        for n, r in roles.items()
    } == expected
    for role in roles.values():
        trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    functions = {
        f.inputs["name"]: f.inputs["role"]
        for f in of_type(dev_resources, "aws:lambda/function:Function")
        if f.name.startswith("bronze-")
    }
    assert len(set(functions.values())) == len(functions) == 2


def test_state_machine_may_pass_only_the_task_roles_to_ecs(dev_resources):
    document = policies(dev_resources)["bronze-ingestion-policy"]
    passing = next(s for s in document["Statement"] if s["Sid"] == "PassTaskRoles")
    assert sorted(passing["Resource"]) == sorted(
        f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-bronze-ingest-mass-{kind}"
        for kind in ("task", "execution")
    )
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


# --- compute -------------------------------------------------------------------------------


def test_lambdas_run_the_bundled_handlers_with_the_pyarrow_layer(dev_resources):
    functions = {f.name: f.inputs for f in of_type(dev_resources, "aws:lambda/function:Function")}
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
    pins = pinned_requirements(LAMBDA_PACKAGES, ROOT / "constraints.txt")
    assert "pydantic==2.14.3" in pins and "aws-lambda-powertools==3.37.0" in pins
    with pytest.raises(ValueError, match="no pinned version for left-pad"):
        pinned_requirements(("left-pad",), ROOT / "constraints.txt")


def test_async_lambda_failures_go_to_encrypted_dead_letter_queues(dev_resources):
    configs = of_type(
        dev_resources, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
    )
    assert len(configs) == 2
    for config in configs:
        assert config.inputs["destinationConfig"]["onFailure"]["destination"].endswith("-dlq")
    for queue in of_type(dev_resources, "aws:sqs/queue:Queue"):
        assert queue.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_fargate_task_uses_settings_sizes_and_a_read_only_root(dev_resources):
    (task,) = of_type(dev_resources, "aws:ecs/taskDefinition:TaskDefinition")
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
    (image,) = of_type(dev_resources, "docker-build:index:Image")
    assert image.inputs["platforms"] == ["linux/arm64"] and image.inputs["push"] is True
    assert image.inputs["dockerfile"]["location"].endswith("workloads/bronze/Dockerfile")


def test_a_vpc_is_created_only_when_no_subnets_are_given(dev_resources):
    assert len(of_type(dev_resources, "aws:ec2/vpc:Vpc")) == 1
    resources = run_program(
        "dev",
        with_lake(
            {
                "network": {
                    "subnet_ids": ["subnet-0123456789abcdef0"],
                    "security_group_ids": ["sg-0123456789abcdef0"],
                    "assign_public_ip": False,
                }
            }
        ),
    )
    assert of_type(resources, "aws:ec2/vpc:Vpc") == []
    network = definition(resources)["States"]["IngestOnFargate"]["Parameters"][
        "NetworkConfiguration"
    ]
    assert network["AwsvpcConfiguration"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroups": ["sg-0123456789abcdef0"],
        "AssignPublicIp": "DISABLED",
    }


# --- tables, logs, alarms ------------------------------------------------------------------


def test_bronze_glue_tables_come_from_the_contracts_with_partition_projection(dev_resources):
    tables = {
        t.inputs["name"]: t.inputs
        for t in of_type(dev_resources, "aws:glue/catalogTable:CatalogTable")
    }
    assert set(tables) == set(CONTRACTS)
    profile = tables["profile"]
    assert profile["databaseName"] == "datalake_dev_bronze"
    assert [k["name"] for k in profile["partitionKeys"]] == ["year", "month", "day"]
    parameters = profile["parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["storage.location.template"] == (
        f"s3://{LAKE}/bronze/profile/year=${{year}}/month=${{month}}/day=${{day}}/"
    )
    columns = {c["name"]: c for c in profile["storageDescriptor"]["columns"]}
    assert list(columns) == [*CONTRACTS["profile"].column_names, *(c.name for c in LINEAGE_COLUMNS)]
    assert columns["email"]["parameters"] == {"classification": "pii"}
    assert columns["profile_id"]["type"] == "bigint"
    assert profile["storageDescriptor"]["location"] == f"s3://{LAKE}/bronze/profile/"


def test_log_groups_have_retention_and_the_lake_key(dev_resources):
    groups = [
        g
        for g in of_type(dev_resources, "aws:cloudwatch/logGroup:LogGroup")
        if g.name.startswith("bronze-")
    ]
    assert len(groups) == 4
    for group in groups:
        assert group.inputs["retentionInDays"] == 30
        assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")


def test_alarms_watch_exhausted_files_failed_executions_and_dead_letters():
    resources = run_program(
        "dev",
        with_lake(
            {
                "observability": {
                    "alarm_topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:lake-alerts"
                }
            }
        ),
    )
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in of_type(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {
        "IngestAttemptsExhausted",
        "ExecutionsFailed",
        "ApproximateNumberOfMessagesVisible",
    }
    assert alarms["IngestAttemptsExhausted"]["namespace"] == "DataLake/Ingestion"
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:lake-alerts"]
