"""The operations dashboard as a CloudWatch dashboard body, generated from the panel model.

One text widget per row (its title), then one metric widget per panel that has a ``metric``,
two to a line: a ``stat`` panel is a single value, every other a time series. A dimension of
:data:`~datalake.dashboards.model.ANY_VALUE` becomes a ``SEARCH`` expression (one series per
value, e.g. per state machine); fixed dimensions are a plain metric. Adding a panel to the model
adds its widget: nothing here names a panel.
"""

from __future__ import annotations

from typing import Any

from datalake.dashboards.model import ANY_VALUE, Dashboard, MetricQuery, Panel

GRID_WIDTH = 24
WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6
HEADER_HEIGHT = 1


def metric_entries(
    metric: MetricQuery, *, workgroup: str, partition: str = "aws"
) -> list[list[Any]]:
    """The widget's ``metrics`` array: a ``SEARCH`` for any-value dimensions, else the metric.
    ARN values of the model (written ``arn:aws:``) are put in the lake's ``partition``."""
    dimensions = tuple(
        (name, f"arn:{partition}:{value.removeprefix('arn:aws:')}")
        if value.startswith("arn:aws:")
        else (name, value)
        for name, value in metric.render(workgroup=workgroup)
    )
    if any(value == ANY_VALUE for _, value in dimensions):
        schema = ",".join([metric.namespace, *(name for name, _ in dimensions)])
        terms = [f'MetricName="{metric.metric}"']
        terms += [f'{name}="{value}"' for name, value in dimensions if value != ANY_VALUE]
        search = f"{{{schema}}} {' '.join(terms)}"
        expression = f"SEARCH('{search}', '{metric.statistic}', {metric.period_seconds})"
        return [[{"expression": expression, "id": "e1"}]]
    flat = [part for pair in dimensions for part in pair]
    return [[metric.namespace, metric.metric, *flat]]


def metric_widget(
    panel: Panel, *, region: str, workgroup: str, x: int, y: int, partition: str = "aws"
) -> dict[str, Any]:
    """The metric widget of one panel (which must have a ``metric``)."""
    metric = panel.metric
    if metric is None:
        raise ValueError(f"panel {panel.key} has no metric")
    properties: dict[str, Any] = {
        "title": panel.title,
        "region": region,
        "view": "singleValue" if panel.visual == "stat" else "timeSeries",
        "stat": metric.statistic,
        "period": metric.period_seconds,
        "metrics": metric_entries(metric, workgroup=workgroup, partition=partition),
    }
    if properties["view"] == "timeSeries":
        properties["stacked"] = False
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": properties,
    }


def dashboard_body(
    dashboard: Dashboard, *, region: str, workgroup: str, partition: str = "aws"
) -> dict[str, Any]:
    """The ``DashboardBody`` of ``dashboard``: its rows and metric panels, in model order, for
    a lake in ``region`` (whose ARN ``partition`` is given: ``aws-us-gov``...)."""
    widgets: list[dict[str, Any]] = []
    y = 0
    for row in dashboard.rows:
        panels = [p for p in row.panels if p.metric is not None]
        if not panels:
            continue
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": GRID_WIDTH,
                "height": HEADER_HEIGHT,
                "properties": {"markdown": f"## {row.title}"},
            }
        )
        y += HEADER_HEIGHT
        for index, panel in enumerate(panels):
            x = (index * WIDGET_WIDTH) % GRID_WIDTH
            if index and x == 0:
                y += WIDGET_HEIGHT
            widgets.append(
                metric_widget(
                    panel, region=region, workgroup=workgroup, x=x, y=y, partition=partition
                )
            )
        y += WIDGET_HEIGHT
    return {"start": "-PT24H", "periodOverride": "inherit", "widgets": widgets}
