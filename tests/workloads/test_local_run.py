"""``datalake local run`` as a user runs it: a subprocess, then the lake it leaves up (--serve).

The default domain is the beer example, its input what the example's generator writes.
Checked independently of the project's engines: gold against DuckDB over the generated reviews
and the sample files; no e-mail of the sample profiles anywhere in bronze, silver or gold.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from datalake.control import ControlStatus, ControlStore
from datalake.naming import Layer
from examples.beer.generate import generate, sample_file
from tests.workloads.independent import state_review_volume
from workloads.local.runner import local_settings
from workloads.silver.catalogs import glue_catalog

DATALAKE = [sys.executable, "-m", "datalake"]
REVIEWS = 20_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*DATALAKE, "local", "run", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
    )


def read_until(process: subprocess.Popen, marker: str, timeout: float = 240) -> str:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    process.kill()
    raise AssertionError(f"{marker!r} not seen; output:\n{''.join(seen)[-3000:]}")


@pytest.fixture(scope="module")
def served():
    """One full run, left up with --serve; stopped with Ctrl-C at the end."""
    port = free_port()
    process = start("--reviews", str(REVIEWS), "--port", str(port), "--serve")
    output = read_until(process, "Press Ctrl-C to stop.")
    endpoint = f"http://127.0.0.1:{port}"
    yield endpoint, output, process
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "emulator stopped" in rest


def clients(endpoint: str):
    settings = local_settings()
    session = boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region
    )
    store = ControlStore(
        session.resource("dynamodb", endpoint_url=endpoint).Table(settings.names.control_table)
    )
    return settings, session.client("s3", endpoint_url=endpoint), store


def test_counts_reconcile_in_every_layer(served):
    endpoint, output, _ = served
    settings, _, store = clients(endpoint)
    bronze = [r for s in ControlStatus for r in store.by_status("bronze", s)]
    done = [r for r in bronze if r.status is ControlStatus.SUCCESS]
    assert all(r.rows_in == r.rows_written + r.rows_quarantined for r in done)
    reviews_in = sum(r.rows_written for r in done if r.table_name == "review")
    assert reviews_in == REVIEWS
    catalog = glue_catalog(settings.region, endpoint=endpoint)
    silver = settings.database_name(Layer.SILVER)
    assert catalog.load_table((silver, "review")).scan().to_arrow().num_rows == REVIEWS
    assert catalog.load_table((silver, "review_flat")).scan().to_arrow().num_rows == REVIEWS
    assert list(store.by_status("silver", ControlStatus.PENDING)) == []
    assert list(store.by_status("gold", ControlStatus.PENDING)) == []
    assert "errors: 0" in output


def test_the_duplicate_is_skipped_and_the_malformed_line_quarantined(served):
    endpoint, _, _ = served
    settings, s3, store = clients(endpoint)
    (duplicate,) = store.by_status("bronze", ControlStatus.DUPLICATE)
    assert duplicate.object_key == "raw/beer/cdc/changes-0001-redelivered.jsonl.gz"
    lake = settings.names.bucket("lake")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=lake, Prefix="quarantine/")["Contents"]]
    (key,) = keys
    entries = [
        json.loads(line)
        for line in gzip.decompress(s3.get_object(Bucket=lake, Key=key)["Body"].read()).splitlines()
    ]
    assert [e["reasons"][0].split(" (")[0] for e in entries] == ["not valid JSON"]


def test_no_raw_email_anywhere_in_the_lake(served):
    endpoint, _, _ = served
    settings, s3, _ = clients(endpoint)
    emails = set(pacsv.read_csv(sample_file("profile")).column("email").drop_null().to_pylist())
    lake = settings.names.bucket("lake")
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=lake):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".parquet"):
                continue
            table = pq.read_table(
                io.BytesIO(s3.get_object(Bucket=lake, Key=item["Key"])["Body"].read())
            )
            for column in table.columns:
                if pa.types.is_string(column.type):
                    assert not set(column.drop_null().to_pylist()) & emails, item["Key"]
            found += 1
    assert found > 10  # bronze files and silver/gold data files were all checked


def test_gold_equals_an_independent_computation(served, tmp_path):
    endpoint, _, _ = served
    settings, _, _ = clients(endpoint)
    generated = generate(tmp_path, rows=REVIEWS, files=4, seed=7)  # the run's defaults
    gold = settings.database_name(Layer.GOLD)
    mart = glue_catalog(settings.region, endpoint=endpoint).load_table(
        (gold, "state_by_review_volume")
    )
    got = {
        (r["review_year"], r["review_month"], r["state"]): r["total_reviews"]
        for r in mart.scan().to_arrow().to_pylist()
    }
    # The CDC soft-deletes one referenced profile: its reviews count under no state.
    assert got == state_review_volume(generated.reviews, generated.deleted_profile)


def test_bad_option_values_fail_with_one_line():
    result = subprocess.run(
        [*DATALAKE, "local", "run", "--engine", "duckdb"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "--engine must be arrow or spark" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    result = subprocess.run(
        [*DATALAKE, "local", "run", "--reviews", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "--reviews" in result.stdout + result.stderr


def test_a_taken_port_is_reported():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*DATALAKE, "local", "run", "--reviews", "100", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stdout + result.stderr


def test_ctrl_c_during_the_run_stops_cleanly():
    process = start("--reviews", "20000", "--port", str(free_port()))
    read_until(process, "local run:")
    time.sleep(3)  # inside the run
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "interrupted" in output and "Traceback" not in output


def test_the_spark_engine_runs_the_same_flow():
    result = subprocess.run(
        [*DATALAKE, "local", "run", "--reviews", "2000", "--engine", "spark"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "errors: 0" in out and "duplicates skipped: 1" in out
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert rows["review"] == rows["review_flat"] == "2,000"
    assert rows["beer"] == "66,058"  # 66,055 + 3 CDC inserts (the delete is soft)


PER_COLUMN_RUN = """
import io, json, sys
import pyarrow.parquet as pq
from workloads.local.runner import local_settings, run_local

settings = local_settings(overrides={"pii": {"strategies": {"profile.email": "partial"}}})
found = {}


def read_bronze_profiles(lake, report):
    s3, bucket = lake.s3, lake.buckets["lake"]
    emails = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="bronze/profile/")["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        emails += pq.read_table(io.BytesIO(body)).column("email").to_pylist()
    found.update(emails=emails, masked=report.masked_columns.get("profile", []))


run_local(rows=50, files=1, seed=7, settings=settings, serve=read_bronze_profiles)
with open(sys.argv[1], "w") as out:
    json.dump(found, out)
"""


def test_per_column_masking_strategies_from_settings_apply_in_the_local_run(tmp_path):
    """The local run gives the workers the settings' masking policy, as the components do."""
    from workloads.pii.strategies import partial_values

    out = tmp_path / "found.json"
    # In a process of its own: the embedded emulator's state is per process.
    subprocess.run([sys.executable, "-c", PER_COLUMN_RUN, str(out)], check=True, timeout=300)
    found = json.loads(out.read_text())
    raw = pacsv.read_csv(sample_file("profile")).column("email").combine_chunks()
    expected = set(partial_values(raw).drop_null().to_pylist())
    emails = set(found["emails"]) - {None}
    assert emails and emails <= expected  # c*****4@example.org, not a 64-character HMAC
    assert not emails & set(raw.drop_null().to_pylist())
    assert "email" in found["masked"]
