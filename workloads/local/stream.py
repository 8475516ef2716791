"""The local run's streaming step: DMS-shaped changes through the emulator's stream into raw.

    the change generator (datalake/changes.py), on the live rows of the seed files, commit
    timestamps after the batch files' arrival (else every change is late in silver)
      ─▶ PutRecords: a control record, the changes in commit order, one malformed record
      ─▶ the delivery loop (delivery.py): poll, flush          → objects of the first interval
      ─▶ PutRecords again: a slice of changes already delivered (at-least-once: a redelivery)
      ─▶ poll, flush                                           → a second object
      ─▶ each delivered object: S3 event → controller → dispatch (the runner's, as a batch file)
      ─▶ silver (the runner's) removes the redelivered copies: "duplicates removed"

:class:`StreamReport` accounts for every record sent: delivered or in the error prefix; the
delivered ones written to bronze, quarantined or skipped (control records). Only counts and
object keys are kept, never a record's content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from datalake.changes import control_record, generate_changes
from datalake.contracts import TableContract
from datalake.live_rows import existing_rows
from datalake.naming import Bucket
from datalake.streaming import (
    CHANGE_TIME_KEYS,
    DELIVERY_PURPOSE,
    LOCAL_RUN_CHANGES,
    METADATA_KEY,
    OPERATION_KEY,
    STREAM_PURPOSE,
    TABLE_NAME_KEY,
)

from .delivery import DeliveredObject, DeliveryLoop, create_stream, put_changes
from .resources import LocalLake
from .seed import SeedPlan

DEFAULT_CHANGES = LOCAL_RUN_CHANGES
"""Changes ``datalake local run`` streams by default (one definition, ``datalake.changes``)."""
REDELIVERED_SHARE = 0.05
"""Of the changes: the share sent a second time, after the first delivery."""
ON_DEMAND_SHARDS = 4
"""Shards of an on-demand stream on the emulator (what AWS starts one with)."""


@dataclass
class StreamReport:
    """What the streaming step sent and where every record went."""

    stream: str
    operations: dict[str, Counter[str]] = field(default_factory=dict)
    """Per CDC table: changes generated per operation (insert, update, delete)."""
    sent: int = 0
    """Kinesis records put: changes, redelivered copies, the control and malformed records."""
    changes: int = 0
    redelivered: int = 0
    control: int = 0
    malformed: int = 0
    delivered: int = 0
    """Records the loop wrote to raw objects."""
    errors: int = 0
    """Records the loop wrote to the error prefix."""
    objects: list[DeliveredObject] = field(default_factory=list)
    error_objects: list[DeliveredObject] = field(default_factory=list)
    flushes: list[int] = field(default_factory=list)
    """Raw objects written by each delivery interval (the redelivery's are the second)."""
    bronze: Counter[str] = field(default_factory=Counter)
    """Of the delivered objects' control records: rows_in, rows_written, rows_quarantined,
    rows_skipped; ``duplicate_records``: records of objects registered as duplicates."""
    duplicates_removed: int | None = None
    """Silver's ``duplicates_skipped`` over every table (None: the engine does not say)."""

    def reconciliation(self) -> list[tuple[str, bool]]:
        """Each accounting identity as (text, holds)."""
        bronze = self.bronze
        rows_in = bronze["rows_in"]
        parts = bronze["rows_written"] + bronze["rows_quarantined"] + bronze["rows_skipped"]
        landed = rows_in + bronze["duplicate_records"]
        return [
            (
                f"sent {self.sent:,} = delivered {self.delivered:,} + error prefix {self.errors:,}",
                self.sent == self.delivered + self.errors,
            ),
            (
                f"delivered {self.delivered:,} = bronze rows in {rows_in:,}"
                + (
                    f" + duplicate objects {bronze['duplicate_records']:,}"
                    if landed != rows_in
                    else ""
                ),
                self.delivered == landed,
            ),
            (
                f"bronze rows in {rows_in:,} = written {bronze['rows_written']:,} + quarantined "
                f"{bronze['rows_quarantined']:,} + skipped {bronze['rows_skipped']:,}",
                rows_in == parts,
            ),
        ]


def split(total: int, parts: int) -> list[int]:
    """``total`` over ``parts`` as evenly as possible (the first ones larger)."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def stream_changes(
    lake: LocalLake,
    plan: SeedPlan,
    *,
    total: int,
    seed: int,
    ingest: Callable[[str, int], None],
) -> StreamReport | None:
    """Stream ``total`` generated changes over the domain's CDC tables into landing, and
    ``ingest`` (key, size) each delivered object (the live lake passes a no-op: the landing
    bucket's notifications carry delivered objects to the controller like any landed file);
    None when there is nothing to stream."""
    tables = [contract for contract in lake.domain.tables.values() if contract.cdc]
    if total <= 0 or not tables:
        return None
    settings, names = lake.settings, lake.settings.names
    # After every batch file's arrival (its rows' change time), by a margin of the clock's
    # resolution in the S3 event (milliseconds).
    start = datetime.now(UTC) + timedelta(milliseconds=2)
    report = StreamReport(names.resource(STREAM_PURPOSE))
    changes = _generate(tables, plan, total, seed, start, report)

    kinesis = boto3.client("kinesis", endpoint_url=lake.endpoint, region_name=settings.region)
    stream = settings.streaming.stream
    shards = stream.shards if stream.mode == "provisioned" else ON_DEMAND_SHARDS
    create_stream(
        kinesis,
        report.stream,
        shards,
        key_arn=lake.key_arn,
        retention_hours=stream.retention_hours,
    )
    delivery = settings.streaming.delivery
    loop = DeliveryLoop(
        kinesis,
        lake.s3,
        stream=report.stream,
        bucket=lake.buckets[Bucket.LANDING],
        key_arn=lake.key_arn,
        delivery_stream=names.resource(DELIVERY_PURPOSE),
        buffer_bytes=delivery.buffer_size_mb * 2**20,
        buffer_seconds=delivery.buffer_interval_seconds,
    )
    contracts = {c.name: c for c in tables}
    middle = len(changes) // 2
    first: list[dict[str, Any] | bytes] = [control_record(tables[0], at=start)]
    first += [*changes[:middle], malformed_record(tables[0]), *changes[middle:]]
    report.control, report.malformed = 1, 1
    report.sent = put_changes(kinesis, report.stream, first, contracts=contracts)
    _deliver(loop, report)
    again = redelivery(changes)
    report.redelivered = len(again)
    report.sent += put_changes(kinesis, report.stream, again, contracts=contracts)
    _deliver(loop, report)
    report.delivered, report.errors = loop.stats.delivered, loop.stats.failed
    for delivered in report.objects:
        ingest(delivered.key, delivered.size)
    return report


def _generate(
    tables: list[TableContract],
    plan: SeedPlan,
    total: int,
    seed: int,
    start: datetime,
    report: StreamReport,
) -> list[dict[str, Any]]:
    """``total`` changes over ``tables``, on the live rows of their seed files, in commit
    order (as the source's log has them: tables interleaved)."""
    changes: list[dict[str, Any]] = []
    for contract, count in zip(tables, split(total, len(tables)), strict=True):
        if count == 0:
            continue
        rows = existing_rows(contract, [f for f in plan.files if f.table == contract.name])
        generated = generate_changes(contract, rows, count=count, seed=seed, start=start)
        report.operations[contract.name] = Counter(
            r[METADATA_KEY][OPERATION_KEY] for r in generated
        )
        changes += generated
    changes.sort(key=_commit_time)
    report.changes = len(changes)
    return changes


def malformed_record(contract: TableContract) -> bytes:
    """A record cut short (a producer's bug): not JSON, so Firehose cannot partition it.
    It names the key column only: no value of a row."""
    return f'{{"data": {{"{contract.primary_key[0]}": '.encode()


def redelivery(changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run of already-sent changes of one table (a producer retrying after a timeout):
    :data:`REDELIVERED_SHARE` of all changes, at least one, from the middle of that table's.
    One table, so the redelivery costs one more object, not one per table."""
    if not changes:
        return []
    table = changes[len(changes) // 3][METADATA_KEY][TABLE_NAME_KEY]
    candidates = [c for c in changes if c[METADATA_KEY][TABLE_NAME_KEY] == table]
    count = min(len(candidates), max(1, round(len(changes) * REDELIVERED_SHARE)))
    first = (len(candidates) - count) // 2
    return list(candidates[first : first + count])


def _deliver(loop: DeliveryLoop, report: StreamReport) -> None:
    loop.poll()
    written = loop.flush()  # the buffering interval ends
    raw = [o for o in written if o.error_type is None]
    report.objects += raw
    report.error_objects += [o for o in written if o.error_type is not None]
    report.flushes.append(len(raw))


def _commit_time(record: dict[str, Any]) -> str:
    metadata = record[METADATA_KEY]
    stamp = next((metadata[k] for k in CHANGE_TIME_KEYS if metadata.get(k)), "")
    return f"{stamp}|{metadata.get(TABLE_NAME_KEY)}"
