"""``datalake local run`` as a user runs it: a subprocess, then the lake it leaves up (--serve).

The default domain is the beer example, its input what the example's generator writes, and
the run streams its default changes over the CDC tables. Checked independently of the
project's engines: gold against DuckDB over the generated reviews, the sample files and the
changes the delivery wrote to landing; every streamed record accounted for; no e-mail of the
sample profiles anywhere in bronze, silver or gold.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import boto3
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from datalake.control import ControlStatus, ControlStore
from datalake.naming import Layer
from examples.beer.generate import generate, sample_file
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
    # Said once both have stopped, after Ctrl-C's "stopping", as the run's last line.
    assert rest.index("stopping") < rest.index("emulator stopped")
    assert rest.rstrip().endswith("the lake's dispatcher and emulator stopped")


def clients(endpoint: str):
    settings = local_settings()
    session = boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region
    )
    store = ControlStore(
        session.resource("dynamodb", endpoint_url=endpoint).Table(settings.names.control_table)
    )
    return settings, session.client("s3", endpoint_url=endpoint), store


def streamed(s3, settings, table: str) -> list[dict]:
    """The DMS data records the delivery wrote for ``table`` (raw/<table>/cdc/<year>/...)."""
    landing = settings.names.bucket("landing")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=landing, Prefix=f"raw/{table}/cdc/2"
    )
    records = []
    for page in pages:
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=landing, Key=item["Key"])["Body"].read()
            records += [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return [r for r in records if r["metadata"]["record-type"] == "data"]


def apply_changes(rows: list[dict], key: str, changes: list[dict]) -> list[dict]:
    """Rows after DMS changes: each change once (its identity), in commit order; a delete
    removes the row (marts count live rows only)."""
    state = {row[key]: row for row in rows}
    unique = {
        (
            c["data"][key],
            c["metadata"]["commit-timestamp"],
            c["metadata"]["transaction-record-id"],
        ): c
        for c in changes
    }
    for (row_key, *_), change in sorted(unique.items(), key=lambda item: item[0][1:]):
        if change["metadata"]["operation"] == "delete":
            state.pop(row_key, None)
        else:
            state[row_key] = change["data"]
    return list(state.values())


def test_counts_reconcile_in_every_layer(served):
    endpoint, output, _ = served
    settings, s3, store = clients(endpoint)
    bronze = [r for s in ControlStatus for r in store.by_status("bronze", s)]
    done = [r for r in bronze if r.status is ControlStatus.SUCCESS]
    assert all(
        r.rows_in == r.rows_written + r.rows_quarantined + (getattr(r, "rows_skipped", 0) or 0)
        for r in done
    )
    batch = [r for r in done if r.table_name == "review" and "/cdc/" not in r.object_key]
    assert sum(r.rows_written for r in batch) == REVIEWS
    inserted = {c["data"]["review_id"] for c in streamed(s3, settings, "review")
                if c["metadata"]["operation"] == "insert"}  # fmt: skip
    catalog = glue_catalog(settings.region, endpoint=endpoint)
    silver = settings.database_name(Layer.SILVER)
    rows = REVIEWS + len(inserted)  # deletes are soft: the rows stay
    assert catalog.load_table((silver, "review")).scan().to_arrow().num_rows == rows
    assert catalog.load_table((silver, "review_flat")).scan().to_arrow().num_rows == rows
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
    settings, s3, _ = clients(endpoint)
    generated = generate(tmp_path, rows=REVIEWS, files=4, seed=7)  # the run's defaults
    gold = settings.database_name(Layer.GOLD)
    mart = glue_catalog(settings.region, endpoint=endpoint).load_table(
        (gold, "state_by_review_volume")
    )
    got = {
        (r["review_year"], r["review_month"], r["state"]): r["total_reviews"]
        for r in mart.scan().to_arrow().to_pylist()
    }
    # The CDC files soft-delete one referenced profile: its reviews count under no state;
    # then the streamed changes apply to reviews and profiles, each change once.
    profiles = pacsv.read_csv(sample_file("profile")).to_pylist()
    profiles = [p for p in profiles if p["profile_id"] != generated.deleted_profile]
    profiles = apply_changes(profiles, "profile_id", streamed(s3, settings, "profile"))
    reviews = generated.reviews.to_pylist()
    reviews = apply_changes(reviews, "review_id", streamed(s3, settings, "review"))
    connection = duckdb.connect()
    connection.register("reviews", pa.Table.from_pylist(reviews))
    connection.register("profiles", pa.Table.from_pylist(profiles))
    rows = connection.sql(
        """
        SELECT year(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS y,
               month(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS m,
               p.state, count(*) AS n
        FROM reviews r LEFT JOIN profiles p ON r.profile_id = p.profile_id
        GROUP BY ALL
        """
    ).fetchall()
    assert got == {(y, m, state): n for y, m, state, n in rows}


def test_every_streamed_record_is_accounted_for(served, tmp_path):
    endpoint, output, _ = served
    settings, s3, store = clients(endpoint)
    assert output.count("reconciled: ") == 3 and "NOT reconciled" not in output
    sent = "events sent: 422 (400 changes, 20 redelivered, 1 control record, 1 malformed) to "
    assert sent + settings.names.resource("cdc-stream") in output
    # One object per table and hour; the redelivery (of one table) lands in a second object.
    first, second = map(
        int, re.search(r"objects delivered: \d+ \((\d+) then (\d+)\)", output).groups()
    )
    assert first >= 4 and second >= 1
    delivered = [
        r
        for s in ControlStatus
        for r in store.by_status("bronze", s)
        if "/cdc/2" in r.object_key  # raw/<table>/cdc/<year>/...: what the delivery wrote
    ]
    assert len(delivered) == first + second
    assert {r.status for r in delivered} == {ControlStatus.SUCCESS}
    assert sum(r.rows_in for r in delivered) == 421  # sent 422 = delivered 421 + 1 error
    skipped = sum(getattr(r, "rows_skipped", 0) or 0 for r in delivered)
    assert skipped == 1 and "control records skipped: 1" in output  # the control record
    assert sum(r.rows_written for r in delivered) == 420
    assert "duplicates removed: 20 (redelivered: 20)" in output  # silver, exactly once
    # The malformed record is in the error prefix, and `datalake status` reports it.
    landing = settings.names.bucket("landing")
    (error,) = s3.list_objects_v2(Bucket=landing, Prefix="stream-errors/")["Contents"]
    (entry,) = [json.loads(line) for line in gzip.decompress(
        s3.get_object(Bucket=landing, Key=error["Key"])["Body"].read()).splitlines()]  # fmt: skip
    assert base64.b64decode(entry["rawData"]) == b'{"data": {"brewery_id": '
    outputs = tmp_path / "outputs.json"
    names = settings.names
    outputs.write_text(
        json.dumps(
            {
                "region": settings.region,
                **{f"{b}_bucket": names.bucket(b) for b in ("landing", "lake", "artifacts")},
                "control_table_name": names.control_table,
                **{f"{m}_state_machine_arn": f"arn:aws:states:::{m}"
                   for m in ("silver", "gold", "bronze_ingestion")},
            }
        )
    )  # fmt: skip
    status = subprocess.run(
        [*DATALAKE, "status", "--outputs", str(outputs), "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
    )
    assert status.returncode == 0, status.stderr
    assert f"stream-errors\tpartitioning-failed\t1\t1\t{error['Key']}" in status.stdout


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
    assert out.count("reconciled: ") == 3 and "NOT reconciled" not in out
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    lines = out.splitlines()
    table = lines[
        next(i for i, line in enumerate(lines) if "Streamed changes (per table)" in line) :
    ]
    table = table[: next(i for i, line in enumerate(table) if line.startswith("└"))]
    inserts = {  # the stream's table: table, changes, inserts, updates, deletes
        line.split("│")[1].strip(): int(line.split("│")[3].strip().replace(",", ""))
        for line in table
        if line.count("│") == 6
    }
    assert rows["review"] == rows["review_flat"] == f"{2_000 + inserts['review']:,}"
    # 66,055 + 3 CDC file inserts + the stream's (deletes are soft)
    assert rows["beer"] == f"{66_058 + inserts['beer']:,}"


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
