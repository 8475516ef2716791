"""Runs the ingest core for one control record: claim, ingest, record the outcome.

Exactly one worker holds a record (conditional claim); the others back off. A failure is
recorded with its message and re-raised so the orchestrator retries; once attempts are
exhausted (or the input itself is bad) an alarm-able metric is emitted; a success publishes the
file's row counts (``workloads/shared/metrics.py``, one request per file). The pending silver
record is registered before the bronze record is marked success, both idempotently, so a crash
at any point is repaired by the retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from datalake.control import ControlRecord, ControlRecordError, ControlStore, control_id_for
from datalake.domain import Domain
from datalake.errors import EXHAUSTED_METRIC, METRIC_NAMESPACE, NOT_RETRYABLE

from ..shared.metrics import MetricBatch
from .ingest import IngestResult, ingest_object
from .masking import PiiMasker

log = logging.getLogger(__name__)


@dataclass
class IngestWorker:
    """Processes bronze control records with the ingest core."""

    store: ControlStore
    s3: Any
    cloudwatch: Any
    lake_bucket: str
    masker: PiiMasker
    worker_id: str
    domain: Domain
    """The lake's domain: the table contract of each record."""
    metric_namespace: str = METRIC_NAMESPACE

    def run(self, control_id: str) -> ControlRecord | None:
        """Process one record; ``None`` when another worker holds it or it is finished."""
        record = self.store.claim(control_id, self.worker_id)
        if record is None:
            log.info("control record %s is held by another worker or finished", control_id)
            return None
        try:
            result = ingest_object(
                self.s3,
                record,
                lake_bucket=self.lake_bucket,
                masker=self.masker,
                domain=self.domain,
            )
            if result.bronze_key:
                self.store.register(self._silver_record(record, result))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            try:
                failed = self.store.fail(
                    control_id,
                    self.worker_id,
                    message,
                    retryable=not isinstance(error, NOT_RETRYABLE),
                )
            except ControlRecordError:
                log.warning("lost the claim on %s while failing: %s", control_id, message)
                raise error from None
            if self.store.attempts_exhausted(failed):
                self._emit_exhausted(failed)
            raise
        done = self.store.complete(
            control_id,
            self.worker_id,
            rows_in=result.rows_in,
            rows_written=result.rows_written,
            rows_quarantined=result.rows_quarantined,
            rows_skipped=result.rows_skipped,
            masked_columns=list(result.masked_columns),
            quarantine_rules=result.quarantine_rules or None,  # none: no attribute
        )
        self._emit_done(done, result)
        return done

    def _emit_done(self, record: ControlRecord, result: IngestResult) -> None:
        """The file's status and rows; quarantined rows per table, and per table and rule
        (never their reasons, which may quote a value)."""
        metrics = MetricBatch(self.metric_namespace)
        metrics.file(record)
        metrics.rows(
            record.layer,
            rows_in=result.rows_in,
            rows_written=result.rows_written,
            rows_quarantined=result.rows_quarantined,
            rows_skipped=result.rows_skipped,
        )
        metrics.quarantined(record.table_name, result.rows_quarantined)
        metrics.quarantine_rules(record.table_name, result.quarantine_rules)
        metrics.publish(self.cloudwatch)

    def _silver_record(self, bronze: ControlRecord, result: IngestResult) -> ControlRecord:
        assert result.bronze_key and result.bronze_checksum
        return ControlRecord(
            # Derived from the bronze record, not the Parquet bytes: a retry rewrites the file
            # with a new _ingested_at but must find the same silver record.
            control_id=control_id_for(
                "silver", self.lake_bucket, result.bronze_key, bronze.control_id
            ),
            layer="silver",
            table_name=bronze.table_name,
            bucket=self.lake_bucket,
            object_key=result.bronze_key,
            format="parquet",
            size_bytes=result.bronze_size,
            record_count=result.rows_written,
            checksum=result.bronze_checksum,
            parent_id=bronze.control_id,
        )

    def _emit_exhausted(self, record: ControlRecord) -> None:
        log.error(
            "control record %s (%s) stays in error after %s attempt(s): %s",
            record.control_id,
            record.object_key,
            record.attempts,
            record.error,
        )
        # Once per table (to see which) and once without dimensions (what the alarm watches).
        metrics = MetricBatch(self.metric_namespace)
        metrics.count(EXHAUSTED_METRIC, Table=record.table_name)
        metrics.count(EXHAUSTED_METRIC)
        metrics.file(record)
        metrics.publish(self.cloudwatch)
