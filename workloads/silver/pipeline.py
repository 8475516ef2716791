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
from datalake.control import ControlRecord, ControlStore, control_id_for
from datalake.layout import review_flat_month_key
from workloads.shared.runs import claim_records, fail_records, finish_records
from workloads.shared.tables import batch_id_of, ensure_table
from workloads.silver.merge import MergeResult, merge_batch
from workloads.silver.review_flat import ReviewFlatResult, affected_partitions, rebuild

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


def register_gold_record(
    store: ControlStore, lake_bucket: str, year: int, month: int, checksum: str
) -> str:
    """Register (idempotently) the pending gold record of one review_flat month."""
    key = review_flat_month_key(year, month)
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
                fail_records(self.store, self.worker_id, ids, message)
                continue
            # Success is recorded only after the Iceberg commit; a crash in between replays
            # the batch, which merge_batch recognises by its batch id.
            rows_in = {r.control_id: r.record_count or 0 for r in records}
            finish_records(self.store, self.worker_id, ids, rows_in=rows_in)
            report.merged[contract.name] = result
        if report.merged:
            report.review_flat = self._review_flat(report)
        return report

    def _claim(self, table: str) -> list[ControlRecord]:
        return claim_records(self.store, "silver", self.worker_id, table=table)

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
