"""GoldMart: monthly marts on Spark after each silver run, and PII-free access through Athena.

    SparkRuntime "gold" (components/spark_runtime.py)
      compute     the application passed in (spark_application_id/_arn: silver's, shared),
                  or its own with the ``emr`` settings
      job bundle  artifacts gold/jobs/<sha256>/spark_job.py + gold_job_modules.zip
      job role    read lake silver/, read/write/delete lake gold/; Glue: read the silver
                  database, read/write the gold database; nothing on bronze
    Lambdas     plan · finish · fail, one role and one log group each
    EventBridge rule on the lake's bus (components/gold_starts.py): source datalake.silver,
      detail-type SilverPipelineSucceeded, this lake's silver database; DLQ ─┐
    EventBridge Scheduler (gold.schedule, optional; DLQ) ────────────────────┴─▶ gold-marts
      state machine (Standard); each DLQ alarms when it is not empty
            Plan λ: claim the pending gold records (one per changed view partition), write the
              manifest (marts' SQL, each view's partitions), return the marts of those views
            ──Choice: nothing to build──▶ done
            ──Map over those marts of the domain (MaxConcurrency gold.max_concurrency), per mart:
                 Spark (emr-serverless:startJobRun.sync) --mode marts --mart M
                   ──Retry──▶ success
                   └─Catch─▶ the failure is kept in the Map output; the other marts carry on
            ──Choice: a mart failed──▶ Fail λ (records error, naming every failed mart) ──▶ Fail
            ──▶ Finish λ (records success)
    Athena workgroup gold-consumers (components/gold_athena.py): engine v3, configuration
      enforced, results SSE-KMS (lake key) in observer/athena-results/, per-query scan cutoff;
      one named query per mart of the domain
    Lake Formation  the three databases tagged with the layer LF-Tag (governance's), the gold
                database also classification = internal
    GoldConsumerAccess (components/gold_access.py): the consumer role, the optional demo user,
      their policy and PII-free, gold-only Lake Formation grants

Start a run by hand (after a backfill, or to test a deployment) with no input::

    aws stepfunctions start-execution \\
      --state-machine-arn "$(pulumi stack output gold_state_machine_arn)"

With nothing pending the run ends at once; every run rebuilds exactly the view partitions of
the gold records it claims, in the marts of those views, so starting one twice is harmless.

The marts come from the lake's domain (``foundation["domain"]``, the canonical document): the
component refuses a domain whose marts would publish a PII column, declares their named
queries, and hands the plan Lambda the domain's URI (``DATALAKE_DOMAIN``), from which it
renders each mart's SQL at run time.

**The gold tables are not declared here.** They are Iceberg tables that the gold Spark job
creates and evolves from the mart declarations (columns, partitioned by the period columns of
the mart's source view), like the silver job does for silver: a Glue Iceberg table resource cannot
declare the Iceberg partition spec and only writes metadata when it is created, so a column
added to a mart would never reach the table. The tables inherit the gold database's LF-Tags
(``layer=gold``, ``classification=internal``), so the consumer grants cover every mart,
including new ones, with no change here. Because columns inherit ``internal``, the component
refuses a mart that would publish a column classified ``pii`` (``components/gold_queries.py``).

The Spark job's command line, as this component passes it (``components/gold_machine.py``)::

    --mode marts --mart M --manifest s3://<artifacts>/gold/runs/…
    --source-database <silver database>
    --catalog glue --database <gold database>
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi

from datalake.layout import (
    GOLD_EMR_LOGS_PREFIX,
    GOLD_JOBS_PREFIX,
    GOLD_PREFIX,
    GOLD_RUNS_PREFIX,
    SILVER_PREFIX,
)
from datalake.runtime import GoldRuntime
from datalake.settings import GoldSettings

from .alarms import executions_failed_alarm
from .code import ROOT
from .foundation import (
    LakeFoundation,
    alarm_actions,
    foundation_domain,
    lf_tag_key,
    section_settings,
)
from .gold_access import GoldConsumerAccess
from .gold_athena import consumer_workgroup
from .gold_machine import gold_definition
from .gold_queries import (
    check_no_pii_columns,
    example_queries_markdown,
    example_query,
)
from .gold_starts import after_silver, silver_succeeded_pattern
from .layer_parts import LayerParts, invoke_statement
from .layer_tags import tag_databases_by_layer
from .options import child_component_options
from .policies import domain_read, s3_write
from .spark_runtime import SparkRuntime, SparkRuntimeArgs
from .spark_tasks import JobRetries

PLAN_HANDLER = "workloads.gold.handlers.plan_handler"
FINISH_HANDLER = "workloads.gold.handlers.finish_handler"
FAIL_HANDLER = "workloads.gold.handlers.fail_handler"

SPARK_JOB_ENTRY = ROOT / "workloads" / "gold" / "spark_job.py"
"""The gold Spark entry script; read when the component is created (tests point it elsewhere)."""
PLAN_MEMORY_MB, PLAN_TIMEOUT_SECONDS = 512, 300
RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS = 256, 60


class GoldMartArgs(TypedDict):
    """Inputs of :class:`GoldMart`."""

    foundation: LakeFoundation
    """The lake's foundation: buckets, key, control table, databases, workload conventions."""
    gold: NotRequired[dict[str, Any]]
    """The ``gold`` settings section as JSON (``GoldSettings``; defaults when absent)."""
    spark_application_id: NotRequired[pulumi.Input[str]]
    """The EMR Serverless application to share (silver's), used when
    ``gold.reuse_silver_application`` is true (the default)."""
    spark_application_arn: NotRequired[pulumi.Input[str]]
    """That application's ARN."""
    emr: NotRequired[dict[str, Any]]
    """Settings of gold's own application (``EmrServerlessSettings`` as JSON), used when
    ``gold.reuse_silver_application`` is false (``job_timeout_minutes`` always); the program
    passes ``silver.emr``."""
    schedule_timezone: NotRequired[str]
    """IANA time zone of ``gold.schedule`` (the program passes ``silver.schedule_timezone``)."""
    target_file_size_mb: NotRequired[int]
    """Iceberg target file size of the marts (the program passes ``silver``'s); default 128."""
    consumers: NotRequired[list[str]]
    """IAM principals allowed to assume the consumer role (``governance.consumers``)."""
    layer_tag_key: NotRequired[pulumi.Input[str]]
    """Key of governance's ``layer`` LF-Tag (default ``layer``)."""
    classification_tag_key: NotRequired[pulumi.Input[str]]
    """Key of the PII masker's ``classification`` LF-Tag (default ``classification``)."""
    event_bus_name: NotRequired[pulumi.Input[str]]
    """The lake's event bus silver publishes on (``SilverPipeline.event_bus_name``: pass it,
    so the rule waits for the bus); default its name, ``<project>-<env>-lake``."""
    grafana_data_source: NotRequired[bool]
    """Tag the workgroup ``GrafanaDataSource: true`` (the program passes
    ``dashboards.enabled``): how Amazon Managed Grafana finds the workgroups it may use."""


class GoldMart(pulumi.ComponentResource):
    """The gold Spark job and its state machine, its starts, the Athena workgroup, consumers."""

    state_machine_arn: pulumi.Output[str]
    """The gold-marts state machine."""
    application_id: pulumi.Output[str]
    """The EMR Serverless application gold runs on."""
    job_role_arn: pulumi.Output[str]
    """The gold Spark job's runtime role."""
    workgroup_name: pulumi.Output[str]
    """The consumers' Athena workgroup."""
    consumer_role_arn: pulumi.Output[str]
    """The role consumers assume to query gold."""
    demo_user_name: pulumi.Output[str]
    """The demo user (registered only with ``gold.demo_user``)."""
    start_role_arns: pulumi.Output[list[str]]
    """Roles EventBridge (and the optional schedule) assume to start the gold machine."""

    def __init__(
        self, name: str, args: GoldMartArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:GoldMart", name, None, opts)
        foundation = args["foundation"]
        domain = foundation_domain(foundation)
        check_no_pii_columns(domain.marts)
        gold = section_settings(GoldSettings, "gold", args.get("gold"))
        parts = self._parts = LayerParts(self, name, "gold", foundation)
        silver_database = foundation["silver_database_name"]

        # --- Spark: gold's job on the shared (or its own) application -----------------------
        self.spark = SparkRuntime(
            name, spark_runtime_args(args, gold), child_component_options(self)
        )

        # --- Lambdas: plan, finish, fail ----------------------------------------------------
        workloads = foundation["workloads"]
        file_size = args.get("target_file_size_mb", 128)
        environment = pulumi.Output.all(
            foundation["control_table_name"],
            foundation["artifacts_bucket_name"],
            foundation["domain_uri"],
        ).apply(
            lambda v: GoldRuntime(
                control_table=v[0],
                artifacts_bucket=v[1],
                domain_uri=v[2],
                max_attempts=workloads["max_attempts"],
                lease_seconds=workloads["lease_seconds"],
                target_file_size_mb=file_size,
            ).to_environment()
        )
        records = {"memory_mb": RECORD_MEMORY_MB, "timeout_seconds": RECORD_TIMEOUT_SECONDS}
        self.plan = parts.function(
            "gold-plan",
            "Claims pending gold records and writes the run's manifest of marts",
            PLAN_HANDLER,
            environment,
            [
                s3_write(foundation["artifacts_bucket_arn"], [GOLD_RUNS_PREFIX], "WriteManifests"),
                domain_read(foundation["artifacts_bucket_arn"]),  # renders the marts' SQL
            ],
            memory_mb=PLAN_MEMORY_MB,
            timeout_seconds=PLAN_TIMEOUT_SECONDS,
        )
        self.finish = parts.function(
            "gold-finish",
            "Marks a gold run's records success",
            FINISH_HANDLER,
            environment,
            [],
            **records,
        )
        self.fail = parts.function(
            "gold-fail",
            "Marks a failed gold run's records error with the cause",
            FAIL_HANDLER,
            environment,
            [],
            **records,
        )

        # --- the state machine and its alarm ------------------------------------------------
        functions = [self.plan, self.finish, self.fail]
        self.state_machine = parts.machine(
            "gold-marts",
            [invoke_statement("InvokeGoldFunctions", functions), *self.spark.run_statements()],
            pulumi.Output.all(*(f.arn for f in functions), self.spark.job(), silver_database).apply(
                lambda v: gold_definition(
                    plan_function_arn=v[0],
                    finish_function_arn=v[1],
                    fail_function_arn=v[2],
                    job=v[3],
                    source_database=v[4],
                    max_concurrency=gold.max_concurrency,
                    retries=JobRetries.of(workloads),
                ).to_json(parts.names.partition)
            ),
        )
        executions_failed_alarm(
            self,
            f"{name}-failed-runs-alarm",
            name=parts.names.resource("gold-failed-runs"),
            description="Gold state machine executions failed (a mart could not be built)",
            machine=self.state_machine,
            actions=alarm_actions(foundation["lake"]),
            layer="gold",
        )

        # --- starts: after each successful silver run, and on the optional schedule ---------
        self.after_silver = after_silver(
            self,
            parts,
            machine=self.state_machine,
            silver_database=silver_database,
            event_bus_name=args.get("event_bus_name", parts.names.event_bus),
        )
        if gold.schedule:
            parts.scheduled_start(
                "gold-marts",
                "Runs the gold marts on a schedule (besides after each silver run)",
                self.state_machine,
                expression=gold.schedule,
                timezone=args.get("schedule_timezone", "UTC"),
                sid="StartGoldRun",
                input_json=json.dumps({"trigger": "schedule"}),
                logical=f"{name}-schedule",
            )

        # --- Athena, the databases' LF-Tags, the consumers ----------------------------------
        self.workgroup = consumer_workgroup(
            self, parts, gold, domain, grafana=args.get("grafana_data_source", False)
        )
        classification_key = args.get(
            "classification_tag_key", lf_tag_key(foundation["lake"], "classification")
        )
        tagged = tag_databases_by_layer(
            self,
            name,
            foundation,
            layer_tag_key=args.get("layer_tag_key", lf_tag_key(foundation["lake"], "layer")),
            classification_tag_key=classification_key,
        )
        self.access = GoldConsumerAccess(
            name,
            {
                "foundation": foundation,
                "workgroup_name": self.workgroup.name,
                "layer_tag_key": tagged,
                "classification_tag_key": classification_key,
                "consumers": list(args.get("consumers", [])),
                "demo_user": gold.demo_user,
            },
            child_component_options(self),
        )

        self.state_machine_arn = self.state_machine.arn
        self.application_id = self.spark.application_id
        self.job_role_arn = self.spark.job_role_arn
        self.workgroup_name = self.workgroup.name
        self.consumer_role_arn = self.access.consumer_role_arn
        self.demo_user_name = self.access.demo_user_name
        self.start_role_arns = self._parts.start_role_arns()
        outputs: dict[str, Any] = {
            "start_role_arns": self.start_role_arns,
            "state_machine_arn": self.state_machine_arn,
            "application_id": self.application_id,
            "job_role_arn": self.job_role_arn,
            "workgroup_name": self.workgroup_name,
            "consumer_role_arn": self.consumer_role_arn,
        }
        if gold.demo_user:
            outputs["demo_user_name"] = self.demo_user_name
        self.register_outputs(outputs)


def spark_runtime_args(args: GoldMartArgs, gold: GoldSettings) -> SparkRuntimeArgs:
    """Gold's Spark runtime: reads silver (files and tables), writes gold; on the application
    passed in when ``gold.reuse_silver_application``, else on its own."""
    foundation = args["foundation"]
    runtime = SparkRuntimeArgs(
        foundation=foundation,
        layer="gold",
        entry_script=str(SPARK_JOB_ENTRY),
        code_prefix=GOLD_JOBS_PREFIX,
        manifests_prefix=GOLD_RUNS_PREFIX,
        event_logs_prefix=GOLD_EMR_LOGS_PREFIX,
        reads=[{"prefix": SILVER_PREFIX, "database": foundation["silver_database_name"]}],
        writes={
            "prefix": GOLD_PREFIX,
            "database": foundation["gold_database_name"],
            "list_partitions": True,
        },
    )
    runtime["emr"] = dict(args.get("emr", {}))  # its job timeout applies on a shared one too
    if not gold.reuse_silver_application:
        return runtime
    if "spark_application_id" not in args or "spark_application_arn" not in args:
        raise ValueError(
            "gold.reuse_silver_application is true: pass the silver application's "
            "id and ARN (GoldMartArgs spark_application_id / spark_application_arn)"
        )
    runtime["application_id"] = args["spark_application_id"]
    runtime["application_arn"] = args["spark_application_arn"]
    return runtime


__all__ = [
    "GoldMart",
    "GoldMartArgs",
    "check_no_pii_columns",
    "example_queries_markdown",
    "example_query",
    "silver_succeeded_pattern",
]
