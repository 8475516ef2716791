"""The lake's own CloudWatch metrics, batched: one ``PutMetricData`` per unit of work.

The workloads count what happened (a file registered, a file's rows ingested, a table merged)
into a :class:`MetricBatch` and publish it once at the end, so a file costs one request
whatever its number of datapoints. Equal metric and dimensions are summed before they are
sent. The names and dimensions are those the operations dashboard reads
(:mod:`datalake.errors`, :mod:`datalake.dashboards.operations`).

A dimension holds a layer, a status, an outcome, a table name or a quarantine rule: never a
value of a row (a quarantine reason may quote one, so reasons are no dimension; their rules,
the reasons without values, are). Publishing never fails the work it measures: an error is
logged and the datapoints are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalake.control import ControlRecord, ControlStatus
from datalake.errors import (
    DUPLICATES_METRIC,
    FILES_METRIC,
    METRIC_NAMESPACE,
    OUTCOMES,
    QUARANTINE_REASONS_METRIC,
    QUARANTINED_METRIC,
    ROWS_METRIC,
)

log = logging.getLogger(__name__)

MAX_DATUMS = 1000
"""PutMetricData's limit of datapoints per request."""
MAX_DIMENSION_VALUE = 1024
"""CloudWatch's longest dimension value (which must be ASCII)."""

Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class MetricBatch:
    """Counts of one unit of work, summed per metric and dimensions until :meth:`publish`."""

    namespace: str = METRIC_NAMESPACE
    counts: dict[Key, float] = field(default_factory=dict)

    def count(self, metric: str, value: float = 1.0, **dimensions: str) -> None:
        """Add ``value`` to ``metric`` with ``dimensions`` (in the order given)."""
        key = (metric, tuple(dimensions.items()))
        self.counts[key] = self.counts.get(key, 0.0) + float(value)

    def file(self, record: ControlRecord) -> None:
        """A control record reached its status; a duplicate also counts for its table."""
        self.files(record.layer, record.status, record.table_name)
        if record.status is ControlStatus.DUPLICATE:
            self.count(DUPLICATES_METRIC, Table=record.table_name)

    def files(self, layer: str, status: ControlStatus, table: str, count: int = 1) -> None:
        """``count`` records of ``table`` reached ``status``: per layer and status (the
        dashboard), and per table too (the freshness alarms)."""
        self.count(FILES_METRIC, count, Layer=layer, Status=status.value)
        self.count(FILES_METRIC, count, Layer=layer, Status=status.value, Table=table)

    def rows(self, layer: str, **outcomes: int) -> None:
        """Rows per outcome (``in``, ``written``, ``quarantined``, ``skipped``) of a layer."""
        for outcome, value in outcomes.items():
            name = outcome.removeprefix("rows_")
            assert name in OUTCOMES, name
            self.count(ROWS_METRIC, value, Layer=layer, Outcome=name)

    def quarantined(self, table: str, rows: int) -> None:
        """Rows of ``table`` bronze quarantined (nothing when none)."""
        if rows:
            self.count(QUARANTINED_METRIC, rows, Table=table)

    def quarantine_rules(self, table: str, rules: Mapping[str, int]) -> None:
        """Rows of ``table`` quarantined per rule (value-free reasons, ``Rule`` dimension)."""
        for rule, rows in rules.items():
            if rows:
                self.count(QUARANTINE_REASONS_METRIC, rows, Table=table, Rule=dimension_value(rule))

    def datums(self) -> list[dict[str, Any]]:
        """The ``MetricData`` entries, one per metric and dimensions."""
        return [
            {
                "MetricName": metric,
                "Value": value,
                "Unit": "Count",
                **(
                    {"Dimensions": [{"Name": n, "Value": v} for n, v in dimensions]}
                    if dimensions
                    else {}
                ),
            }
            for (metric, dimensions), value in self.counts.items()
        ]

    def publish(self, cloudwatch: Any) -> int:
        """Send the counts (in requests of at most :data:`MAX_DATUMS`) and clear them;
        returns the datapoints sent (0 when CloudWatch refused them: logged, never raised)."""
        datums, self.counts = self.datums(), {}
        try:
            for chunk in _chunks(datums, MAX_DATUMS):
                cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=chunk)
        except (BotoCoreError, ClientError) as error:
            log.warning("could not publish %d metric datapoint(s): %s", len(datums), error)
            return 0
        return len(datums)


def dimension_value(text: str) -> str:
    """``text`` as CloudWatch takes a dimension value: printable ASCII (other characters
    escaped, ``\\xef``), at most :data:`MAX_DIMENSION_VALUE` characters."""
    printable = "".join(
        c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return printable[:MAX_DIMENSION_VALUE]


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
