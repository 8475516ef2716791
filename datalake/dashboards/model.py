"""The dashboard model: dashboards -> rows -> panels, each panel a title, a query and a visual.

Pure data (no Grafana, plotting or cloud import): the Grafana renderer
(``datalake/dashboards/grafana.py``) and the local report (``workloads/local/report.py``) read
the same panels, so a panel is declared once and shown in both places.

A panel's SQL is written once, in Trino SQL (Athena engine v3) that DuckDB runs too. It names
the lake's databases through placeholders that :meth:`SqlQuery.render` fills:

- ``{gold}``, ``{silver}``: the database (DuckDB: schema) holding the gold or silver tables;
- ``{period}``: a period of a view as text, ``2024`` / ``2024-03`` / ``2024-03-07`` (the parts
  the view's period has, later parts zero-padded), for the panels of one chosen period.

A :class:`MetricQuery` is a CloudWatch metric (the operations panels on AWS); its dimension
values may be :data:`ANY_VALUE` (every value: one series per value) or the placeholder
``{workgroup}`` (the lake's Athena workgroup).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Visual = Literal["timeseries", "bar", "table", "stat"]
"""How a panel draws its rows: a time series (x = ``time_column``), bars (x =
``label_column``, one bar per value column), a table of every column, or one big number."""

PLACEHOLDERS: tuple[str, ...] = ("gold", "silver", "period", "workgroup")
"""Every placeholder a query may hold (written ``{name}``)."""
ANY_VALUE = "*"
"""A metric dimension's value meaning every value (Grafana: the ``*`` wildcard, with
``matchExact`` on; CloudWatch dashboards: a ``SEARCH`` expression): one series per value,
e.g. per state machine."""


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{name}`` of ``values`` replaced (other braces are left alone)."""
    unknown = set(values) - set(PLACEHOLDERS)
    if unknown:
        raise KeyError(f"unknown placeholders {sorted(unknown)}; known: {PLACEHOLDERS}")
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@dataclass(frozen=True)
class SqlQuery:
    """A SQL query in Trino SQL (Athena engine v3) that DuckDB runs as well."""

    sql: str
    """The statement, with ``{gold}``, ``{silver}`` and ``{period}`` placeholders."""
    time_column: str | None = None
    """The column that is the x axis (``timeseries``): a TIMESTAMP."""
    value_columns: tuple[str, ...] = ()
    """The numeric columns drawn (a series or bar group each; the number of a ``stat``)."""
    label_column: str | None = None
    """The column naming each bar or row (``bar``; the first column a ``table`` keys on)."""

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders the statement uses, in :data:`PLACEHOLDERS` order."""
        return tuple(p for p in PLACEHOLDERS if "{" + p + "}" in self.sql)

    @property
    def needs_period(self) -> bool:
        """True for a panel of one chosen period (its SQL holds ``{period}``)."""
        return "period" in self.placeholders

    def render(self, **values: str) -> str:
        """The statement with placeholders filled, e.g. ``render(gold="lake_gold",
        period="2024-03")``; Grafana passes its variable (``period="$period"``)."""
        return fill(self.sql, values)


@dataclass(frozen=True)
class MetricQuery:
    """A CloudWatch metric: what an operations panel shows on AWS."""

    namespace: str
    metric: str
    statistic: str = "Sum"
    """``Sum``, ``Average``, ``Maximum``, ``Minimum``, ``SampleCount`` or a percentile."""
    dimensions: tuple[tuple[str, str], ...] = ()
    """(name, value) pairs; a value may be :data:`ANY_VALUE` or ``{workgroup}``."""
    period_seconds: int = 300

    def render(self, **values: str) -> tuple[tuple[str, str], ...]:
        """The dimensions with placeholders filled (``render(workgroup="lake-consumers")``)."""
        return tuple((name, fill(value, values)) for name, value in self.dimensions)


@dataclass(frozen=True)
class Panel:
    """One chart of a dashboard.

    An analytics panel has ``query`` (over the gold tables, run by Athena on AWS and DuckDB
    locally). An operations panel has ``metric`` (CloudWatch, on AWS) and, where the local run
    has the data, ``local``: SQL over the DuckDB views ``control`` (the control records:
    ``layer, table_name, status, rows_in, rows_written, rows_quarantined, rows_skipped,
    attempts, created_at, updated_at, duplicate_of, error``) and ``stages`` (``stage,
    seconds``: the run's timings).

    ``visual`` says how the rows of ``query`` or ``local`` are drawn; a ``metric`` is a time
    series whatever ``visual`` says, except for a ``stat`` (its latest value).
    """

    key: str
    """Stable id, unique across every dashboard: ``<mart>.ranking``, ``operations.files``."""
    title: str
    visual: Visual
    query: SqlQuery | None = None
    metric: MetricQuery | None = None
    local: SqlQuery | None = None
    unit: str | None = None
    """Grafana's unit id: ``short``, ``bytes``, ``ms``, ``s``, ``percentunit``..."""
    description: str = ""

    def __post_init__(self) -> None:
        if self.query is None and self.metric is None and self.local is None:
            raise ValueError(f"panel {self.key}: needs a query, a metric or a local query")
        for sql in (self.query, self.local):
            if sql is not None and self.visual == "timeseries" and sql.time_column is None:
                raise ValueError(f"panel {self.key}: a time series needs a time column")

    @property
    def queries(self) -> tuple[SqlQuery, ...]:
        """Its SQL queries: ``query`` and ``local``, those it has."""
        return tuple(q for q in (self.query, self.local) if q is not None)


@dataclass(frozen=True)
class Row:
    """A titled group of panels."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: rows of panels."""

    key: str
    """Stable id: ``analytics.<view>`` or ``operations``."""
    title: str
    rows: tuple[Row, ...]
    description: str = ""
    periods: SqlQuery | None = None
    """The periods a chosen-period panel may show (column ``period``, newest first): the
    values of a ``period`` variable (Grafana) or the choice of one (the local report)."""

    def __post_init__(self) -> None:
        keys = [p.key for p in self.panels]
        if len(set(keys)) != len(keys):
            raise ValueError(f"dashboard {self.key}: duplicate panel keys")

    @property
    def panels(self) -> tuple[Panel, ...]:
        """Every panel, in row order."""
        return tuple(panel for row in self.rows for panel in row.panels)

    def panel(self, key: str) -> Panel:
        """The panel called ``key``."""
        for panel in self.panels:
            if panel.key == key:
                return panel
        raise KeyError(f"dashboard {self.key} has no panel {key!r}")
