"""The local run's report: every dashboard of the panel model on one self-contained page.

``datalake local run`` writes ``<dir>/index.html`` (default ``./lake-report``): the same
dashboards, rows and panels as Grafana (``datalake/dashboards/``), their data from DuckDB
(``report_data.py``), each chart drawn with plotly. plotly's JavaScript is embedded once in the
page and the figures' data inline, so the page fetches nothing when it opens (no CDN, no
fonts, no MathJax). Each panel's chart is in an element ``data-panel="<panel key>"``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import pyarrow as pa
from plotly.offline import get_plotlyjs

from datalake.control import ControlStatus
from datalake.dashboards import Dashboard, Panel, dashboards
from datalake.naming import Layer

from .report_data import PanelData, PanelRunner, control_table, stages_table
from .summary import Tables

if TYPE_CHECKING:
    from .resources import LocalLake
    from .runner import LocalRunReport

REPORT_FILE = "index.html"
TABLE_ROWS = 20
"""Rows a table panel shows (its query's first rows)."""
_CONFIG = {"displaylogo": False, "responsive": True}
_UNITS = {
    "bytes": ("~s", "B"),
    "s": (",.1f", " s"),
    "ms": (",.0f", " ms"),
    "percent": (",.1f", "%"),
    "percentunit": (".1%", ""),
}
"""Grafana unit ids the panels use -> (d3 format, suffix)."""
_NUMERIC = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)


def write_report(directory: Path, lake: LocalLake, report: LocalRunReport) -> Path:
    """Run every panel of the domain's dashboards over this run and write ``index.html``."""
    streaming = report.stream is not None
    boards = dashboards(lake.domain, streaming=streaming)
    records = [
        record
        for layer in (Layer.BRONZE, Layer.SILVER, Layer.GOLD)
        for status in ControlStatus
        for record in lake.store.by_status(layer, status)
    ]
    assert report.tables is not None  # the runner sets them before the report
    periods = {mart: top.label for mart, top in report.top_rows.items()}
    for mart in lake.domain.marts:  # a view's busiest period: its marts' (the same view)
        if mart.name in periods:
            periods.setdefault(mart.source, periods[mart.name])
    data = panel_data(
        boards, report.tables, control_table(records), stages_table(report.timings), periods
    )
    for key, result in data.items():  # a panel whose query fails is an error of the run
        if result.error:
            report.errors.append((f"report panel {key}", result.error))
    subtitle = (
        f"{lake.domain.name}: {report.input_summary}; "
        f"{sum(report.timings.values()):.1f} s in {len(report.timings)} stages"
    )
    return write_page(directory, boards, data, title=f"Data lake — {lake.domain.name}",
                      subtitle=subtitle)  # fmt: skip


def panel_data(
    boards: Sequence[Dashboard],
    tables: Tables,
    control: pa.Table,
    stages: pa.Table,
    periods: Mapping[str, str],
) -> dict[str, PanelData]:
    """Every panel's data, by panel key. ``periods``: mart or view -> its busiest period, the
    ``{period}`` of a panel ``<mart>.…`` or of a dashboard ``analytics.<view>`` (else the
    first one known)."""
    runner = PanelRunner(tables, control, stages)
    fallback = next(iter(periods.values()), "")
    try:
        return {
            panel.key: runner.run(panel, period_of(board, panel, periods) or fallback)
            for board in boards
            for panel in board.panels
        }
    finally:
        runner.close()


def period_of(board: Dashboard, panel: Panel, periods: Mapping[str, str]) -> str | None:
    """The period a panel of ``board`` shows (None: not known)."""
    return periods.get(panel.key.split(".")[0]) or periods.get(board.key.split(".")[-1])


def write_page(
    directory: Path,
    boards: Sequence[Dashboard],
    data: Mapping[str, PanelData],
    *,
    title: str,
    subtitle: str = "",
) -> Path:
    """Write ``directory/index.html`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / REPORT_FILE
    path.write_text(render_page(boards, data, title=title, subtitle=subtitle), encoding="utf-8")
    return path


def render_page(
    boards: Sequence[Dashboard],
    data: Mapping[str, PanelData],
    *,
    title: str,
    subtitle: str = "",
) -> str:
    """The whole page: plotly's JavaScript once, then each dashboard, row and panel."""
    sections, counter = [], iter(range(1_000_000))
    for board in boards:
        rows = []
        for row in board.rows:
            figures = "".join(
                _panel_html(panel, data.get(panel.key), f"chart-{next(counter)}")
                for panel in row.panels
            )
            rows.append(f'<h3>{_e(row.title)}</h3>\n<div class="grid">{figures}</div>')
        sections.append(
            f'<section class="dashboard" id="{_e(board.key)}" data-dashboard="{_e(board.key)}">'
            f"<h2>{_e(board.title)}</h2><p>{_e(board.description)}</p>{''.join(rows)}</section>"
        )
    nav = " · ".join(f'<a href="#{_e(b.key)}">{_e(b.title)}</a>' for b in boards)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,"><style>{_STYLE}</style>'
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
        f"<body><header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p><nav>{nav}</nav></header>\n"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


def _panel_html(panel: Panel, data: PanelData | None, div_id: str) -> str:
    data = data or PanelData(panel, "none")
    figure = figure_for(data)
    chart = figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG,
        default_height="360px", default_width="100%",
    )  # fmt: skip
    notes = [panel.description] if panel.description else []
    if data.period:
        notes.append(f"period {data.period} (the busiest of the run)")
    if data.error:
        notes.append(f"query failed: {data.error}")
    elif data.source == "none":
        notes.append(f"not measured by the local run{_metric_name(panel)}")
    caption = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    return (
        f'<figure class="panel" data-panel="{_e(panel.key)}" data-source="{data.source}" '
        f'data-rows="{data.row_count}"><figcaption><strong>{_e(panel.title)}</strong>'
        f"{caption}</figcaption>{chart}</figure>"
    )


def _metric_name(panel: Panel) -> str:
    metric = panel.metric
    return f" (CloudWatch {metric.namespace} {metric.metric} on AWS)" if metric else ""


def figure_for(data: PanelData) -> go.Figure:
    """The panel's chart: its visual drawn from its rows (an annotated empty chart if none)."""
    panel, rows = data.panel, data.rows
    if rows is None or rows.num_rows == 0:
        reason = "no rows" if rows is not None else "a CloudWatch metric: not measured locally"
        return _empty(data.error or reason)
    query = panel.local or panel.query
    time_column = query.time_column if query else None
    label_column = query.label_column if query else None
    values = list(query.value_columns) if query and query.value_columns else []
    values = [c for c in values if c in rows.column_names] or _numeric(rows, time_column,
                                                                      label_column)  # fmt: skip
    if panel.visual == "table":
        figure = _table(rows)
    elif panel.visual == "stat":
        figure = _stat(rows, values, label_column, panel.unit)
    elif panel.visual == "timeseries":
        figure = _timeseries(rows, time_column or rows.column_names[0], values, label_column)
    else:
        figure = _bar(rows, label_column or _first_text(rows) or rows.column_names[0], values)
    figure.update_layout(margin={"l": 50, "r": 20, "t": 30, "b": 50}, template="plotly_white")
    if panel.visual in ("timeseries", "bar"):
        number, suffix = unit_format(panel.unit)
        figure.update_yaxes(tickformat=number, ticksuffix=suffix)
    return figure


def unit_format(unit: str | None) -> tuple[str, str]:
    """A Grafana unit id as plotly's (d3 number format, suffix); unknown units: a suffix."""
    if unit is None or unit in ("short", "none"):
        return ",", ""
    return _UNITS.get(unit, (",", f" {unit}"))


def _empty(reason: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=html.escape(reason[:200]), showarrow=False, x=0.5, y=0.5,
                          xref="paper", yref="paper", font={"size": 15})  # fmt: skip
    figure.update_layout(xaxis_visible=False, yaxis_visible=False, template="plotly_white")
    return figure


def _column(rows: pa.Table, name: str) -> list[Any]:
    return [_json_value(v) for v in rows.column(name).to_pylist()]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _numeric(rows: pa.Table, *skip: str | None) -> list[str]:
    return [
        field.name
        for field in rows.schema
        if field.name not in skip and any(test(field.type) for test in _NUMERIC)
    ]


def _first_text(rows: pa.Table) -> str | None:
    for field in rows.schema:
        if not any(test(field.type) for test in _NUMERIC):
            return field.name
    return None


def _timeseries(rows: pa.Table, x: str, values: Sequence[str], label: str | None) -> go.Figure:
    figure = go.Figure()
    if label and label in rows.column_names:
        groups: dict[Any, list[int]] = {}
        for index, key in enumerate(rows.column(label).to_pylist()):
            groups.setdefault(key, []).append(index)
        for key, indices in groups.items():
            part = rows.take(indices)
            for value in values:
                name = str(key) if len(values) == 1 else f"{key} {value}"
                figure.add_scatter(x=_column(part, x), y=_column(part, value), name=name,
                                   mode="lines+markers")  # fmt: skip
    else:
        for value in values:
            figure.add_scatter(x=_column(rows, x), y=_column(rows, value), name=value,
                               mode="lines+markers")  # fmt: skip
    temporal = pa.types.is_temporal(rows.schema.field(x).type)
    several = len(set(rows.column(x).to_pylist())) > 1  # one date: a category, not a zoom
    figure.update_xaxes(type="date" if temporal and several else "category", title_text=x)
    return figure


def _bar(rows: pa.Table, label: str, values: Sequence[str]) -> go.Figure:
    figure = go.Figure()
    x = [str(v) for v in _column(rows, label)]
    for value in values:
        figure.add_bar(x=x, y=_column(rows, value), name=value)
    figure.update_layout(barmode="group", showlegend=len(values) > 1)
    figure.update_xaxes(type="category", title_text=label)
    return figure


def _table(rows: pa.Table) -> go.Figure:
    shown = rows.slice(0, TABLE_ROWS)
    cells = [[_cell(v) for v in _column(shown, name)] for name in shown.column_names]
    return go.Figure(
        go.Table(
            header={"values": [f"<b>{html.escape(n)}</b>" for n in shown.column_names]},
            cells={"values": cells, "align": "left"},
        )
    )


def _stat(rows: pa.Table, values: Sequence[str], label: str | None, unit: str | None) -> go.Figure:
    figure = go.Figure()
    first = rows.slice(0, 1).to_pylist()[0]
    shown = list(values)[:4] or rows.column_names[:1]
    for index, name in enumerate(shown):
        value = _json_value(first[name])
        title = str(first[label]) if label and label in first else name
        figure.add_indicator(
            mode="number",
            value=value if isinstance(value, int | float) else 0,
            title={"text": html.escape(title)},
            number={"valueformat": unit_format(unit)[0], "suffix": unit_format(unit)[1]},
            domain={"x": [index / len(shown), (index + 1) / len(shown)], "y": [0, 1]},
        )
    return figure


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else html.escape(str(value))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def panel_keys(page: str) -> list[str]:
    """The ``data-panel`` keys of a rendered page, in order (what the tests compare)."""
    import re

    return [html.unescape(k) for k in re.findall(r'data-panel="([^"]*)"', page)]


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#222}"
    "header{background:#1f2937;color:#fff;padding:12px 24px}header a{color:#cde}"
    "main{padding:8px 24px}.grid{display:grid;gap:12px;"
    "grid-template-columns:repeat(auto-fill,minmax(480px,1fr))}"
    ".panel{background:#fff;margin:0;padding:8px;border-radius:6px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.15)}.note{color:#666;font-size:.85em;margin:2px 0}"
    "h2{margin-top:28px;border-bottom:1px solid #ccc}h3{color:#444}"
)
