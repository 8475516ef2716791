"""What the local run reports: per-table bronze counts, rows of every silver and gold table,
quarantine and duplicates, and the top rows of each mart in the busiest period of its view.

Generic over the domain: every table and view (silver), every mart (gold); a mart's rows are
ranked by its ``rank_by`` measures (descending).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from datalake.control import ControlStatus
from datalake.layout import QUARANTINE_PREFIX
from datalake.naming import Bucket, Layer

from .resources import LocalLake

if TYPE_CHECKING:
    from .runner import LocalRunReport

TOP_ROWS = 10
BRONZE_COUNTS = ("rows_in", "rows_written", "rows_quarantined", "rows_skipped")
"""Counts of a bronze control record (``rows_skipped``: control records and DMS's own tables
a DMS file carried; read with a default where a record predates it)."""
Period = tuple[tuple[str, int], ...]
"""(period column, value) pairs, e.g. (("order_year", 2024), ("order_month", 3))."""


@dataclass
class MartTop:
    """A mart's top rows in one period of its view (the period columns left out)."""

    period: Period
    rows: pa.Table

    @property
    def label(self) -> str:
        """The period as text: ``2012-10`` (later parts zero-padded)."""
        values = [value for _, value in self.period]
        return "-".join([str(values[0]), *(f"{v:02d}" for v in values[1:])]) if values else ""


class Tables(Protocol):
    """Reads the run's silver and gold tables (the Glue catalog, or Spark's warehouse)."""

    def table(
        self,
        layer: str,
        name: str,
        where: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table: ...

    def count(self, layer: str, name: str) -> int: ...


class IcebergTables:
    """Reads the run's silver and gold tables from the emulator's Glue catalog."""

    def __init__(self, lake: LocalLake):
        self.lake = lake

    def table(
        self,
        layer: str,
        name: str,
        where: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        database = self.lake.database(Layer(layer))
        table = self.lake.catalog.load_table((database, name))
        options: dict[str, Any] = {"selected_fields": tuple(columns)} if columns else {}
        if where:
            options["row_filter"] = where
        return table.scan(**options).to_arrow()

    def count(self, layer: str, name: str) -> int:
        """Rows of a table, from its data files' metadata (nothing read)."""
        return int(
            self.lake.catalog.load_table((self.lake.database(Layer(layer)), name)).scan().count()
        )


def summarise(lake: LocalLake, report: LocalRunReport, tables: Tables) -> None:
    """Fill ``report`` from the control records, the lake bucket and the tables."""
    _bronze(lake, report)
    _stream(lake, report)
    pages = lake.s3.get_paginator("list_objects_v2").paginate(
        Bucket=lake.buckets[Bucket.LAKE], Prefix=QUARANTINE_PREFIX
    )
    report.quarantine_keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    domain = lake.domain
    for contract in domain.silver_contracts():
        report.silver[contract.name] = tables.count("silver", contract.name)
    for mart in domain.marts:
        report.gold[mart.name] = tables.count("gold", mart.name)
    # The period (the marts' grain), not the partition: a year partition holds many periods.
    busiest = {name: busiest_period(tables, name, view.period.columns)
               for name, view in domain.views.items()}  # fmt: skip
    for mart in domain.marts:
        period = busiest.get(mart.source)
        if period is None:
            continue
        where = " and ".join(f"{column} = {value}" for column, value in period)
        rows = tables.table("gold", mart.name, where)
        if rows.num_rows and mart.rank_by:
            rows = rows.sort_by([(measure, "descending") for measure in mart.rank_by])
        shown = [c for c in rows.column_names if c not in mart.period]
        report.top_rows[mart.name] = MartTop(period, rows.slice(0, TOP_ROWS).select(shown))


def _bronze(lake: LocalLake, report: LocalRunReport) -> None:
    """Per table: files, rows in, written, quarantined; duplicates, errors, masked columns."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for status in ControlStatus:
        for record in lake.store.by_status("bronze", status):
            table = counts[record.table_name]
            table["files"] += 1
            if status is ControlStatus.DUPLICATE:
                report.duplicates.append(record.object_key)
            elif status is ControlStatus.ERROR:
                report.errors.append((record.object_key, record.error or ""))
            for name in BRONZE_COUNTS:
                table[name] += getattr(record, name, None) or 0
            if record.masked_columns:
                report.masked_columns[record.table_name] = record.masked_columns
    report.bronze = {t: dict(c) for t, c in sorted(counts.items())}
    for layer in ("silver", "gold"):
        for record in lake.store.by_status(layer, ControlStatus.ERROR):
            report.errors.append((record.object_key, record.error or ""))


def _stream(lake: LocalLake, report: LocalRunReport) -> None:
    """The delivered objects' bronze counts; a count that does not reconcile is an error."""
    stream = report.stream
    if stream is None:
        return
    keys = {o.key: o.records for o in stream.objects}
    stream.bronze.clear()
    for status in ControlStatus:
        for record in lake.store.by_status("bronze", status):
            if record.object_key not in keys:
                continue
            if status is ControlStatus.DUPLICATE:  # the same bytes as an object ingested
                stream.bronze["duplicate_records"] += keys[record.object_key]
            for name in BRONZE_COUNTS:
                stream.bronze[name] += getattr(record, name, None) or 0
    for text, holds in stream.reconciliation():
        if not holds:
            report.errors.append(("stream", f"counts do not reconcile: {text}"))


def busiest_period(tables: Tables, view: str, columns: Sequence[str]) -> Period | None:
    """The period of ``view`` with the most live rows (the latest among equals), if any."""
    rows = tables.table("silver", view, "deleted_at is null", columns)
    if rows.num_rows == 0:
        return None
    counts = rows.group_by(list(columns)).aggregate([([], "count_all")])
    order = pc.sort_indices(
        counts, sort_keys=[("count_all", "descending"), *((c, "descending") for c in columns)]
    )
    top = counts.take(order.slice(0, 1)).to_pylist()[0]
    return tuple((column, int(top[column])) for column in columns)
