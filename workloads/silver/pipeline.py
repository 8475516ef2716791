"""A silver run with the arrow engine: claim pending silver records, merge, views, gold records.

Per table of the domain (in file order): claim its pending silver control records, read the
bronze files they name and merge them in one Iceberg commit; a table that fails marks its own
records error and the others go on. Then, per view of the domain (in file order), rebuild the
partitions the merged changes touched (``workloads/silver/views.py``) and register one pending
gold control record naming every partition it replaced (:func:`register_view_commit`). Only
then are a table's records marked success, or error when a view reading it failed (their
retry replays the merge and rebuilds the views). With a CloudWatch client, the run
publishes its files and rows (merged, duplicates skipped) per table in one request at the end
(``workloads/shared/metrics.py``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from datalake.control import ControlRecord, ControlStatus, ControlStore, control_id_for
from datalake.domain import Domain, View
from datalake.errors import METRIC_NAMESPACE
from datalake.layout import view_commit_key

from ..shared.metrics import MetricBatch
from ..shared.runs import claim_records, fail_records, finish_records
from ..shared.tables import batch_id_of, ensure_table
from .merge import MergeResult, merge_batch
from .views import ViewResult, build_view

log = logging.getLogger(__name__)
LAYER = "silver"


@dataclass
class SilverReport:
    """What one run did, per table and per view."""

    merged: dict[str, MergeResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Tables whose merge failed: table -> error."""
    views: dict[str, ViewResult] = field(default_factory=dict)
    failed_views: dict[str, str] = field(default_factory=dict)
    """Views whose rebuild failed: view -> error."""
    retried: dict[str, str] = field(default_factory=dict)
    """Tables merged whose records were marked error because a view reading them failed:
    table -> the views' errors (their retry replays the merge and rebuilds the views)."""
    gold_records: list[str] = field(default_factory=list)

    @property
    def duplicates_skipped(self) -> dict[str, int]:
        """Per table merged: the changes delivered again that its merge skipped."""
        return {name: result.duplicates_skipped for name, result in self.merged.items()}


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


PARTITIONS_PER_GOLD_RECORD = 5_000
"""Most partitions one gold record names; a view commit replacing more gets several records.

DynamoDB refuses an item over 400 KB. It counts a number as about one byte per two digits plus
one, and a list as three bytes plus one per element: a day partition ``[2024, 12, 31]`` takes
14 bytes in the record's list, so 5,000 of them take about 70 KB, well under the limit with the
rest of the record (an error message of up to 4,000 characters included). A monthly view
reaches the bound only after 416 years of history, a daily one after 13."""


def register_view_commit(
    store: ControlStore,
    lake_bucket: str,
    view: str,
    columns: Sequence[str],
    commit: str,
    partitions: Iterable[Sequence[int]],
    *,
    per_record: int = PARTITIONS_PER_GOLD_RECORD,
) -> list[str]:
    """Register (idempotently) the pending gold records of one commit of a view.

    One record names every partition the commit replaced (values in the order of ``columns``,
    sorted, each once), or, past ``per_record`` partitions, one record per ``per_record`` of
    them; none when it replaced none. ``commit`` identifies the commit (the view's snapshot id,
    or the silver run): registering the same commit again returns the same records.
    """
    ordered = sorted({tuple(int(v) for v in values) for values in partitions})
    for values in ordered:
        if len(values) != len(columns):
            raise ValueError(f"partition {values} of {view} does not match columns {columns}")
    key = view_commit_key(view, commit)
    ids = []
    for index, start in enumerate(range(0, len(ordered), per_record)):
        # The chunk is in the checksum: the store takes a record whose (table, checksum)
        # already succeeded for a duplicate, and each chunk names other partitions.
        checksum = f"{commit}:{index}"
        record = store.register(
            ControlRecord(
                control_id=control_id_for("gold", lake_bucket, key, checksum),
                layer="gold",
                table_name=view,
                bucket=lake_bucket,
                object_key=key,
                format="iceberg",
                checksum=checksum,
                partitions=[list(values) for values in ordered[start : start + per_record]],
            )
        )
        ids.append(record.control_id)
    return ids


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
    domain: Domain
    cloudwatch: Any = None
    """Where the run's metrics go (none: not published)."""
    metric_namespace: str = METRIC_NAMESPACE

    def run(self) -> SilverReport:
        """Merge every table's pending records, rebuild the touched view partitions, then
        settle each table's records: success once every view reading the table was rebuilt.

        A view that fails marks the records of the tables it reads error (retryable), with the
        view's error; their retry replays the merge (``merge_batch`` recognises the batch id
        and commits nothing) and rebuilds the views from the replayed changes' keys, so a
        change is never merged without reaching its views.
        """
        report = SilverReport()
        metrics = MetricBatch(self.metric_namespace)
        claimed: dict[str, list[ControlRecord]] = {}
        for contract in self.domain.tables.values():
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
                metrics.files(LAYER, ControlStatus.ERROR, contract.name, len(ids))
                continue
            report.merged[contract.name] = result
            claimed[contract.name] = records
            log.info(
                "silver %s: %d keys written, %d duplicates skipped, %d late ignored",
                contract.name,
                result.keys_written,
                result.duplicates_skipped,
                result.late_ignored,
            )
        if report.merged:
            for view in self.domain.views.values():
                try:
                    report.views[view.name] = self._view(view, report)
                except Exception as error:  # noqa: BLE001 recorded on the tables it reads
                    message = f"view {view.name}: {type(error).__name__}: {error}"
                    log.error("silver %s", message)
                    report.failed_views[view.name] = message
        for name, records in claimed.items():
            self._settle(name, records, report, metrics)
        if self.cloudwatch is not None:
            metrics.publish(self.cloudwatch)
        return report

    def _settle(
        self,
        table: str,
        records: list[ControlRecord],
        report: SilverReport,
        metrics: MetricBatch,
    ) -> None:
        """Success of a merged table's records (after its Iceberg commit and its views), or
        error with the errors of the views reading it that failed."""
        ids = [r.control_id for r in records]
        views_failed = [
            message
            for view, message in report.failed_views.items()
            if table in self.domain.view(view).tables
        ]
        if views_failed:
            report.retried[table] = "; ".join(views_failed)
            fail_records(self.store, self.worker_id, ids, report.retried[table])
            metrics.files(LAYER, ControlStatus.ERROR, table, len(ids))
            return
        # A crash before this point replays the batch, which merge_batch recognises by its
        # batch id: the views are rebuilt, nothing is merged twice.
        rows_in = {r.control_id: r.record_count or 0 for r in records}
        finish_records(self.store, self.worker_id, ids, rows_in=rows_in)
        result = report.merged[table]
        metrics.files(LAYER, ControlStatus.SUCCESS, table, len(ids))
        metrics.rows(
            LAYER,
            rows_in=result.changes_in,
            rows_written=result.keys_written,
            rows_skipped=result.duplicates_skipped + result.late_ignored,
        )

    def _claim(self, table: str) -> list[ControlRecord]:
        return claim_records(self.store, "silver", self.worker_id, table=table)

    def _view(self, view: View, report: SilverReport) -> ViewResult:
        tables = {
            name: ensure_table(
                self.catalog, self.namespace, self.domain.table(name), self.properties
            )
            for name in dict.fromkeys(view.tables)
        }
        view_table = ensure_table(self.catalog, self.namespace, view.contract, self.properties)
        changed = {name: result.keys for name, result in report.merged.items()}
        batch = batch_id_of(r.batch_id for r in report.merged.values())
        result = build_view(view, tables, view_table, changed, batch)
        # The snapshot identifies the content gold will read; a rebuild that made none (an
        # empty table left empty) is named by the silver batch.
        snapshot = result.snapshot_id
        commit = f"batch-{batch}" if snapshot is None else f"snapshot-{snapshot}"
        report.gold_records += register_view_commit(
            self.store,
            self.lake_bucket,
            view.name,
            view.partition_columns,
            commit,
            result.partitions,
        )
        return result
