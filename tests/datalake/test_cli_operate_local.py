"""The operating commands against the local lake with ``--endpoint-url`` alone: no outputs
file, no Pulumi; the names derive from the local settings, as the local lake creates them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import typer
from typer.testing import CliRunner

from datalake.cli_operate import register
from datalake.control import ControlRecord, ControlStatus, control_id_for
from datalake.domain import default_domain_path, load_domain
from datalake.local_outputs import (
    STATE_MACHINES,
    lake_buckets,
    local_lake_outputs,
    local_outputs,
    local_settings,
)
from datalake.naming import PLANNED_RESOURCES, Bucket
from workloads.bronze import handlers as bronze
from workloads.local import runner as local_runner
from workloads.local.emulator import running_emulator
from workloads.local.resources import LocalLake, create_local_lake

ROOT = Path(__file__).resolve().parents[2]
BEER = load_domain(default_domain_path())
runner = CliRunner()


@pytest.fixture(scope="module")
def lake() -> Iterator[LocalLake]:
    settings = local_settings()
    with running_emulator(settings.region) as endpoint:
        yield create_local_lake(settings, endpoint, BEER)


@pytest.fixture
def no_pulumi(tmp_path, monkeypatch, lake) -> dict[str, str]:
    """PATH without ``pulumi``, no AWS_ENDPOINT_URL: only ``--endpoint-url`` finds the lake."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return {k: v for k, v in os.environ.items()}


def invoke(lake: LocalLake, *args: str):
    app, seed_app = typer.Typer(), typer.Typer()
    app.add_typer(seed_app, name="seed")
    register(app, seed_app)
    return runner.invoke(app, [*args, "--endpoint-url", lake.endpoint])


def failed_record(lake: LocalLake, layer: str, table: str, n: int) -> ControlRecord:
    checksum = f"{n:064x}"
    key = f"bronze/{table}/part-{n}.parquet"
    record = lake.store.register(
        ControlRecord(
            control_id=control_id_for(layer, lake.buckets[Bucket.LAKE], key, checksum),
            layer=layer,
            table_name=table,
            bucket=lake.buckets[Bucket.LAKE],
            object_key=key,
            format="parquet",
            record_count=3,
            checksum=checksum,
        )
    )
    assert lake.store.claim(record.control_id, "worker") is not None
    return lake.store.fail(record.control_id, "worker", "merge failed: disk full")


def test_the_derived_outputs_name_what_the_local_lake_creates(lake):
    outputs = local_lake_outputs(None, "123456789012")
    assert outputs == local_outputs(lake.settings, "123456789012")
    assert (outputs.landing_bucket, outputs.lake_bucket, outputs.artifacts_bucket) == (
        lake.buckets[Bucket.LANDING],
        lake.buckets[Bucket.LAKE],
        lake.buckets[Bucket.ARTIFACTS],
    )
    assert lake_buckets(lake.settings.names) == lake.buckets
    assert outputs.control_table_name == lake.store.table.name
    assert outputs.region == lake.settings.region
    # the local run's settings are these (workloads/local/runner.py)
    assert local_runner.local_settings() == local_settings()
    planned = {purpose for purpose, kind in PLANNED_RESOURCES if kind == "state-machine"}
    assert set(STATE_MACHINES.values()) <= planned
    assert outputs.silver_state_machine_arn == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:datalake-local-silver-pipeline"
    )


def test_seed_upload_then_status_with_only_the_endpoint(lake, no_pulumi, monkeypatch):
    """Upload to the local landing, register the objects as S3 would have the controller do,
    then ``datalake status`` (a subprocess: the CLI as a user runs it) shows the records."""
    result = invoke(lake, "seed", "upload", "--rows", "40", "--files", "1")
    assert result.exit_code == 0, result.output
    keys = [line.split("/", 3)[3] for line in result.stdout.splitlines()]
    landing = lake.buckets[Bucket.LANDING]
    assert all(line.startswith(f"s3://{landing}/raw/") for line in result.stdout.splitlines())
    listed = lake.s3.list_objects_v2(Bucket=landing, Prefix="raw/")["Contents"]
    assert sorted(keys) == sorted(item["Key"] for item in listed)
    with monkeypatch.context() as patch:  # the controller, as the S3 notification runs it
        for name, value in {
            **lake.environment(),
            "AWS_ENDPOINT_URL": lake.endpoint,
            "AWS_DEFAULT_REGION": lake.settings.region,
        }.items():
            patch.setenv(name, value)
        for item in listed:
            bronze.controller_handler(local_runner.s3_event(landing, item["Key"], item["Size"]))
    failed = failed_record(lake, "silver", "review", 1)

    status = subprocess.run(
        [sys.executable, "-m", "datalake", "status", "--endpoint-url", lake.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**no_pulumi, "PYTHONPATH": str(ROOT)},
    )
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    tables = {key.split("/")[1] for key in keys}
    for table in tables:
        registered = sum(1 for key in keys if key.split("/")[1] == table)
        assert f"bronze\t{table}\tpending\t{registered}" in lines
    assert "silver\treview\terror\t1" in lines
    (error,) = [line for line in lines if line.startswith("error\t")]
    assert error.split("\t")[1:4] == [failed.control_id, "silver", "review"]
    assert error.endswith("\tmerge failed: disk full")


def test_status_draws_the_control_table_of_the_local_lake(lake, no_pulumi, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "240")
    failed_record(lake, "gold", "beer_style_month", 2)
    result = invoke(lake, "status")
    assert result.exit_code == 0, result.output
    assert f"control records ({lake.settings.names.control_table})" in result.output
    assert "merge failed: disk full" in result.output


def test_reprocess_and_process_find_the_local_lake(lake, no_pulumi):
    record = failed_record(lake, "silver", "beer", 3)
    result = invoke(lake, "reprocess", "--control-id", record.control_id)
    assert result.exit_code == 0, result.output
    assert "is pending again" in result.output
    assert lake.store.get(record.control_id).status is ControlStatus.PENDING

    # A state machine named as the stack names it (the local lake creates none of its own).
    states = boto3.client("stepfunctions", endpoint_url=lake.endpoint, region_name="us-east-1")
    arn = states.create_state_machine(
        name=lake.settings.names.resource("silver-pipeline"),
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    result = invoke(lake, "process", "--layer", "silver")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith(arn.replace(":stateMachine:", ":execution:") + ":")
    assert len(states.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_an_invalid_region_for_the_local_lake_is_one_line(lake, no_pulumi):
    result = invoke(lake, "status", "--region", "nowhere")
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert result.output.count("\n") == 1


def test_outputs_or_stack_still_win_over_the_local_lake(lake, no_pulumi, tmp_path):
    """With --stack, Pulumi is asked (not on PATH here), whatever the endpoint."""
    result = invoke(lake, "status", "--stack", "dev")
    assert result.exit_code == 1
    assert result.output.startswith("error: pulumi is not on PATH")
