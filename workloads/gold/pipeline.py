"""A gold run with the arrow engine: claim the pending gold records, replace their partitions.

A gold record names one commit of one view (``datalake.layout.view_commit_of``) and the
partitions it replaced (``ControlRecord.partitions``); a record registered before records
listed their partitions names one partition in its key (``datalake.layout.view_partition_of``)
and is still read. Per view with pending partitions (the union of its records'), every mart of
that view (``Domain.marts_of``) is rebuilt once for exactly those partitions; the view's
records succeed together once all its marts committed, or fail together with the cause.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog

from datalake.control import ControlRecord, ControlStore
from datalake.domain import Domain
from datalake.layout import view_commit_of, view_partition_of

from ..shared.runs import claim_records, fail_records, finish_records
from ..shared.tables import batch_id_of
from .marts import MartResult, Partition, run_marts

log = logging.getLogger(__name__)
LAYER = "gold"


def record_partitions(record: ControlRecord) -> tuple[str, list[Partition]]:
    """The view and the partitions a gold record names.

    A record lists its partitions and names the view commit in its key; one without the list
    (registered before records had it) names a single partition in its key.
    """
    if record.partitions is not None:
        view = view_commit_of(record.object_key)
        if view is None:
            raise ValueError(
                f"gold record {record.control_id}: no view commit in {record.object_key}"
            )
        if not record.partitions:  # silver never registers one: nothing says what to rebuild
            raise ValueError(f"gold record {record.control_id}: names no partition of {view}")
        return view, [tuple(values) for values in record.partitions]
    found = view_partition_of(record.object_key)
    if found is None:
        raise ValueError(
            f"gold record {record.control_id}: no partitions, and no view partition in "
            f"{record.object_key}"
        )
    return found[0], [found[1]]


@dataclass
class PendingPartitions:
    """The claimed gold records, by view: the partitions to rebuild and the records' ids."""

    partitions: dict[str, list[Partition]] = field(default_factory=dict)
    control_ids: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    """Records naming no view of the domain, or partitions that are not the view's (another
    number of values than its partition columns): control id -> why."""


def pending_partitions(domain: Domain, records: Iterable[ControlRecord]) -> PendingPartitions:
    """Group claimed gold records by view: the union of their partitions (views and partitions
    sorted, each once) and every record's id, to settle together."""
    partitions: dict[str, set[Partition]] = defaultdict(set)
    control_ids: dict[str, list[str]] = defaultdict(list)
    pending = PendingPartitions()
    for record in records:
        try:
            view, values = record_partitions(record)
            columns = domain.view(view).partition_columns
        except (ValueError, KeyError) as error:
            pending.unknown[record.control_id] = f"{type(error).__name__}: {error}"
            continue
        wrong = next((v for v in values if len(v) != len(columns)), None)
        if wrong is not None:
            pending.unknown[record.control_id] = (
                f"ValueError: gold record {record.control_id} names partition "
                f"{list(wrong)} of {view}, which is partitioned by {', '.join(columns)}"
            )
            continue
        partitions[view].update(values)
        control_ids[view].append(record.control_id)
    pending.partitions = {view: sorted(partitions[view]) for view in sorted(partitions)}
    pending.control_ids = {view: control_ids[view] for view in sorted(control_ids)}
    return pending


@dataclass
class GoldReport:
    """What one gold run replaced: partitions by view, each mart's result, the errors."""

    partitions: dict[str, list[Partition]] = field(default_factory=dict)
    marts: list[MartResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """Every error of the run in one message (``None`` when it succeeded)."""
        return "; ".join(self.errors) or None


@dataclass
class GoldRun:
    """Recompute the domain's marts for every view partition named by pending gold records."""

    store: ControlStore
    catalog: Catalog
    silver_namespace: str
    gold_namespace: str
    worker_id: str
    properties: dict[str, str]
    domain: Domain

    def run(self) -> GoldReport:
        """Claim, rebuild view by view, and record each view's outcome on its records."""
        records = claim_records(self.store, LAYER, self.worker_id)
        pending = pending_partitions(self.domain, records)
        report = GoldReport(partitions=pending.partitions)
        for control_id, reason in sorted(pending.unknown.items()):
            report.errors.append(reason)
            log.error("gold record %s: %s", control_id, reason)
            fail_records(self.store, self.worker_id, [control_id], reason)
        for view, partitions in pending.partitions.items():
            ids = pending.control_ids[view]
            try:
                report.marts += self._view_marts(view, partitions, batch_id_of(ids))
            except Exception as error:  # noqa: BLE001 recorded on every record of the view
                message = f"{view}: {type(error).__name__}: {error}"
                report.errors.append(message)
                log.error("gold run failed: %s", message)
                fail_records(self.store, self.worker_id, ids, message)
                continue
            finish_records(self.store, self.worker_id, ids)  # only after every mart committed
        return report

    def _view_marts(
        self, view: str, partitions: list[Partition], batch_id: str
    ) -> list[MartResult]:
        marts = self.domain.marts_of(view)
        if not marts:
            return []
        source = self.catalog.load_table((self.silver_namespace, view))
        return run_marts(
            self.catalog,
            self.gold_namespace,
            source,
            marts,
            partitions,
            self.properties,
            batch_id=batch_id,
        )
