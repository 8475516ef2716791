"""Control records: the single source of truth for what was processed, and by whom.

One record per object per target layer, kept in the DynamoDB table that the
``ProcessingControlTable`` component declares. Workers claim a record with a conditional write
(pending -> running), so exactly one worker processes it; failures count attempts; a record
whose (table, checksum) was already ingested successfully is registered as ``duplicate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

MAX_ERROR_LENGTH = 4000

# Index names and key attributes; the component declares the same constants.
INDEX_BY_OBJECT_KEY = "by-object-key"
INDEX_BY_LAYER_STATUS = "by-layer-status"
INDEX_BY_TABLE_CHECKSUM = "by-table-checksum"
TABLE_KEY_SCHEMA: dict[str, Any] = {
    "hash_key": "control_id",
    "indexes": {
        INDEX_BY_OBJECT_KEY: ("object_key", "created_at"),
        INDEX_BY_LAYER_STATUS: ("layer_status", "created_at"),
        INDEX_BY_TABLE_CHECKSUM: ("table_name", "checksum"),
    },
}


class ControlStatus(StrEnum):
    """Lifecycle of a control record."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    DUPLICATE = "duplicate"


ALLOWED_TRANSITIONS: dict[ControlStatus, frozenset[ControlStatus]] = {
    ControlStatus.PENDING: frozenset({ControlStatus.RUNNING}),
    ControlStatus.RUNNING: frozenset(
        {ControlStatus.SUCCESS, ControlStatus.ERROR, ControlStatus.RUNNING}
    ),
    ControlStatus.ERROR: frozenset({ControlStatus.RUNNING}),
    ControlStatus.SUCCESS: frozenset(),
    ControlStatus.DUPLICATE: frozenset(),
}
"""``running -> running`` is a re-claim after the lease of a crashed worker expired."""


def can_transition(current: ControlStatus, new: ControlStatus) -> bool:
    """Whether a record may move from ``current`` to ``new``."""
    return new in ALLOWED_TRANSITIONS[current]


class ControlRecordError(RuntimeError):
    """A control-record operation that the record's state does not allow."""


def utc_now() -> datetime:
    """Current time, timezone-aware UTC (the only clock the store reads)."""
    return datetime.now(UTC)


def control_id_for(layer: str, bucket: str, object_key: str, checksum: str) -> str:
    """Deterministic id: the same object content delivered twice maps to the same record."""
    digest = hashlib.sha256(f"{layer}\n{bucket}\n{object_key}\n{checksum}".encode()).hexdigest()
    return digest[:32]


class ControlRecord(BaseModel):
    """One object to process into one layer."""

    model_config = ConfigDict(extra="forbid")

    control_id: str
    layer: str = Field(description="Target layer: bronze, silver or gold.")
    table_name: str
    bucket: str
    object_key: str
    format: str = Field(description="csv, jsonl, parquet or iceberg.")
    size_bytes: int = 0
    record_count: int | None = None
    checksum: str = Field(description="SHA-256 of the object, hex.")
    status: ControlStatus = ControlStatus.PENDING
    attempts: int = 0
    compute_target: str | None = Field(None, description="lambda, ecs, emr or local.")
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    error: str | None = None
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    retryable: bool = True
    """False when retrying cannot help (unreadable file, unknown table): never re-claimed."""
    duplicate_of: str | None = None
    parent_id: str | None = Field(None, description="Record of the previous layer.")
    rows_in: int | None = None
    rows_written: int | None = None
    rows_quarantined: int | None = None
    masked_columns: list[str] | None = Field(None, description="PII columns masked in bronze.")

    @property
    def layer_status(self) -> str:
        """Partition key of the (layer, status) index."""
        return f"{self.layer}#{self.status.value}"

    def to_item(self) -> dict[str, Any]:
        """DynamoDB item: timestamps as ISO-8601 UTC strings, no null attributes."""
        item: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            item[name] = value.isoformat() if isinstance(value, datetime) else value
        item["status"] = self.status.value
        item["layer_status"] = self.layer_status
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ControlRecord:
        """Inverse of :meth:`to_item` (DynamoDB returns numbers as Decimal)."""
        data = {k: v for k, v in item.items() if k != "layer_status"}
        for name in (
            "size_bytes",
            "record_count",
            "attempts",
            "rows_in",
            "rows_written",
            "rows_quarantined",
        ):
            if data.get(name) is not None:
                data[name] = int(data[name])
        return cls.model_validate(data)


class ControlStore:
    """Reads and writes control records with the conditional writes that make them safe.

    ``table`` is a boto3 DynamoDB ``Table`` resource (real AWS, or moto in tests and local mode).
    """

    def __init__(self, table: Any, *, max_attempts: int = 3, lease_seconds: int = 1800):
        self.table = table
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)

    def register(self, record: ControlRecord) -> ControlRecord:
        """Create a record once; idempotent.

        The same record again (same ``control_id``) returns the stored one unchanged. A new
        pending record whose (table, checksum) already succeeded is stored as ``duplicate``.
        """
        existing = self.get(record.control_id)
        if existing is not None:
            return existing
        if record.status is ControlStatus.PENDING:
            done = self.find_success(record.table_name, record.checksum, layer=record.layer)
            if done is not None and done.control_id != record.control_id:
                record = record.model_copy(
                    update={"status": ControlStatus.DUPLICATE, "duplicate_of": done.control_id}
                )
        try:
            self.table.put_item(
                Item=record.to_item(), ConditionExpression=Attr("control_id").not_exists()
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            stored = self.get(record.control_id)
            assert stored is not None  # the condition failed because it exists
            return stored
        return record

    def get(self, control_id: str) -> ControlRecord | None:
        """The record, read with strong consistency, or ``None``."""
        item = self.table.get_item(Key={"control_id": control_id}, ConsistentRead=True).get("Item")
        return ControlRecord.from_item(item) if item else None

    def claim(self, control_id: str, worker: str) -> ControlRecord | None:
        """Claim a record for ``worker`` (pending -> running), counting an attempt.

        Also claimable: a retryable record in error with attempts left, and a running record
        whose lease expired (its worker died). Returns ``None`` when another worker holds it,
        it is finished, or it may not be retried: the caller backs off.

        The decision is made on the record as read, and the write is conditional on the record
        still being exactly in that state (optimistic locking): of two racing workers, one wins.
        """
        now = utc_now()
        current = self.get(control_id)
        if current is None:
            raise ControlRecordError(f"control record {control_id} does not exist")
        state = Attr("status").eq(current.status.value) & Attr("attempts").eq(current.attempts)
        if current.status is ControlStatus.PENDING:
            condition = state
        elif current.status is ControlStatus.ERROR:
            if current.attempts >= self.max_attempts or not current.retryable:
                return None
            condition = state
        elif current.status is ControlStatus.RUNNING:
            lease = current.lease_expires_at
            if lease is None or lease >= now or current.attempts >= self.max_attempts:
                return None
            condition = state & Attr("lease_expires_at").eq(lease.isoformat())
        else:
            return None
        return self._update(
            control_id,
            ControlStatus.RUNNING,
            condition=condition,
            now=now,
            values={"claimed_by": worker, "lease_expires_at": (now + self.lease).isoformat()},
            add_attempt=True,
            on_conflict=None,
            current=current,
        )

    def complete(self, control_id: str, worker: str, **counts: Any) -> ControlRecord:
        """Mark the claimed record ``success`` with its counts and details (only by its holder)."""
        record = self._update(
            control_id,
            ControlStatus.SUCCESS,
            condition=self._held_by(worker),
            now=utc_now(),
            values={**counts, "error": None, "lease_expires_at": None},
            on_conflict="raise",
        )
        assert record is not None
        return record

    def fail(
        self, control_id: str, worker: str, error: str, *, retryable: bool = True
    ) -> ControlRecord:
        """Mark the claimed record ``error`` with the message (only by its holder).

        ``retryable=False`` (the input itself is bad) keeps it from ever being re-claimed.
        """
        record = self._update(
            control_id,
            ControlStatus.ERROR,
            condition=self._held_by(worker),
            now=utc_now(),
            values={
                "error": error[:MAX_ERROR_LENGTH],
                "lease_expires_at": None,
                "retryable": retryable,
            },
            on_conflict="raise",
        )
        assert record is not None
        return record

    def attempts_exhausted(self, record: ControlRecord) -> bool:
        """True when an errored record will not be claimed again (alarm on this)."""
        return record.status is ControlStatus.ERROR and (
            record.attempts >= self.max_attempts or not record.retryable
        )

    def find_success(
        self, table_name: str, checksum: str, *, layer: str | None = None
    ) -> ControlRecord | None:
        """A successful record of the same content for the same table, if any."""
        response = self.table.query(
            IndexName=INDEX_BY_TABLE_CHECKSUM,
            KeyConditionExpression=Key("table_name").eq(table_name) & Key("checksum").eq(checksum),
        )
        for item in response.get("Items", []):
            record = ControlRecord.from_item(item)
            if record.status is ControlStatus.SUCCESS and layer in (None, record.layer):
                return record
        return None

    def by_status(self, layer: str, status: ControlStatus) -> Iterator[ControlRecord]:
        """Records of a layer in a status, oldest first (all pages)."""
        kwargs: dict[str, Any] = {
            "IndexName": INDEX_BY_LAYER_STATUS,
            "KeyConditionExpression": Key("layer_status").eq(f"{layer}#{status.value}"),
        }
        while True:
            response = self.table.query(**kwargs)
            for item in response.get("Items", []):
                yield ControlRecord.from_item(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def by_object_key(self, object_key: str) -> list[ControlRecord]:
        """Every record created for one object key (all layers, all deliveries)."""
        response = self.table.query(
            IndexName=INDEX_BY_OBJECT_KEY, KeyConditionExpression=Key("object_key").eq(object_key)
        )
        return [ControlRecord.from_item(i) for i in response.get("Items", [])]

    @staticmethod
    def _held_by(worker: str) -> Any:
        return Attr("status").eq(ControlStatus.RUNNING.value) & Attr("claimed_by").eq(worker)

    def _update(
        self,
        control_id: str,
        status: ControlStatus,
        *,
        condition: Any,
        now: datetime,
        values: dict[str, Any],
        on_conflict: str | None,
        add_attempt: bool = False,
        current: ControlRecord | None = None,
    ) -> ControlRecord | None:
        current = current or self.get(control_id)
        if current is None:
            raise ControlRecordError(f"control record {control_id} does not exist")
        if not can_transition(current.status, status):
            if on_conflict == "raise":
                raise ControlRecordError(
                    f"control record {control_id}: {current.status.value} -> {status.value} "
                    "is not an allowed transition"
                )
            return None
        sets = {
            "status": status.value,
            "layer_status": f"{current.layer}#{status.value}",
            "updated_at": now.isoformat(),
        }
        removes = [k for k, v in values.items() if v is None]
        sets.update({k: v for k, v in values.items() if v is not None})
        names = {f"#{k}": k for k in [*sets, *removes]}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        attribute_values = {f":{k}": v for k, v in sets.items()}
        if add_attempt:
            expression += ", #attempts = if_not_exists(#attempts, :zero) + :one"
            names["#attempts"] = "attempts"
            attribute_values.update({":zero": 0, ":one": 1})
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        try:
            response = self.table.update_item(
                Key={"control_id": control_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            if on_conflict == "raise":
                raise ControlRecordError(
                    f"control record {control_id} is not held by this worker; "
                    "it was re-claimed after its lease expired or already finished"
                ) from None
            return None
        return ControlRecord.from_item(response["Attributes"])


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def create_control_table(dynamodb: Any, table_name: str) -> Any:
    """Create the control table with the same keys, indexes and stream as the component.

    For the local (emulated) lake and tests; in AWS the ``ProcessingControlTable`` component
    declares it. ``dynamodb`` is a boto3 DynamoDB service resource.
    """
    indexes: dict[str, tuple[str, str]] = TABLE_KEY_SCHEMA["indexes"]
    attributes = {TABLE_KEY_SCHEMA["hash_key"]}
    for hash_key, range_key in indexes.values():
        attributes.update((hash_key, range_key))
    table = dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": TABLE_KEY_SCHEMA["hash_key"], "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in indexes.items()
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table.wait_until_exists()
    return table
