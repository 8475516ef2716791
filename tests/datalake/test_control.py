"""The control store on moto's DynamoDB: claims, attempts, transitions, idempotency."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import datalake.control as control
from datalake.control import (
    ControlRecord,
    ControlRecordError,
    ControlStatus,
    ControlStore,
    can_transition,
    control_id_for,
)
from datalake.control_table import create_control_table

TABLE = "datalake-test-processing-control"
CHECKSUM = "a" * 64


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        yield create_control_table(dynamodb, TABLE)


@pytest.fixture
def store(table) -> ControlStore:
    return ControlStore(table, max_attempts=3, lease_seconds=600)


def new_record(key: str = "raw/beer/beer-001.csv.gz", checksum: str = CHECKSUM) -> ControlRecord:
    return ControlRecord(
        control_id=control_id_for("bronze", "landing", key, checksum),
        layer="bronze",
        table_name="beer",
        bucket="landing",
        object_key=key,
        format="csv",
        size_bytes=1234,
        record_count=10,
        checksum=checksum,
        compute_target="lambda",
    )


def test_table_has_the_stream_and_indexes_the_store_queries(table):
    description = table.meta.client.describe_table(TableName=TABLE)["Table"]
    assert description["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_IMAGE",
    }
    assert {i["IndexName"] for i in description["GlobalSecondaryIndexes"]} == {
        control.INDEX_BY_OBJECT_KEY,
        control.INDEX_BY_LAYER_STATUS,
        control.INDEX_BY_TABLE_CHECKSUM,
    }


def test_record_round_trips_through_dynamodb(store):
    record = store.register(new_record())
    stored = store.get(record.control_id)
    assert stored == record
    assert stored.status is ControlStatus.PENDING
    assert stored.created_at.tzinfo is not None


def test_a_gold_records_partitions_round_trip_as_integers(store, table):
    record = new_record().model_copy(
        update={"layer": "gold", "partitions": [[2024, 3], [2024, 12]], "format": "iceberg"}
    )
    store.register(record)
    raw = table.get_item(Key={"control_id": record.control_id})["Item"]["partitions"]
    assert [[type(v).__name__ for v in p] for p in raw] == [["Decimal"] * 2] * 2  # as stored
    stored = store.get(record.control_id)
    assert stored.partitions == [[2024, 3], [2024, 12]]
    assert all(type(v) is int for p in stored.partitions for v in p)
    assert "partitions" not in new_record().to_item()  # no attribute on other records


def test_a_record_is_claimed_once_and_a_second_claim_backs_off(store):
    record = store.register(new_record())
    first = store.claim(record.control_id, "worker-a")
    second = store.claim(record.control_id, "worker-b")
    assert first is not None and first.status is ControlStatus.RUNNING
    assert first.claimed_by == "worker-a" and first.attempts == 1
    assert second is None
    assert store.get(record.control_id).claimed_by == "worker-a"


def test_failures_count_attempts_and_stop_at_the_maximum(store):
    record = store.register(new_record())
    for attempt in (1, 2, 3):
        claimed = store.claim(record.control_id, f"worker-{attempt}")
        assert claimed is not None and claimed.attempts == attempt
        failed = store.fail(record.control_id, f"worker-{attempt}", f"boom {attempt}")
        assert failed.status is ControlStatus.ERROR and failed.error == f"boom {attempt}"
    assert store.attempts_exhausted(failed)
    assert store.claim(record.control_id, "worker-4") is None
    assert store.get(record.control_id).attempts == 3


def test_success_records_counts_and_clears_the_error(store):
    record = store.register(new_record())
    store.claim(record.control_id, "w1")
    store.fail(record.control_id, "w1", "transient")
    store.claim(record.control_id, "w2")
    done = store.complete(
        record.control_id, "w2", rows_in=10, rows_written=7, rows_quarantined=1, rows_skipped=2
    )
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (10, 7, 1)
    assert done.rows_skipped == 2 and isinstance(done.rows_skipped, int)  # not a Decimal
    assert done.error is None and done.attempts == 2
    assert store.get(record.control_id) == done


def test_only_the_holder_can_finish_a_claim(store):
    record = store.register(new_record())
    store.claim(record.control_id, "holder")
    with pytest.raises(ControlRecordError, match="not held by this worker"):
        store.complete(record.control_id, "intruder", rows_in=1)
    assert store.get(record.control_id).status is ControlStatus.RUNNING


def test_finished_records_cannot_be_claimed_or_failed(store):
    record = store.register(new_record())
    store.claim(record.control_id, "w")
    store.complete(record.control_id, "w", rows_in=1)
    assert store.claim(record.control_id, "w2") is None
    with pytest.raises(ControlRecordError, match="success -> error is not an allowed transition"):
        store.fail(record.control_id, "w", "late failure")


def test_a_running_record_with_an_expired_lease_can_be_reclaimed(store, monkeypatch):
    record = store.register(new_record())
    store.claim(record.control_id, "crashed-worker")
    assert store.claim(record.control_id, "rescuer") is None
    later = control.utc_now() + timedelta(seconds=601)
    monkeypatch.setattr(control, "utc_now", lambda: later)
    rescued = store.claim(record.control_id, "rescuer")
    assert rescued is not None and rescued.claimed_by == "rescuer" and rescued.attempts == 2
    with pytest.raises(ControlRecordError):
        store.complete(record.control_id, "crashed-worker", rows_in=1)


def test_registering_the_same_record_twice_is_idempotent(store, table):
    first = store.register(new_record())
    store.claim(first.control_id, "w")
    again = store.register(new_record())
    assert again.control_id == first.control_id
    assert again.status is ControlStatus.RUNNING  # the stored record, untouched
    assert table.scan()["Count"] == 1


def test_same_table_and_checksum_after_success_is_a_duplicate(store):
    original = store.register(new_record("raw/beer/a.csv.gz"))
    store.claim(original.control_id, "w")
    store.complete(original.control_id, "w", rows_in=10)
    copy = store.register(new_record("raw/beer/copy-of-a.csv.gz"))
    assert copy.status is ControlStatus.DUPLICATE
    assert copy.duplicate_of == original.control_id
    assert store.claim(copy.control_id, "w") is None


def test_same_checksum_before_success_is_not_a_duplicate(store):
    store.register(new_record("raw/beer/a.csv.gz"))
    second = store.register(new_record("raw/beer/b.csv.gz"))
    assert second.status is ControlStatus.PENDING


def test_queries_by_layer_status_and_by_object_key(store):
    keys = [f"raw/beer/part-{i:03}.csv.gz" for i in range(5)]
    records = [store.register(new_record(k, checksum=f"{i:064x}")) for i, k in enumerate(keys)]
    store.claim(records[0].control_id, "w")
    pending = list(store.by_status("bronze", ControlStatus.PENDING))
    running = list(store.by_status("bronze", ControlStatus.RUNNING))
    assert {r.object_key for r in pending} == set(keys[1:])
    assert [r.object_key for r in running] == [keys[0]]
    assert [r.control_id for r in store.by_object_key(keys[2])] == [records[2].control_id]


def test_errors_are_truncated_to_fit_the_item(store):
    record = store.register(new_record())
    store.claim(record.control_id, "w")
    failed = store.fail(record.control_id, "w", "x" * 10_000)
    assert len(failed.error) == control.MAX_ERROR_LENGTH


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (ControlStatus.PENDING, ControlStatus.RUNNING, True),
        (ControlStatus.RUNNING, ControlStatus.SUCCESS, True),
        (ControlStatus.RUNNING, ControlStatus.ERROR, True),
        (ControlStatus.ERROR, ControlStatus.RUNNING, True),
        (ControlStatus.PENDING, ControlStatus.SUCCESS, False),
        (ControlStatus.SUCCESS, ControlStatus.RUNNING, False),
        (ControlStatus.DUPLICATE, ControlStatus.RUNNING, False),
        (ControlStatus.ERROR, ControlStatus.SUCCESS, False),
    ],
)
def test_status_transitions(current, new, allowed):
    assert can_transition(current, new) is allowed


def test_control_ids_are_deterministic_per_object_content():
    a = control_id_for("bronze", "landing", "raw/beer/a.csv.gz", CHECKSUM)
    assert a == control_id_for("bronze", "landing", "raw/beer/a.csv.gz", CHECKSUM)
    assert a != control_id_for("bronze", "landing", "raw/beer/a.csv.gz", "b" * 64)
    assert a != control_id_for("silver", "landing", "raw/beer/a.csv.gz", CHECKSUM)


# --- the state machine's failure update ---------------------------------------------------


def run_update_task(table, parameters: dict, state: dict, entered_time: str) -> None:
    """What Step Functions does with a ``dynamodb:updateItem`` task: fill in the paths of
    ``Parameters`` from the state input and the context, then call DynamoDB."""
    paths = {
        "$.control_id": state["control_id"],
        "States.JsonToString($.failure)": json.dumps(state["failure"], separators=(",", ":")),
        "$$.State.EnteredTime": entered_time,
    }

    def fill(value):
        if not isinstance(value, dict):
            return value
        return {
            key.removesuffix(".$"): paths[item] if key.endswith(".$") else fill(item)
            for key, item in value.items()
        }

    # The low-level client: the parameters are already in DynamoDB's JSON.
    boto3.client("dynamodb", region_name="us-east-1").update_item(**fill(parameters))


def test_the_state_machine_fails_a_record_as_the_store_does(store, table):
    by_store = store.register(new_record("raw/beer/by-store.csv.gz"))
    by_task = store.register(new_record("raw/beer/by-task.csv.gz"))
    for record in (by_store, by_task):
        store.claim(record.control_id, "lost-worker")
    failure = {"Error": "States.Timeout", "Cause": "the task timed out"}
    message = json.dumps(failure, separators=(",", ":"))
    store.fail(by_store.control_id, "lost-worker", message)
    parameters = control.failure_update_parameters(TABLE)
    state = {"control_id": by_task.control_id, "failure": failure}
    run_update_task(table, parameters, state, "2026-01-02T03:04:05.678Z")

    def item(record):
        return table.get_item(Key={"control_id": record.control_id})["Item"]

    varying = {"control_id", "object_key", "created_at", "updated_at"}
    expected = {k: v for k, v in item(by_store).items() if k not in varying}
    assert {k: v for k, v in item(by_task).items() if k not in varying} == expected
    assert expected["layer_status"] == "bronze#error" and expected["error"] == message
    assert "lease_expires_at" not in expected and expected["retryable"] is True
    failed = store.get(by_task.control_id)
    assert failed.updated_at.isoformat() == "2026-01-02T03:04:05.678000+00:00"
    assert store.claim(by_task.control_id, "next-worker") is not None  # attempts left: retried


def test_the_state_machine_update_leaves_finished_records_alone(store, table):
    record = store.register(new_record())
    store.claim(record.control_id, "w")
    done = store.complete(record.control_id, "w", rows_in=10)
    state = {"control_id": record.control_id, "failure": {"Error": "late"}}
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        run_update_task(table, control.failure_update_parameters(TABLE), state, "2026-01-01T00Z")
    assert store.get(record.control_id) == done


def test_the_failure_update_names_its_layer():
    parameters = control.failure_update_parameters("t", layer="silver")
    assert parameters["ExpressionAttributeValues"][":layer_status"] == {"S": "silver#error"}
    assert parameters["TableName"] == "t"
