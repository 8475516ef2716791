"""The local Firehose: a Kinesis stream on the emulator and a delivery loop that reads it.

    put_changes ──PutRecords (key: <schema>.<table>.<primary key>, as DMS)──▶ Kinesis stream
    DeliveryLoop.poll: GetShardIterator / GetRecords on every shard
      ─▶ RecordDeAggregation (JSON): the JSON objects of each record   (extraction.py)
      ─▶ MetadataExtraction: METADATA_QUERY evaluated by the ``jq`` package
      ─▶ expand_prefix(DELIVERY_PREFIX) at the record's arrival; buffered per prefix
    DeliveryLoop.flush (or a buffer over its size or age)
      ─▶ landing <prefix><delivery stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.jsonl.gz, GZIP,
         SSE-KMS with the lake key, one record per line (AppendDelimiterToRecord)
      ─▶ records it cannot partition (not JSON, no table): expand_prefix(ERROR_PREFIX) as
         Firehose writes them (attemptsMade, arrivalTimestamp, errorCode, errorMessage,
         attemptEndingTimestamp, rawData in base64)

Every definition comes from ``datalake/streaming.py``, the module the component gives
Firehose, so the two cannot drift. The emulator's own Firehose is not used: it neither reads a
Kinesis source nor expands prefixes, partitions or compresses. Nothing here logs or prints a
record's content (PII): only counts and object keys.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from datalake.changes import partition_key, to_line
from datalake.contracts import TableContract
from datalake.inputs import gzip_bytes
from datalake.streaming import (
    DELIVERY_PREFIX,
    ERROR_PREFIX,
    FILE_EXTENSION,
    METADATA_KEY,
    PARTITION_KEY,
    PARTITIONING_FAILED,
    RECORD_DELIMITER,
    TABLE_NAME_KEY,
    PrefixError,
    expand_prefix,
)

from .extraction import deaggregate, query_keys, single_object_keys

log = logging.getLogger(__name__)

PUT_BATCH = 500
"""PutRecords takes at most 500 records per call."""
PUT_ATTEMPTS = 5
READ_LIMIT = 10_000
"""GetRecords returns at most this many records per call."""
ERROR_CODE = "DynamicPartitioning.MetadataExtractionFailed"
NOT_JSON = "Non JSON record provided"
NO_PARTITION_KEY = f"The metadata extraction query returned no value for the key {PARTITION_KEY!r}"
QUERY_FAILED = "The metadata extraction query could not be evaluated on the record"
"""Error messages: fixed texts, never jq's (which may quote the record)."""


def create_stream(
    kinesis: Any,
    name: str,
    shards: int = 1,
    *,
    key_arn: str | None = None,
    retention_hours: int = 24,
) -> str:
    """A provisioned stream of ``shards`` shards, encrypted with ``key_arn`` when given (as
    the component's); returns its ARN."""
    kinesis.create_stream(
        StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"}
    )
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    if retention_hours > 24:
        kinesis.increase_stream_retention_period(
            StreamName=name, RetentionPeriodHours=retention_hours
        )
    if key_arn is not None:
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key_arn)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return str(summary["StreamARN"])


def put_changes(
    kinesis: Any,
    stream: str,
    records: Iterable[Mapping[str, Any] | bytes],
    *,
    contracts: Mapping[str, TableContract] | None = None,
) -> int:
    """Put ``records`` as DMS does (one JSON object per Kinesis record, in order); ``bytes``
    go as they are (a malformed record). Returns the records put; failed entries (throttling)
    are retried, and still failing ones raise."""
    entries = [_entry(record, contracts or {}, n) for n, record in enumerate(records)]
    for start in range(0, len(entries), PUT_BATCH):
        pending = entries[start : start + PUT_BATCH]
        for attempt in range(PUT_ATTEMPTS):
            response = kinesis.put_records(StreamName=stream, Records=pending)
            if not response.get("FailedRecordCount"):
                break
            pending = [
                e for e, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r
            ]
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"{len(pending)} record(s) still refused by {stream}")
    return len(entries)


def _entry(
    record: Mapping[str, Any] | bytes, contracts: Mapping[str, TableContract], n: int
) -> dict[str, Any]:
    if isinstance(record, bytes | bytearray):
        return {"Data": bytes(record), "PartitionKey": f"unparsed-{n}"}
    table = str((record.get(METADATA_KEY) or {}).get(TABLE_NAME_KEY, ""))
    contract = contracts.get(table)
    key = partition_key(record, contract) if contract is not None else table or f"record-{n}"
    return {"Data": to_line(record).encode(), "PartitionKey": key}


@dataclass(frozen=True)
class DeliveredObject:
    """One object the loop wrote."""

    key: str
    size: int
    records: int
    table: str | None
    """The partition key (the table) of a delivered object; None for an error object."""
    error_type: str | None = None


@dataclass
class DeliveryStats:
    """What the loop has done so far."""

    records_read: int = 0
    """Kinesis records read."""
    delivered: int = 0
    """Records written to delivered objects (after deaggregation)."""
    failed: int = 0
    """Records written to the error prefix."""
    objects: list[DeliveredObject] = field(default_factory=list)


@dataclass
class _Buffer:
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    oldest: datetime | None = None
    opened: float = 0.0
    table: str | None = None
    error_type: str | None = None


class DeliveryLoop:
    """Reads a stream from its beginning and delivers it to ``bucket`` as Firehose does.

    :meth:`poll` reads what every shard holds and buffers it per prefix, writing a buffer once
    it reaches ``buffer_bytes`` or ``buffer_seconds`` of age; :meth:`flush` writes every buffer
    (the end of a buffering interval). A record is read once: redelivered records are new
    records, so they land in new objects, as with Firehose.
    """

    def __init__(
        self,
        kinesis: Any,
        s3: Any,
        *,
        stream: str,
        bucket: str,
        key_arn: str,
        delivery_stream: str,
        buffer_bytes: int = 64 * 2**20,
        buffer_seconds: float = 60.0,
    ):
        self.kinesis, self.s3 = kinesis, s3
        self.stream, self.bucket, self.key_arn = stream, bucket, key_arn
        self.delivery_stream = delivery_stream
        self.buffer_bytes, self.buffer_seconds = buffer_bytes, buffer_seconds
        self.stats = DeliveryStats()
        self._iterators: dict[str, str | None] = {}
        self._buffers: dict[str, _Buffer] = {}

    def poll(self) -> int:
        """Read every shard up to its latest record; returns the Kinesis records read."""
        read = 0
        for shard in self._shards():
            if shard in self._iterators and self._iterators[shard] is None:
                continue  # a closed shard (resharded): read to its end already
            iterator = self._iterators.get(shard)
            if iterator is None:
                iterator = self.kinesis.get_shard_iterator(
                    StreamName=self.stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while iterator:
                response = self.kinesis.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
                records = response["Records"]
                iterator = response.get("NextShardIterator")
                self.accept(records)
                read += len(records)
                if not records and not response.get("MillisBehindLatest"):
                    break  # caught up: the iterator is kept for the next poll
            self._iterators[shard] = iterator
        self.stats.records_read += read
        self._write_due()
        return read

    def flush(self) -> list[DeliveredObject]:
        """Write every buffer now; returns the objects written."""
        written = [self._write(prefix) for prefix in list(self._buffers)]
        return [w for w in written if w is not None]

    def _shards(self) -> list[str]:
        shards, token = [], None
        while True:
            options = {"NextToken": token} if token else {"StreamName": self.stream}
            response = self.kinesis.list_shards(**options)
            shards += [s["ShardId"] for s in response["Shards"]]
            token = response.get("NextToken")
            if not token:
                return shards

    def accept(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Deaggregate, extract the table, and buffer each record under its prefix: the
        records of one GetRecords response (``Data``, ``ApproximateArrivalTimestamp``)."""
        arrivals = [record["ApproximateArrivalTimestamp"].astimezone(UTC) for record in records]
        datas = [bytes(record["Data"]) for record in records]
        found = single_object_keys(datas)
        if found is not None:  # every record is one JSON value (what DMS sends): no split
            pending = [
                (d.strip(), a, keys) for d, a, keys in zip(datas, arrivals, found, strict=True)
            ]
        else:
            pending = self._deaggregated(datas, arrivals)
        prefixes: dict[tuple[tuple[tuple[str, str], ...], datetime], str] = {}
        for part, arrival, keys in pending:
            if keys is None:
                self._fail(part, arrival, QUERY_FAILED)
                continue
            # The expressions reach down to seconds: one expansion per key set and second.
            memo = (tuple(sorted(keys.items())), arrival.replace(microsecond=0))
            prefix = prefixes.get(memo)
            if prefix is None:
                try:
                    prefix = prefixes[memo] = expand_prefix(DELIVERY_PREFIX, at=arrival, keys=keys)
                except PrefixError:
                    self._fail(part, arrival, NO_PARTITION_KEY)
                    continue
            self._add(prefix, part + RECORD_DELIMITER.encode(), arrival, table=keys[PARTITION_KEY])
            self.stats.delivered += 1

    def _deaggregated(
        self, datas: list[bytes], arrivals: list[datetime]
    ) -> list[tuple[bytes, datetime, dict[str, str] | None]]:
        """The exact path: each record split into its JSON objects (a record that is not
        JSON throughout goes to the error prefix), then the query over every object."""
        pending: list[tuple[bytes, datetime]] = []
        for data, arrival in zip(datas, arrivals, strict=True):
            parts = deaggregate(data)
            if parts is None:
                self._fail(data, arrival, NOT_JSON)
                continue
            pending += [(part, arrival) for part in parts]
        found = query_keys([p for p, _ in pending])
        return [(p, a, keys) for (p, a), keys in zip(pending, found, strict=True)]

    def _fail(self, data: bytes, arrival: datetime, message: str) -> None:
        """Buffer a record for the error prefix, in Firehose's error-record shape."""
        prefix = expand_prefix(ERROR_PREFIX, at=arrival, error_type=PARTITIONING_FAILED)
        now = datetime.now(UTC)
        line = {
            "attemptsMade": 1,
            "arrivalTimestamp": _millis(arrival),
            "errorCode": ERROR_CODE,
            "errorMessage": message,
            "attemptEndingTimestamp": _millis(now),
            "rawData": base64.b64encode(data).decode("ascii"),
        }
        body = (json.dumps(line, separators=(",", ":")) + RECORD_DELIMITER).encode()
        self._add(prefix, body, arrival, error_type=PARTITIONING_FAILED)
        self.stats.failed += 1

    def _add(
        self,
        prefix: str,
        line: bytes,
        arrival: datetime,
        *,
        table: str | None = None,
        error_type: str | None = None,
    ) -> None:
        buffer = self._buffers.get(prefix)
        if buffer is None:
            buffer = self._buffers[prefix] = _Buffer(
                opened=time.monotonic(), table=table, error_type=error_type
            )
        buffer.lines.append(line)
        buffer.size += len(line)
        buffer.oldest = min(buffer.oldest or arrival, arrival)
        if buffer.size >= self.buffer_bytes:
            self._write(prefix)

    def _write_due(self) -> None:
        now = time.monotonic()
        for prefix, buffer in list(self._buffers.items()):
            if now - buffer.opened >= self.buffer_seconds:
                self._write(prefix)

    def _write(self, prefix: str) -> DeliveredObject | None:
        buffer = self._buffers.pop(prefix, None)
        if buffer is None or not buffer.lines or buffer.oldest is None:
            return None
        # Firehose names an object after the arrival of its oldest record.
        name = f"{self.delivery_stream}-1-{buffer.oldest:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        key = f"{prefix}{name}{FILE_EXTENSION}"
        body = gzip_bytes(b"".join(buffer.lines))
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.key_arn,
        )
        written = DeliveredObject(
            key, len(body), len(buffer.lines), buffer.table, buffer.error_type
        )
        self.stats.objects.append(written)
        log.info("delivered %s (%d records)", key, written.records)
        return written


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)
