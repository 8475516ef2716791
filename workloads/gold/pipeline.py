"""A gold run with the arrow engine: claim the pending gold records, replace their months."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog

from datalake.contracts import REVIEW_FLAT
from datalake.control import ControlRecord, ControlStore
from datalake.layout import review_flat_month_of
from workloads.gold.marts import MartResult, Month, run_marts
from workloads.shared.runs import claim_records, fail_records, finish_records
from workloads.shared.tables import batch_id_of

log = logging.getLogger(__name__)


def month_of(record: ControlRecord) -> Month:
    """The (year, month) a gold record names in its object key."""
    month = review_flat_month_of(record.object_key)
    if month is None:
        raise ValueError(f"gold record {record.control_id}: no month in {record.object_key}")
    return month


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
        records = claim_records(self.store, "gold", self.worker_id)
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
            fail_records(self.store, self.worker_id, ids, report.error)
            return report
        finish_records(self.store, self.worker_id, ids)  # only after every mart committed
        return report
