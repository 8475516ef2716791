"""``datalake local up``: a live lake driven from outside, as a user drives it.

The command runs as a subprocess; the test uploads files with boto3 against the endpoint it
prints and watches the control table, the Glue catalog and the live lines. Every wait is a
bounded poll of the lake's state (or of the next printed line), never a sleep taken as proof.
The retry policy is checked in process, with handlers that fail on purpose.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from components.bronze_dispatch import pipe_filter
from components.gold_machine import MART_FAILED
from components.gold_starts import silver_succeeded_pattern as deployed_pattern
from components.silver_machine import EVENT_SOURCE, SUCCEEDED_DETAIL_TYPE
from datalake.control import ControlRecord, ControlStatus, ControlStore
from datalake.domain import load_domain
from datalake.inputs import input_files
from datalake.naming import Bucket, Layer
from workloads.bronze import handlers as bronze
from workloads.local import resources
from workloads.local.invoke import PIPE_FILTER, Handlers, matches
from workloads.local.live import live_lake
from workloads.local.runner import local_settings
from workloads.silver.catalogs import glue_catalog

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "examples" / "retail" / "domain.yaml"
DATA = ROOT / "examples" / "retail" / "data"
BOUND = 180.0
"""Seconds any one wait may take before the test fails (the lake needs a few)."""
DONE = (ControlStatus.SUCCESS, ControlStatus.DUPLICATE, ControlStatus.ERROR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens there any more (what ``datalake local up --port`` checks)."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def wait_for(check: Callable[[], Any], what: str, bound: float = BOUND) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {bound:g} s: {what}")


class LiveProcess:
    """``datalake local up`` as a subprocess, its output read line by line in a thread."""

    def __init__(self, *arguments: str):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datalake", "local", "up", "--domain", str(DOMAIN),
             "--port", str(self.port), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200",
                 "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def expect(self, pattern: str, bound: float = BOUND) -> re.Match[str]:
        """The next printed line matching ``pattern`` (the lines before it are kept)."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        self.process.kill()
        raise AssertionError(f"{pattern!r} not printed; output:\n{self.output()[-4000:]}")

    def printed(self) -> str:
        """Everything printed so far (without waiting)."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.output()

    def output(self) -> str:
        return "".join(self.seen)

    def interrupt(self, bound: float = 60) -> int:
        """Ctrl-C; the exit code (within ``bound`` seconds), with all it printed read."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=bound)
        self.reader.join(timeout=10)  # until the end of its output
        self.printed()
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


class Lake:
    """The live lake seen from outside: S3, the control table, the Glue catalog."""

    def __init__(self, endpoint: str):
        self.settings = local_settings()
        session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local",
            region_name=self.settings.region,
        )  # fmt: skip
        self.s3 = session.client("s3", endpoint_url=endpoint)
        table = session.resource("dynamodb", endpoint_url=endpoint).Table(
            self.settings.names.control_table
        )
        self.store = ControlStore(table)
        self.catalog = glue_catalog(self.settings.region, endpoint=endpoint)
        self.landing = self.settings.names.bucket("landing")

    def land(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.landing, Key=key, Body=body)

    def bronze(self, key: str) -> ControlRecord | None:
        records = [r for r in self.store.by_object_key(key) if r.layer == "bronze"]
        return records[0] if records else None

    def records(self, layer: str) -> list[ControlRecord]:
        return [r for status in ControlStatus for r in self.store.by_status(layer, status)]

    def silver_of(self, bronze: ControlRecord) -> ControlRecord | None:
        found = [r for r in self.records("silver") if r.parent_id == bronze.control_id]
        return found[0] if found else None

    def rows(self, layer: Layer, table: str) -> int:
        database = self.settings.database_name(layer)
        return int(self.catalog.load_table((database, table)).scan().count())


def customers_file(*ids: int) -> bytes:
    lines = ["customer_id,customer_name,email,phone,state"]
    lines += [f"{i},Late Customer {i},late.{i}@shop.example,+1-555-{i:04d},WA" for i in ids]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


@pytest.fixture
def live():
    process = LiveProcess("--silver-every", "1")
    try:
        endpoint = process.expect(r"export AWS_ENDPOINT_URL=(\S+)").group(1)
        process.expect(r"Press Ctrl-C to stop\.")
        yield process, Lake(endpoint)
    finally:
        process.stop()


def test_files_flow_to_gold_errors_and_duplicates_are_recorded(live):
    process, lake = live
    domain = load_domain(DOMAIN)
    files = input_files(domain, DATA)
    for file in files:
        lake.land(file.key, file.body())
    broken = "raw/orders/broken.csv.gz"
    lake.land(broken, b"order_id,customer_id\n1,2\n")  # not gzip

    keys = [f.key for f in files] + [broken]

    def settled() -> bool:
        bronze = [lake.bronze(key) for key in keys]
        if any(r is None or r.status not in DONE for r in bronze):
            return False
        later = lake.records("silver") + lake.records("gold")
        if any(r.status is not ControlStatus.SUCCESS for r in later):
            return False
        return all(lake.rows(Layer.GOLD, mart.name) > 0 for mart in domain.marts)

    wait_for(settled, "every file ingested, merged, and every mart with rows")
    for file in files:
        record = lake.bronze(file.key)
        assert record is not None and record.status is ControlStatus.SUCCESS, file.key
    error = lake.bronze(broken)
    assert error is not None and error.status is ControlStatus.ERROR
    assert error.error and "gzip" in error.error and not error.retryable
    assert f"error {broken}: {error.error}" in process.expect(rf"error {re.escape(broken)}").string
    assert lake.rows(Layer.SILVER, "customers") == 20

    # The same content again under another name: a duplicate, never ingested twice.
    copy = "raw/customers/customers-again.csv.gz"
    lake.land(copy, next(f for f in files if f.table == "customers").body())
    duplicate = wait_for(
        lambda: (r := lake.bronze(copy)) is not None and r.status in DONE and r,
        "the copy registered",
    )
    assert duplicate.status is ControlStatus.DUPLICATE
    assert duplicate.duplicate_of == lake.bronze("raw/customers/customers.csv.gz").control_id
    process.expect(rf"duplicate {re.escape(copy)}: the same content as raw/customers/")

    # A file landing while a silver run is merging is merged by a later run.
    landed_during: tuple[str, str] | None = None
    for attempt in range(3):
        lake.land(f"raw/customers/late-{attempt}-a.csv.gz", customers_file(9000 + attempt))
        run = process.expect(r"silver run (\S+): merging").group(1)
        key = f"raw/customers/late-{attempt}-b.csv.gz"
        lake.land(key, customers_file(9100 + attempt))
        if f"(silver run {run})" not in process.printed():  # it was still running
            landed_during = (run, key)
            break
    assert landed_during is not None, "no upload landed while a silver run was merging"
    run, key = landed_during

    def merged_later() -> ControlRecord | None:
        bronze = lake.bronze(key)
        silver = lake.silver_of(bronze) if bronze is not None else None
        return silver if silver is not None and silver.status is ControlStatus.SUCCESS else None

    silver = wait_for(merged_later, f"{key} merged into silver")
    assert silver.claimed_by != f"silver-run:{run}"
    customers = lake.catalog.load_table((lake.settings.database_name(Layer.SILVER), "customers"))
    ids = set(
        customers.scan(selected_fields=("customer_id",)).to_arrow()["customer_id"].to_pylist()
    )
    assert 9100 + int(key.split("-")[1]) in ids


def test_ctrl_c_while_silver_runs_stops_cleanly_and_frees_the_port():
    process = LiveProcess("--silver-every", "1", "--input", str(DATA))
    try:
        process.expect(r"Press Ctrl-C to stop\.")
        run = process.expect(r"silver run (\S+): merging").group(1)
        assert process.interrupt() == 0, process.output()[-3000:]
    finally:
        process.stop()
    output = process.output()
    assert f"(silver run {run})" in output  # the run in progress finished, then it stopped
    assert output.rstrip().endswith("the lake and its emulator are stopped")
    assert port_is_free(process.port)


def run_process(endpoint: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``datalake process ... --endpoint-url`` from outside, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "datalake", "process", *arguments, "--endpoint-url", endpoint,
         "--wait", "--poll", "0.2", "--timeout", str(BOUND)],
        capture_output=True, text=True, timeout=BOUND + 60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_ACCESS_KEY_ID": "local",
             "AWS_SECRET_ACCESS_KEY": "local", "COLUMNS": "400"},
    )  # fmt: skip


@pytest.fixture
def quiet_schedule():
    """A live lake whose schedule never comes round in a test: silver runs only on demand."""
    process = LiveProcess("--silver-every", "3600")
    try:
        endpoint = process.expect(r"export AWS_ENDPOINT_URL=(\S+)").group(1)
        process.expect(r"Press Ctrl-C to stop\.")
        yield process, Lake(endpoint), endpoint
    finally:
        process.stop()


def test_process_silver_on_demand_merges_and_gold_follows_then_gold_on_demand(quiet_schedule):
    process, lake, endpoint = quiet_schedule
    domain = load_domain(DOMAIN)
    files = input_files(domain, DATA)
    for file in files:
        lake.land(file.key, file.body())

    def ingested() -> bool:
        records = [lake.bronze(f.key) for f in files]
        done = all(r is not None and r.status in DONE for r in records)
        return done and len(lake.records("silver")) == len(files)  # one per file ingested

    wait_for(ingested, "every file ingested, with its silver record")
    assert {r.status for r in lake.records("silver")} == {ControlStatus.PENDING}

    silver = run_process(endpoint, "--layer", "silver")
    assert silver.returncode == 0, silver.stderr
    arn, status = silver.stdout.split()
    assert ":stateMachine:" not in arn and ":datalake-local-silver-pipeline:" in arn
    assert status == "SUCCEEDED"
    name = arn.rsplit(":", 1)[1]
    assert {r.status for r in lake.records("silver")} == {ControlStatus.SUCCESS}
    assert {r.claimed_by for r in lake.records("silver")} == {f"silver-run:{name}"}
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=lake.settings.region,
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    output = json.loads(sfn.describe_execution(executionArn=arn)["output"])
    assert output["run_id"] == name
    assert {t["table"] for t in output["tables"]} == {f.table for f in files}
    process.expect(rf"execution {re.escape(name)} of silver SUCCEEDED")

    # Gold follows silver's success event, as after a scheduled run.
    def marts_built() -> bool:
        gold = lake.records("gold")
        done = gold and all(r.status is ControlStatus.SUCCESS for r in gold)
        return bool(done) and all(lake.rows(Layer.GOLD, m.name) > 0 for m in domain.marts)

    wait_for(marts_built, "gold after the on-demand silver run")

    gold = run_process(endpoint, "--layer", "gold")
    assert gold.returncode == 0, gold.stderr
    arn, status = gold.stdout.split()
    assert ":datalake-local-gold-marts:" in arn and status == "SUCCEEDED"
    output = json.loads(sfn.describe_execution(executionArn=arn)["output"])
    assert output == {"status": "SUCCEEDED", "run_id": arn.rsplit(":", 1)[1], "marts": {}}
    assert "silver run local-" not in process.printed()  # the schedule never ran


def test_a_failing_process_run_fails_its_wait_with_the_cause(quiet_schedule):
    _, lake, endpoint = quiet_schedule
    # The local silver run cannot be limited to tables: the execution fails, saying so.
    failed = run_process(endpoint, "--layer", "silver", "--tables", "customers", "--domain",
                     str(DOMAIN))  # fmt: skip
    assert failed.returncode == 1
    arn = failed.stdout.split()[0]
    message = " ".join(failed.stderr.split())
    assert "error: silver run FAILED: TablesNotSupportedLocally: a local silver run merges " in (
        message
    )
    assert "start it without --tables" in message
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=lake.settings.region,
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["error"]) == ("FAILED", "TablesNotSupportedLocally")
    assert lake.records("silver") == []


def test_a_failing_handler_is_retried_per_settings_and_never_stops_the_loop():
    settings, domain = local_settings(), load_domain(DOMAIN)
    calls: Counter[str] = Counter()

    def controller(event: dict[str, Any]) -> Any:
        key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
        calls[key] += 1
        if "unlucky" in key:
            raise RuntimeError("the controller is down")
        if calls[key] == 1:
            raise RuntimeError("a transient failure")
        return bronze.controller_handler(event)

    def lite(event: dict[str, Any]) -> Any:
        calls[event["control_id"]] += 1
        if calls[event["control_id"]] < settings.ingestion.max_attempts:
            raise RuntimeError("the ingest timed out")
        return bronze.ingest_handler(event)

    lines: list[str] = []
    handlers = Handlers(controller=controller, lite=lite)
    # Silver only when asked: the shape of a one-shot run (land, bronze idle, silver, idle).
    options = {"say": lines.append, "silver_every": 3600, "poll": 0.1, "handlers": handlers}
    with live_lake(settings, domain, **options) as (lake, dispatcher):
        landing = lake.buckets[Bucket.LANDING]
        body = gzip.compress((DATA / "products" / "products.csv").read_bytes(), mtime=0)
        lake.s3.put_object(Bucket=landing, Key="raw/products/unlucky.csv.gz", Body=body)
        lake.s3.put_object(Bucket=landing, Key="raw/products/products.csv.gz", Body=body)
        assert dispatcher.wait_idle(BOUND, silver=False), "\n".join(lines)
        assert not any("silver run" in line for line in lines)
        dispatcher.request_silver()
        assert dispatcher.wait_idle(BOUND), "\n".join(lines)
        (record,) = lake.store.by_object_key("raw/products/products.csv.gz")
        silver = list(lake.store.by_status("silver", ControlStatus.SUCCESS))
        assert lake.store.by_object_key("raw/products/unlucky.csv.gz") == []
    attempts = settings.ingestion.max_attempts
    assert calls["raw/products/unlucky.csv.gz"] == attempts
    assert calls["raw/products/products.csv.gz"] == 2
    assert calls[record.control_id] == attempts
    assert record.status is ControlStatus.SUCCESS
    assert [r.parent_id for r in silver] == [record.control_id]
    text = "\n".join(lines)
    assert "error controller: RuntimeError: a transient failure; attempt 1 of" in text
    assert f"RuntimeError: the controller is down; gave up after {attempts} attempt(s)" in text
    assert "RuntimeError: the ingest timed out; attempt 2 of" in text
    assert ("controller", "RuntimeError: the controller is down") in dispatcher.failures
    assert len([line for line in lines if ": merging the pending" in line]) == 1


def test_the_local_wiring_is_the_deployed_one():
    assert pipe_filter() == PIPE_FILTER
    database = "datalake_local_silver"
    assert resources.silver_succeeded_pattern(database) == deployed_pattern(database)
    assert (resources.SILVER_EVENT_SOURCE, resources.SILVER_SUCCEEDED) == (
        EVENT_SOURCE,
        SUCCEEDED_DETAIL_TYPE,
    )
    assert resources.GOLD_MART_FAILED == MART_FAILED


def _stream_record(event: str, layer: str, status: str) -> dict[str, Any]:
    image = {"control_id": {"S": "c1"}, "layer": {"S": layer}, "status": {"S": status}}
    return {"eventName": event, "dynamodb": {"NewImage": image}}


@pytest.mark.parametrize(
    ("record", "passes"),
    [
        (_stream_record("INSERT", "bronze", "pending"), True),
        (_stream_record("MODIFY", "bronze", "pending"), False),  # a claim or a requeue
        (_stream_record("INSERT", "bronze", "duplicate"), False),
        (_stream_record("INSERT", "bronze", "error"), False),
        (_stream_record("INSERT", "silver", "pending"), False),
        ({"eventName": "REMOVE", "dynamodb": {}}, False),
    ],
)
def test_only_new_pending_bronze_records_start_an_ingestion(record, passes):
    assert matches(PIPE_FILTER, record) is passes


def test_a_port_that_cannot_be_bound_fails_at_once_naming_it():
    """A port bound by another socket but not listening passes the "taken" probe; the bind
    then fails in moto's thread, which used to leave the start waiting for ever."""
    from workloads.local.emulator import EmulatorError, running_emulator

    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        failed = pytest.raises(EmulatorError, match=rf"127\.0\.0\.1:{port}")
        with failed, running_emulator("us-east-1", port):
            pass


BUSY_LAKE = """
import gzip, sys, threading
from pathlib import Path
from datalake.domain import load_domain
from datalake.naming import Bucket
from workloads.bronze import handlers as bronze
from workloads.local.dispatcher import NotIdleError
from workloads.local.invoke import Handlers
from workloads.local.live import live_lake
from workloads.local.runner import local_settings

data, release = Path(sys.argv[1]), threading.Event()


def controller(event):
    release.wait(180)  # a controller that takes its time
    return bronze.controller_handler(event)


options = {"say": [].append, "silver_every": 3600, "poll": 0.1}
domain = load_domain(sys.argv[2])
with live_lake(local_settings(), domain, handlers=Handlers(controller=controller), **options) as (
    lake,
    dispatcher,
):
    body = gzip.compress((data / "products" / "products.csv").read_bytes(), mtime=0)
    landing = lake.buckets[Bucket.LANDING]
    lake.s3.put_object(Bucket=landing, Key="raw/products/slow.csv.gz", Body=body)
    try:
        dispatcher.wait_until_idle(1.0, silver=False, what="bronze")
    except NotIdleError as error:
        print(error)
    release.set()
    dispatcher.wait_until_idle(180, silver=False)
"""


def test_a_lake_that_stays_busy_fails_the_wait_naming_what_is_pending():
    """In a process of its own: the embedded emulator's state is per process."""
    result = subprocess.run(
        [sys.executable, "-c", BUSY_LAKE, str(DATA), str(DOMAIN)],
        capture_output=True, text=True, timeout=BOUND, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the local lake did not become idle within 1 s (bronze)" in result.stdout
    assert "still pending: land + control running" in result.stdout
