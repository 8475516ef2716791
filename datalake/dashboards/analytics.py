"""Analytics dashboards, derived from the domain's marts: nothing here names a mart.

One dashboard per view that has marts (its marts share the view's periods, so one ``period``
choice fits them all), one row per mart, two panels per mart:

- ``<mart>.ranking`` (table): the mart's rows of one chosen period (``{period}``), ordered by
  its ``rank_by`` measures (descending), the top :data:`TOP_ROWS`;
- ``<mart>.trend`` (time series): one measure over every period of the view, rolled up over
  the grain where the measure adds up (a count or a sum; the least of minima, the greatest of
  maxima), else the number of the mart's rows per period.

The SQL reads only the mart's gold table and its columns; no PII column is ever selected (a
mart's contract marks as PII any min/max over a PII column). Adding a mart to the domain adds
its row, with no change to this module or to a renderer.
"""

from __future__ import annotations

from collections.abc import Sequence

from datalake.contracts.model import Column, ColumnType
from datalake.dashboards.model import Dashboard, Panel, Row, SqlQuery
from datalake.domain import Domain, Mart, Measure, View

TOP_ROWS = 10
"""Rows a ranking shows."""
PERIOD_ALIAS = "period"
"""The column of a dashboard's ``periods`` query."""
TIME_ALIAS = "period_start"
"""The x axis of a trend: the first instant of each period (UTC)."""
ROW_COUNT_ALIAS = "row_count"
"""A trend's value when no measure rolls up: the mart's rows per period."""
ROLLUPS = {"count": "sum", "sum": "sum", "min": "min", "max": "max"}
"""How each measure function rolls up over the grain (avg and count_distinct do not)."""
NUMERIC = (ColumnType.LONG, ColumnType.DOUBLE)
_PADDED = {"month": 2, "day": 2}


def gold_table(mart: Mart) -> str:
    """The mart's gold table, qualified by the ``{gold}`` placeholder."""
    return "{gold}." + mart.name


def period_label(columns: Sequence[str], parts: Sequence[str]) -> str:
    """SQL of a period as text: ``2024``, ``2024-03``, ``2024-03-07`` (zero-padded parts)."""
    terms = []
    for column, part in zip(columns, parts, strict=True):
        text = f"CAST({column} AS VARCHAR)"
        width = _PADDED.get(part)
        terms.append(f"lpad({text}, {width}, '0')" if width else text)
    return " || '-' || ".join(terms)


def period_start(columns: Sequence[str], parts: Sequence[str]) -> str:
    """SQL of a period's first instant, a TIMESTAMP (a missing month or day is the first)."""
    by_part = dict(zip(parts, columns, strict=True))
    terms = [f"CAST({by_part['year']} AS VARCHAR)"]
    for part in ("month", "day"):
        column = by_part.get(part)
        terms.append(f"lpad(CAST({column} AS VARCHAR), 2, '0')" if column else "'01'")
    joined = " || '-' || ".join(terms)
    return f"CAST({joined} AS TIMESTAMP)"


def period_condition(columns: Sequence[str]) -> str:
    """SQL selecting the rows of the period ``{period}`` (each part parsed from the text, so
    the engine prunes the partitions)."""
    return " AND ".join(
        f"{column} = CAST(split_part('{{period}}', '-', {index}) AS BIGINT)"
        for index, column in enumerate(columns, start=1)
    )


def shown_columns(mart: Mart) -> tuple[Column, ...]:
    """The mart's columns a panel may show: every one but the period's and any PII."""
    return tuple(c for c in mart.contract.columns if c.name not in mart.period and not c.is_pii)


def _parts(mart: Mart) -> tuple[str, ...]:
    return mart.period_parts or ("year", "month", "day")[: len(mart.period)]


def ranking_panel(mart: Mart) -> Panel:
    """The mart's top rows in the chosen period, by its ``rank_by`` measures."""
    columns = shown_columns(mart)
    names = {c.name for c in columns}
    ranked = [m for m in mart.rank_by if m in names]
    grain = [g for g in mart.grain if g in names]
    order = [f"{m} DESC NULLS LAST" for m in ranked] + [f"{g} NULLS LAST" for g in grain]
    sql = (
        f"SELECT {', '.join(c.name for c in columns)}\n"
        f"FROM {gold_table(mart)}\n"
        f"WHERE {period_condition(mart.period)}"
        + (f"\nORDER BY {', '.join(order)}" if order else "")
        + f"\nLIMIT {TOP_ROWS}"
    )
    labels = [c.name for c in columns if c.name in grain and c.type is ColumnType.STRING]
    by = ", ".join(ranked) or "its rows"
    title = f"top {TOP_ROWS} by {by}" if mart.grain else "the chosen period"
    return Panel(
        key=f"{mart.name}.ranking",
        title=f"{mart.name}: {title}",
        visual="table",
        query=SqlQuery(
            sql=sql,
            value_columns=tuple(ranked),
            label_column=next(iter(labels or grain), None),
        ),
        description=f"{mart.description} The chosen period: {title}.",
    )


def trend_measure(mart: Mart) -> Measure | None:
    """The measure a trend draws: the first ranked one (then any) that is numeric and rolls
    up over the grain (any numeric one when the mart has no grain); None: none does."""
    names = {c.name for c in shown_columns(mart)}
    candidates = [mart.measure(m) for m in mart.rank_by] + list(mart.measures)
    for measure in candidates:
        if measure.name not in names or measure.type not in NUMERIC:
            continue
        if not mart.grain or measure.function in ROLLUPS:
            return measure
    return None


def trend_panel(mart: Mart) -> Panel:
    """One measure of the mart over every period of its view."""
    columns = {c.name for c in mart.contract.columns}
    time = TIME_ALIAS
    while time in columns:
        time = "_" + time
    start = period_start(mart.period, _parts(mart))
    measure = trend_measure(mart)
    if measure is not None and not mart.grain:
        value, expression, what = measure.name, measure.name, measure.name
    elif measure is not None:
        value = measure.name
        expression = f"{ROLLUPS[measure.function]}({measure.name}) AS {value}"
        what = f"{measure.name} over every {', '.join(mart.grain)} in the mart"
    else:
        value, expression = ROW_COUNT_ALIAS, f"count(*) AS {ROW_COUNT_ALIAS}"
        what = f"rows of the mart ({', '.join(mart.grain)})"
    group = f"\nGROUP BY {', '.join(mart.period)}" if mart.grain or measure is None else ""
    sql = f"SELECT {start} AS {time}, {expression}\nFROM {gold_table(mart)}{group}\nORDER BY {time}"
    return Panel(
        key=f"{mart.name}.trend",
        title=f"{mart.name}: {value} per period",
        visual="timeseries",
        query=SqlQuery(sql=sql, time_column=time, value_columns=(value,)),
        description=f"{mart.description} Trend: {what}, per period.",
    )


def mart_row(mart: Mart) -> Row:
    """The row of one mart: its ranking, then its trend."""
    return Row(title=mart.name, panels=(ranking_panel(mart), trend_panel(mart)))


def periods_query(view: View, marts: Sequence[Mart]) -> SqlQuery:
    """The periods of the view's first mart, newest first (zero-padded text sorts in time)."""
    mart = marts[0]
    label = period_label(mart.period, _parts(mart))
    return SqlQuery(
        sql=(
            f"SELECT DISTINCT {label} AS {PERIOD_ALIAS}\n"
            f"FROM {gold_table(mart)}\n"
            f"ORDER BY {PERIOD_ALIAS} DESC"
        ),
        label_column=PERIOD_ALIAS,
    )


def analytics_dashboards(domain: Domain) -> tuple[Dashboard, ...]:
    """One dashboard per view with marts, one row per mart (in domain-file order)."""
    dashboards = []
    for view in domain.views.values():
        marts = domain.marts_of(view.name)
        if not marts:
            continue
        dashboards.append(
            Dashboard(
                key=f"analytics.{view.name}",
                title=f"{domain.name}: {view.name}",
                rows=tuple(mart_row(m) for m in marts),
                description=view.description,
                periods=periods_query(view, marts),
            )
        )
    return tuple(dashboards)
