"""SilverPipeline: scheduled bronze -> silver Iceberg upserts with Spark on EMR Serverless.

    SparkRuntime "silver" (components/spark_runtime.py)
      EMR Serverless application: Spark, capped by silver.emr, starts on demand, stops when idle
      job bundle  artifacts silver/jobs/<sha256>/spark_job.py + silver_job_modules.zip
      job role    read lake bronze/, read/write/delete lake silver/, silver Glue database only
      job logs    /aws/emr-serverless/<project>-<env>-silver-spark
    Lambdas     plan · finish · fail · gold records, one role and one log group each (finish
                and fail publish the tables' files and rows in, in the lake's metric namespace)
    EventBridge Scheduler (silver.schedule, silver.schedule_timezone; DLQ, alarmed)
      └─▶ silver-pipeline state machine (Standard: it waits on the Spark jobs)
            Plan λ: claim pending silver control records, one manifest per table
            ──Choice: no table has changes──▶ done
            ──Map over the tables (MaxConcurrency silver.max_concurrency), per table:
                 Spark merge (emr-serverless:startJobRun.sync) ──Retry──▶ Finish λ ──▶ success
                   └─Catch─▶ Fail λ (records error with the cause) ──▶ Pass: the others carry on
            ──▶ Spark views (Retry): each view's touched partitions ──▶ Gold records λ (one
                pending gold record per replaced view partition)
            ──▶ "SilverPipelineSucceeded" on the lake's bus <project>-<env>-lake (gold
                listens; the bus policy lets only this machine's role put events)
    EventBridge Scheduler (silver.maintenance_schedule, same time zone; DLQ, alarmed)
      └─▶ silver-maintenance state machine ──▶ Spark maintenance (rewrite data files, expire
            snapshots), Retry
    alarms      failed runs, failed maintenance

Start a run by hand (after a backfill, or to test a deployment) with no input::

    aws stepfunctions start-execution \\
      --state-machine-arn "$(pulumi stack output silver_state_machine_arn)"

The Spark job is one entry script, ``workloads/silver/spark_job.py``, run by EMR Serverless'
Python 3.9 with only pyspark and the standard library; the local modules it imports ship in
``silver_job_modules.zip`` (``components/spark_bundle.py``). Its command line, as this
component passes it (``components/silver_machine.py``)::

    --mode merge        --manifest s3://<artifacts>/silver/runs/<run_id>/T.json
    --mode view         --plan s3://<artifacts>/silver/runs/<run_id>/views.json
    --mode maintenance  --target-file-size-mb N --snapshot-retention-days N
                        --min-snapshots-to-keep N            (every table of the database)
    and always          --catalog glue --database <silver database>

The tables and views come from the lake's domain: the Lambdas read it from
``foundation["domain_uri"]`` (``DATALAKE_DOMAIN``), the plan Lambda hands the job each view's
spec and table spec in the views plan.

Retries of the Spark jobs follow the lake-wide workload conventions (``foundation.workloads``:
``max_attempts``, ``retry_interval_seconds``, ``retry_backoff_rate``).
"""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.errors import METRIC_NAMESPACE
from datalake.layout import (
    BRONZE_PREFIX,
    SILVER_EMR_LOGS_PREFIX,
    SILVER_JOBS_PREFIX,
    SILVER_PREFIX,
    SILVER_RUNS_PREFIX,
)
from datalake.runtime import SilverRuntime
from datalake.settings import SilverSettings

from .alarms import executions_failed_alarm
from .code import ROOT
from .foundation import LakeFoundation, alarm_actions, section_settings
from .lake_bus import lake_event_bus
from .layer_parts import LayerParts, invoke_statement
from .options import child_component_options
from .policies import domain_read, metrics_put, s3_read, s3_write
from .silver_machine import maintenance_definition, silver_definition
from .spark_runtime import SparkRuntime
from .spark_tasks import JobRetries

PLAN_HANDLER = "workloads.silver.handlers.plan_handler"
FINISH_HANDLER = "workloads.silver.handlers.finish_handler"
FAIL_HANDLER = "workloads.silver.handlers.fail_handler"
GOLD_RECORDS_HANDLER = "workloads.silver.handlers.gold_records_handler"

SPARK_JOB_ENTRY = ROOT / "workloads" / "silver" / "spark_job.py"
"""The Spark entry script; read when the component is created (tests point it elsewhere)."""
PLAN_MEMORY_MB, PLAN_TIMEOUT_SECONDS = 1024, 300
RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS = 256, 60
"""The finish, fail and gold-records Lambdas only update control records (finish and fail also
publish the table's metrics)."""


class SilverPipelineArgs(TypedDict):
    """Inputs of :class:`SilverPipeline`."""

    foundation: LakeFoundation
    """The lake's foundation: buckets, key, control table, databases, workload conventions."""
    silver: NotRequired[dict[str, Any]]
    """The ``silver`` settings section as JSON (``SilverSettings``; defaults when absent)."""


class SilverPipeline(pulumi.ComponentResource):
    """Spark on EMR Serverless, the pipeline and maintenance machines, their schedules."""

    application_id: pulumi.Output[str]
    """The EMR Serverless application (gold may share it)."""
    application_arn: pulumi.Output[str]
    """Its ARN."""
    job_role_arn: pulumi.Output[str]
    """The silver Spark job's runtime role."""
    job_entry_point: pulumi.Output[str]
    """``s3://`` URI of the uploaded Spark entry script."""
    state_machine_arn: pulumi.Output[str]
    """The silver pipeline state machine."""
    maintenance_state_machine_arn: pulumi.Output[str]
    """The table maintenance state machine."""
    start_role_arns: pulumi.Output[list[str]]
    """Roles the schedules assume to start the machines (they can decrypt with the lake key)."""
    event_bus_name: pulumi.Output[str]
    """The lake's EventBridge bus: the pipeline publishes its success there (gold listens)."""
    event_bus_arn: pulumi.Output[str]
    """Its ARN."""

    def __init__(
        self, name: str, args: SilverPipelineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:SilverPipeline", name, None, opts)
        foundation = args["foundation"]
        silver = section_settings(SilverSettings, "silver", args.get("silver"))
        retries = JobRetries.of(foundation["workloads"])
        parts = self._parts = LayerParts(self, name, "silver", foundation)

        # --- Spark: the application, the job role, its logs and code ------------------------
        self.spark = SparkRuntime(
            name,
            {
                "foundation": foundation,
                "layer": "silver",
                "entry_script": str(SPARK_JOB_ENTRY),
                "code_prefix": SILVER_JOBS_PREFIX,
                "manifests_prefix": SILVER_RUNS_PREFIX,
                "event_logs_prefix": SILVER_EMR_LOGS_PREFIX,
                "reads": [{"prefix": BRONZE_PREFIX}],
                "writes": {"prefix": SILVER_PREFIX, "database": foundation["silver_database_name"]},
                "emr": silver.emr.model_dump(mode="json"),
            },
            child_component_options(self),
        )

        # --- Lambdas: plan, finish, fail, gold records --------------------------------------
        self.plan, self.finish, self.fail, self.gold_records = self._functions(silver)

        # --- the lake's bus: only the pipeline publishes on it (gold listens) -----------------
        self.event_bus = lake_event_bus(
            self,
            f"{name}-lake-bus",
            names=parts.names,
            account=parts.account,
            publisher="silver-pipeline",
            layer="silver",
        )

        # --- the pipeline state machine, its schedule ---------------------------------------
        functions = [self.plan, self.finish, self.fail, self.gold_records]
        job = self.spark.job()
        self.state_machine = parts.machine(
            "silver-pipeline",
            [
                invoke_statement("InvokeSilverFunctions", functions),
                *self.spark.run_statements(),
                {
                    "Sid": "PublishSucceeded",
                    "Effect": "Allow",
                    "Action": "events:PutEvents",
                    "Resource": self.event_bus.arn,
                },
            ],
            pulumi.Output.all(*(f.arn for f in functions), job, self.event_bus.name).apply(
                lambda v: silver_definition(
                    plan_function_arn=v[0],
                    finish_function_arn=v[1],
                    fail_function_arn=v[2],
                    gold_records_function_arn=v[3],
                    job=v[4],
                    max_concurrency=silver.max_concurrency,
                    retries=retries,
                    event_bus_name=v[5],
                ).to_json(parts.names.partition)
            ),
        )
        timezone = silver.schedule_timezone
        self._schedule(
            "silver-pipeline",
            "Runs the silver pipeline",
            self.state_machine,
            silver.schedule,
            timezone,
        )

        # --- maintenance: compaction and snapshot expiry, weekly ----------------------------
        self.maintenance_state_machine = parts.machine(
            "silver-maintenance",
            self.spark.run_statements(),
            job.apply(
                lambda j: maintenance_definition(
                    job=j,
                    target_file_size_mb=silver.target_file_size_mb,
                    snapshot_retention_days=silver.snapshot_retention_days,
                    min_snapshots_to_keep=silver.min_snapshots_to_keep,
                    retries=retries,
                ).to_json(parts.names.partition)
            ),
        )
        self._schedule(
            "silver-maintenance",
            "Compacts the silver tables and expires old snapshots",
            self.maintenance_state_machine,
            silver.maintenance_schedule,
            timezone,
        )

        # --- alarms -------------------------------------------------------------------------
        for purpose, machine in (
            ("failed-runs", self.state_machine),
            ("failed-maintenance", self.maintenance_state_machine),
        ):
            executions_failed_alarm(
                self,
                f"{name}-{purpose}-alarm",
                name=parts.names.resource(f"silver-{purpose}"),
                description=f"Silver state machine executions failed ({purpose})",
                machine=machine,
                actions=alarm_actions(foundation["lake"]),
                layer="silver",
            )

        self.application_id = self.spark.application_id
        self.application_arn = self.spark.application_arn
        self.job_role_arn = self.spark.job_role_arn
        self.job_entry_point = self.spark.job_entry_point
        self.state_machine_arn = self.state_machine.arn
        self.maintenance_state_machine_arn = self.maintenance_state_machine.arn
        self.start_role_arns = parts.start_role_arns()
        self.event_bus_name = self.event_bus.name
        self.event_bus_arn = self.event_bus.arn
        self.register_outputs(
            {
                "event_bus_name": self.event_bus_name,
                "event_bus_arn": self.event_bus_arn,
                "start_role_arns": self.start_role_arns,
                "application_id": self.application_id,
                "application_arn": self.application_arn,
                "job_role_arn": self.job_role_arn,
                "job_entry_point": self.job_entry_point,
                "state_machine_arn": self.state_machine_arn,
                "maintenance_state_machine_arn": self.maintenance_state_machine_arn,
            }
        )

    def _functions(self, silver: SilverSettings) -> tuple[aws.lambda_.Function, ...]:
        """Plan, finish, fail and gold records: one role and log group each, one environment."""
        parts = self._parts
        foundation, workloads = parts.foundation, parts.foundation["workloads"]
        environment = pulumi.Output.all(
            foundation["control_table_name"],
            foundation["lake_bucket_name"],
            foundation["artifacts_bucket_name"],
            foundation["domain_uri"],
        ).apply(
            lambda v: SilverRuntime(
                control_table=v[0],
                lake_bucket=v[1],
                artifacts_bucket=v[2],
                domain_uri=v[3],
                max_attempts=workloads["max_attempts"],
                lease_seconds=workloads["lease_seconds"],
                target_file_size_mb=silver.target_file_size_mb,
                snapshot_retention_days=silver.snapshot_retention_days,
                min_snapshots_to_keep=silver.min_snapshots_to_keep,
            ).to_environment()
        )
        runs = foundation["artifacts_bucket_arn"]
        records = {"memory_mb": RECORD_MEMORY_MB, "timeout_seconds": RECORD_TIMEOUT_SECONDS}
        plan = parts.function(
            "silver-plan",
            "Claims pending silver records, writes one manifest per table and the views plan",
            PLAN_HANDLER,
            environment,
            [
                s3_write(runs, [SILVER_RUNS_PREFIX], "WriteManifests"),
                domain_read(foundation["artifacts_bucket_arn"]),  # the tables and views
            ],
            memory_mb=PLAN_MEMORY_MB,
            timeout_seconds=PLAN_TIMEOUT_SECONDS,
        )
        finish = parts.function(
            "silver-finish",
            "Marks a merged table's silver records success",
            FINISH_HANDLER,
            environment,
            [metrics_put(METRIC_NAMESPACE)],  # the table's files and rows in
            **records,
        )
        fail = parts.function(
            "silver-fail",
            "Marks a failed table's silver records error",
            FAIL_HANDLER,
            environment,
            [metrics_put(METRIC_NAMESPACE)],  # the table's files in error
            **records,
        )
        gold_records = parts.function(
            "silver-gold-records",
            "Registers a pending gold record per replaced view partition",
            GOLD_RECORDS_HANDLER,
            environment,
            [
                s3_read(runs, [SILVER_RUNS_PREFIX], "ReadPartitions"),
                {
                    "Sid": "ListPartitions",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": runs,
                    "Condition": {"StringLike": {"s3:prefix": [f"{SILVER_RUNS_PREFIX}*"]}},
                },
            ],
            **records,
        )
        return plan, finish, fail, gold_records

    def _schedule(
        self,
        purpose: str,
        description: str,
        machine: aws.sfn.StateMachine,
        expression: str,
        timezone: str,
    ) -> None:
        """Start ``machine`` on ``expression`` in ``timezone``, with a role that only can."""
        self._parts.scheduled_start(
            purpose,
            description,
            machine,
            expression=expression,
            timezone=timezone,
            sid="StartExecution",
        )


__all__ = ["SilverPipeline", "SilverPipelineArgs"]
