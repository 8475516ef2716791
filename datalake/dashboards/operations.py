"""The operations dashboard: files, rows, quarantine, duplicates, failures, durations, costs.

Every panel has a CloudWatch ``metric`` (what it shows on AWS) and, where the local run has the
data, ``local``: SQL over the DuckDB views ``control`` (the control records), ``quarantine_rules``
(their quarantined rows per rule: ``table_name, rule, rows_quarantined``) and ``stages`` (the
run's timings, ``stage, seconds``). The metrics are those AWS publishes (Step Functions,
Athena, Firehose) and the lake's own, in :data:`~datalake.errors.METRIC_NAMESPACE`.

The lake's own metrics (declared in :mod:`datalake.errors`, emitted by the workloads through
``workloads/shared/metrics.py``): ``IngestAttemptsExhausted`` and :data:`LAKE_METRICS`
(``Files``, ``Rows``, ``QuarantineReasons``, ``DuplicateFiles``), with the dimensions each
panel reads. The local report computes the same panels from the control records.
"""

from __future__ import annotations

from datalake.control_encoding import ControlStatus
from datalake.dashboards.model import ANY_VALUE, Dashboard, MetricQuery, Panel, Row, SqlQuery
from datalake.domain import Domain
from datalake.errors import (
    DUPLICATES_METRIC,
    EXHAUSTED_METRIC,
    FILES_METRIC,
    METRIC_NAMESPACE,
    QUARANTINE_REASONS_METRIC,
    ROWS_METRIC,
)
from datalake.naming import Layer

EMR_JOB_RUN = "arn:aws:states:::emr-serverless:startJobRun.sync"
"""The Step Functions integration that runs every Spark job (its run time is the job's)."""
SPARK_LAYERS = (Layer.SILVER.value, Layer.GOLD.value)
"""The layers whose jobs EMR Serverless runs on AWS (local stages of the same names)."""
ROW_COUNTS = ("rows_in", "rows_written", "rows_quarantined", "rows_skipped")


def _lake(metric: str, *dimensions: str) -> MetricQuery:
    return MetricQuery(
        namespace=METRIC_NAMESPACE,
        metric=metric,
        dimensions=tuple((d, ANY_VALUE) for d in dimensions),
    )


def _state_machines(metric: str, statistic: str = "Sum") -> MetricQuery:
    return MetricQuery(
        namespace="AWS/States",
        metric=metric,
        statistic=statistic,
        dimensions=(("StateMachineArn", ANY_VALUE),),
    )


def files_panel() -> Panel:
    """Files (control records) per layer and status."""
    counts = ", ".join(
        f"count(*) FILTER (WHERE status = '{s.value}') AS {s.value}" for s in ControlStatus
    )
    return Panel(
        key="operations.files",
        title="Files per layer and status",
        visual="bar",
        metric=_lake(FILES_METRIC, "Layer", "Status"),
        local=SqlQuery(
            sql=f"SELECT layer, {counts}\nFROM control\nGROUP BY layer\nORDER BY layer",
            label_column="layer",
            value_columns=tuple(s.value for s in ControlStatus),
        ),
        unit="short",
        description="Control records (one per file and target layer) by status.",
    )


def rows_panel() -> Panel:
    """Rows in, written, quarantined and skipped per layer and status."""
    sums = ", ".join(f"sum(coalesce({c}, 0)) AS {c}" for c in ROW_COUNTS)
    return Panel(
        key="operations.rows",
        title="Rows per layer and status",
        visual="bar",
        metric=_lake(ROWS_METRIC, "Layer", "Outcome"),
        local=SqlQuery(
            sql=(
                f"SELECT layer || ' ' || status AS layer_status, {sums}\n"
                "FROM control\nGROUP BY layer, status\nORDER BY layer_status"
            ),
            label_column="layer_status",
            value_columns=ROW_COUNTS,
        ),
        unit="short",
        description="Rows read, written, quarantined and skipped (records that are no rows "
        "of a table, e.g. DMS control records); rows in = written + quarantined + skipped.",
    )


def quarantine_panel() -> Panel:
    """Rows quarantined by bronze, per table and rule (a reason without its value)."""
    return Panel(
        key="operations.quarantine",
        title="Quarantined rows by table and reason",
        visual="bar",
        metric=_lake(QUARANTINE_REASONS_METRIC, "Table", "Rule"),
        local=SqlQuery(
            sql=(
                "SELECT table_name || ' - ' || rule AS table_rule, table_name, rule,\n"
                "sum(rows_quarantined) AS rows_quarantined\nFROM quarantine_rules\n"
                "GROUP BY table_name, rule\nORDER BY rows_quarantined DESC, table_rule"
            ),
            label_column="table_rule",
            value_columns=("rows_quarantined",),
        ),
        unit="short",
        description="Rows bronze set aside under quarantine/, per table and reason. A reason "
        "is shown as its rule, without the value it may quote (`amount: ... is below the "
        "minimum 0`); a row that broke two rules counts under both, and a file's rules beyond "
        "its 20 most frequent under `other`. The reasons themselves are in the quarantine "
        "objects.",
    )


def duplicates_panel() -> Panel:
    """Files skipped as duplicates of a file already ingested."""
    return Panel(
        key="operations.duplicates",
        title="Duplicate files skipped",
        visual="stat",
        metric=_lake(DUPLICATES_METRIC, "Table"),
        local=SqlQuery(
            sql=(
                "SELECT count(*) AS duplicate_files\nFROM control\n"
                f"WHERE status = '{ControlStatus.DUPLICATE.value}'"
            ),
            value_columns=("duplicate_files",),
        ),
        unit="short",
        description="Files whose content (table and checksum) was already ingested.",
    )


def failures_panel() -> Panel:
    """Files in error and retries per layer; failed executions per state machine on AWS."""
    return Panel(
        key="operations.failures",
        title="Failures and retries",
        visual="bar",
        metric=_state_machines("ExecutionsFailed"),
        local=SqlQuery(
            sql=(
                f"SELECT layer, count(*) FILTER (WHERE status = '{ControlStatus.ERROR.value}')"
                " AS failed_files, sum(greatest(coalesce(attempts, 0) - 1, 0)) AS retries\n"
                "FROM control\nGROUP BY layer\nORDER BY layer"
            ),
            label_column="layer",
            value_columns=("failed_files", "retries"),
        ),
        unit="short",
        description="On AWS: failed executions per state machine. Locally: files in error and "
        "attempts beyond the first, per layer.",
    )


def exhausted_panel() -> Panel:
    """Files that stay in error for good."""
    return Panel(
        key="operations.exhausted",
        title="Files out of attempts",
        visual="stat",
        metric=_lake(EXHAUSTED_METRIC, "Table"),
        local=SqlQuery(
            sql=(
                "SELECT count(*) AS files_in_error\nFROM control\n"
                f"WHERE status = '{ControlStatus.ERROR.value}'"
            ),
            value_columns=("files_in_error",),
        ),
        unit="short",
        description="Files left in error (attempts used up, or not retryable): they stay in "
        "raw until fixed and retried (`datalake retry`).",
    )


def stages_panel() -> Panel:
    """How long each stage takes."""
    return Panel(
        key="operations.stages",
        title="Stage durations",
        visual="bar",
        metric=_state_machines("ExecutionTime", "Average"),
        local=SqlQuery(
            sql="SELECT stage, seconds * 1000 AS milliseconds\nFROM stages",
            label_column="stage",
            value_columns=("milliseconds",),
        ),
        unit="ms",
        description="On AWS: mean execution time per state machine. Locally: each stage of "
        "the run.",
    )


def emr_jobs_panel() -> Panel:
    """How long the Spark jobs take."""
    layers = ", ".join(f"'{layer}'" for layer in SPARK_LAYERS)
    return Panel(
        key="operations.emr_jobs",
        title="EMR job durations",
        visual="bar",
        metric=MetricQuery(
            namespace="AWS/States",
            metric="ServiceIntegrationRunTime",
            statistic="Average",
            dimensions=(("ServiceIntegrationResourceArn", EMR_JOB_RUN),),
        ),
        local=SqlQuery(
            sql=(
                "SELECT stage, seconds * 1000 AS milliseconds\nFROM stages\n"
                f"WHERE stage IN ({layers})"
            ),
            label_column="stage",
            value_columns=("milliseconds",),
        ),
        unit="ms",
        description="On AWS: mean run time of the EMR Serverless job runs the state machines "
        "start. Locally: the silver and gold stages, which those jobs run on AWS.",
    )


def athena_panel() -> Panel:
    """Bytes Athena scanned in the lake's workgroup (what Athena bills)."""
    return Panel(
        key="operations.athena_bytes",
        title="Athena bytes scanned",
        visual="timeseries",
        metric=MetricQuery(
            namespace="AWS/Athena",
            metric="ProcessedBytes",
            dimensions=(("WorkGroup", "{workgroup}"),),
        ),
        unit="bytes",
        description="Bytes scanned by the queries of the lake's workgroup (AWS only).",
    )


def firehose_panels() -> tuple[Panel, ...]:
    """Delivery to S3 of the streaming path: success rate and freshness (AWS only)."""
    stream = (("DeliveryStreamName", ANY_VALUE),)
    return (
        Panel(
            key="operations.firehose_delivery",
            title="Firehose delivery to S3 (success rate)",
            visual="timeseries",
            metric=MetricQuery(
                "AWS/Firehose", "DeliveryToS3.Success", "Average", dimensions=stream
            ),
            unit="percentunit",
            description="Share of delivery attempts to S3 that succeeded; below 1 means "
            "delivery errors (records then land under stream-errors/).",
        ),
        Panel(
            key="operations.firehose_freshness",
            title="Firehose data freshness",
            visual="timeseries",
            metric=MetricQuery(
                "AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", dimensions=stream
            ),
            unit="s",
            description="Age of the oldest record not yet delivered to S3.",
        ),
    )


def operations_dashboard(domain: Domain, *, streaming: bool) -> Dashboard:
    """The pipeline's dashboard; the Firehose panels only when changes are streamed."""
    rows = [
        Row(
            "Files and rows", (files_panel(), rows_panel(), quarantine_panel(), duplicates_panel())
        ),
        Row("Failures and retries", (failures_panel(), exhausted_panel())),
        Row("Durations", (stages_panel(), emr_jobs_panel())),
        Row("Cost", (athena_panel(),)),
    ]
    if streaming:
        rows.append(Row("Streaming", firehose_panels()))
    return Dashboard(
        key="operations",
        title=f"{domain.name}: operations",
        rows=tuple(rows),
        description="The pipeline from raw to gold: files, rows, quarantine, duplicates, "
        "failures, durations and Athena scans.",
    )
