"""Control records: the single source of truth for what was processed, and by whom.

One record per object per target layer (for gold, per commit of a view: the record lists the
partitions the commit replaced), kept in the DynamoDB table that the
``ProcessingControlTable`` component declares. Workers claim a record with a conditional write
(pending -> running), so exactly one worker processes it; failures count attempts; a record
whose (table, checksum) was already ingested successfully is registered as ``duplicate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from datalake.control_encoding import (
    ControlStatus,
    can_transition,
    failure_values,
    layer_status_of,
    status_change,
    update_expression,
)
from datalake.control_encoding import (
    failure_update_parameters as failure_update_parameters,  # the state machine's update
)
from datalake.control_table import (
    INDEX_BY_LAYER_STATUS,
    INDEX_BY_OBJECT_KEY,
    INDEX_BY_TABLE_CHECKSUM,
)

MAX_ERROR_LENGTH = 4000


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
    rows_skipped: int | None = Field(
        None,
        description="Records that are no rows of the table: DMS control records, DMS's own "
        "tables (rows_in = rows_written + rows_quarantined + rows_skipped).",
    )
    masked_columns: list[str] | None = Field(None, description="PII columns masked in bronze.")
    quarantine_rules: dict[str, int] = Field(
        default_factory=dict,
        description="Bronze: quarantined rows per rule (a reason without its value; the most "
        "frequent 20, the rest under 'other'). A row that broke two rules counts under both.",
    )
    partitions: list[list[int]] | None = Field(
        None,
        description="Gold: the view partitions to rebuild, each its values in the order of the "
        "view's partition columns (one record names every partition one view commit replaced).",
    )

    @property
    def layer_status(self) -> str:
        """Partition key of the (layer, status) index."""
        return layer_status_of(self.layer, self.status)

    def to_item(self) -> dict[str, Any]:
        """DynamoDB item: timestamps as ISO-8601 UTC strings, no null (or empty map) attributes."""
        item: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if value is None or value == {}:
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
            "rows_skipped",
        ):
            if data.get(name) is not None:
                data[name] = int(data[name])
        if data.get("quarantine_rules") is not None:
            data["quarantine_rules"] = {k: int(v) for k, v in data["quarantine_rules"].items()}
        if data.get("partitions") is not None:
            data["partitions"] = [[int(v) for v in values] for values in data["partitions"]]
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
            values=failure_values(error[:MAX_ERROR_LENGTH], retryable=retryable),
            on_conflict="raise",
        )
        assert record is not None
        return record

    def requeue(
        self, control_id: str, *, current: ControlRecord | None = None
    ) -> ControlRecord | None:
        """Put a record in error back to ``pending`` with its attempts reset, retryable.

        An operator's override, outside the workers' transitions (error -> pending): clears the
        error, claim and lease; conditional on the record still being in error. ``None`` when
        it no longer is.
        """
        current = current or self.get(control_id)
        if current is None:
            raise ControlRecordError(f"control record {control_id} does not exist")
        if current.status is not ControlStatus.ERROR:
            return None
        values = {
            **status_change(current.layer, ControlStatus.PENDING, utc_now().isoformat()),
            "attempts": 0,
            "retryable": True,
            "error": None,
            "claimed_by": None,
            "lease_expires_at": None,
        }
        return self._write(
            control_id,
            values,
            condition=Attr("status").eq(ControlStatus.ERROR.value),
            on_conflict=None,
        )

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
            "KeyConditionExpression": Key("layer_status").eq(layer_status_of(layer, status)),
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
        changes = {**status_change(current.layer, status, now.isoformat()), **values}
        return self._write(
            control_id,
            changes,
            condition=condition,
            on_conflict=on_conflict,
            add_attempt=add_attempt,
        )

    def _write(
        self,
        control_id: str,
        values: dict[str, Any],
        *,
        condition: Any,
        on_conflict: str | None,
        add_attempt: bool = False,
    ) -> ControlRecord | None:
        """One conditional ``update_item``: ``None`` values are removed, the others set."""
        expression, names, attribute_values = update_expression(
            values, increment="attempts" if add_attempt else None
        )
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
