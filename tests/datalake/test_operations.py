"""Operating a lake through moto's server: outputs, seed upload, runs, status, reprocess."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
import typer
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from datalake.cli_operate import register
from datalake.control import (
    ControlRecord,
    ControlStatus,
    ControlStore,
    control_id_for,
)
from datalake.control_table import create_control_table
from datalake.domain import default_domain_path, load_domain
from datalake.operations import (
    Aws,
    operated_domain,
    parse_tables,
    reprocess,
    start_processing,
    status_summary,
    upload_input,
    wait_for,
)
from datalake.stack_outputs import LakeOutputs, OperationsError, load_outputs
from examples.beer.generate import sample_file

ROOT = Path(__file__).resolve().parents[2]
BEER = load_domain(default_domain_path())
RETAIL_FILE = ROOT / "examples" / "retail" / "domain.yaml"
RETAIL = load_domain(RETAIL_FILE)

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/states"
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
FAIL = {
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}},
}
WAIT = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 30, "End": True}}}
runner = CliRunner()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        # moto runs Step Functions definitions (Pass, Fail, Wait...) only when asked to.
        patch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture(scope="module")
def aws(endpoint) -> Aws:
    return Aws(region=REGION, endpoint_url=endpoint)  # one session: its models load once


@dataclass
class Lake:
    endpoint: str
    outputs: LakeOutputs
    outputs_file: Path
    aws: Aws
    store: ControlStore

    def invoke(self, *args: str):
        app = typer.Typer()
        seed_app = typer.Typer()
        app.add_typer(seed_app, name="seed")
        register(app, seed_app)
        common = ["--outputs", str(self.outputs_file), "--endpoint-url", self.endpoint]
        return runner.invoke(app, [*args, *common])

    def executions(self, state_machine_arn: str) -> list[dict]:
        sfn = self.aws.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.fixture
def lake(endpoint, aws, tmp_path) -> Lake:
    """A fresh, uniquely named lake on the shared server: buckets, control table, pipelines."""
    suffix = uuid.uuid4().hex[:8]
    s3 = aws.client("s3")
    buckets = {p: f"ops-{suffix}-{p}" for p in ("landing", "lake", "artifacts", "observer")}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    table = create_control_table(aws.resource("dynamodb"), f"ops-{suffix}-processing-control")
    sfn = aws.client("stepfunctions")
    machines = {
        purpose: sfn.create_state_machine(
            name=f"ops-{suffix}-{purpose}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        for purpose, definition in {
            "silver-pipeline": PASS,
            "gold-marts": FAIL,  # to see a failed run
            "bronze-ingestion": PASS,
        }.items()
    }
    data = {
        "region": REGION,
        **{f"{p}_bucket": name for p, name in buckets.items()},
        "control_table_name": table.name,
        "silver_state_machine_arn": machines["silver-pipeline"],
        "gold_state_machine_arn": machines["gold-marts"],
        "bronze_ingestion_state_machine_arn": machines["bronze-ingestion"],
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/x",  # others are ignored
    }
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(data))
    return Lake(endpoint, load_outputs(outputs_file, None), outputs_file, aws, ControlStore(table))


def new_record(
    layer: str = "bronze", table: str = "beer", key: str = "raw/beer/beer.csv.gz", n: int = 0
) -> ControlRecord:
    checksum = f"{n:064x}"
    return ControlRecord(
        control_id=control_id_for(layer, "landing", key, checksum),
        layer=layer,
        table_name=table,
        bucket="landing",
        object_key=key,
        format="csv",
        record_count=10,
        checksum=checksum,
    )


def failed(store: ControlStore, record: ControlRecord, message: str, **kwargs) -> ControlRecord:
    store.register(record)
    assert store.claim(record.control_id, "worker") is not None
    return store.fail(record.control_id, "worker", message, **kwargs)


# --- outputs -----------------------------------------------------------------------------------


def test_outputs_come_from_the_file_and_ignore_other_keys(lake):
    assert lake.outputs.region == REGION
    assert lake.outputs.landing_bucket.endswith("-landing")
    assert lake.outputs.control_table_name.endswith("-processing-control")


def test_a_missing_outputs_file_is_named(tmp_path):
    with pytest.raises(OperationsError, match=r"outputs file .*nope.json does not exist"):
        load_outputs(tmp_path / "nope.json", None)


def test_missing_outputs_are_named(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"landing_bucket": "l", "lake_bucket": "k"}))
    with pytest.raises(OperationsError) as error:
        load_outputs(path, None)
    message = str(error.value)
    assert "lacks the stack outputs" in message
    for name in ("artifacts_bucket", "control_table_name", "gold_state_machine_arn"):
        assert name in message
    assert "landing_bucket" not in message and "region" not in message


@pytest.mark.parametrize(
    ("text", "problem"), [("{not json", "is not JSON"), ("[1, 2]", "must hold one JSON object")]
)
def test_an_outputs_file_that_is_not_an_object_is_refused(tmp_path, text, problem):
    path = tmp_path / "outputs.json"
    path.write_text(text)
    with pytest.raises(OperationsError, match=problem):
        load_outputs(path, None)


def test_without_pulumi_on_path_the_error_says_to_pass_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OperationsError, match=r"pulumi is not on PATH: pass --outputs FILE"):
        load_outputs(None, "dev")


def test_stack_and_outputs_file_together_are_refused(lake):
    with pytest.raises(OperationsError, match="do not combine it with --outputs"):
        load_outputs(lake.outputs_file, "dev")


def fake_pulumi(directory: Path, script: str) -> None:
    path = directory / "pulumi"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_outputs_are_read_from_pulumi_for_the_given_stack(lake, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pulumi(bin_dir, f'echo "$@" > {tmp_path}/args\ncat {lake.outputs_file}')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert load_outputs(None, "dev") == lake.outputs
    assert (tmp_path / "args").read_text().split() == [
        "stack",
        "output",
        "--json",
        "--stack",
        "dev",
    ]


def test_a_failing_pulumi_reports_its_error(tmp_path, monkeypatch):
    fake_pulumi(tmp_path, "echo 'error: no stack named dev found' >&2\nexit 255")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    with pytest.raises(OperationsError) as error:
        load_outputs(None, "dev")
    assert str(error.value) == (
        "pulumi stack output --stack dev failed (exit 255): no stack named dev found"
    )


def test_the_cli_reports_outputs_problems_on_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    app = typer.Typer()
    register(app, typer.Typer())
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.output.startswith("error: pulumi is not on PATH: pass --outputs FILE")
    assert result.output.count("\n") == 1

    result = runner.invoke(app, ["status", "--outputs", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "error: outputs file" in result.output and "does not exist" in result.output


# --- seed upload -------------------------------------------------------------------------------


def read_csv_gz(body: bytes):
    return pacsv.read_csv(io.BytesIO(gzip.decompress(body)))


def test_seed_upload_puts_the_generated_input_in_landing_order(lake):
    result = lake.invoke("seed", "upload", "--reviews", "1000", "--files", "2", "--seed", "3")
    assert result.exit_code == 0, result.output
    batch = [
        "raw/brewery/brewery.csv.gz",
        "raw/beer/beer.csv.gz",
        "raw/profile/profile.csv.gz",
        "raw/review/reviews-0001.csv.gz",
        "raw/review/reviews-0002.csv.gz",
    ]
    bucket = lake.outputs.landing_bucket
    uploaded = [line for line in result.output.splitlines() if line.startswith("s3://")]
    assert uploaded[:5] == [f"s3://{bucket}/{key}" for key in batch]
    assert all("/cdc/" in line for line in uploaded[5:]) and len(uploaded) == 11
    assert "uploaded 11 objects of domain beer-reviews: 1,000 reviews in 2 files" in result.output
    s3 = lake.aws.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(listed) == 11

    def body(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    for table in ("brewery", "beer", "profile"):
        assert body(f"raw/{table}/{table}.csv.gz") == sample_file(table).read_bytes()
    parts = [read_csv_gz(body(key)) for key in batch[3:]]
    assert [p.num_rows for p in parts] == [500, 500]
    ids = [i for p in parts for i in p.column("review_id").to_pylist()]
    assert ids == list(range(1, 1001))  # no overlap between parts


def test_seed_upload_is_deterministic_and_can_continue_the_ids(lake):
    bucket = lake.outputs.landing_bucket
    key = "raw/review/reviews-0001.csv.gz"
    s3 = lake.aws.client("s3")

    def upload(*arguments: str) -> bytes:
        result = lake.invoke("seed", "upload", *arguments)
        assert result.exit_code == 0, result.output
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    first = upload("--reviews", "30", "--files", "3", "--seed", "5")
    assert upload("--reviews", "30", "--files", "3", "--seed", "5") == first  # same bytes
    continued = upload("--reviews", "10", "--files", "1", "--seed", "6", "--first-id", "31")
    assert read_csv_gz(continued).column("review_id").to_pylist() == list(range(31, 41))


def test_seed_upload_of_an_input_folder_of_another_domain(lake):
    result = lake.invoke(
        "seed", "upload", "--domain", str(RETAIL_FILE), "--input", str(RETAIL_FILE.parent / "data")
    )
    assert result.exit_code == 0, result.output
    uploaded = [line.rsplit("/raw/", 1)[1] for line in result.output.split() if "s3://" in line]
    assert uploaded[0] == "customers/customers.csv.gz"
    assert uploaded[-1] == "orders/cdc/changes-0002.jsonl.gz"  # a plain file, gzipped
    s3 = lake.aws.client("s3")
    plain = s3.get_object(Bucket=lake.outputs.landing_bucket, Key=f"raw/{uploaded[-1]}")
    assert (
        gzip.decompress(plain["Body"].read())
        == (RETAIL_FILE.parent / "data" / "orders" / "cdc" / "changes-0002.jsonl").read_bytes()
    )


def test_upload_refuses_a_folder_of_no_table_before_uploading(lake, tmp_path):
    folder = tmp_path / "input"
    (folder / "nope").mkdir(parents=True)
    (folder / "nope" / "a.csv").write_text("a\n")
    s3 = lake.aws.client("s3")
    with pytest.raises(OperationsError, match=r"folder\(s\) nope name no table"):
        upload_input(s3, lake.outputs.landing_bucket, RETAIL, folder)
    assert "Contents" not in s3.list_objects_v2(Bucket=lake.outputs.landing_bucket)


def test_seed_upload_refuses_more_files_than_reviews(lake):
    result = lake.invoke("seed", "upload", "--reviews", "2", "--files", "3")
    assert result.exit_code == 1
    assert "error: cannot split 2 rows into 3 non-empty files" in result.output


def test_the_operated_domain_comes_from_the_option_the_stack_file_or_the_default(tmp_path):
    assert operated_domain(RETAIL_FILE).name == "retail-orders"
    assert operated_domain().name == BEER.name
    stack = tmp_path / "Pulumi.qa.yaml"
    stack.write_text(f"config:\n  datalake:lake:\n    domain: {RETAIL_FILE}\n")
    assert operated_domain(stack_file=stack).name == "retail-orders"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    with pytest.raises(OperationsError, match="invalid domain file"):
        operated_domain(bad)


# --- process -----------------------------------------------------------------------------------


def test_process_prints_the_execution_arn_and_passes_the_tables(lake):
    result = lake.invoke("process", "--layer", "silver", "--tables", "beer, review,beer")
    assert result.exit_code == 0, result.output
    arn = result.output.strip()
    assert arn.startswith("arn:aws:states:us-east-1:") and ":execution:" in arn
    assert re.fullmatch(r"cli-\d{8}T\d{6}Z-[0-9a-f]{8}", arn.rsplit(":", 1)[1])
    (execution,) = lake.executions(lake.outputs.silver_state_machine_arn)
    assert execution["executionArn"] == arn
    assert json.loads(execution["input"]) == {"tables": ["beer", "review"]}


def test_process_without_tables_sends_an_empty_input(lake):
    sfn = lake.aws.client("stepfunctions")
    arn = start_processing(sfn, lake.outputs.silver_state_machine_arn)
    assert json.loads(sfn.describe_execution(executionArn=arn)["input"]) == {}


def test_process_wait_reports_success(lake):
    result = lake.invoke("process", "--layer", "silver", "--wait", "--poll", "0.05")
    assert result.exit_code == 0, result.output
    arn, status = result.output.split()
    assert status == "SUCCEEDED" and arn.startswith("arn:aws:states:")
    assert lake.executions(lake.outputs.silver_state_machine_arn)[0]["status"] == "SUCCEEDED"


def test_process_wait_fails_when_the_run_fails(lake):
    result = lake.invoke("process", "--layer", "gold", "--wait", "--poll", "0.05")
    assert result.exit_code == 1
    arn, error = result.output.splitlines()
    assert arn.startswith("arn:aws:states:")
    assert error == "error: gold run FAILED: Boom: it broke"


def test_unknown_tables_are_refused_before_anything_starts(lake):
    result = lake.invoke("process", "--layer", "silver", "--tables", "beer,beers")
    assert result.exit_code == 1
    assert "error: unknown silver table(s): beers; known: brewery, beer, profile, review" in (
        result.output
    )
    assert lake.executions(lake.outputs.silver_state_machine_arn) == []
    assert parse_tables("gold", "top_drinkers", BEER) == ["top_drinkers"]
    with pytest.raises(OperationsError, match="--tables is empty"):
        parse_tables("silver", " , ", BEER)


def test_the_tables_of_a_run_are_those_of_the_lakes_domain(lake):
    result = lake.invoke(
        "process", "--layer", "gold", "--tables", "orders_by_state", "--domain", str(RETAIL_FILE)
    )
    assert result.exit_code == 0, result.output
    result = lake.invoke(
        "process", "--layer", "silver", "--tables", "review", "--domain", str(RETAIL_FILE)
    )
    assert result.exit_code == 1
    assert "unknown silver table(s): review; known: customers, products, orders, order_lines" in (
        " ".join(result.output.split())
    )


def test_waiting_gives_up_after_the_timeout(lake):
    sfn = lake.aws.client("stepfunctions")
    slow = sfn.create_state_machine(
        name=f"{lake.outputs.lake_bucket}-slow", definition=json.dumps(WAIT), roleArn=ROLE
    )["stateMachineArn"]
    data = json.loads(lake.outputs_file.read_text())
    lake.outputs_file.write_text(json.dumps({**data, "silver_state_machine_arn": slow}))
    arn = start_processing(sfn, slow)
    try:
        with pytest.raises(OperationsError, match=r"is still RUNNING after 0.2 s"):
            wait_for(sfn, arn, 0.05, 0.2)
        result = lake.invoke("process", "--layer", "silver", "--wait", "--timeout", "0.1")
        assert result.exit_code == 1
        assert "error: execution arn:aws:states:" in result.output
        assert "is still RUNNING after 0.1 s" in result.output
    finally:
        for execution in sfn.list_executions(stateMachineArn=slow)["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"])


# --- status ------------------------------------------------------------------------------------


def make_records(store: ControlStore) -> dict[str, ControlRecord]:
    """Bronze: 2 pending beer, 1 running + 2 failed review; silver: 1 failed beer."""
    for n in range(2):
        store.register(new_record(key=f"raw/beer/b{n}.csv.gz", n=n))
    running = store.register(new_record(table="review", key="raw/review/r0.csv.gz", n=10))
    store.claim(running.control_id, "worker")
    older = failed(store, new_record(table="review", key="raw/review/r1.csv.gz", n=11), "old")
    newer = failed(store, new_record(table="review", key="raw/review/r2.csv.gz", n=12), "new\nx")
    silver = failed(store, new_record("silver", key="bronze/beer/x.parquet", n=13), "silver down")
    return {"older": older, "newer": newer, "silver": silver}


def test_status_summary_counts_every_layer_table_and_status(lake):
    records = make_records(lake.store)
    summary = status_summary(lake.store, errors=2)
    assert [(c.layer, c.table, c.status, c.count) for c in summary.counts] == [
        ("bronze", "beer", "pending", 2),
        ("bronze", "review", "running", 1),
        ("bronze", "review", "error", 2),
        ("silver", "beer", "error", 1),
    ]
    # The newest two failures, newest first.
    assert [e.control_id for e in summary.errors] == [
        records["silver"].control_id,
        records["newer"].control_id,
    ]
    assert summary.errors[1].key == "raw/review/r2.csv.gz"
    assert summary.errors[1].error == "new\nx" and summary.errors[1].attempts == 1


def test_status_command_prints_tab_separated_lines_when_piped(lake):
    records = make_records(lake.store)
    result = lake.invoke("status", "--errors", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "bronze\tbeer\tpending\t2",
        "bronze\treview\trunning\t1",
        "bronze\treview\terror\t2",
        "silver\tbeer\terror\t1",
    ]
    (error,) = lines[4:]
    fields = error.split("\t")
    assert fields[:5] == ["error", records["silver"].control_id, "silver", "beer", fields[4]]
    assert fields[-1] == "silver down"


def test_status_shows_the_records_bronze_skipped_per_table(lake, monkeypatch):
    for n, (table, skipped) in enumerate([("beer", 2), ("beer", 1), ("review", 0)]):
        record = lake.store.register(new_record(table=table, key=f"raw/{table}/c{n}.jsonl.gz", n=n))
        lake.store.claim(record.control_id, "worker")
        lake.store.complete(
            record.control_id, "worker", rows_in=10, rows_written=10 - skipped,
            rows_quarantined=0, rows_skipped=skipped,
        )  # fmt: skip
    summary = status_summary(lake.store)
    assert [(s.table, s.rows) for s in summary.skipped] == [("beer", 3)]
    result = lake.invoke("status")
    assert result.exit_code == 0, result.output
    assert "skipped\tbeer\t3" in result.output.splitlines()
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "240")
    result = lake.invoke("status")
    assert "records bronze skipped (DMS control records, DMS's own tables)" in result.output


def test_status_command_draws_tables_on_a_terminal(lake, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "240")
    records = make_records(lake.store)
    result = lake.invoke("status")
    assert result.exit_code == 0, result.output
    assert f"control records ({lake.outputs.control_table_name})" in result.output
    assert "latest 3 failures, newest first" in result.output
    assert records["older"].control_id in result.output
    assert "new x" in result.output  # the error on one line


def test_status_of_an_empty_table_and_of_a_missing_one(lake, tmp_path, monkeypatch):
    assert status_summary(lake.store) == status_summary(lake.store, errors=0)
    assert status_summary(lake.store).counts == []
    data = json.loads(lake.outputs_file.read_text())
    data["control_table_name"] = "no-such-table"
    lake.outputs_file.write_text(json.dumps(data))
    result = lake.invoke("status")
    assert result.exit_code == 1
    assert result.output.startswith("error: An error occurred (ResourceNotFoundException)")


# --- reprocess ---------------------------------------------------------------------------------


def test_reprocess_puts_a_failed_record_back_to_pending(lake):
    record = failed(lake.store, new_record("silver", table="review", n=1), "spark died")
    again = reprocess(lake.store, record.control_id)
    assert again.status is ControlStatus.PENDING
    assert again.attempts == 0 and again.retryable
    assert (again.error, again.claimed_by, again.lease_expires_at) == (None, None, None)
    assert again.updated_at > record.updated_at
    assert lake.store.get(record.control_id) == again
    assert [r.control_id for r in lake.store.by_status("silver", ControlStatus.PENDING)] == [
        record.control_id
    ]
    assert list(lake.store.by_status("silver", ControlStatus.ERROR)) == []
    assert lake.store.claim(record.control_id, "next-run").attempts == 1  # claimable again


def test_reprocess_command_restarts_a_bronze_ingestion(lake):
    record = failed(lake.store, new_record(n=2), "throttled", retryable=False)
    result = lake.invoke("reprocess", "--control-id", record.control_id)
    assert result.exit_code == 0, result.output
    assert f"bronze record {record.control_id} (beer, raw/beer/beer.csv.gz) is pending" in (
        result.output
    )
    assert "started bronze ingestion: arn:aws:states:" in result.output
    stored = lake.store.get(record.control_id)
    assert stored.status is ControlStatus.PENDING and stored.retryable
    (execution,) = lake.executions(lake.outputs.bronze_ingestion_state_machine_arn)
    assert execution["name"].startswith("reprocess-")
    assert json.loads(execution["input"]) == {"control_id": record.control_id, "record_count": 10}


def test_reprocess_command_leaves_silver_records_to_the_next_run(lake):
    record = failed(lake.store, new_record("silver", n=3), "spark died")
    result = lake.invoke("reprocess", "--control-id", record.control_id)
    assert result.exit_code == 0, result.output
    assert "the next silver run claims it" in result.output
    assert lake.executions(lake.outputs.bronze_ingestion_state_machine_arn) == []


def test_reprocess_refuses_a_record_that_is_not_in_error(lake):
    record = lake.store.register(new_record(n=4))
    lake.store.claim(record.control_id, "worker")
    lake.store.complete(record.control_id, "worker", rows_in=10, rows_written=10)
    result = lake.invoke("reprocess", "--control-id", record.control_id)
    assert result.exit_code == 1
    assert result.output == (
        f"error: control record {record.control_id} is success, not error: "
        "only failed records can be reprocessed\n"
    )
    assert lake.store.get(record.control_id).status is ControlStatus.SUCCESS


def test_reprocess_refuses_unknown_and_unreadable_records(lake):
    result = lake.invoke("reprocess", "--control-id", "nope")
    assert result.exit_code == 1
    assert result.output == "error: control record nope does not exist\n"

    unreadable = new_record(key="raw/beer/broken.csv.gz", n=5).model_copy(
        update={"status": ControlStatus.ERROR, "record_count": None, "error": "not gzip"}
    )
    lake.store.register(unreadable)
    with pytest.raises(OperationsError, match=r"could not read .* \(not gzip\); fix the file"):
        reprocess(lake.store, unreadable.control_id)


def test_reprocess_loses_a_race_cleanly(lake, monkeypatch):
    record = failed(lake.store, new_record("silver", n=6), "spark died")
    stale = lake.store.get(record.control_id)
    lake.store.claim(record.control_id, "another-run")  # error -> running meanwhile
    reads = iter([stale])
    real_get = lake.store.get
    monkeypatch.setattr(
        lake.store, "get", lambda control_id: next(reads, None) or real_get(control_id)
    )
    with pytest.raises(OperationsError, match="changed while reprocessing it: it is now running"):
        reprocess(lake.store, record.control_id)
    assert lake.store.get(record.control_id).status is ControlStatus.RUNNING
