"""Raw -> bronze on moto: controller, ingest core, quarantine, idempotency, retries."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import datalake.control as control
from datalake.control import ControlStatus, ControlStore
from datalake.domain import default_domain_path, load_domain
from datalake.errors import EXHAUSTED_METRIC, InvalidRawFile, UnmaskedPiiError
from examples.beer.generate import generate_reviews, sample_file
from tests.workloads.conftest import ARRIVED, LAKE, LANDING, gz, s3_event
from workloads.bronze import handlers
from workloads.bronze.ingest import bronze_schema

PARTITION = "year=2026/month=03/day=14"
ROOT = Path(__file__).resolve().parents[2]
DOMAIN = load_domain(default_domain_path())
"""The beer-review example: the tests' files are of its tables."""
get_contract = DOMAIN.table
REVIEW = DOMAIN.table("review")


def ingest(lake, key: str, body: bytes | None = None, worker: str = "worker-1"):
    record = lake.register(key, body)
    return record, lake.worker(worker).run(record.control_id)


# --- controller -----------------------------------------------------------------------------


def test_controller_handler_registers_a_record_from_a_real_s3_event(lake, monkeypatch):
    body = gz("brewery_id,brewery_name\n1,A\n2,B\n3,C\n")
    key = "raw/brewery/2026/03/14/breweries 1.csv.gz"  # a space: URL-encoded in the event
    lake.put_raw(key, body)
    monkeypatch.setenv("CONTROL_TABLE", lake.store.table.name)
    monkeypatch.setenv("LAKE_BUCKET", LAKE)
    monkeypatch.setenv("MASS_THRESHOLD_RECORDS", "3")
    monkeypatch.setenv("DATALAKE_DOMAIN", str(default_domain_path()))
    result = handlers.controller_handler(s3_event(LANDING, key, len(body)))
    (registered,) = result["registered"]
    record = lake.store.get(registered["control_id"])
    assert record.object_key == key
    assert record.checksum == hashlib.sha256(body).hexdigest()
    assert (record.record_count, record.size_bytes) == (3, len(body))
    assert record.compute_target == "ecs"  # 3 records >= threshold 3
    assert record.status is ControlStatus.PENDING
    assert record.created_at == ARRIVED


def test_controller_ignores_the_s3_test_event(lake):
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-03-14T09:30:00.000Z",
        "Bucket": LANDING,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    assert handlers.controller_handler(test_event) == {"registered": []}
    assert lake.store.table.scan()["Count"] == 0


def test_small_files_go_to_lambda(lake):
    record = lake.register("raw/brewery/b.csv.gz", gz("brewery_id,brewery_name\n1,A\n"))
    assert record.compute_target == "lambda" and record.record_count == 1


def test_redelivered_event_does_not_create_a_second_record(lake):
    first = lake.register("raw/brewery/b.csv.gz", gz("brewery_id,brewery_name\n1,A\n"))
    again = lake.register("raw/brewery/b.csv.gz")
    assert again.control_id == first.control_id
    assert lake.store.table.scan()["Count"] == 1


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("landing/brewery/b.csv.gz", "outside raw/<table>/"),
        ("raw/wine/w.csv.gz", "unknown table 'wine'; known tables: beer, brewery, profile, review"),
        ("raw/brewery/b.parquet.gz", "unsupported file type"),
    ],
)
def test_keys_outside_raw_tables_become_error_records(lake, key, fragment):
    record = lake.register(key, gz("brewery_id,brewery_name\n1,A\n"))
    assert record.status is ControlStatus.ERROR and not record.retryable
    assert fragment in record.error
    assert lake.worker().run(record.control_id) is None  # never claimed


def test_the_tables_are_the_domains_own(lake):
    tickets = load_domain(ROOT / "examples" / "consumer-project" / "domain.yaml")
    lake.domain = tickets
    beer = lake.register("raw/brewery/b.csv.gz", gz("brewery_id,brewery_name\n1,A\n"))
    assert beer.status is ControlStatus.ERROR and not beer.retryable
    assert beer.error == (
        "raw/brewery/b.csv.gz: unknown table 'brewery'; known tables: agent, customer, ticket"
    )
    _, done = ingest(lake, "raw/agent/a.csv.gz", gz("agent_id,agent_name,team\n7,Ann,EU\n"))
    assert done.status is ControlStatus.SUCCESS and done.rows_written == 1
    written = lake.parquet(lake.keys("bronze/agent/")[0])
    assert written.schema == bronze_schema(tickets.table("agent"))


def test_the_controller_reads_the_domain_the_catalog_published(lake, monkeypatch):
    tickets = load_domain(ROOT / "examples" / "consumer-project" / "domain.yaml")
    lake.s3.create_bucket(Bucket="artifacts")
    key = f"domain/{tickets.digest}.json"
    lake.s3.put_object(Bucket="artifacts", Key=key, Body=tickets.canonical_json().encode())
    body = gz("ticket_id,customer_id,agent_id,priority,status,opened_at,resolution_hours,"
              "satisfaction\n1,2,7,urgent,closed,2026-03-01T10:00:00Z,3.5,4\n")  # fmt: skip
    lake.put_raw("raw/ticket/t.csv.gz", body)
    monkeypatch.setenv("CONTROL_TABLE", lake.store.table.name)
    monkeypatch.setenv("LAKE_BUCKET", LAKE)
    monkeypatch.setenv("DATALAKE_DOMAIN", f"s3://artifacts/{key}")
    result = handlers.controller_handler(s3_event(LANDING, "raw/ticket/t.csv.gz", len(body)))
    (registered,) = result["registered"]
    assert (registered["status"], registered["record_count"]) == ("pending", 1)
    lake.put_raw("raw/review/r.csv.gz", gz("review_id\n1\n"))
    beer = handlers.controller_handler(s3_event(LANDING, "raw/review/r.csv.gz", 1))
    assert beer["registered"][0]["status"] == "error"  # review is no table of the tickets


# --- the sample data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "rows"), [("brewery", 5_840), ("beer", 66_055), ("profile", 33_388)]
)
def test_sample_dimension_files_ingest_completely(lake, table, rows):
    body = sample_file(table).read_bytes()
    record, done = ingest(lake, f"raw/{table}/{table}.csv.gz", body)
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (rows, rows, 0)
    (key,) = lake.keys(f"bronze/{table}/")
    assert key == f"bronze/{table}/{PARTITION}/{table}-{record.control_id[:12]}.parquet"
    written = lake.parquet(key)
    assert written.schema == bronze_schema(get_contract(table))
    assert written.num_rows == rows
    assert set(written.column("_operation").to_pylist()) == {"insert"}
    assert written.column("_source_line").to_pylist()[:2] == [2, 3]


def test_quoted_commas_and_non_ascii_names_survive(lake):
    ingest(lake, "raw/brewery/all.csv.gz", sample_file("brewery").read_bytes())
    names = lake.parquet(lake.keys("bronze/brewery/")[0]).column("brewery_name").to_pylist()
    assert "Plzensky Prazdroj, a. s." in names
    assert any(not name.isascii() for name in names if name)


def test_declared_pii_never_reaches_bronze_in_clear(lake):
    ingest(lake, "raw/profile/p.csv.gz", sample_file("profile").read_bytes())
    emails = lake.parquet(lake.keys("bronze/profile/")[0]).column("email")
    assert not pc.any(pc.match_substring(emails, "@")).as_py()


def test_generated_reviews_ingest_and_register_a_silver_record(lake):
    reviews = generate_reviews(5_000, seed=3)
    body = gz(_csv(reviews))
    record, done = ingest(lake, "raw/review/part-0001.csv.gz", body)
    assert (done.rows_written, done.rows_quarantined) == (5_000, 0)
    written = lake.parquet(lake.keys("bronze/review/")[0])
    assert written.column("review_id").to_pylist() == reviews.column("review_id").to_pylist()
    assert written.column("review_overall").equals(reviews.column("review_overall"))
    (silver,) = lake.store.by_status("silver", ControlStatus.PENDING)
    assert silver.parent_id == record.control_id
    assert silver.object_key == lake.keys("bronze/review/")[0]
    assert silver.record_count == 5_000


def _csv(table: pa.Table) -> str:
    import io

    import pyarrow.csv as pacsv

    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue().decode()


# --- bad inputs -----------------------------------------------------------------------------

BEER_HEADER = "beer_id,brewery_id,beer_name,beer_style,beer_abv\n"


def test_empty_file_is_an_error_left_in_raw(lake):
    record = lake.register("raw/beer/empty.csv.gz", gz(""))
    assert record.status is ControlStatus.ERROR
    assert "empty file: no header row" in record.error
    assert lake.s3.head_object(Bucket=LANDING, Key="raw/beer/empty.csv.gz")


def test_header_only_file_succeeds_with_nothing_to_write(lake):
    _, done = ingest(lake, "raw/beer/none.csv.gz", gz(BEER_HEADER))
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (0, 0, 0)
    assert lake.keys("bronze/") == [] and lake.keys("quarantine/") == []
    assert list(lake.store.by_status("silver", ControlStatus.PENDING)) == []


@pytest.mark.parametrize(
    ("name", "body", "fragment"),
    [
        ("bad gzip", b"beer_id,brewery_id\n1,2\n", "not a valid gzip stream"),
        ("truncated gzip", gz(BEER_HEADER + "1,2,A,IPA,5.0\n" * 2000)[:-40], "truncated gzip"),
        ("not UTF-8", gz(BEER_HEADER.encode() + b"1,2,Caf\xe9,IPA,5.0\n"), "not UTF-8"),
        (
            "missing required column",
            gz("brewery_id,beer_name\n2,A\n"),
            "lacks required column(s) beer_id",
        ),
        (
            "extra column",
            gz(BEER_HEADER.strip() + ",colour\n1,2,A,IPA,5.0,red\n"),
            "colour not in the beer contract",
        ),
        ("no header row", gz("1,2,A,IPA,5.0\n"), "lacks required column(s) beer_id"),
    ],
    ids=lambda value: value if isinstance(value, str) else "body",  # gzip bodies carry a time
)
def test_unreadable_files_are_errors_with_a_precise_message(lake, name, body, fragment):
    key = f"raw/beer/{name.replace(' ', '-')}.csv.gz"
    record = lake.register(key, body)
    assert record.status is ControlStatus.ERROR, name
    assert fragment in record.error and key in record.error
    assert not record.retryable
    assert lake.worker().run(record.control_id) is None
    assert lake.keys("bronze/") == []
    assert lake.s3.head_object(Bucket=LANDING, Key=key)  # left in raw


def test_file_that_turns_unreadable_at_ingest_fails_without_retry(lake, monkeypatch):
    key = "raw/beer/changes.csv.gz"
    record = lake.register(key, gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    lake.put_raw(key, b"overwritten with garbage")  # the object changed after the event
    with pytest.raises(InvalidRawFile, match="not a valid gzip stream"):
        lake.worker().run(record.control_id)
    failed = lake.store.get(record.control_id)
    assert failed.status is ControlStatus.ERROR and not failed.retryable
    assert "InvalidRawFile" in failed.error
    assert lake.worker("w2").run(record.control_id) is None


def test_missing_nullable_column_reads_as_null(lake):
    _, done = ingest(
        lake, "raw/beer/old.csv.gz", gz("beer_id,brewery_id,beer_name,beer_style\n1,2,A,IPA\n")
    )
    assert done.rows_written == 1
    assert lake.parquet(lake.keys("bronze/beer/")[0]).column("beer_abv").to_pylist() == [None]


def test_bad_rows_are_quarantined_with_line_and_reason(lake):
    body = gz(
        BEER_HEADER
        + "1,2,Good,IPA,5.0\n"  # line 2
        + "abc,2,Bad id,IPA,5.0\n"  # line 3: wrong type
        + ",2,No id,IPA,5.0\n"  # line 4: null primary key
        + "4,2,Too strong,IPA,120\n"  # line 5: above maximum
        + "5,2,Short row\n"  # line 6: wrong field count
        + '6,2,"Quoted, name",Stout,\n'  # line 7: fine
        + "7,x,Bad brewery,IPA,strong\n"  # line 8: two wrong types
    )
    record, done = ingest(lake, "raw/beer/mixed.csv.gz", body)
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (7, 2, 5)
    (qkey,) = lake.keys("quarantine/beer/")
    assert qkey == f"quarantine/beer/{PARTITION}/mixed-{record.control_id[:12]}.jsonl.gz"
    bad = {entry["line"]: entry for entry in lake.quarantine(qkey)}
    assert set(bad) == {3, 4, 5, 6, 8}
    assert bad[3]["reasons"] == ["beer_id: 'abc' is not a whole number"]
    assert bad[3]["row"]["beer_name"] == "Bad id"
    assert bad[4]["reasons"] == ["beer_id: primary key is empty"]
    assert bad[5]["reasons"] == ["beer_abv: 120.0 is above the maximum 100.0"]
    assert bad[6]["reasons"] == ["expected 5 fields, found 3"] and bad[6]["raw"] == "5,2,Short row"
    assert sorted(bad[8]["reasons"]) == [
        "beer_abv: 'strong' is not a number",
        "brewery_id: 'x' is not a whole number",
    ]
    written = lake.parquet(lake.keys("bronze/beer/")[0])
    assert written.column("beer_id").to_pylist() == [1, 6]
    assert written.column("_source_line").to_pylist() == [2, 7]
    assert written.column("beer_name").to_pylist() == ["Good", "Quoted, name"]


def test_score_rules_come_from_the_contract(lake):
    header = ",".join(REVIEW.column_names) + "\n"
    body = gz(header + "1,1,1,1,4.5,4,4,4,4,1300000000\n" + "2,1,1,1,4.3,4,4,4,0.5,1300000000\n")
    _, done = ingest(lake, "raw/review/r.csv.gz", body)
    assert (done.rows_written, done.rows_quarantined) == (1, 1)
    (entry,) = lake.quarantine(lake.keys("quarantine/review/")[0])
    assert sorted(entry["reasons"]) == [
        "review_overall: 4.3 is not a multiple of 0.5",
        "review_taste: 0.5 is below the minimum 1.0",
    ]


def test_duplicate_rows_are_all_kept_with_their_lines(lake):
    body = gz(BEER_HEADER + "1,2,A,IPA,5.0\n" + "1,2,A,IPA,5.0\n" + "1,2,A v2,IPA,5.5\n")
    _, done = ingest(lake, "raw/beer/dups.csv.gz", body)
    assert (done.rows_written, done.rows_quarantined) == (3, 0)
    written = lake.parquet(lake.keys("bronze/beer/")[0])
    # Bronze keeps every source row; silver keeps the last change per key by _change_seq.
    assert written.column("_change_seq").to_pylist() == [2, 3, 4]


def test_quarantined_profile_rows_do_not_leak_pii(lake):
    body = gz(
        "profile_id,profile_name,email,state\n"
        "x,alice,alice@example.org,CA\n"
        "2,bob,bob@example.org,CA,extra\n"
    )
    _, done = ingest(lake, "raw/profile/p.csv.gz", body)
    assert done.rows_quarantined == 2
    text = str(lake.quarantine(lake.keys("quarantine/profile/")[0]))
    assert "@example.org" not in text
    assert "[REDACTED]" in text and "withheld" in text


# --- CDC ------------------------------------------------------------------------------------


def test_cdc_lines_carry_operation_time_and_sequence(lake):
    full = '"brewery_id": 2, "beer_style": "IPA"'
    lines = [
        '{"operation": "insert", "beer_id": 1, "beer_name": "A", "beer_abv": 5.0, '
        + full
        + ', "changed_at": "2026-03-14T08:00:00Z", "sequence": 10}',
        '{"operation": "UPDATE", "beer_id": 1, "beer_name": "A+", "beer_abv": 5.5, ' + full + "}",
        '{"operation": "delete", "beer_id": 1}',
        "",
        '{"beer_id": 2, "beer_name": "no operation"}',
        '{"operation": "upsert", "beer_id": 3}',
        '{"operation": "insert", "beer_id": 4, "colour": "red"}',
        '{"operation": "insert", "beer_id": 5, "beer_name": ',
        '["not", "an", "object"]',
    ]
    record, done = ingest(lake, "raw/beer/cdc/changes-0001.jsonl.gz", gz("\n".join(lines) + "\n"))
    assert record.format == "jsonl" and record.record_count == 8
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (8, 3, 5)
    written = lake.parquet(lake.keys("bronze/beer/")[0])
    assert written.column("_operation").to_pylist() == ["insert", "update", "delete"]
    assert written.column("_change_seq").to_pylist() == [10, 2, 3]
    stamps = written.column("_change_ts").to_pylist()
    assert stamps[0].isoformat() == "2026-03-14T08:00:00+00:00"
    assert stamps[1] == ARRIVED
    reasons = {e["line"]: e["reasons"] for e in lake.quarantine(lake.keys("quarantine/beer/")[0])}
    assert reasons[5] == ["operation: missing (CDC lines need one)"]
    assert reasons[6] == ["operation: 'upsert' is not one of insert, update, delete"]
    assert reasons[7] == ["unknown key(s) colour"]
    assert reasons[8][0].startswith("not valid JSON")
    assert reasons[9] == ["expected a JSON object, found list"]


# --- idempotency, races, retries ------------------------------------------------------------


def test_same_file_twice_is_ingested_once(lake):
    body = gz(BEER_HEADER + "1,2,A,IPA,5.0\n")
    first, done = ingest(lake, "raw/beer/a.csv.gz", body)
    assert done.status is ControlStatus.SUCCESS
    again = lake.register("raw/beer/a.csv.gz", body)  # same key, same bytes: same record
    assert again.control_id == first.control_id and again.status is ControlStatus.SUCCESS
    copy = lake.register("raw/beer/copy-of-a.csv.gz", body)  # other key, same content
    assert copy.status is ControlStatus.DUPLICATE and copy.duplicate_of == first.control_id
    assert lake.worker().run(copy.control_id) is None
    assert len(lake.keys("bronze/beer/")) == 1
    assert len(list(lake.store.by_status("silver", ControlStatus.PENDING))) == 1


class _AtomicWrites:
    """The table, with each write atomic as in DynamoDB (moto's in-process backend is not)."""

    def __init__(self, table):
        self._table, self._lock = table, threading.Lock()

    def update_item(self, **kwargs):
        with self._lock:
            return self._table.update_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._table, name)


def test_two_workers_racing_for_one_record(lake):
    record = lake.register("raw/beer/a.csv.gz", gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    table = _AtomicWrites(lake.store.table)
    both_read = threading.Barrier(2)
    claims = []

    class RacingStore(ControlStore):
        def get(self, control_id):
            seen = super().get(control_id)
            both_read.wait()  # both workers decide on the same "pending" snapshot
            return seen

    def claim(worker: str) -> None:
        store = RacingStore(table, max_attempts=3, lease_seconds=600)
        claims.append(store.claim(record.control_id, worker))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [c for c in claims if c is not None]
    assert len(claims) == 2 and len(winners) == 1
    assert lake.store.get(record.control_id).claimed_by == winners[0].claimed_by
    assert lake.store.get(record.control_id).attempts == 1
    assert lake.worker("w3").run(record.control_id) is None  # a third one backs off too


def test_crash_after_writing_before_the_control_update_is_repaired_by_retry(lake, monkeypatch):
    body = gz(BEER_HEADER + "".join(f"{i},2,B{i},IPA,5.0\n" for i in range(1, 101)))
    record = lake.register("raw/beer/crash.csv.gz", body)
    real_complete = lake.store.complete

    def crash(*args, **kwargs):
        raise SystemExit("worker killed after writing Parquet and the silver record")

    monkeypatch.setattr(lake.store, "complete", crash)
    with pytest.raises(SystemExit):
        lake.worker("doomed").run(record.control_id)
    monkeypatch.setattr(lake.store, "complete", real_complete)
    assert lake.store.get(record.control_id).status is ControlStatus.RUNNING
    assert lake.worker("impatient").run(record.control_id) is None  # lease still held

    later = control.utc_now() + timedelta(seconds=601)
    monkeypatch.setattr(control, "utc_now", lambda: later)
    done = lake.worker("rescuer").run(record.control_id)
    assert done.status is ControlStatus.SUCCESS and done.attempts == 2
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (100, 100, 0)
    (key,) = lake.keys("bronze/beer/")
    assert lake.parquet(key).num_rows == 100
    assert len(list(lake.store.by_status("silver", ControlStatus.PENDING))) == 1


def test_failures_are_retried_then_stay_in_error_with_a_metric(lake, monkeypatch):
    record = lake.register("raw/beer/flaky.csv.gz", gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    real_upload = lake.s3.upload_file

    def broken_upload(*args, **kwargs):
        raise ConnectionError("S3 is having a moment")

    monkeypatch.setattr(lake.s3, "upload_file", broken_upload)
    for attempt in (1, 2, 3):
        with pytest.raises(ConnectionError):
            lake.worker(f"w{attempt}").run(record.control_id)
        failed = lake.store.get(record.control_id)
        assert failed.attempts == attempt and failed.retryable
        assert failed.error == "ConnectionError: S3 is having a moment"
    metrics = lake.cloudwatch.list_metrics(
        Namespace="DataLake/Ingestion", MetricName=EXHAUSTED_METRIC
    )["Metrics"]
    assert sorted(str(m.get("Dimensions", [])) for m in metrics) == [
        "[]",
        "[{'Name': 'Table', 'Value': 'beer'}]",
    ]
    monkeypatch.setattr(lake.s3, "upload_file", real_upload)
    assert lake.worker("w4").run(record.control_id) is None  # stays in error


def test_a_retry_after_a_transient_failure_succeeds_without_duplicates(lake, monkeypatch):
    record = lake.register("raw/beer/once.csv.gz", gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    calls = {"n": 0}
    real_upload = lake.s3.upload_file

    def fail_second_upload(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TimeoutError("timed out")
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(lake.s3, "upload_file", fail_second_upload)
    with pytest.raises(TimeoutError):
        lake.worker("w1").run(record.control_id)
    done = lake.worker("w2").run(record.control_id)
    assert done.status is ControlStatus.SUCCESS and done.attempts == 2
    assert len(lake.keys("bronze/beer/")) == 1


def test_a_masker_that_leaves_pii_in_clear_stops_the_write(lake):
    class Leaky:
        def mask(self, batch, contract):
            return batch

    record = lake.register(
        "raw/profile/p.csv.gz", gz("profile_id,profile_name,email,state\n1,a,a@x.org,CA\n")
    )
    with pytest.raises(UnmaskedPiiError, match=r"profile\.email in clear"):
        lake.worker(masker=Leaky()).run(record.control_id)
    assert lake.keys("bronze/") == []
    assert not lake.store.get(record.control_id).retryable


def test_counts_must_match_the_controller(lake):
    key = "raw/beer/grown.csv.gz"
    record = lake.register(key, gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    lake.put_raw(key, gz(BEER_HEADER + "1,2,A,IPA,5.0\n2,2,B,IPA,5.0\n"))
    with pytest.raises(Exception, match="the controller counted 1 records, ingest read 2"):
        lake.worker().run(record.control_id)
    assert lake.keys("bronze/") == []


def test_ingest_handler_runs_the_worker_from_the_state_machine_input(lake, monkeypatch):
    record = lake.register("raw/beer/a.csv.gz", gz(BEER_HEADER + "1,2,A,IPA,5.0\n"))
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret = secrets.create_secret(Name="pii-key", SecretString="k" * 64)["ARN"]
    monkeypatch.setenv("CONTROL_TABLE", lake.store.table.name)
    monkeypatch.setenv("LAKE_BUCKET", LAKE)
    monkeypatch.setenv("PII_SECRET_ID", secret)
    monkeypatch.setenv("PII_COMPREHEND_ENABLED", "false")
    monkeypatch.setenv("DATALAKE_DOMAIN", str(default_domain_path()))
    result = handlers.ingest_handler({"control_id": record.control_id})
    assert result == {
        "control_id": record.control_id,
        "status": "success",
        "rows_in": 1,
        "rows_written": 1,
        "rows_quarantined": 0,
        "rows_skipped": 0,
    }
    assert handlers.ingest_handler({"control_id": record.control_id})["status"] == "skipped"


def test_container_main_needs_a_control_id(monkeypatch, capsys):
    monkeypatch.delenv("CONTROL_ID", raising=False)
    assert handlers.container_main() == 2
    assert "CONTROL_ID is not set" in capsys.readouterr().err


def test_adding_a_nullable_column_to_a_contract_keeps_old_files_valid():
    import dataclasses

    from datalake.contracts import Column, ColumnType
    from workloads.bronze.validation import validate_batch

    beer = get_contract("beer")
    evolved = dataclasses.replace(
        beer, columns=(*beer.columns, Column("beer_ibu", ColumnType.DOUBLE)), version=2
    )
    old_file = pa.table(
        {name: pa.array(["1" if name != "beer_abv" else "5.0"]) for name in beer.column_names}
    )
    validated = validate_batch(old_file, evolved, cdc=False)
    assert validated.reasons == {}
    assert validated.valid.column("beer_ibu").to_pylist() == [None]
