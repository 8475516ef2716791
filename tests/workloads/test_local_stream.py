"""The local Firehose (``workloads/local/delivery.py``) against the emulator's Kinesis.

DMS-shaped records go through PutRecords, the delivery loop reads them back with GetRecords and
writes what Firehose would: gzip JSON lines under the shared prefix expression (the table from
the shared JQ query, the hour of arrival), named like Firehose's objects, SSE-KMS; a redelivery
lands in a second object; records it cannot partition go to the error prefix in Firehose's
error-record shape, and ``datalake status`` reports them through ``--endpoint-url``.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import typer
from moto import mock_aws
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from datalake.changes import control_record, generate_changes, to_line
from datalake.cli_operate import register
from datalake.control_table import create_control_table
from datalake.domain import default_domain_path, load_domain
from datalake.layout import parse_raw_key
from datalake.operations import stream_error_counts
from datalake.streaming import (
    DELIVERY_PREFIX,
    ERROR_PREFIX,
    PARTITIONING_FAILED,
    expand_prefix,
)
from tests.workloads.conftest import LANDING
from workloads.bronze.controller import register_object
from workloads.local import delivery, stream
from workloads.local.delivery import DeliveryLoop, create_stream, put_changes
from workloads.local.extraction import deaggregate

DOMAIN = load_domain(default_domain_path())
BEER, PROFILE = DOMAIN.tables["beer"], DOMAIN.tables["profile"]
REGION = "us-east-1"
STREAM, DELIVERY = "t-cdc-stream", "t-cdc-delivery"
NAME = re.compile(
    rf"^{DELIVERY}-1-\d{{4}}-\d\d-\d\d-\d\d-\d\d-\d\d-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl\.gz$"
)
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = lambda service: boto3.client(service, region_name=REGION)  # noqa: E731
        key = client("kms").create_key()["KeyMetadata"]["Arn"]
        client("s3").create_bucket(Bucket=LANDING)
        kinesis = client("kinesis")
        create_stream(kinesis, STREAM, 2, key_arn=key)
        yield {"kinesis": kinesis, "s3": client("s3"), "key": key}


def loop_for(aws: dict, **options) -> DeliveryLoop:
    return DeliveryLoop(
        aws["kinesis"],
        aws["s3"],
        stream=STREAM,
        bucket=LANDING,
        key_arn=aws["key"],
        delivery_stream=DELIVERY,
        **options,
    )


def lines(aws: dict, key: str) -> list[bytes]:
    return gzip.decompress(
        aws["s3"].get_object(Bucket=LANDING, Key=key)["Body"].read()
    ).splitlines()


def in_key_order(delivered: list[bytes]) -> dict[int, list[bytes]]:
    """The lines of each beer_id, in their order (control records left out)."""
    out: dict[int, list[bytes]] = {}
    for line in delivered:
        record = json.loads(line)
        if "data" in record:
            out.setdefault(record["data"]["beer_id"], []).append(line)
    return out


def beer_changes(count: int = 30) -> list[dict]:
    return generate_changes(BEER, [], count=count, seed=3, start=START)


def test_the_stream_is_encrypted_with_the_lake_key_and_keys_are_dms_partition_keys(aws):
    summary = aws["kinesis"].describe_stream_summary(StreamName=STREAM)
    summary = summary["StreamDescriptionSummary"]
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", aws["key"])
    assert summary["OpenShardCount"] == 2
    records = beer_changes(3)
    assert put_changes(aws["kinesis"], STREAM, records, contracts=DOMAIN.tables) == 3
    got = []
    for shard in aws["kinesis"].list_shards(StreamName=STREAM)["Shards"]:
        iterator = aws["kinesis"].get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got += aws["kinesis"].get_records(ShardIterator=iterator)["Records"]
    assert sorted(r["PartitionKey"] for r in got) == sorted(
        f"public.beer.{r['data']['beer_id']}" for r in records
    )
    assert sorted(r["Data"] for r in got) == sorted(to_line(r).encode() for r in records)


def test_records_are_delivered_per_table_under_the_shared_prefix_gzip_and_sse_kms(aws):
    beers, profiles = beer_changes(), generate_changes(PROFILE, [], count=12, seed=3, start=START)
    control = control_record(BEER, at=START)
    put_changes(aws["kinesis"], STREAM, [control, *beers, *profiles], contracts=DOMAIN.tables)
    loop = loop_for(aws)
    assert loop.poll() == 43
    assert aws["s3"].list_objects_v2(Bucket=LANDING).get("KeyCount") == 0  # still buffered
    written = loop.flush()
    assert {o.table: o.records for o in written} == {"beer": 31, "profile": 12}
    for obj in written:
        prefix, name = obj.key.rsplit("/", 1)
        head = aws["s3"].head_object(Bucket=LANDING, Key=obj.key)
        arrived = head["LastModified"].astimezone(UTC)
        expected = {
            expand_prefix(
                DELIVERY_PREFIX, at=arrived + timedelta(seconds=s), keys={"table": obj.table}
            )
            for s in (-5, 0)
        }  # the prefix is the hour of arrival: the same as the write's, unless it just turned
        assert f"{prefix}/" in expected
        assert NAME.match(name), name
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", aws["key"])
        assert parse_raw_key(obj.key, DOMAIN.tables).table == obj.table  # a raw key bronze takes
    beer = next(o for o in written if o.table == "beer")
    # The records as sent, one per line; a key's in the order they were put (one key, one
    # shard: order across shards is not kept, by Kinesis or Firehose).
    got = lines(aws, beer.key)
    assert sorted(got) == sorted(to_line(r).encode() for r in [control, *beers])
    assert in_key_order(got) == in_key_order([to_line(r).encode() for r in beers])
    assert (loop.stats.records_read, loop.stats.delivered, loop.stats.failed) == (43, 43, 0)


def test_a_redelivery_lands_in_a_second_object_with_another_name(aws):
    changes = beer_changes()
    put_changes(aws["kinesis"], STREAM, changes, contracts=DOMAIN.tables)
    loop = loop_for(aws)
    loop.poll()
    (first,) = loop.flush()
    put_changes(aws["kinesis"], STREAM, changes[10:15], contracts=DOMAIN.tables)
    assert loop.poll() == 5  # a record is read once: only the new ones
    (second,) = loop.flush()
    assert first.key != second.key and first.table == second.table == "beer"
    assert sorted(lines(aws, second.key)) == sorted(to_line(r).encode() for r in changes[10:15])
    assert set(lines(aws, second.key)) <= set(lines(aws, first.key))


def test_failed_records_go_to_the_error_prefix_in_firehose_shape(aws, caplog):
    secret = "Ann.Secret@example.org"
    bad = [
        b'{"data": {"beer_id": ',  # cut short: not JSON
        f'{{"data": {{"email": "{secret}"}}, "metadata": {{}}}}'.encode(),  # no table
        f'["{secret}"]'.encode(),  # JSON, but the query cannot index it
        b"\xff\xfe not utf-8",
        b"   ",
    ]
    good = beer_changes(4)
    put_changes(aws["kinesis"], STREAM, [*good[:2], *bad, *good[2:]], contracts=DOMAIN.tables)
    loop = loop_for(aws)
    with caplog.at_level(logging.DEBUG):
        loop.poll()
        written = loop.flush()
    errors = [o for o in written if o.error_type is not None]
    (error,) = errors
    assert error.error_type == PARTITIONING_FAILED and error.records == 5
    head = aws["s3"].head_object(Bucket=LANDING, Key=error.key)
    arrived = head["LastModified"].astimezone(UTC)
    prefix = expand_prefix(ERROR_PREFIX, at=arrived, error_type=PARTITIONING_FAILED)
    assert error.key.startswith(prefix.rsplit("/", 2)[0]) and error.key.startswith(
        "stream-errors/partitioning-failed/"
    )
    assert NAME.match(error.key.rsplit("/", 1)[1])
    entries = [json.loads(line) for line in lines(aws, error.key)]
    assert [set(e) for e in entries] == [
        {
            "attemptsMade",
            "arrivalTimestamp",
            "errorCode",
            "errorMessage",
            "attemptEndingTimestamp",
            "rawData",
        }
    ] * 5
    assert sorted(base64.b64decode(e["rawData"]) for e in entries) == sorted(bad)
    assert {e["errorCode"] for e in entries} == {"DynamicPartitioning.MetadataExtractionFailed"}
    assert {e["errorMessage"] for e in entries} == {
        delivery.NOT_JSON,
        delivery.NO_PARTITION_KEY,
        delivery.QUERY_FAILED,
    }
    assert all(e["arrivalTimestamp"] <= e["attemptEndingTimestamp"] for e in entries)
    # Never a record's content outside the record itself: not in messages, not in logs.
    assert secret not in json.dumps([e["errorMessage"] for e in entries]) + caplog.text
    assert (loop.stats.delivered, loop.stats.failed) == (4, 5)


def test_json_sub_records_of_one_record_are_deaggregated():
    two = b'{"a": 1}{"metadata": {"table-name": "beer"}}\n {"b": [1, 2]} '
    assert deaggregate(two) == [
        b'{"a": 1}',
        b'{"metadata": {"table-name": "beer"}}',
        b'{"b": [1, 2]}',
    ]
    assert deaggregate(b'{"a": 1} {"b"') is None  # not JSON throughout: the record fails whole
    assert deaggregate(b"") is None


class _Objects:
    """Where a loop without the emulator puts its objects (the loop's only S3 call)."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: object) -> None:
        self.bodies[Key] = Body


@pytest.mark.parametrize(
    "odd",
    [
        b'{"metadata": {"table-name": "beer"}}{"metadata": {"table-name": "profile"}}',
        b'{"metadata": {"table-name": "beer"}}, 5',
        b'{"metadata": {"table-name": "beer"}',
        b"   ",
        b"\xff\xfe",
        b'1]\n[{"metadata": {"table-name": "beer"}}',
    ],
)
def test_the_one_jq_run_never_changes_what_a_record_delivers(odd):
    """Records are read in one jq run when each is one JSON value; a batch holding any other
    record is read record by record, and both give what reading each record alone gives."""
    good = [to_line(r).encode() for r in beer_changes(6)]
    arrival = datetime(2026, 12, 1, 10, tzinfo=UTC)

    def deliver(datas: list[bytes]) -> tuple[dict[str, list[bytes]], int]:
        objects = _Objects()
        loop = DeliveryLoop(
            None, objects, stream=STREAM, bucket=LANDING, key_arn="k", delivery_stream="d"
        )
        loop.accept([{"Data": d, "ApproximateArrivalTimestamp": arrival} for d in datas])
        loop.flush()
        by_prefix = {
            k.rsplit("/", 1)[0]: gzip.decompress(v).splitlines() for k, v in objects.bodies.items()
        }
        return by_prefix, loop.stats.failed

    together = deliver([*good[:3], odd, *good[3:]])
    one_by_one: tuple[dict[str, list[bytes]], int] = ({}, 0)
    for data in [*good[:3], odd, *good[3:]]:
        alone = deliver([data])
        for prefix, found in alone[0].items():
            if not prefix.startswith("stream-errors/"):
                one_by_one[0].setdefault(prefix, []).extend(found)
        one_by_one = (one_by_one[0], one_by_one[1] + alone[1])
    delivered = {p: lines for p, lines in together[0].items() if not p.startswith("stream-")}
    assert delivered == one_by_one[0]
    assert together[1] == one_by_one[1]
    assert sum(map(len, delivered.values())) + together[1] >= len(good) + 1


def test_a_full_buffer_is_written_before_the_interval_ends(aws):
    changes = beer_changes(40)
    put_changes(aws["kinesis"], STREAM, changes, contracts=DOMAIN.tables)
    loop = loop_for(aws, buffer_bytes=2_000)
    loop.poll()
    early = list(loop.stats.objects)
    assert len(early) >= 2  # written while reading, by size
    rest = loop.flush()
    delivered = [line for o in [*early, *rest] for line in lines(aws, o.key)]
    assert sorted(delivered) == sorted(to_line(r).encode() for r in changes)


def test_a_delivered_object_registers_like_a_landed_jsonl_file(lake):
    kinesis = boto3.client("kinesis", region_name=REGION)
    create_stream(kinesis, STREAM, 1)
    put_changes(kinesis, STREAM, beer_changes(7), contracts=DOMAIN.tables)
    loop = DeliveryLoop(
        kinesis,
        lake.s3,
        stream=STREAM,
        bucket=LANDING,
        key_arn="arn:aws:kms:us-east-1:123456789012:key/x",
        delivery_stream=DELIVERY,
    )
    loop.poll()
    (written,) = loop.flush()
    record = register_object(
        lake.store,
        lake.s3,
        bucket=LANDING,
        key=written.key,
        arrived=START,
        mass_threshold_records=lake.threshold,
        domain=lake.domain,
    )
    assert (record.table_name, record.record_count, record.status.value) == ("beer", 7, "pending")


# --- datalake status against the emulator --------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


def test_status_reports_the_error_objects_through_the_endpoint(endpoint, tmp_path, monkeypatch):
    session = boto3.Session(region_name=REGION)
    client = lambda service: session.client(service, endpoint_url=endpoint)  # noqa: E731
    suffix = uuid.uuid4().hex[:8]
    landing, table = f"st-{suffix}-landing", f"st-{suffix}-control"
    s3, kinesis = client("s3"), client("kinesis")
    s3.create_bucket(Bucket=landing)
    create_control_table(session.resource("dynamodb", endpoint_url=endpoint), table)
    stream = f"st-{suffix}"
    create_stream(kinesis, stream, 1)
    put_changes(
        kinesis, stream, [*beer_changes(3), b'{"data": {"beer_id": '], contracts=DOMAIN.tables
    )
    loop = DeliveryLoop(
        kinesis, s3, stream=stream, bucket=landing, key_arn="k", delivery_stream=DELIVERY
    )
    loop.poll()
    (error,) = [o for o in loop.flush() if o.error_type]
    (count,) = stream_error_counts(s3, landing)
    assert (count.error_type, count.objects, count.records, count.latest_key) == (
        PARTITIONING_FAILED,
        1,
        1,
        error.key,
    )
    outputs = tmp_path / "outputs.json"
    names = ("lake_bucket", "artifacts_bucket")
    machines = ("silver", "gold", "bronze_ingestion")
    outputs.write_text(
        json.dumps(
            {
                "region": REGION,
                "landing_bucket": landing,
                "control_table_name": table,
                **{n: f"st-{suffix}-{n}" for n in names},
                **{f"{m}_state_machine_arn": f"arn:aws:states:::{m}" for m in machines},
            }
        )
    )
    app, seed_app = typer.Typer(), typer.Typer()
    app.add_typer(seed_app, name="seed")
    register(app, seed_app)
    arguments = ["status", "--outputs", str(outputs), "--endpoint-url", endpoint]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"stream-errors\t{PARTITIONING_FAILED}\t1\t1\t{error.key}"
    ]
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "300")
    drawn = CliRunner().invoke(app, arguments)
    assert drawn.exit_code == 0, drawn.output
    assert f"records the stream could not deliver (s3://{landing}/stream-errors/)" in drawn.output
    assert error.key in drawn.output and f"no control records in {table}" in drawn.output


# --- the local run's streaming step ----------------------------------------------------------


def test_the_cli_default_is_the_streaming_steps():
    from datalake.cli_local import LOCAL_CHANGES

    assert LOCAL_CHANGES == stream.DEFAULT_CHANGES


def test_the_redelivery_is_a_run_of_one_tables_sent_changes():
    changes = sorted(
        [*beer_changes(60), *generate_changes(PROFILE, [], count=40, seed=3, start=START)],
        key=lambda r: r["metadata"]["commit-timestamp"],
    )
    again = stream.redelivery(changes)
    assert len(again) == 5 and len({r["metadata"]["table-name"] for r in again}) == 1
    position = changes.index(again[0])
    same = [
        c
        for c in changes[position:]
        if c["metadata"]["table-name"] == again[0]["metadata"]["table-name"]
    ]
    assert same[:5] == again  # consecutive changes of that table
    assert len(stream.redelivery(changes[:3])) == 1  # at least one
    assert stream.redelivery([]) == []
    assert stream.split(10, 4) == [3, 3, 2, 2] and stream.split(2, 4) == [1, 1, 0, 0]


def test_the_malformed_record_is_not_json_and_holds_no_value():
    record = stream.malformed_record(BEER)
    assert record == b'{"data": {"beer_id": '
    assert deaggregate(record) is None


def test_the_reconciliation_names_each_identity():
    report = stream.StreamReport("s", sent=10, delivered=9, errors=1)
    report.bronze = Counter(rows_in=9, rows_written=7, rows_quarantined=1, rows_skipped=1)
    assert [holds for _, holds in report.reconciliation()] == [True, True, True]
    report.bronze["rows_skipped"] = 0
    text, holds = report.reconciliation()[2]
    assert not holds and text == "bronze rows in 9 = written 7 + quarantined 1 + skipped 0"
    report.bronze = Counter(rows_in=6, duplicate_records=3, rows_written=5, rows_quarantined=1)
    assert report.reconciliation()[1] == (
        "delivered 9 = bronze rows in 6 + duplicate objects 3",
        True,
    )
