"""A gold run with the arrow engine: claim the pending gold records, replace their months."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog

from datalake.contracts import REVIEW_FLAT
from datalake.control import ControlRecord, ControlStatus, ControlStore
from workloads.gold.marts import MartResult, Month, run_marts
from workloads.silver.merge import batch_id_of

log = logging.getLogger(__name__)
_MONTH = re.compile(r"review_year=(\d{4})/review_month=(\d{1,2})$")


def month_of(record: ControlRecord) -> Month:
    """The (year, month) a gold record names in its object key."""
    match = _MONTH.search(record.object_key)
    if not match:
        raise ValueError(f"gold record {record.control_id}: no month in {record.object_key}")
    return int(match[1]), int(match[2])


def claim_gold_records(store: ControlStore, worker: str) -> list[ControlRecord]:
    """Pending gold records, plus retryable failures and runs whose worker died."""
    claimed = []
    for status in (ControlStatus.PENDING, ControlStatus.RUNNING, ControlStatus.ERROR):
        for record in store.by_status("gold", status):
            held = store.claim(record.control_id, worker)
            if held is not None:
                claimed.append(held)
    return claimed


@dataclass
class GoldReport:
    """What one gold run replaced."""

    months: list[Month] = field(default_factory=list)
    marts: list[MartResult] = field(default_factory=list)
    error: str | None = None


@dataclass
class GoldRun:
    """Recompute the marts for every month named by pending gold records."""

    store: ControlStore
    catalog: Catalog
    silver_namespace: str
    gold_namespace: str
    worker_id: str
    properties: dict[str, str]

    def run(self) -> GoldReport:
        records = claim_gold_records(self.store, self.worker_id)
        report = GoldReport(months=sorted({month_of(r) for r in records}))
        if not records:
            return report
        ids = [r.control_id for r in records]
        try:
            review_flat = self.catalog.load_table((self.silver_namespace, REVIEW_FLAT.name))
            report.marts = run_marts(
                self.catalog,
                self.gold_namespace,
                review_flat,
                report.months,
                self.properties,
                batch_id=batch_id_of(ids),
            )
        except Exception as error:  # noqa: BLE001 recorded on every record of the run
            report.error = f"{type(error).__name__}: {error}"
            log.error("gold run failed: %s", report.error)
            for control_id in ids:
                self.store.fail(control_id, self.worker_id, report.error)
            return report
        for control_id in ids:  # success only after every mart committed
            self.store.complete(control_id, self.worker_id)
        return report
