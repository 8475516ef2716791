"""The ``observability`` settings section: logs, alarms, the alarm topic and the cost budget.

``datalake/settings.py`` composes it into :class:`~datalake.settings.LakeSettings`; the
component that reads it is ``components/observability.py`` (alarms, the CloudWatch dashboard,
the budget) with ``components/alarm_topic.py`` (the topic created when none is given).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from datalake.settings_sections import GlueName, _Section

Percent = Annotated[int, Field(ge=1, le=1000)]


class BudgetSettings(_Section):
    """A monthly AWS Budget over the lake's cost (its `project` and `environment` tags)."""

    monthly_limit_usd: float | None = Field(
        250.0,
        gt=0,
        le=1_000_000,
        description="Monthly cost limit in USD; null creates no budget. Filters on the lake's "
        "`project` and `environment` tags: activate them as cost allocation tags in Billing. "
        "The default covers an idle lake with its private VPC (see docs/costs.md).",
    )
    actual_percent: list[Percent] = Field(
        [80, 100],
        description="Notify the alarm topic when the month's actual cost passes these "
        "percentages of the limit.",
    )
    forecasted_percent: list[Percent] = Field(
        [100],
        description="Notify when the month's forecasted cost passes these percentages.",
    )

    @field_validator("actual_percent", "forecasted_percent")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each percentage may appear once")
        return sorted(value)


class ObservabilitySettings(_Section):
    """Logs, alarms, the operations dashboard in CloudWatch and the cost guardrails."""

    log_retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653
    ] = Field(30, description="CloudWatch Logs retention of every log group.")
    alarm_topic_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$",
        description="SNS topic every alarm and the budget notify; null creates "
        "`<project>-<env>-alarms` (encrypted with the lake key). A topic of your own must let "
        "cloudwatch.amazonaws.com and budgets.amazonaws.com publish (and use its key).",
    )
    quarantine_rate_threshold: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Alarm when bronze quarantines more than this share of the rows it read "
        "in an hour (`Rows` quarantined / in).",
    )
    freshness_hours: dict[GlueName, Annotated[int, Field(ge=1, le=168)]] = Field(
        default_factory=dict,
        description="Per table of the domain: alarm when no new raw file of it was registered "
        "for this many hours (1-168).",
    )
    athena_scan_limit_gb: int | None = Field(
        1024,
        ge=1,
        description="Workgroup-wide data usage control: alarm when the consumers' workgroup "
        "scans more than this many GB in `athena_scan_period_hours` (the per-query cutoff is "
        "`gold.athena_bytes_scanned_cutoff_mb`); null: no alarm.",
    )
    athena_scan_period_hours: Literal[1, 6, 12, 24] = Field(
        24, description="The period of `athena_scan_limit_gb`."
    )
    dashboard: bool = Field(
        True, description="A CloudWatch dashboard of the operations panels (metrics only)."
    )
    budget: BudgetSettings = Field(BudgetSettings(), description="The lake's AWS Budget.")
