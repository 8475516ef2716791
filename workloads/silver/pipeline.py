"""A silver run with the arrow engine: claim pending silver records, merge, review_flat, gold.

Per table (dimensions first, then review): claim its pending silver control records, read the
bronze files they name, merge them in one Iceberg commit, and only then mark them success; a
table that fails marks its own records error and the others go on. Then rebuild the touched
review_flat months and register one pending gold control record per month.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from datalake.contracts import BEER, BREWERY, PROFILE, REVIEW, REVIEW_FLAT, TableContract
from datalake.control import ControlRecord, ControlStatus, ControlStore, control_id_for
from workloads.silver.merge import MergeResult, batch_id_of, merge_batch
from workloads.silver.review_flat import ReviewFlatResult, affected_partitions, rebuild
from workloads.silver.tables import ensure_table

log = logging.getLogger(__name__)
SILVER_ORDER: tuple[TableContract, ...] = (BREWERY, BEER, PROFILE, REVIEW)


@dataclass
class SilverReport:
    """What one run did, per table."""

    merged: dict[str, MergeResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    review_flat: ReviewFlatResult | None = None
    gold_records: list[str] = field(default_factory=list)


def s3_bronze_reader(s3: Any) -> Callable[[list[ControlRecord]], pa.Table]:
    """Reads the bronze Parquet files of silver control records from S3."""

    def read(records: list[ControlRecord]) -> pa.Table:
        tables = [
            pq.read_table(
                io.BytesIO(s3.get_object(Bucket=r.bucket, Key=r.object_key)["Body"].read())
            )
            for r in records
        ]
        # Files written before a contract gained a column lack it: it reads as null.
        return pa.concat_tables(tables, promote_options="default")

    return read


def claim_table_records(store: ControlStore, table: str, worker: str) -> list[ControlRecord]:
    """Claim a table's silver records: pending ones, plus retryable failures and runs whose
    worker died (the store decides which of those may be taken)."""
    claimed = []
    for status in (ControlStatus.PENDING, ControlStatus.RUNNING, ControlStatus.ERROR):
        for record in store.by_status("silver", status):
            if record.table_name != table:
                continue
            held = store.claim(record.control_id, worker)
            if held is not None:
                claimed.append(held)
    return claimed


def register_gold_record(
    store: ControlStore, lake_bucket: str, year: int, month: int, checksum: str
) -> str:
    """Register (idempotently) the pending gold record of one review_flat month."""
    key = f"silver/review_flat/review_year={year}/review_month={month:02d}"
    record = store.register(
        ControlRecord(
            control_id=control_id_for("gold", lake_bucket, key, checksum),
            layer="gold",
            table_name="review_flat",
            bucket=lake_bucket,
            object_key=key,
            format="iceberg",
            checksum=checksum,
        )
    )
    return record.control_id


@dataclass
class SilverRun:
    """One run of the silver layer over whatever is pending."""

    store: ControlStore
    catalog: Catalog
    namespace: str
    read_bronze: Callable[[list[ControlRecord]], pa.Table]
    lake_bucket: str
    worker_id: str
    properties: dict[str, str]

    def run(self) -> SilverReport:
        report = SilverReport()
        for contract in SILVER_ORDER:
            records = self._claim(contract.name)
            if not records:
                continue
            ids = [r.control_id for r in records]
            try:
                table = ensure_table(self.catalog, self.namespace, contract, self.properties)
                changes = self.read_bronze(records)
                result = merge_batch(table, changes, contract, batch_id_of(ids))
            except Exception as error:  # noqa: BLE001 recorded on every record of the table
                message = f"{type(error).__name__}: {error}"
                log.error("silver %s failed: %s", contract.name, message)
                report.failed[contract.name] = message
                for control_id in ids:
                    self.store.fail(control_id, self.worker_id, message)
                continue
            # Success is recorded only after the Iceberg commit; a crash in between replays
            # the batch, which merge_batch recognises by its batch id.
            for record in records:
                self.store.complete(
                    record.control_id, self.worker_id, rows_in=record.record_count or 0
                )
            report.merged[contract.name] = result
        if report.merged:
            report.review_flat = self._review_flat(report)
        return report

    def _claim(self, table: str) -> list[ControlRecord]:
        return claim_table_records(self.store, table, self.worker_id)

    def _review_flat(self, report: SilverReport) -> ReviewFlatResult:
        tables = {
            c.name: ensure_table(self.catalog, self.namespace, c, self.properties)
            for c in (*SILVER_ORDER, REVIEW_FLAT)
        }
        partitions = affected_partitions(report.merged, tables["review"])
        batch = batch_id_of(r.batch_id for r in report.merged.values())
        result = rebuild(
            tables["review_flat"],
            reviews=tables["review"],
            beers=tables["beer"],
            breweries=tables["brewery"],
            profiles=tables["profile"],
            partitions=partitions,
            batch_id=batch,
        )
        for year, month in result.partitions:
            # The snapshot and the partition identify the content gold will read.
            checksum = f"{result.snapshot_id}:{year}-{month:02d}"
            report.gold_records.append(
                register_gold_record(self.store, self.lake_bucket, year, month, checksum)
            )
        return result
