"""LakeObservability: the operations dashboard in CloudWatch, the lake-wide alarms, the budget.

    dashboard <prefix>-operations   the operations panels' metrics (``datalake.dashboards``:
                                    widgets generated from the model, one per metric panel)
    alarms (all to the lake's topic, both ways)
        EMR job failures            AWS/EMRServerless FailedJobs, per Spark application
        Firehose delivery errors    DeliveryToS3.Success below 1 (streaming only)
        quarantine rate             Rows quarantined / in (bronze), over an hour, above
                                    observability.quarantine_rate_threshold
        freshness, per table        no Files registered (bronze, pending) for
                                    observability.freshness_hours[table] hours
        Athena data usage           the workgroup's ProcessedBytes over athena_scan_limit_gb in
                                    athena_scan_period_hours (the per-query cutoff is gold's)
    budget <prefix>-budget          monthly COST for the project and environment tags, actual
                                    and forecasted thresholds to the topic

The layers keep their own alarms (files out of attempts, dead letters, failed executions):
they notify the same topic through ``LakeIdentity.alarm_topic_arn``.
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.dashboards.cloudwatch import dashboard_body
from datalake.dashboards.operations import operations_dashboard
from datalake.errors import FILES_METRIC, METRIC_NAMESPACE, ROWS_METRIC
from datalake.naming import Layer
from datalake.settings_observability import ObservabilitySettings

from .foundation import LakeFoundation, alarm_actions, foundation_domain, names_of, section_settings
from .options import child_options

HOUR = 3600
GB = 1024**3
EMR_NAMESPACE = "AWS/EMRServerless"
FRESHNESS_DIMENSIONS = {"Layer": Layer.BRONZE.value, "Status": "pending"}
"""With ``Table``: the controller's registration of each new raw file (see ``Files``)."""


class LakeObservabilityArgs(TypedDict):
    """Inputs of :class:`LakeObservability`."""

    foundation: LakeFoundation
    """The lake's foundation: names, the alarm topic, the domain (the dashboard's panels)."""
    observability: NotRequired[dict[str, Any]]
    """The ``observability`` settings section as JSON (defaults when absent)."""
    workgroup_name: pulumi.Input[str]
    """The consumers' Athena workgroup (its data usage alarm and the dashboard's panel)."""
    spark_application_ids: dict[str, pulumi.Input[str]]
    """The EMR Serverless applications by layer (one entry when gold shares silver's)."""
    delivery_stream_name: NotRequired[pulumi.Input[str]]
    """The Firehose delivery stream, when changes are streamed (its alarm, its panels)."""


class LakeObservability(pulumi.ComponentResource):
    """The CloudWatch dashboard of the operations panels, the lake-wide alarms, the budget."""

    dashboard_name: pulumi.Output[str]
    """The CloudWatch dashboard (empty when ``observability.dashboard`` is false)."""
    alarm_names: pulumi.Output[list[str]]
    """Every alarm this component declares."""

    def __init__(
        self, name: str, args: LakeObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeObservability", name, None, opts)
        settings = section_settings(
            ObservabilitySettings, "observability", args.get("observability")
        )
        foundation = args["foundation"]
        lake = foundation["lake"]
        self._name, self._names = name, names_of(lake)
        self._actions = alarm_actions(lake)
        self._alarms: list[aws.cloudwatch.MetricAlarm] = []
        streaming = "delivery_stream_name" in args

        dashboard_name = ""
        if settings.dashboard:
            model = operations_dashboard(foundation_domain(foundation), streaming=streaming)
            region = lake["region"]
            dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=self._names.resource("operations"),
                dashboard_body=pulumi.Output.from_input(args["workgroup_name"]).apply(
                    lambda wg: json.dumps(
                        dashboard_body(
                            model, region=region, workgroup=wg, partition=self._names.partition
                        )
                    )
                ),
                opts=child_options(self),
            )
            dashboard_name = dashboard.dashboard_name  # type: ignore[assignment]

        for layer, application_id in args["spark_application_ids"].items():
            self._alarm(
                f"emr-{layer}-failed-jobs",
                f"EMR Serverless job runs of the {layer} application failed",
                namespace=EMR_NAMESPACE,
                metric_name="FailedJobs",
                dimensions={"ApplicationId": application_id},
                statistic="Maximum",
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
            )
        if streaming:
            self._alarm(
                "streaming-delivery-errors",
                "Firehose could not deliver changes to S3 (they go to stream-errors/)",
                namespace="AWS/Firehose",
                metric_name="DeliveryToS3.Success",
                dimensions={"DeliveryStreamName": args["delivery_stream_name"]},
                statistic="Minimum",
                threshold=1,
                comparison_operator="LessThanThreshold",
            )
        self._quarantine_rate(settings.quarantine_rate_threshold)
        for table, hours in sorted(settings.freshness_hours.items()):
            self._alarm(
                f"raw-{table}-freshness",
                f"No new raw file of {table} for {hours} hours",
                namespace=METRIC_NAMESPACE,
                metric_name=FILES_METRIC,
                dimensions={**FRESHNESS_DIMENSIONS, "Table": table},
                statistic="Sum",
                threshold=1,
                comparison_operator="LessThanThreshold",
                period=HOUR,
                evaluation_periods=hours,
                treat_missing_data="breaching",
            )
        if settings.athena_scan_limit_gb is not None:
            self._alarm(
                "athena-data-usage",
                f"The consumers' workgroup scanned over {settings.athena_scan_limit_gb} GB in "
                f"{settings.athena_scan_period_hours} h",
                namespace="AWS/Athena",
                metric_name="ProcessedBytes",
                dimensions={"WorkGroup": args["workgroup_name"]},
                statistic="Sum",
                threshold=settings.athena_scan_limit_gb * GB,
                comparison_operator="GreaterThanThreshold",
                period=settings.athena_scan_period_hours * HOUR,
            )
        self._budget(settings, lake["project"], lake["environment"])

        self.dashboard_name = pulumi.Output.from_input(dashboard_name)
        self.alarm_names = pulumi.Output.all(*(a.name for a in self._alarms))
        self.register_outputs(
            {"dashboard_name": self.dashboard_name, "alarm_names": self.alarm_names}
        )

    def _alarm(
        self,
        purpose: str,
        description: str,
        *,
        period: int = 300,
        evaluation_periods: int = 1,
        treat_missing_data: str = "notBreaching",
        **metric: Any,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm ``<prefix>-<purpose>`` to the lake's topic (alarm and OK)."""
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{purpose}-alarm",
            name=self._names.resource(purpose),
            alarm_description=description,
            period=None if "metric_queries" in metric else period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=treat_missing_data,
            alarm_actions=self._actions,
            ok_actions=self._actions,
            **metric,
            opts=child_options(self),
        )
        self._alarms.append(alarm)
        return alarm

    def _quarantine_rate(self, threshold: float) -> None:
        """Rows quarantined / rows in, for bronze over an hour (no rows: no datapoint)."""

        def rows(outcome: str) -> dict[str, Any]:
            return {
                "id": outcome,
                "return_data": False,
                "metric": {
                    "namespace": METRIC_NAMESPACE,
                    "metric_name": ROWS_METRIC,
                    "dimensions": {"Layer": Layer.BRONZE.value, "Outcome": outcome},
                    "period": HOUR,
                    "stat": "Sum",
                },
            }

        self._alarm(
            "bronze-quarantine-rate",
            f"Bronze quarantined more than {threshold:.0%} of the rows it read in an hour",
            metric_queries=[
                rows("quarantined"),
                rows("in"),
                {
                    "id": "rate",
                    "label": "Share of rows quarantined",
                    "expression": "IF(in > 0, quarantined / in)",
                    "return_data": True,
                },
            ],
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
        )

    def _budget(self, settings: ObservabilitySettings, project: str, environment: str) -> None:
        """The monthly cost budget of the lake's tags, notifying the topic."""
        budget = settings.budget
        if budget.monthly_limit_usd is None:
            return
        notifications: list[aws.budgets.BudgetNotificationArgsDict] = [
            {
                "comparison_operator": "GREATER_THAN",
                "threshold": percent,
                "threshold_type": "PERCENTAGE",
                "notification_type": kind,
                "subscriber_sns_topic_arns": self._actions,
            }
            for kind, percents in (
                ("ACTUAL", budget.actual_percent),
                ("FORECASTED", budget.forecasted_percent),
            )
            for percent in percents
        ]
        aws.budgets.Budget(
            f"{self._name}-budget",
            name=self._names.resource("budget"),
            budget_type="COST",
            limit_amount=f"{budget.monthly_limit_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            filter_expression=lake_tags_filter(project, environment),
            notifications=notifications if self._actions else None,
            opts=child_options(self),
        )


def lake_tags_filter(project: str, environment: str) -> aws.budgets.BudgetFilterExpressionArgsDict:
    """Costs of the resources tagged with the lake's ``project`` and ``environment`` (both)."""
    return {
        "ands": [
            {"tags": {"key": key, "values": [value], "match_options": ["EQUALS"]}}
            for key, value in (("project", project), ("environment", environment))
        ]
    }
