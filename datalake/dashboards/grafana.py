"""Grafana dashboard JSON from the panel model, built with ``grafana-foundation-sdk``.

One Grafana dashboard per model dashboard: a row per model row, then its panels (rows stay
expanded, the flat layout Grafana saves). Each model panel becomes exactly one Grafana panel:

- ``query`` (Trino SQL) -> an Athena target on the ``athena_uid`` data source, with
  ``{gold}``/``{silver}`` replaced by the lake's database names and ``{period}`` by the
  dashboard's ``period`` template variable (``${period}``, e.g. ``2024-03``);
- ``metric`` -> a CloudWatch metric target (namespace, metric, statistic, dimensions, period)
  on the ``cloudwatch_uid`` data source; ``{workgroup}`` in a dimension value becomes the
  lake's workgroup, an ARN value (``arn:aws:``) is put in the region's partition, and a
  dimension of :data:`ANY_VALUE` is Grafana's ``*`` wildcard (one series per value). Matching
  is always exact: Grafana then searches ``{namespace,<dimension names>}``, the metrics with
  exactly these dimensions, as the CloudWatch dashboard does (``Files`` is also emitted per
  ``Table``: a non-exact search would add those series);
- both -> one panel on Grafana's mixed data source with the two targets.

A dashboard with metric panels opens on the last :data:`METRIC_DAYS` days: CloudWatch returns
no datapoint of a 300-second period for a range starting more than 63 days ago (the
``MetricStat`` period rules), so a year would show nothing. Others open on the last year.

Every uid is the lake's: :func:`dashboard_uid` of the lake's prefix (``<project>-<environment>``)
and a key, so two lakes (stacks, projects) in one Grafana never take each other's dashboards.

A dashboard with chosen-period panels gets a ``period`` variable: a query variable over the
model's ``periods`` SQL (Athena, newest first, refreshed on load), or a text box when the
model gives no such query.

``local`` queries are the local report's business and are not rendered. The model key of a
panel is kept in its ``tags`` (``panel_keys`` reads them back), so the local report and the
tests can match Grafana panels to model panels one for one. No JSON is written by hand: the
SDK's builders produce the objects and its encoder the JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from grafana_foundation_sdk.builders import athena as athena_builder
from grafana_foundation_sdk.builders import barchart, stat, table, timeseries
from grafana_foundation_sdk.builders import cloudwatch as cloudwatch_builder
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import athena as athena_model
from grafana_foundation_sdk.models import cloudwatch as cloudwatch_model
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as dashboard_model

from datalake.dashboards.model import ANY_VALUE, Dashboard, MetricQuery, Panel, SqlQuery, Visual
from datalake.naming import partition_of
from datalake.settings_dashboards import ANALYTICS_TIME_FROM

ATHENA_TYPE = "grafana-athena-datasource"
CLOUDWATCH_TYPE = "cloudwatch"
MIXED = dashboard_model.DataSourceRef(type_val="datasource", uid="-- Mixed --")
CATALOG = "AwsDataCatalog"
PERIOD_VARIABLE = "period"
PERIOD_REFERENCE = "${period}"
TAG = "datalake"
UID_LENGTH = 40
"""Grafana's longest uid (``pkg/util``: ``IsShortUIDTooLong``)."""
UID_DIGEST = 8
"""Hex digits of the hash ending every uid."""
METRIC_DAYS = 7
"""The time range of a dashboard with CloudWatch panels (``now-7d``)."""
TIME_RANGE = (ANALYTICS_TIME_FROM, "now")
"""The default time range of the other dashboards (``dashboards.analytics_time_from``)."""
WILDCARD = "*"
"""A CloudWatch dimension value meaning every value, in Grafana's query (its search
expression then names the dimension without a value)."""
WIDTH = {"timeseries": 12, "bar": 12, "table": 12, "stat": 6}
HEIGHT = {"timeseries": 8, "bar": 8, "table": 8, "stat": 4}

PanelBuilder = timeseries.Panel | barchart.Panel | table.Panel | stat.Panel


class _Built(cogbuilder.Builder[dashboard_model.Panel]):
    """A builder that hands back a panel already built (to add its tags first)."""

    def __init__(self, panel: dashboard_model.Panel) -> None:
        self._panel = panel

    def build(self) -> dashboard_model.Panel:
        """The panel."""
        return self._panel


def fill_sql(query: SqlQuery, databases: Mapping[str, str], period: str = PERIOD_REFERENCE) -> str:
    """The query's SQL for Grafana: ``databases`` (``{"gold": ..., "silver": ...}``) filled in
    and ``{period}`` as the ``period`` variable (or ``period``, e.g. ``2024-03``)."""
    return query.render(**databases, period=period)


def uses_period(panel: Panel) -> bool:
    """True if the panel's Grafana SQL is for a chosen period (``{period}``)."""
    return panel.query is not None and panel.query.needs_period


def _athena_target(
    query: SqlQuery,
    visual: str,
    *,
    uid: str,
    region: str,
    databases: Mapping[str, str],
    ref_id: str = "A",
) -> athena_builder.Dataquery:
    args = athena_builder.ConnectionArgs().region(region).catalog(CATALOG)
    if "gold" in databases:
        args = args.database(databases["gold"])
    form = (
        athena_model.FormatOptions.TIME_SERIES
        if visual == "timeseries" and query.time_column
        else athena_model.FormatOptions.TABLE
    )
    return (
        athena_builder.Dataquery()
        .ref_id(ref_id)
        .datasource(dashboard_model.DataSourceRef(type_val=ATHENA_TYPE, uid=uid))
        .connection_args(args)
        .format(form)
        .raw_sql(fill_sql(query, databases))
    )


def _cloudwatch_target(
    metric: MetricQuery, *, uid: str, region: str, workgroup: str, ref_id: str
) -> cloudwatch_builder.CloudWatchMetricsQuery:
    partition = partition_of(region)
    pairs = metric.render(workgroup=workgroup)
    dimensions: cloudwatch_model.Dimensions = {
        name: _dimension_value(value, partition) for name, value in pairs
    }
    return (
        cloudwatch_builder.CloudWatchMetricsQuery()
        .ref_id(ref_id)
        .datasource(dashboard_model.DataSourceRef(type_val=CLOUDWATCH_TYPE, uid=uid))
        .query_mode(cloudwatch_model.CloudWatchQueryMode.METRICS)
        .metric_query_type(cloudwatch_model.MetricQueryType.SEARCH)
        .metric_editor_mode(cloudwatch_model.MetricEditorMode.BUILDER)
        .region(region)
        .namespace(metric.namespace)
        .metric_name(metric.metric)
        .statistic(metric.statistic)
        .dimensions(dimensions)
        .match_exact(True)
        .period(str(metric.period_seconds))
    )


def _dimension_value(value: str, partition: str) -> str:
    """A model dimension value for Grafana: :data:`ANY_VALUE` is Grafana's wildcard, an ARN of
    the model (``arn:aws:``) is put in the lake's ``partition``, others are as they are."""
    if value == ANY_VALUE:
        return WILDCARD
    if value.startswith("arn:aws:"):
        return f"arn:{partition}:{value.removeprefix('arn:aws:')}"
    return value


def grafana_visual(panel: Panel) -> Visual:
    """How Grafana draws the panel: its visual, but a time series for a panel with only a
    metric (a CloudWatch metric is a series over time; a ``stat`` shows its latest value)."""
    if panel.query is None and panel.metric is not None and panel.visual != "stat":
        return "timeseries"
    return panel.visual


def _visual(panel: Panel) -> PanelBuilder:
    """The SDK panel builder of the panel's Grafana visual, with its visual options."""
    label = panel.query.label_column if panel.query else None
    visual = grafana_visual(panel)
    if visual == "timeseries":
        legend = (
            common_builder.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_model.LegendDisplayMode.LIST)
            .placement(common_model.LegendPlacement.BOTTOM)
        )
        tooltip = common_builder.VizTooltipOptions().mode(common_model.TooltipDisplayMode.MULTI)
        return (
            timeseries.Panel()
            .legend(legend)
            .tooltip(tooltip)
            .fill_opacity(10)
            .show_points(common_model.VisibilityMode.AUTO)
        )
    if visual == "bar":
        bar = barchart.Panel().orientation(common_model.VizOrientation.HORIZONTAL)
        return bar.x_field(label) if label else bar
    if visual == "table":
        return table.Panel().show_header(True)
    if visual == "stat":
        reduce = common_builder.ReduceDataOptions().calcs(["lastNotNull"])
        return stat.Panel().reduce_options(reduce).graph_mode(common_model.BigValueGraphMode.AREA)
    raise ValueError(f"panel {panel.key}: unknown visual {visual!r}")


def grafana_panel(
    panel: Panel,
    *,
    panel_id: int,
    athena_uid: str,
    cloudwatch_uid: str,
    databases: Mapping[str, str],
    region: str,
    workgroup: str,
) -> dashboard_model.Panel:
    """One Grafana panel for a model panel: its title, visual, unit and targets."""
    if panel.query is None and panel.metric is None:
        raise ValueError(f"panel {panel.key}: only a local query, nothing to show in Grafana")
    builder = _visual(panel).id(panel_id).title(panel.title)
    visual = grafana_visual(panel)
    builder = builder.span(WIDTH[visual]).height(HEIGHT[visual])
    if panel.description:
        builder = builder.description(panel.description)
    if panel.unit:
        builder = builder.unit(panel.unit)
    athena_ref = dashboard_model.DataSourceRef(type_val=ATHENA_TYPE, uid=athena_uid)
    cloudwatch_ref = dashboard_model.DataSourceRef(type_val=CLOUDWATCH_TYPE, uid=cloudwatch_uid)
    if panel.query is not None:
        target = _athena_target(
            panel.query, visual, uid=athena_uid, region=region, databases=databases
        )
        builder = builder.with_target(target).datasource(athena_ref)
    if panel.metric is not None:
        ref_id = "B" if panel.query is not None else "A"
        metric = _cloudwatch_target(
            panel.metric, uid=cloudwatch_uid, region=region, workgroup=workgroup, ref_id=ref_id
        )
        builder = builder.with_target(metric)
        builder = builder.datasource(MIXED if panel.query is not None else cloudwatch_ref)
    built = builder.build()
    built.tags = [panel.key]
    return built


def period_variable(
    periods: SqlQuery | None, *, athena_uid: str, region: str, databases: Mapping[str, str]
) -> dashboard_builder.QueryVariable | dashboard_builder.TextBoxVariable:
    """The ``period`` variable: the model's periods (an Athena query, newest first, the first
    one chosen on load), or a text box when the dashboard has no periods query."""
    description = "The period the chosen-period panels show, e.g. 2024-03."
    if periods is None:
        return (
            dashboard_builder.TextBoxVariable(PERIOD_VARIABLE)
            .label("Period")
            .description(description)
            .default_value("")
        )
    target = _athena_target(
        periods, "table", uid=athena_uid, region=region, databases=databases, ref_id="periods"
    ).build()
    return (
        dashboard_builder.QueryVariable(PERIOD_VARIABLE)
        .label("Period")
        .description(description)
        .datasource(dashboard_model.DataSourceRef(type_val=ATHENA_TYPE, uid=athena_uid))
        .query(target.to_json())
        .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_model.VariableSort.DISABLED)
        .multi(False)
        .include_all(False)
    )


def build_dashboard(
    dashboard: Dashboard,
    *,
    prefix: str,
    athena_uid: str,
    cloudwatch_uid: str,
    databases: Mapping[str, str],
    region: str,
    workgroup: str,
    time_from: str = TIME_RANGE[0],
) -> dashboard_model.Dashboard:
    """The SDK's dashboard object for a model dashboard (see ``grafana_dashboard``)."""
    with_metrics = any(p.metric is not None for p in dashboard.panels)
    since, until = (f"now-{METRIC_DAYS}d", "now") if with_metrics else (time_from, TIME_RANGE[1])
    builder = (
        dashboard_builder.Dashboard(dashboard.title)
        .uid(dashboard_uid(prefix, dashboard.key))
        .tags([TAG])
        .editable()
        .timezone("utc")
        .time(since, until)
        .refresh("1h")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
    )
    if dashboard.description:
        builder = builder.description(dashboard.description)
    if any(uses_period(p) for p in dashboard.panels):
        variable = period_variable(
            dashboard.periods, athena_uid=athena_uid, region=region, databases=databases
        )
        builder = builder.with_variable(variable)
    next_id = 1
    for row in dashboard.rows:
        builder = builder.with_row(dashboard_builder.Row(row.title).id(next_id))
        next_id += 1
        for panel in row.panels:
            built = grafana_panel(
                panel,
                panel_id=next_id,
                athena_uid=athena_uid,
                cloudwatch_uid=cloudwatch_uid,
                databases=databases,
                region=region,
                workgroup=workgroup,
            )
            builder = builder.with_panel(_Built(built))
            next_id += 1
    return builder.build()


def grafana_dashboard(
    dashboard: Dashboard,
    *,
    prefix: str,
    athena_uid: str,
    cloudwatch_uid: str,
    databases: Mapping[str, str],
    region: str,
    workgroup: str,
    time_from: str = TIME_RANGE[0],
) -> dict[str, Any]:
    """The Grafana dashboard JSON (a plain dict) of a model dashboard.

    ``prefix`` is the lake's (``LakeNames.prefix``): the dashboard's uid is
    ``dashboard_uid(prefix, dashboard.key)``. ``databases`` maps the SQL placeholders to the
    Glue databases (``{"gold": ..., "silver": ...}``); ``region`` is the lake's AWS region,
    ``workgroup`` its Athena workgroup (the ``{workgroup}`` of metric dimensions; the Athena
    data source itself is bound to it when declared); ``time_from`` starts the default time
    range of a dashboard without metric panels (one with them opens on the last
    :data:`METRIC_DAYS` days). The dict is what the SDK's encoder
    produces, round-tripped through JSON so that it holds plain values only.
    """
    model = build_dashboard(
        dashboard,
        prefix=prefix,
        athena_uid=athena_uid,
        cloudwatch_uid=cloudwatch_uid,
        databases=databases,
        region=region,
        workgroup=workgroup,
        time_from=time_from,
    )
    result: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder, sort_keys=True))
    return result


def dashboard_uid(prefix: str, key: str) -> str:
    """The Grafana uid of ``key`` (a model dashboard's key, or ``folder``, ``athena``...) in the
    lake of ``prefix`` (``<project>-<environment>``), e.g. ``datalake-dev-operations-e7f87f44``.

    Grafana's uids are unique per organization, so a lake's carry its prefix: two lakes in one
    Grafana never share one. The uid is the readable ``<prefix>-<key>`` (lower case, every
    character but a letter or a digit a ``-``; cut to fit the :data:`UID_LENGTH` Grafana
    allows) and ``-`` plus :data:`UID_DIGEST` hex digits of a SHA-256 of the exact prefix and
    key. The hash keeps uids distinct where the readable part alone would not be: cut, or
    equal for different inputs (``x-y-analytics-operations`` is the operations dashboard of
    project ``x-y``, environment ``analytics``, and the dashboard of a view ``operations`` of
    project ``x``, environment ``y``). The characters (``a-z``, ``0-9``, ``-``; a letter or
    digit first and last) are valid for Grafana's uid pattern and for the Kubernetes-style
    names of its newer APIs. The same input gives the same uid.
    """
    readable = "".join(c if c.isascii() and c.isalnum() else "-" for c in f"{prefix}-{key}")
    readable = re.sub("-+", "-", readable.lower()).strip("-")
    digest = hashlib.sha256(json.dumps([prefix, key]).encode()).hexdigest()[:UID_DIGEST]
    room = UID_LENGTH - UID_DIGEST - 1
    head = readable[:room].rstrip("-")
    return f"{head}-{digest}" if head else digest


def panel_keys(grafana_json: Mapping[str, Any]) -> list[str]:
    """The model panel keys of a Grafana dashboard's panels, in order (rows left out)."""
    keys: list[str] = []
    for panel in grafana_json.get("panels", []):
        for nested in [panel, *panel.get("panels", [])]:
            if nested.get("type") != "row":
                keys.extend(nested.get("tags", []))
    return keys
