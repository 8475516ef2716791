"""Builds the run-time domain from a checked document (``checks`` found no problem in it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from datalake.contracts.model import Classification, Column, ColumnType, TableContract
from datalake.domain.domain import Domain
from datalake.domain.marts import Mart, Measure, MeasureFilter
from datalake.domain.model import (
    ColumnDoc,
    DomainDocument,
    JoinDoc,
    MartDoc,
    MeasureDoc,
    PeriodDoc,
    TableDoc,
    ViewDoc,
)
from datalake.domain.views import Period, View, ViewJoin, join_alias

PART_DESCRIPTIONS = {
    "year": "Year of {column} (UTC).",
    "month": "Month of {column} (UTC), 1-12.",
    "day": "Day of {column} (UTC), 1-31.",
}
MIN_MAX_FUNCTIONS = ("min", "max")


def build_column(doc: ColumnDoc) -> Column:
    """The contract column a column entry declares."""
    return Column(
        name=doc.name,
        type=doc.type,
        nullable=doc.nullable,
        classification=doc.classification,
        description=doc.description,
        minimum=doc.minimum,
        maximum=doc.maximum,
        step=doc.step,
        pii_type=doc.pii_type,
    )


def build_table(doc: TableDoc) -> TableContract:
    """The table contract a table entry declares."""
    return TableContract(
        name=doc.name,
        description=doc.description,
        columns=tuple(build_column(c) for c in doc.columns),
        primary_key=tuple(doc.primary_key),
        raw_formats=tuple(doc.raw_formats),
        version=doc.version,
        cdc=doc.cdc,
    )


def base_column_names(doc: ViewDoc, base: TableContract) -> tuple[str, ...]:
    """The base columns a view keeps: those listed, else every non-PII column."""
    if doc.columns is not None:
        return tuple(doc.columns)
    return tuple(c.name for c in base.columns if not c.is_pii)


def join_column_names(doc: JoinDoc, table: TableContract) -> tuple[str, ...]:
    """The lookup columns a join adds: those listed, else every non-key, non-PII column."""
    if doc.columns is not None:
        return tuple(doc.columns)
    keys = set(doc.on.values())
    return tuple(c.name for c in table.columns if not c.is_pii and c.name not in keys)


def period_parts(doc: PeriodDoc) -> tuple[tuple[str, str], ...]:
    """(output column, part) of a view's period."""
    prefix = doc.prefix or doc.column
    return tuple((f"{prefix}_{part}", part) for part in doc.parts)


def build_view(doc: ViewDoc, tables: dict[str, TableContract]) -> View:
    """The view a view entry declares, with its silver contract."""
    base = tables[doc.base]
    base_columns = base_column_names(doc, base)
    columns = [base.column(c) for c in base_columns]
    joins = []
    for index, join in enumerate(doc.joins):
        table = tables[join.table]
        pairs = tuple((c, join.rename.get(c, c)) for c in join_column_names(join, table))
        joins.append(
            ViewJoin(
                table=join.table,
                alias=join_alias(index),
                on=tuple(join.on.items()),
                columns=pairs,
            )
        )
        columns.extend(replace(table.column(c), name=out, nullable=True) for c, out in pairs)
    parts = period_parts(doc.period)
    period = Period(
        column=doc.period.column,
        kind=doc.period.kind,
        parts=parts,
        partition_by=doc.period.partition_by or parts[0][1],
    )
    columns.extend(
        Column(
            out,
            ColumnType.LONG,
            nullable=False,
            classification=Classification.PUBLIC,
            description=PART_DESCRIPTIONS[part].format(column=doc.period.column),
        )
        for out, part in parts
    )
    contract = TableContract(
        name=doc.name,
        description=doc.description,
        columns=tuple(columns),
        primary_key=base.primary_key,
        raw_formats=(),
        silver_partitioning=tuple(("identity", out) for out in period.partition_columns),
        cdc=False,
        period=period.columns,
    )
    return View(
        name=doc.name,
        description=doc.description,
        base=doc.base,
        base_columns=base_columns,
        joins=tuple(joins),
        period=period,
        contract=contract,
    )


def build_measure(doc: MeasureDoc, view: TableContract) -> Measure:
    """A mart's measure, typed from its source view."""
    found = doc.filter
    return Measure(
        name=doc.name,
        function=doc.function,
        column=doc.column,
        description=doc.description,
        filter=None
        if found is None
        else MeasureFilter(
            column=found.column,
            op=found.op,
            value=tuple(found.value) if isinstance(found.value, list) else found.value,
            column_type=view.column(found.column).type,
        ),
        column_type=None if doc.column is None else view.column(doc.column).type,
    )


def build_mart(doc: MartDoc, view: View) -> Mart:
    """The mart a mart entry declares, with its gold contract."""
    source = view.contract
    period = view.period.columns  # the grain's time part and the key
    partitions = view.partition_columns  # the table's layout, as the view's
    measures = tuple(build_measure(m, source) for m in doc.measures)
    grain = tuple(
        Column(
            c,
            source.column(c).type,
            classification=source.column(c).classification,
            pii_type=source.column(c).pii_type,
        )
        for c in doc.grain
    )
    outputs = tuple(
        Column(
            m.name,
            m.type,
            classification=Classification.PII
            if m.function in MIN_MAX_FUNCTIONS and m.column and source.column(m.column).is_pii
            else Classification.PUBLIC,
            description=m.description,
            pii_type=source.column(m.column).pii_type
            if m.function in MIN_MAX_FUNCTIONS and m.column
            else None,
        )
        for m in measures
    )
    contract = TableContract(
        name=doc.name,
        description=doc.description,
        columns=tuple(source.column(c) for c in period) + grain + outputs,
        primary_key=period,
        raw_formats=(),
        silver_partitioning=tuple(("identity", c) for c in partitions),
        cdc=False,
    )
    return Mart(
        name=doc.name,
        description=doc.description,
        source=doc.source,
        grain=tuple(doc.grain),
        measures=measures,
        min_count=doc.min_count,
        rank_by=tuple(doc.rank_by),
        period=period,
        contract=contract,
        period_parts=tuple(part for _, part in view.period.parts),
        partition_columns=partitions,
    )


def build_domain(doc: DomainDocument, source: Path | None = None) -> Domain:
    """The run-time domain of a checked document."""
    tables = {t.name: build_table(t) for t in doc.tables}
    views = {v.name: build_view(v, tables) for v in doc.views}
    return Domain(
        name=doc.name,
        description=doc.description,
        tables=tables,
        views=views,
        marts=tuple(build_mart(m, views[m.source]) for m in doc.marts),
        source=source,
    )
