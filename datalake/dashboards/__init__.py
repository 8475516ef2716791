"""Dashboards declared once: analytics from the domain's marts, operations of the pipeline.

``dashboards(domain)`` is what both renderers read: Grafana (``datalake.dashboards.grafana``)
and the local run's HTML report (``workloads/local/report.py``). Pure data; see
:mod:`datalake.dashboards.model`.
"""

from __future__ import annotations

from datalake.dashboards.analytics import analytics_dashboards
from datalake.dashboards.model import (
    ANY_VALUE,
    PLACEHOLDERS,
    Dashboard,
    MetricQuery,
    Panel,
    Row,
    SqlQuery,
    Visual,
)
from datalake.dashboards.operations import operations_dashboard
from datalake.domain import Domain


def dashboards(domain: Domain, *, streaming: bool = False) -> tuple[Dashboard, ...]:
    """The analytics dashboards (one per view with marts), then the operations dashboard."""
    return (*analytics_dashboards(domain), operations_dashboard(domain, streaming=streaming))


__all__ = [
    "ANY_VALUE",
    "PLACEHOLDERS",
    "Dashboard",
    "MetricQuery",
    "Panel",
    "Row",
    "SqlQuery",
    "Visual",
    "analytics_dashboards",
    "dashboards",
    "operations_dashboard",
]
