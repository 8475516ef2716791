"""SilverPipeline: scheduled bronze -> silver Iceberg upserts with Spark on EMR Serverless.

    log groups (lake key, retention from settings): Spark jobs, the three Lambdas, both machines
    EMR Serverless application: Spark, capped by settings, starts on demand, stops when idle
    job bundle  artifacts silver/jobs/<sha256>/spark_job.py + silver_job_modules.zip (--py-files)
    job role    read lake bronze/, read/write/delete lake silver/, silver Glue database only
    Lambdas     plan · finish · fail, one role each
    EventBridge Scheduler (silver.schedule, silver.schedule_timezone)
      └─▶ silver-pipeline state machine (Standard: it waits on the Spark jobs)
            Plan λ: claim pending silver control records, one manifest per table
            ──Choice: no table has changes──▶ done
            ──Map over the tables (MaxConcurrency silver.max_concurrency), per table:
                 Spark merge (emr-serverless:startJobRun.sync) ──Retry──▶ Finish λ ──▶ success
                   └─Catch─▶ Fail λ (records error with the cause) ──▶ Pass: the others carry on
            ──▶ Spark review_flat (Retry) ──▶ EventBridge "SilverPipelineSucceeded" (gold listens)
    EventBridge Scheduler (silver.maintenance_schedule, same time zone)
      └─▶ silver-maintenance state machine ──▶ Spark maintenance (rewrite data files, expire
            snapshots), Retry

Start a run by hand (after a backfill, or to test a deployment) with no input::

    aws stepfunctions start-execution \\
      --state-machine-arn "$(pulumi stack output silver_state_machine_arn)"

The Spark job is one entry script, ``workloads/silver/spark_job.py``, run by EMR Serverless'
Python 3.9 with only pyspark and the standard library. The local modules it imports (flat,
``import spark_session``, or by package, ``from workloads.silver import spark_session``) ship in
``silver_job_modules.zip``; modules it does not import (the Lambda handlers, the pyiceberg
engine) never reach EMR. Its command line, as this component passes it:

    --mode merge        --table T --manifest s3://<artifacts>/silver/runs/<run_id>/T.json
    --mode review_flat  --changes '<the plan's review_flat object, as JSON>'
    --mode maintenance  --target-file-size-mb N --snapshot-retention-days N
                        --min-snapshots-to-keep N            (every table of the database)
    and always          --catalog glue --database <silver database> --warehouse s3://<lake>/silver/

Retries of the Spark jobs use the ingestion retry settings (``ingestion.max_attempts``,
``retry_interval_seconds``, ``retry_backoff_rate``): one policy for every job of the lake.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.code import ROOT, lambda_code
from components.lambda_bundle import FILE_MODE, ZIP_COMPRESSLEVEL, ZIP_DATE_TIME
from components.options import child_options
from components.policies import (
    control_table_access,
    kms_use,
    logs_write,
    s3_read,
    s3_write,
    state_machine_log_delivery,
)
from components.workloads import (
    regional_arn,
    s3_uri,
    standard_state_machine,
    workload_log_group,
    workload_role,
)
from datalake.layout import BRONZE_PREFIX
from datalake.naming import layer_tags
from datalake.settings import EmrServerlessSettings, LakeSettings

PLAN_HANDLER = "workloads.silver.handlers.plan_handler"
FINISH_HANDLER = "workloads.silver.handlers.finish_handler"
FAIL_HANDLER = "workloads.silver.handlers.fail_handler"
GOLD_RECORDS_HANDLER = "workloads.silver.handlers.gold_records_handler"

SILVER_WORKLOADS = ROOT / "workloads" / "silver"
SPARK_JOB_ENTRY = SILVER_WORKLOADS / "spark_job.py"
"""The Spark entry script; read when the component is created (tests point it elsewhere)."""
JOB_MODULES_ZIP = "silver_job_modules.zip"
SILVER_PREFIX = "silver/"
JOBS_PREFIX = "silver/jobs/"
RUNS_PREFIX = "silver/runs/"
EMR_LOGS_PREFIX = "emr-logs/silver/"

ICEBERG_CATALOG = "glue"
ICEBERG_RUNTIME_JAR = "/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"
"""Where EMR releases ship the Iceberg Spark runtime."""
EVENT_SOURCE = "datalake.silver"
SUCCEEDED_DETAIL_TYPE = "SilverPipelineSucceeded"
SYNC_JOB_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
"""The managed EventBridge rule Step Functions creates to wait on EMR Serverless job runs."""

NOT_RETRYABLE_JOB_ERRORS = (
    # The request itself is wrong (bad parameters, missing application, missing permission):
    # a retry fails the same way; the table's records are marked error at once.
    "EMRServerless.ValidationException",
    "EMRServerless.ResourceNotFoundException",
    "EMRServerless.AccessDeniedException",
    "States.Permissions",
)
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
PLAN_MEMORY_MB, PLAN_TIMEOUT_SECONDS = 1024, 300
RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS = 256, 60
"""The finish and fail Lambdas only update control records."""


@dataclass
class SilverPipelineArgs:
    """Inputs of :class:`SilverPipeline`: the settings and the foundation it builds on."""

    settings: LakeSettings
    lake_bucket_name: pulumi.Input[str]
    lake_bucket_arn: pulumi.Input[str]
    artifacts_bucket_name: pulumi.Input[str]
    artifacts_bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    control_table_name: pulumi.Input[str]
    control_table_arn: pulumi.Input[str]
    silver_database_name: pulumi.Input[str]
    observer_bucket_name: pulumi.Input[str] | None = None
    """When given with its ARN, Spark event logs also go to ``observer/emr-logs/silver/``."""
    observer_bucket_arn: pulumi.Input[str] | None = None


# --- the job bundle --------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkJobBundle:
    """The entry script and the zip of the local modules it imports, content-addressed."""

    entry: Path
    entry_source: bytes
    modules: dict[str, bytes]
    """Zip member name -> source: ``name.py`` (flat imports) or ``workloads/silver/name.py``."""
    zip_bytes: bytes

    @property
    def digest(self) -> str:
        """SHA-256 of everything shipped: the key prefix of both objects."""
        sha = hashlib.sha256()
        for name, content in (
            (self.entry.name, self.entry_source),
            (JOB_MODULES_ZIP, self.zip_bytes),
        ):
            sha.update(f"{name}\0{len(content)}\0".encode())
            sha.update(content)
        return sha.hexdigest()

    @property
    def entry_sha256(self) -> str:
        return hashlib.sha256(self.entry_source).hexdigest()

    @property
    def zip_sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()

    def sources(self) -> dict[str, bytes]:
        """Every Python module that runs on EMR: the entry script and the zipped modules."""
        shipped = {self.entry.name: self.entry_source} if self.entry.is_file() else {}
        return {**shipped, **self.modules}


def build_spark_job_bundle(entry: Path, package_dir: Path | None = None) -> SparkJobBundle:
    """Bundle ``entry`` with the modules of ``package_dir`` it imports, transitively.

    Imports of sibling packages under the same top package (the gold job's
    ``from workloads.silver.spark_job import ...``) are bundled too.

    A missing entry script gives an empty bundle (its author may not have landed it yet):
    the program still runs, and ``pulumi up`` fails on the missing file.
    """
    package_dir = package_dir or entry.parent
    entry_source = entry.read_bytes() if entry.is_file() else b""
    modules: dict[str, bytes] = {}
    pending = [entry_source]
    while pending:
        for name, path in _local_imports(pending.pop(), package_dir).items():
            if name not in modules and path.resolve() != entry.resolve():
                modules[name] = path.read_bytes()
                pending.append(modules[name])
    return SparkJobBundle(entry, entry_source, modules, deterministic_zip(modules))


def _local_imports(source: bytes, package_dir: Path) -> dict[str, Path]:
    """Zip member name -> file, for each module of ``package_dir`` that ``source`` imports."""
    found: dict[str, Path] = {}
    if not source:
        return found
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            dotted = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in dotted:
            found.update(_resolve_local(name, package_dir))
    return found


def _resolve_local(dotted: str, package_dir: Path) -> dict[str, Path]:
    parts = dotted.split(".")
    flat = package_dir / f"{parts[0]}.py"
    if len(parts) == 1 and parts[0] != "__init__" and flat.is_file():
        return {flat.name: flat}
    top = package_dir.parent
    package = top / parts[1] if len(parts) > 1 else package_dir
    if parts[0] != top.name or not (package / "__init__.py").is_file():
        return {}
    found = {f"{top.name}/__init__.py": top / "__init__.py"}
    if len(parts) > 1:
        found[f"{top.name}/{package.name}/__init__.py"] = package / "__init__.py"
    if len(parts) > 2 and (package / f"{parts[2]}.py").is_file():
        found[f"{top.name}/{package.name}/{parts[2]}.py"] = package / f"{parts[2]}.py"
    return {name: path for name, path in found.items() if path.is_file()}


def deterministic_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the member names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.create_system = 3
            archive.writestr(
                info,
                members[name],
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=ZIP_COMPRESSLEVEL,
            )
    return buffer.getvalue()


def cached_zip(
    bundle: SparkJobBundle, kind: str = "silver-job", file_name: str = JOB_MODULES_ZIP
) -> Path:
    """The modules zip written once under the build cache (a FileAsset needs a path)."""
    cache = Path(os.environ.get("DATALAKE_BUILD_CACHE", ROOT / ".build"))
    path = cache / kind / bundle.digest / file_name
    if not path.is_file() or path.read_bytes() != bundle.zip_bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(bundle.zip_bytes)
        temporary.replace(path)
    return path


# --- the state machines ----------------------------------------------------------------------


@dataclass(frozen=True)
class JsonPath:
    """A state's input value (``$.table``) or intrinsic function, inside ``States.Array``."""

    expression: str


def _literal(text: str) -> str:
    escaped = "".join(f"\\{c}" if c in "'{}\\" else c for c in text)
    return f"'{escaped}'"


def states_array(items: Sequence[str | JsonPath]) -> str:
    """``States.Array(...)`` of literals and paths (an array Parameters cannot mix otherwise)."""
    rendered = (i.expression if isinstance(i, JsonPath) else _literal(i) for i in items)
    return f"States.Array({', '.join(rendered)})"


@dataclass(frozen=True)
class SparkJob:
    """What every silver job run shares: application, role, code, catalog and logs."""

    application_id: str
    execution_role_arn: str
    entry_point: str
    py_files: str
    database: str
    warehouse: str
    log_group_name: str
    log_uri: str | None = None

    def spark_submit_parameters(self) -> str:
        """``--py-files`` and the Iceberg catalog ``glue`` on the Glue Data Catalog."""
        conf = {
            "spark.sql.extensions": (
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
            ),
            f"spark.sql.catalog.{ICEBERG_CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
            f"spark.sql.catalog.{ICEBERG_CATALOG}.catalog-impl": (
                "org.apache.iceberg.aws.glue.GlueCatalog"
            ),
            f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse": self.warehouse,
            "spark.jars": ICEBERG_RUNTIME_JAR,
        }
        return " ".join(
            [f"--py-files {self.py_files}", *(f"--conf {k}={v}" for k, v in conf.items())]
        )

    def common_arguments(self) -> list[str | JsonPath]:
        """What every mode gets: the Iceberg catalog, the silver database and warehouse."""
        catalog = ["--catalog", ICEBERG_CATALOG, "--database", self.database]
        return [*catalog, "--warehouse", self.warehouse]

    def parameters(self, name: JsonPath | str, arguments: Sequence[str | JsonPath]) -> dict:
        """Parameters of an ``emr-serverless:startJobRun.sync`` task."""
        monitoring: dict[str, Any] = {
            "CloudWatchLoggingConfiguration": {
                "Enabled": True,
                "LogGroupName": self.log_group_name,
            }
        }
        if self.log_uri:
            monitoring["S3MonitoringConfiguration"] = {"LogUri": self.log_uri}
        naming = {"Name.$": name.expression} if isinstance(name, JsonPath) else {"Name": name}
        return {
            "ApplicationId": self.application_id,
            "ExecutionRoleArn": self.execution_role_arn,
            **naming,
            "JobDriver": {
                "SparkSubmit": {
                    "EntryPoint": self.entry_point,
                    "EntryPointArguments.$": states_array([*arguments, *self.common_arguments()]),
                    "SparkSubmitParameters": self.spark_submit_parameters(),
                }
            },
            "ConfigurationOverrides": {"MonitoringConfiguration": monitoring},
        }


def job_retry(*, max_attempts: int, interval_seconds: int, backoff_rate: float) -> list[dict]:
    """Retry a Spark job with backoff and jitter, except when the request itself is wrong."""
    return [
        {"ErrorEquals": list(NOT_RETRYABLE_JOB_ERRORS), "MaxAttempts": 0},
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": interval_seconds,
            "BackoffRate": backoff_rate,
            "MaxAttempts": max_attempts - 1,
            "JitterStrategy": "FULL",
        },
    ]


LAMBDA_RETRY = [
    {
        "ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS),
        "IntervalSeconds": 2,
        "BackoffRate": 2.0,
        "MaxAttempts": 3,
        "JitterStrategy": "FULL",
    }
]
SYNC_TASK = "arn:aws:states:::emr-serverless:startJobRun.sync"


def lambda_task(function_arn: str, payload: dict[str, Any], **state: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "Retry": LAMBDA_RETRY,
        **state,
    }


def silver_definition(
    *,
    plan_function_arn: str,
    finish_function_arn: str,
    fail_function_arn: str,
    gold_records_function_arn: str,
    job: SparkJob,
    max_concurrency: int,
    max_attempts: int,
    interval_seconds: int,
    backoff_rate: float,
) -> dict[str, Any]:
    """Amazon States Language of the silver pipeline (Standard: it waits on Spark jobs)."""
    retry = job_retry(
        max_attempts=max_attempts, interval_seconds=interval_seconds, backoff_rate=backoff_rate
    )
    table_failed = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordTableFailure"}
    ]
    table = {"run_id.$": "$.run_id", "table.$": "$.table", "control_ids.$": "$.control_ids"}
    per_table = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "MergeTable",
        "States": {
            "MergeTable": {
                "Type": "Task",
                "Resource": SYNC_TASK,
                "Parameters": job.parameters(
                    JsonPath("States.Format('silver-merge-{}', $.table)"),
                    [
                        *("--mode", "merge"),
                        *("--table", JsonPath("$.table")),
                        *("--manifest", JsonPath("$.manifest")),
                    ],
                ),
                "ResultPath": None,
                "Retry": retry,
                "Catch": table_failed,
                "Next": "FinishTable",
            },
            "FinishTable": lambda_task(
                finish_function_arn,
                table,
                ResultPath=None,
                Catch=table_failed,
                Next="TableMerged",
            ),
            "TableMerged": {
                "Type": "Pass",
                "Parameters": {"table.$": "$.table", "status": "success"},
                "End": True,
            },
            # The table's records are marked error with the cause; the other tables go on.
            "RecordTableFailure": lambda_task(
                fail_function_arn,
                {**table, "error.$": "$.failure"},
                ResultPath=None,
                Catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "ResultPath": "$.record_failure",
                        "Next": "TableFailed",
                    }
                ],
                Next="TableFailed",
            ),
            "TableFailed": {
                "Type": "Pass",
                "Parameters": {"table.$": "$.table", "status": "error"},
                "End": True,
            },
        },
    }
    return {
        "Comment": "Merge the pending bronze changes of every table into silver, then review_flat",
        "StartAt": "Plan",
        "States": {
            "Plan": lambda_task(
                plan_function_arn,
                # The run's input may name the tables to process ({"tables": [...]}).
                {"execution_name.$": "$$.Execution.Name", "input.$": "$"},
                ResultSelector={
                    "run_id.$": "$.Payload.run_id",
                    "tables.$": "$.Payload.tables",
                    "review_flat.$": "$.Payload.review_flat",
                },
                ResultPath="$.plan",
                Next="AnyChanges",
            ),
            "AnyChanges": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.plan.tables[0]", "IsPresent": True, "Next": "MergeTables"}
                ],
                "Default": "NothingToMerge",
            },
            "NothingToMerge": {"Type": "Succeed"},
            "MergeTables": {
                "Type": "Map",
                "ItemsPath": "$.plan.tables",
                "ItemSelector": {
                    "run_id.$": "$.plan.run_id",
                    "table.$": "$$.Map.Item.Value.table",
                    "manifest.$": "$$.Map.Item.Value.manifest",
                    "control_ids.$": "$$.Map.Item.Value.control_ids",
                },
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": per_table,
                "ResultPath": "$.merged",
                "Next": "ReviewFlat",
            },
            "ReviewFlat": {
                "Type": "Task",
                "Resource": SYNC_TASK,
                "Parameters": job.parameters(
                    "silver-review-flat",
                    [
                        *("--mode", "review_flat"),
                        *("--changes", JsonPath("States.JsonToString($.plan.review_flat)")),
                    ],
                ),
                "ResultPath": None,
                "Retry": retry,
                "Next": "RegisterGoldRecords",
            },
            # One pending gold control record per review_flat month the job replaced.
            "RegisterGoldRecords": lambda_task(
                gold_records_function_arn,
                {
                    "run_id.$": "$.plan.run_id",
                    "partitions.$": "$.plan.review_flat.partitions_out",
                },
                ResultPath=None,
                Next="PublishSucceeded",
            ),
            "PublishSucceeded": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {
                    "Entries": [
                        {
                            "EventBusName": "default",
                            "Source": EVENT_SOURCE,
                            "DetailType": SUCCEEDED_DETAIL_TYPE,
                            "Detail": {
                                "run_id.$": "$.plan.run_id",
                                "database": job.database,
                                "tables.$": "$.merged",
                                "review_flat.$": "$.plan.review_flat",
                            },
                        }
                    ]
                },
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "IntervalSeconds": 2,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 3,
                    }
                ],
                "ResultPath": None,
                "End": True,
            },
        },
    }


def maintenance_definition(
    *,
    job: SparkJob,
    target_file_size_mb: int,
    snapshot_retention_days: int,
    min_snapshots_to_keep: int,
    max_attempts: int,
    interval_seconds: int,
    backoff_rate: float,
) -> dict[str, Any]:
    """Compact data files and expire old snapshots of every silver table, in one Spark job."""
    return {
        "Comment": "Rewrite small data files and expire old snapshots of the silver tables",
        "StartAt": "Maintain",
        "States": {
            "Maintain": {
                "Type": "Task",
                "Resource": SYNC_TASK,
                "Parameters": job.parameters(
                    "silver-maintenance",
                    [
                        "--mode",
                        "maintenance",
                        "--target-file-size-mb",
                        str(target_file_size_mb),
                        "--snapshot-retention-days",
                        str(snapshot_retention_days),
                        "--min-snapshots-to-keep",
                        str(min_snapshots_to_keep),
                    ],
                ),
                "Retry": job_retry(
                    max_attempts=max_attempts,
                    interval_seconds=interval_seconds,
                    backoff_rate=backoff_rate,
                ),
                "ResultPath": None,
                "End": True,
            }
        },
    }


# --- shared with the gold component: the application, the job code, running jobs ------------


def spark_application(
    parent: pulumi.Resource, logical: str, *, name: str, emr: EmrServerlessSettings, layer: str
) -> aws.emrserverless.Application:
    """An EMR Serverless Spark application capped by ``emr``, started on demand, idle-stopped."""
    return aws.emrserverless.Application(
        logical,
        name=name,
        type="SPARK",
        release_label=emr.release_label,
        architecture=emr.architecture,
        maximum_capacity={
            "cpu": f"{emr.max_vcpu} vCPU",
            "memory": f"{emr.max_memory_gb} GB",
            "disk": f"{emr.max_disk_gb} GB",
        },
        # Nothing pre-initialised: workers start with a job and stop when idle.
        auto_start_configuration={"enabled": True},
        auto_stop_configuration={"enabled": True, "idle_timeout_minutes": emr.idle_timeout_minutes},
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def spark_job_objects(
    parent: pulumi.Resource,
    logical: str,
    *,
    entry: Path,
    bucket: pulumi.Input[str],
    jobs_prefix: str,
    layer: str,
) -> tuple[aws.s3.BucketObjectv2, aws.s3.BucketObjectv2]:
    """Upload a Spark entry script and its modules zip under ``<jobs_prefix><sha256>/``."""
    bundle = build_spark_job_bundle(entry)
    if not entry.is_file():
        pulumi.log.warn(
            f"{entry} does not exist yet: the {layer} jobs "
            "have no code and `pulumi up` will fail to upload it",
            resource=parent,
        )
    job_prefix = f"{jobs_prefix}{bundle.digest}/"
    modules_zip = f"{layer}_job_modules.zip"
    script = aws.s3.BucketObjectv2(
        f"{logical}-job-script",
        bucket=bucket,
        key=f"{job_prefix}{entry.name}",
        source=pulumi.FileAsset(str(entry)),
        # etag is not the MD5 of an SSE-KMS object: the content hash tracks changes.
        source_hash=bundle.entry_sha256,
        content_type="text/x-python",
        tags=layer_tags(layer),
        opts=child_options(parent),
    )
    modules = aws.s3.BucketObjectv2(
        f"{logical}-job-modules",
        bucket=bucket,
        key=f"{job_prefix}{modules_zip}",
        source=pulumi.FileAsset(str(cached_zip(bundle, f"{layer}-job", modules_zip))),
        source_hash=bundle.zip_sha256,
        content_type="application/zip",
        tags=layer_tags(layer),
        opts=child_options(parent),
    )
    return script, modules


def spark_run_statements(
    *,
    application_arn: pulumi.Input[str],
    job_role_arn: pulumi.Input[str],
    sync_rule_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
) -> list[pulumi.Input[dict[str, Any]]]:
    """What a state machine needs to run jobs on one application with one job role."""
    return [
        {
            "Sid": "StartSparkJobs",
            "Effect": "Allow",
            "Action": "emr-serverless:StartJobRun",
            "Resource": application_arn,
        },
        {
            "Sid": "WatchSparkJobs",
            "Effect": "Allow",
            "Action": ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
            "Resource": pulumi.Output.concat(application_arn, "/jobruns/*"),
        },
        {
            "Sid": "PassJobRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": job_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
        },
        {
            "Sid": "SyncJobEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": sync_rule_arn,
        },
        kms_use(kms_key_arn, encrypt=True),
        state_machine_log_delivery(),
    ]


# --- the component ---------------------------------------------------------------------------


class SilverPipeline(pulumi.ComponentResource):
    """EMR Serverless Spark, the job bundle, the pipeline and maintenance machines, schedules."""

    application_id: pulumi.Output[str]
    application_arn: pulumi.Output[str]
    job_role_arn: pulumi.Output[str]
    job_entry_point: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    maintenance_state_machine_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SilverPipelineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:SilverPipeline", name, None, opts)
        self._name = name
        settings = args.settings
        self._lake_names = names = settings.names
        silver, ingestion, observe = settings.silver, settings.ingestion, settings.observability
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account = caller.account_id
        self._account = account

        def arn(service: str, resource: str) -> pulumi.Output[str]:
            return regional_arn(service, names.region, account, resource)

        # --- logs --------------------------------------------------------------------------
        def log_group(purpose: str, path: str) -> aws.cloudwatch.LogGroup:
            return workload_log_group(
                self,
                f"{name}-{purpose.removeprefix('silver-')}-logs",
                name=f"{path}/{names.resource(purpose)}",
                retention_days=observe.log_retention_days,
                kms_key_arn=args.kms_key_arn,
                layer="silver",
            )

        job_logs = log_group("silver-spark", "/aws/emr-serverless")
        function_logs = {
            purpose: log_group(purpose, "/aws/lambda")
            for purpose in ("silver-plan", "silver-finish", "silver-fail", "silver-gold-records")
        }
        machine_logs = log_group("silver-pipeline", "/aws/vendedlogs/states")
        maintenance_logs = log_group("silver-maintenance", "/aws/vendedlogs/states")

        # --- the EMR Serverless application ------------------------------------------------
        self.application = spark_application(
            self,
            f"{name}-spark",
            name=names.resource("silver-spark"),
            emr=silver.emr,
            layer="silver",
        )

        # --- the job bundle ----------------------------------------------------------------
        self.job_script, self.job_modules = spark_job_objects(
            self,
            name,
            entry=SPARK_JOB_ENTRY,
            bucket=args.artifacts_bucket_name,
            jobs_prefix=JOBS_PREFIX,
            layer="silver",
        )

        entry_point = s3_uri(args.artifacts_bucket_name, self.job_script.key)
        py_files = s3_uri(args.artifacts_bucket_name, self.job_modules.key)
        warehouse = s3_uri(args.lake_bucket_name, SILVER_PREFIX)
        log_uri = (
            s3_uri(args.observer_bucket_name, EMR_LOGS_PREFIX)
            if args.observer_bucket_name is not None and args.observer_bucket_arn is not None
            else None
        )

        # --- the job runtime role ----------------------------------------------------------
        database = args.silver_database_name
        observer_logs = (
            [s3_write(args.observer_bucket_arn, [EMR_LOGS_PREFIX], "WriteEventLogs")]
            if log_uri is not None and args.observer_bucket_arn is not None
            else []
        )
        self.job_role = self._role(
            "silver-spark-job",
            "emr-serverless.amazonaws.com",
            s3_read(args.lake_bucket_arn, [BRONZE_PREFIX], "ReadBronze"),
            {
                # Lake Formation vends credentials for registered locations (lake-formation
                # mode); the call has no resource-level permissions, the LF grants decide.
                "Sid": "LakeFormationDataAccess",
                "Effect": "Allow",
                "Action": "lakeformation:GetDataAccess",
                "Resource": "*",
            },
            {
                # Iceberg rewrites data files and deletes them when snapshots expire.
                "Sid": "ReadWriteSilver",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": [pulumi.Output.concat(args.lake_bucket_arn, f"/{SILVER_PREFIX}*")],
            },
            {
                "Sid": "ListBronzeAndSilver",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": args.lake_bucket_arn,
                "Condition": {
                    "StringLike": {
                        "s3:prefix": [
                            BRONZE_PREFIX,
                            f"{BRONZE_PREFIX}*",
                            SILVER_PREFIX,
                            f"{SILVER_PREFIX}*",
                        ]
                    }
                },
            },
            s3_read(args.artifacts_bucket_arn, [JOBS_PREFIX, RUNS_PREFIX], "ReadCodeAndManifests"),
            {
                "Sid": "SilverCatalog",
                "Effect": "Allow",
                "Action": [
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                ],
                "Resource": [
                    arn("glue", "catalog"),
                    pulumi.Output.concat(arn("glue", "database/"), database),
                    pulumi.Output.concat(arn("glue", "table/"), database, "/*"),
                ],
            },
            kms_use(args.kms_key_arn, encrypt=True),
            {
                "Sid": "FindJobLogGroup",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": arn("logs", "log-group:*"),
            },
            {
                "Sid": "WriteJobLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [job_logs.arn, pulumi.Output.concat(job_logs.arn, ":*")],
            },
            *observer_logs,
        )
        # Lake Formation decides on Glue metadata of governed databases: the job may describe
        # the silver database, create tables in it, and write the tables and their location.
        lake_formation = [
            ("database", ["DESCRIBE", "CREATE_TABLE", "ALTER"], {"database": {"name": database}}),
            (
                "tables",
                ["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"],
                {"table": {"database_name": database, "wildcard": True}},
            ),
            (
                "location",
                ["DATA_LOCATION_ACCESS"],
                {
                    "data_location": {
                        "arn": pulumi.Output.concat(
                            args.lake_bucket_arn, "/", SILVER_PREFIX.rstrip("/")
                        )
                    }
                },
            ),
        ]
        for purpose, permissions, resource in lake_formation:
            aws.lakeformation.Permissions(
                f"{name}-job-{purpose}-grant",
                principal=self.job_role.arn,
                permissions=permissions,
                **resource,
                opts=child_options(self),
            )

        # --- Lambdas: plan, finish, fail ---------------------------------------------------
        code = lambda_code(ingestion)
        environment = {
            "CONTROL_TABLE": args.control_table_name,
            "LAKE_BUCKET": args.lake_bucket_name,
            "ARTIFACTS_BUCKET": args.artifacts_bucket_name,
            "SILVER_DATABASE": database,
            "MAX_ATTEMPTS": str(ingestion.max_attempts),
            "LEASE_SECONDS": str(ingestion.lease_seconds),
            "TARGET_FILE_SIZE_MB": str(settings.silver.target_file_size_mb),
            "SNAPSHOT_RETENTION_DAYS": str(settings.silver.snapshot_retention_days),
            "MIN_SNAPSHOTS_TO_KEEP": str(settings.silver.min_snapshots_to_keep),
        }

        def function(
            purpose: str,
            description: str,
            handler: str,
            role: aws.iam.Role,
            memory_mb: int,
            timeout_seconds: int,
        ) -> aws.lambda_.Function:
            logs = function_logs[purpose]
            return aws.lambda_.Function(
                f"{name}-{purpose.removeprefix('silver-')}",
                name=names.resource(purpose),
                description=description,
                role=role.arn,
                runtime=ingestion.lambda_runtime,
                architectures=[ingestion.lambda_architecture],
                handler=handler,
                code=code,
                memory_size=memory_mb,
                timeout=timeout_seconds,
                environment={"variables": environment},
                logging_config={"log_format": "JSON", "log_group": logs.name},
                tags=layer_tags("silver"),
                opts=child_options(self, depends_on=[logs]),
            )

        records = control_table_access(args.control_table_arn, update=True)
        plan_role = self._role(
            "silver-plan",
            "lambda.amazonaws.com",
            records,
            s3_write(args.artifacts_bucket_arn, [RUNS_PREFIX], "WriteManifests"),
            kms_use(args.kms_key_arn, encrypt=True),
            logs_write(function_logs["silver-plan"].arn),
        )
        self.plan = function(
            "silver-plan",
            "Claims pending silver records and writes one manifest per table",
            PLAN_HANDLER,
            plan_role,
            PLAN_MEMORY_MB,
            PLAN_TIMEOUT_SECONDS,
        )
        record_functions = {}
        for purpose, description, handler in (
            ("silver-finish", "Marks a merged table's silver records success", FINISH_HANDLER),
            ("silver-fail", "Marks a failed table's silver records error", FAIL_HANDLER),
        ):
            role = self._role(
                purpose,
                "lambda.amazonaws.com",
                records,
                kms_use(args.kms_key_arn, encrypt=True),
                logs_write(function_logs[purpose].arn),
            )
            record_functions[purpose] = function(
                purpose, description, handler, role, RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS
            )
        self.finish, self.fail = record_functions["silver-finish"], record_functions["silver-fail"]
        gold_role = self._role(
            "silver-gold-records",
            "lambda.amazonaws.com",
            records,
            s3_read(args.artifacts_bucket_arn, [RUNS_PREFIX], "ReadPartitions"),
            {
                "Sid": "ListPartitions",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": args.artifacts_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{RUNS_PREFIX}*"]}},
            },
            kms_use(args.kms_key_arn, encrypt=True),
            logs_write(function_logs["silver-gold-records"].arn),
        )
        self.gold_records = function(
            "silver-gold-records",
            "Registers a pending gold record per replaced review_flat month",
            GOLD_RECORDS_HANDLER,
            gold_role,
            RECORD_MEMORY_MB,
            RECORD_TIMEOUT_SECONDS,
        )

        # --- the pipeline state machine ----------------------------------------------------
        spark_statements = spark_run_statements(
            application_arn=self.application.arn,
            job_role_arn=self.job_role.arn,
            sync_rule_arn=arn("events", f"rule/{SYNC_JOB_RULE}"),
            kms_key_arn=args.kms_key_arn,
        )
        functions = [self.plan, self.finish, self.fail, self.gold_records]
        machine_role = self._role(
            "silver-pipeline",
            "states.amazonaws.com",
            {
                "Sid": "InvokeSilverFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [
                    resource
                    for f in functions
                    for resource in (f.arn, pulumi.Output.concat(f.arn, ":*"))
                ],
            },
            *spark_statements,
            {
                "Sid": "PublishSucceeded",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": arn("events", "event-bus/default"),
            },
        )
        spark_job = pulumi.Output.all(
            self.application.id,
            self.job_role.arn,
            entry_point,
            py_files,
            database,
            warehouse,
            job_logs.name,
            log_uri,
        ).apply(lambda v: SparkJob(*v))
        self.state_machine = self._machine(
            "silver-pipeline",
            machine_role,
            machine_logs,
            pulumi.Output.all(
                self.plan.arn, self.finish.arn, self.fail.arn, self.gold_records.arn, spark_job
            ).apply(
                lambda v: silver_definition(
                    plan_function_arn=v[0],
                    finish_function_arn=v[1],
                    fail_function_arn=v[2],
                    gold_records_function_arn=v[3],
                    job=v[4],
                    max_concurrency=silver.max_concurrency,
                    max_attempts=ingestion.max_attempts,
                    interval_seconds=ingestion.retry_interval_seconds,
                    backoff_rate=ingestion.retry_backoff_rate,
                )
            ),
            args.kms_key_arn,
        )

        # --- the schedule ------------------------------------------------------------------
        self.schedule = self._schedule(
            "silver-pipeline",
            "Runs the silver pipeline",
            silver.schedule,
            silver.schedule_timezone,
            self.state_machine,
        )

        # --- maintenance: compaction and snapshot expiry, weekly ---------------------------
        maintenance_role = self._role(
            "silver-maintenance", "states.amazonaws.com", *spark_statements
        )
        self.maintenance_state_machine = self._machine(
            "silver-maintenance",
            maintenance_role,
            maintenance_logs,
            spark_job.apply(
                lambda job: maintenance_definition(
                    job=job,
                    target_file_size_mb=silver.target_file_size_mb,
                    snapshot_retention_days=silver.snapshot_retention_days,
                    min_snapshots_to_keep=silver.min_snapshots_to_keep,
                    max_attempts=ingestion.max_attempts,
                    interval_seconds=ingestion.retry_interval_seconds,
                    backoff_rate=ingestion.retry_backoff_rate,
                )
            ),
            args.kms_key_arn,
        )
        self.maintenance_schedule = self._schedule(
            "silver-maintenance",
            "Compacts the silver tables and expires old snapshots",
            silver.maintenance_schedule,
            silver.schedule_timezone,
            self.maintenance_state_machine,
        )

        # --- alarms ------------------------------------------------------------------------
        actions = [observe.alarm_topic_arn] if observe.alarm_topic_arn else []
        for purpose, machine in (
            ("failed-runs", self.state_machine),
            ("failed-maintenance", self.maintenance_state_machine),
        ):
            aws.cloudwatch.MetricAlarm(
                f"{name}-{purpose}-alarm",
                name=names.resource(f"silver-{purpose}"),
                alarm_description=f"Silver state machine executions failed ({purpose})",
                namespace="AWS/States",
                metric_name="ExecutionsFailed",
                dimensions={"StateMachineArn": machine.arn},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                tags=layer_tags("silver"),
                opts=child_options(self),
            )

        self.application_id = self.application.id
        self.application_arn = self.application.arn
        self.job_role_arn = self.job_role.arn
        self.job_entry_point = entry_point
        self.state_machine_arn = self.state_machine.arn
        self.maintenance_state_machine_arn = self.maintenance_state_machine.arn
        self.register_outputs(
            {
                "application_id": self.application_id,
                "application_arn": self.application_arn,
                "job_role_arn": self.job_role_arn,
                "job_entry_point": self.job_entry_point,
                "state_machine_arn": self.state_machine_arn,
                "maintenance_state_machine_arn": self.maintenance_state_machine_arn,
            }
        )

    def _role(
        self, purpose: str, service: str, *statements: pulumi.Input[dict[str, Any]]
    ) -> aws.iam.Role:
        """One role per workload, with one inline policy of exactly its statements."""
        return workload_role(
            self,
            f"{self._name}-{purpose.removeprefix('silver-')}",
            name=self._lake_names.resource(purpose),
            service=service,
            account=self._account,
            statements=statements,
            layer="silver",
        )

    def _machine(
        self,
        purpose: str,
        role: aws.iam.Role,
        logs: aws.cloudwatch.LogGroup,
        definition: pulumi.Output[dict[str, Any]],
        kms_key_arn: pulumi.Input[str],
    ) -> aws.sfn.StateMachine:
        return standard_state_machine(
            self,
            f"{self._name}-{purpose.removeprefix('silver-')}",
            name=self._lake_names.resource(purpose),
            role=role,
            logs=logs,
            definition=definition.apply(lambda d: json.dumps(d, indent=2)),
            kms_key_arn=kms_key_arn,
            layer="silver",
        )

    def _schedule(
        self,
        purpose: str,
        description: str,
        expression: str,
        timezone: str,
        machine: aws.sfn.StateMachine,
    ) -> aws.scheduler.Schedule:
        """An EventBridge Scheduler schedule starting ``machine``, with a role that only can."""
        names = self._lake_names
        role = self._role(
            f"{purpose}-start",
            "scheduler.amazonaws.com",
            {
                "Sid": "StartExecution",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": machine.arn,
            },
        )
        return aws.scheduler.Schedule(
            f"{self._name}-{purpose.removeprefix('silver-')}-schedule",
            name=names.resource(purpose),
            description=description,
            schedule_expression=expression,
            schedule_expression_timezone=timezone,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": machine.arn,
                "role_arn": role.arn,
                "input": "{}",
                "retry_policy": {
                    "maximum_event_age_in_seconds": 3600,
                    "maximum_retry_attempts": 3,
                },
            },
            opts=child_options(self),
        )


__all__ = [
    "EVENT_SOURCE",
    "SUCCEEDED_DETAIL_TYPE",
    "JsonPath",
    "SilverPipeline",
    "SilverPipelineArgs",
    "SparkJob",
    "SparkJobBundle",
    "build_spark_job_bundle",
    "cached_zip",
    "job_retry",
    "lambda_task",
    "maintenance_definition",
    "silver_definition",
    "spark_application",
    "spark_job_objects",
    "spark_run_statements",
    "states_array",
]
