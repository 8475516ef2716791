"""GoldMart: monthly marts on Spark after each silver run, and PII-free access through Athena.

    log groups (lake key, retention from settings): Spark jobs, the three Lambdas, the machine
    compute     the silver EMR Serverless application (gold.reuse_silver_application), or its
                own application with the same silver.emr settings
    job bundle  artifacts gold/jobs/<sha256>/spark_job.py + gold_job_modules.zip (--py-files)
    job role    read lake silver/, read/write/delete lake gold/; Glue: read the silver
                database, read/write the gold database; nothing on bronze
    Lambdas     plan · finish · fail, one role each
    EventBridge rule: source datalake.silver, detail-type SilverPipelineSucceeded, this lake's
      silver database ────────────────────────────┐
    EventBridge Scheduler (gold.schedule, optional) ┴─▶ gold-marts state machine (Standard)
            Plan λ: claim the pending gold records (one per changed month), write the manifest
            ──Choice: nothing pending──▶ done
            ──Map over the marts declared in datalake/contracts/gold.py (MaxConcurrency
              gold.max_concurrency), per mart:
                 Spark (emr-serverless:startJobRun.sync) --mode marts --mart M --months [[y, m]]
                   ──Retry──▶ success
                   └─Catch─▶ the failure is kept in the Map output; the other marts carry on
            ──Choice: a mart failed──▶ Fail λ (records error, naming every failed mart) ──▶ Fail
            ──▶ Finish λ (records success)
    Athena workgroup gold-consumers: engine v3, configuration enforced, results SSE-KMS (lake
      key) in observer/athena-results/, per-query scan cutoff; one named query per mart
    consumers   role gold-consumer (+ the demo user of gold.demo_user, for the console, same
                policy, no access key or password): queries in that workgroup, Glue read of the
                gold database, the results prefix, the lake key; no S3 on the lake bucket at
                all: Lake Formation vends gold credentials
    Lake Formation  LF-Tag layer = bronze | silver | gold on the three databases, the gold
                database also classification = internal; consumers get TABLE SELECT/DESCRIBE
                and DATABASE DESCRIBE through classification ∈ {public, internal} ∧ layer = gold

Start a run by hand (after a backfill, or to test a deployment) with no input::

    aws stepfunctions start-execution \\
      --state-machine-arn "$(pulumi stack output gold_state_machine_arn)"

With nothing pending the run ends at once; every run rebuilds exactly the months of the gold
records it claims, so starting one twice is harmless.

**The gold tables are not declared here.** They are Iceberg tables that the gold Spark job
creates and evolves from the mart declarations (columns, partitioned by review_year and
review_month), like the silver job does for silver: a Glue Iceberg table resource cannot
declare the Iceberg partition spec and only writes metadata when it is created, so a column
added to a mart would never reach the table. The tables inherit the gold database's LF-Tags
(``layer=gold``, ``classification=internal``), so the consumer grants cover every mart,
including new ones, with no change here. Because columns inherit ``internal``, the component
refuses a mart that would publish a column classified ``pii``.

The consumer role trusts the principals in ``governance.consumers``; when that list is empty
it trusts the account root, which lets any IAM principal of the account whose own policy
allows ``sts:AssumeRole`` on it assume it (nothing else is opened).

The Spark job's command line, as this component passes it::

    --mode marts --mart M --months '[[year, month], ...]' --manifest s3://<artifacts>/gold/runs/…
    --source-database <silver database>
    --catalog glue --database <gold database> --warehouse s3://<lake>/gold/
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.code import ROOT, lambda_code
from components.options import child_options
from components.pii import LF_TAG_KEY, grant_pii_free_access
from components.policies import (
    control_table_access,
    kms_use,
    logs_write,
    s3_read,
    s3_write,
)
from components.silver import (
    EVENT_SOURCE,
    SUCCEEDED_DETAIL_TYPE,
    SYNC_JOB_RULE,
    SYNC_TASK,
    JsonPath,
    SparkJob,
    job_retry,
    lambda_task,
    spark_application,
    spark_job_objects,
    spark_run_statements,
)
from components.workloads import (
    regional_arn,
    s3_uri,
    standard_state_machine,
    workload_log_group,
    workload_role,
)
from datalake.contracts import Classification
from datalake.contracts.gold import MARTS, Mart
from datalake.naming import Layer, layer_tags
from datalake.settings import LakeSettings

PLAN_HANDLER = "workloads.gold.handlers.plan_handler"
FINISH_HANDLER = "workloads.gold.handlers.finish_handler"
FAIL_HANDLER = "workloads.gold.handlers.fail_handler"

SPARK_JOB_ENTRY = ROOT / "workloads" / "gold" / "spark_job.py"
"""The gold Spark entry script; read when the component is created (tests point it elsewhere)."""
SILVER_PREFIX = "silver/"
GOLD_PREFIX = "gold/"
JOBS_PREFIX = "gold/jobs/"
RUNS_PREFIX = "gold/runs/"
EMR_LOGS_PREFIX = "emr-logs/gold/"
ATHENA_RESULTS_PREFIX = "athena-results/"
ATHENA_ENGINE_VERSION = "Athena engine version 3"

LAYER_TAG_KEY = "layer"
LAYER_TAG_VALUES = [Layer.BRONZE.value, Layer.SILVER.value, Layer.GOLD.value]
GOLD_ONLY = [{"key": LAYER_TAG_KEY, "values": [Layer.GOLD.value]}]
"""The term that limits the PII-free consumer grants to the gold layer."""
MART_FAILED = "GoldMartFailed"

PLAN_MEMORY_MB, PLAN_TIMEOUT_SECONDS = 512, 300
RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS = 256, 60

CONSUMER_ATHENA_ACTIONS = (
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
    "athena:ListNamedQueries",
    "athena:GetNamedQuery",
    "athena:BatchGetNamedQuery",
)
CONSUMER_GLUE_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartitions",
)

EXAMPLE_MONTH = (2012, 1)
EXAMPLE_LIMIT = 10


@dataclass
class GoldMartArgs:
    """Inputs of :class:`GoldMart`: the settings and what the other components created."""

    settings: LakeSettings
    lake_bucket_name: pulumi.Input[str]
    lake_bucket_arn: pulumi.Input[str]
    artifacts_bucket_name: pulumi.Input[str]
    artifacts_bucket_arn: pulumi.Input[str]
    observer_bucket_name: pulumi.Input[str]
    observer_bucket_arn: pulumi.Input[str]
    """Athena results (``athena-results/``) and Spark event logs (``emr-logs/gold/``)."""
    kms_key_arn: pulumi.Input[str]
    control_table_name: pulumi.Input[str]
    control_table_arn: pulumi.Input[str]
    bronze_database_name: pulumi.Input[str]
    silver_database_name: pulumi.Input[str]
    gold_database_name: pulumi.Input[str]
    classification_tag: aws.lakeformation.LfTag
    """The PII masker's ``classification`` LF-Tag (the consumer grants are expressed in it)."""
    silver_application_id: pulumi.Input[str] | None = None
    """The silver EMR Serverless application, used when ``gold.reuse_silver_application``."""
    silver_application_arn: pulumi.Input[str] | None = None


# --- what consumers are shown ----------------------------------------------------------------


def example_query(mart: Mart, year: int = EXAMPLE_MONTH[0], month: int = EXAMPLE_MONTH[1]) -> str:
    """The mart's top rows of one month, ranked as its declaration says (Athena SQL)."""
    order = ", ".join(f"{column} DESC" for column in mart.rank_by)
    return (
        f"SELECT * FROM {mart.name} WHERE review_year = {year} AND review_month = {month} "
        f"ORDER BY {order} LIMIT {EXAMPLE_LIMIT}"
    )


def example_queries_markdown(marts: Sequence[Mart] = MARTS) -> str:
    """One section per mart for docs/consuming.md: what it holds, its columns, a query."""
    sections = []
    for mart in marts:
        columns = ", ".join(f"`{c.name}`" for c in mart.contract.columns)
        sections.append(
            f"### `{mart.name}`\n\n{mart.description}\n\nColumns: {columns}.\n\n"
            f"```sql\n{example_query(mart)}\n```\n"
        )
    return "\n".join(sections)


def check_no_pii_columns(marts: Sequence[Mart] = MARTS) -> None:
    """Gold columns inherit ``classification=internal``: a ``pii`` column must never get there."""
    leaks = [
        f"{mart.name}.{column.name}"
        for mart in marts
        for column in mart.contract.columns
        if column.classification is Classification.PII
    ]
    if leaks:
        raise ValueError(
            "gold marts inherit classification=internal and are visible to consumers; "
            f"these columns are classified pii: {', '.join(leaks)}"
        )


# --- the state machine -----------------------------------------------------------------------


def gold_definition(
    *,
    plan_function_arn: str,
    finish_function_arn: str,
    fail_function_arn: str,
    job: SparkJob,
    source_database: str,
    marts: Sequence[str],
    max_concurrency: int,
    max_attempts: int,
    interval_seconds: int,
    backoff_rate: float,
) -> dict[str, Any]:
    """Amazon States Language of the gold run (Standard: it waits on Spark jobs)."""

    def catch(result_path: str, next_state: str) -> dict[str, Any]:
        return {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}

    run = {"run_id.$": "$.plan.run_id", "control_ids.$": "$.plan.control_ids"}
    per_mart = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "BuildMart",
        "States": {
            "BuildMart": {
                "Type": "Task",
                "Resource": SYNC_TASK,
                "Parameters": job.parameters(
                    JsonPath("States.Format('gold-{}', $.mart)"),
                    [
                        *("--mode", "marts"),
                        *("--mart", JsonPath("$.mart")),
                        *("--months", JsonPath("States.JsonToString($.months)")),
                        *("--manifest", JsonPath("$.manifest")),
                        *("--source-database", source_database),
                    ],
                ),
                "ResultPath": None,
                "Retry": job_retry(
                    max_attempts=max_attempts,
                    interval_seconds=interval_seconds,
                    backoff_rate=backoff_rate,
                ),
                # The failure is kept with the mart; the other marts carry on.
                "Catch": [catch("$.failure", "MartFailed")],
                "Next": "MartBuilt",
            },
            "MartBuilt": {
                "Type": "Pass",
                "Parameters": {"mart.$": "$.mart", "status": "success"},
                "End": True,
            },
            "MartFailed": {
                "Type": "Pass",
                "Parameters": {"mart.$": "$.mart", "status": "error", "error.$": "$.failure"},
                "End": True,
            },
        },
    }
    return {
        "Comment": "Rebuild the months of the pending gold records in every mart",
        "StartAt": "Plan",
        "States": {
            "Plan": lambda_task(
                plan_function_arn,
                {"execution_name.$": "$$.Execution.Name"},
                ResultSelector={
                    "run_id.$": "$.Payload.run_id",
                    "months.$": "$.Payload.months",
                    "control_ids.$": "$.Payload.control_ids",
                    "manifest.$": "$.Payload.manifest",
                    # The declared marts, as a literal: the Map iterates over exactly these.
                    "marts": list(marts),
                },
                ResultPath="$.plan",
                Next="AnyPending",
            ),
            "AnyPending": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.plan.months[0]", "IsPresent": True, "Next": "BuildMarts"}
                ],
                "Default": "NothingPending",
            },
            "NothingPending": {"Type": "Succeed"},
            "BuildMarts": {
                "Type": "Map",
                "ItemsPath": "$.plan.marts",
                "ItemSelector": {
                    "mart.$": "$$.Map.Item.Value",
                    "months.$": "$.plan.months",
                    "manifest.$": "$.plan.manifest",
                },
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": per_mart,
                # Every mart's outcome, and the failed ones apart for the Choice below.
                "ResultSelector": {
                    "results.$": "$",
                    "failed.$": "$[?(@.status == 'error')]",
                },
                "ResultPath": "$.marts",
                "Next": "AnyMartFailed",
            },
            "AnyMartFailed": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.marts.failed[0]", "IsPresent": True, "Next": "MartsFailed"}
                ],
                "Default": "Finish",
            },
            "MartsFailed": {
                "Type": "Pass",
                "Parameters": {
                    "Error": MART_FAILED,
                    "Cause.$": "States.JsonToString($.marts.failed)",
                },
                "ResultPath": "$.failure",
                "Next": "RecordFailure",
            },
            "Finish": lambda_task(
                finish_function_arn,
                run,
                ResultPath=None,
                Catch=[catch("$.failure", "RecordFailure")],
                End=True,
            ),
            # The run's records are marked error with the cause (every failed mart), then the
            # execution fails: the failed-runs alarm sees it.
            "RecordFailure": lambda_task(
                fail_function_arn,
                {**run, "error.$": "$.failure"},
                ResultPath=None,
                Catch=[catch("$.record_failure", "Failed")],
                Next="Failed",
            ),
            "Failed": {
                "Type": "Fail",
                "ErrorPath": "$.failure.Error",
                "CausePath": "$.failure.Cause",
            },
        },
    }


# --- consumer access -------------------------------------------------------------------------


def consumer_policy(
    *,
    region: str,
    account: str,
    workgroup: str,
    gold_database: str,
    observer_bucket_arn: str,
    kms_key_arn: str,
) -> dict[str, Any]:
    """What a gold consumer may do through IAM; Lake Formation decides which data it sees.

    No statement names the lake bucket: Athena reads gold with credentials Lake Formation
    vends for the tables it granted, so bronze, silver and gold objects stay out of IAM reach.
    """
    glue = f"arn:aws:glue:{region}:{account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "QueryInGoldWorkgroup",
                "Effect": "Allow",
                "Action": list(CONSUMER_ATHENA_ACTIONS),
                "Resource": f"arn:aws:athena:{region}:{account}:workgroup/{workgroup}",
            },
            {
                "Sid": "ReadGoldCatalog",
                "Effect": "Allow",
                "Action": list(CONSUMER_GLUE_ACTIONS),
                "Resource": [
                    f"{glue}:catalog",
                    f"{glue}:database/{gold_database}",
                    f"{glue}:table/{gold_database}/*",
                ],
            },
            {
                # GetDataAccess has no resource-level permissions; Lake Formation decides.
                "Sid": "LakeFormationDataAccess",
                "Effect": "Allow",
                "Action": "lakeformation:GetDataAccess",
                "Resource": "*",
            },
            {
                "Sid": "ReadWriteQueryResults",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": f"{observer_bucket_arn}/{ATHENA_RESULTS_PREFIX}*",
            },
            {
                "Sid": "ListQueryResults",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": observer_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{ATHENA_RESULTS_PREFIX}*"]}},
            },
            {
                "Sid": "LocateResultsBucket",
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": observer_bucket_arn,
            },
            {
                # Query results are encrypted with the lake key.
                "Sid": "UseLakeKeyForResults",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": kms_key_arn,
            },
        ],
    }


# --- the component ---------------------------------------------------------------------------


class GoldMart(pulumi.ComponentResource):
    """The gold Spark job and its state machine, its starts, the Athena workgroup, consumers."""

    state_machine_arn: pulumi.Output[str]
    application_id: pulumi.Output[str]
    job_role_arn: pulumi.Output[str]
    workgroup_name: pulumi.Output[str]
    consumer_role_arn: pulumi.Output[str]
    demo_user_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: GoldMartArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:GoldMart", name, None, opts)
        check_no_pii_columns()
        self._name = name
        settings = args.settings
        self._lake_names = names = settings.names
        gold, ingestion, observe = settings.gold, settings.ingestion, settings.observability
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account = caller.account_id
        self._account = account
        silver_database, gold_database = args.silver_database_name, args.gold_database_name

        def arn(service: str, resource: str) -> pulumi.Output[str]:
            return regional_arn(service, names.region, account, resource)

        # --- logs --------------------------------------------------------------------------
        def log_group(purpose: str, path: str) -> aws.cloudwatch.LogGroup:
            return workload_log_group(
                self,
                f"{name}-{purpose.removeprefix('gold-')}-logs",
                name=f"{path}/{names.resource(purpose)}",
                retention_days=observe.log_retention_days,
                kms_key_arn=args.kms_key_arn,
                layer="gold",
            )

        job_logs = log_group("gold-spark", "/aws/emr-serverless")
        function_logs = {
            purpose: log_group(purpose, "/aws/lambda")
            for purpose in ("gold-plan", "gold-finish", "gold-fail")
        }
        machine_logs = log_group("gold-marts", "/aws/vendedlogs/states")

        # --- compute: the silver application, or one of gold's own -------------------------
        if gold.reuse_silver_application:
            if args.silver_application_id is None or args.silver_application_arn is None:
                raise ValueError(
                    "gold.reuse_silver_application is true: pass the silver application's "
                    "id and ARN (GoldMartArgs.silver_application_id/_arn)"
                )
            self.application = None
            application_id = pulumi.Output.from_input(args.silver_application_id)
            application_arn = pulumi.Output.from_input(args.silver_application_arn)
        else:
            self.application = spark_application(
                self,
                f"{name}-spark",
                name=names.resource("gold-spark"),
                emr=settings.silver.emr,
                layer="gold",
            )
            application_id, application_arn = self.application.id, self.application.arn

        # --- the job bundle ----------------------------------------------------------------
        self.job_script, self.job_modules = spark_job_objects(
            self,
            name,
            entry=SPARK_JOB_ENTRY,
            bucket=args.artifacts_bucket_name,
            jobs_prefix=JOBS_PREFIX,
            layer="gold",
        )
        entry_point = s3_uri(args.artifacts_bucket_name, self.job_script.key)
        py_files = s3_uri(args.artifacts_bucket_name, self.job_modules.key)
        warehouse = s3_uri(args.lake_bucket_name, GOLD_PREFIX)
        log_uri = s3_uri(args.observer_bucket_name, EMR_LOGS_PREFIX)

        # --- the job runtime role ----------------------------------------------------------
        lake = args.lake_bucket_arn
        self.job_role = self._role(
            "gold-spark-job",
            "emr-serverless.amazonaws.com",
            s3_read(lake, [SILVER_PREFIX], "ReadSilver"),
            {
                # The job replaces the changed months: Iceberg writes new files and deletes
                # old ones when snapshots expire.
                "Sid": "ReadWriteGold",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": [pulumi.Output.concat(lake, f"/{GOLD_PREFIX}*")],
            },
            {
                "Sid": "ListSilverAndGold",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": lake,
                "Condition": {
                    "StringLike": {
                        "s3:prefix": [
                            SILVER_PREFIX,
                            f"{SILVER_PREFIX}*",
                            GOLD_PREFIX,
                            f"{GOLD_PREFIX}*",
                        ]
                    }
                },
            },
            s3_read(args.artifacts_bucket_arn, [JOBS_PREFIX, RUNS_PREFIX], "ReadCodeAndManifests"),
            {
                "Sid": "ReadSilverCatalog",
                "Effect": "Allow",
                "Action": [
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartitions",
                ],
                "Resource": [
                    arn("glue", "catalog"),
                    pulumi.Output.concat(arn("glue", "database/"), silver_database),
                    pulumi.Output.concat(arn("glue", "table/"), silver_database, "/*"),
                ],
            },
            {
                "Sid": "GoldCatalog",
                "Effect": "Allow",
                "Action": [
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartitions",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                ],
                "Resource": [
                    arn("glue", "catalog"),
                    pulumi.Output.concat(arn("glue", "database/"), gold_database),
                    pulumi.Output.concat(arn("glue", "table/"), gold_database, "/*"),
                ],
            },
            {
                # GetDataAccess has no resource-level permissions; Lake Formation decides.
                "Sid": "LakeFormationDataAccess",
                "Effect": "Allow",
                "Action": "lakeformation:GetDataAccess",
                "Resource": "*",
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
            s3_write(args.observer_bucket_arn, [EMR_LOGS_PREFIX], "WriteEventLogs"),
        )
        # Lake Formation decides on Glue metadata of governed databases: the job reads the
        # silver tables (review_flat is created by the silver job, so no grant can name it
        # before the first silver run) and creates, replaces and describes the gold tables.
        lake_formation = [
            ("silver-database", ["DESCRIBE"], {"database": {"name": silver_database}}),
            (
                "silver-tables",
                ["SELECT", "DESCRIBE"],
                {"table": {"database_name": silver_database, "wildcard": True}},
            ),
            (
                "gold-database",
                ["DESCRIBE", "CREATE_TABLE", "ALTER"],
                {"database": {"name": gold_database}},
            ),
            (
                "gold-tables",
                ["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"],
                {"table": {"database_name": gold_database, "wildcard": True}},
            ),
            (
                "gold-location",
                ["DATA_LOCATION_ACCESS"],
                {
                    "data_location": {
                        "arn": pulumi.Output.concat(lake, "/", GOLD_PREFIX.rstrip("/"))
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
            "ARTIFACTS_BUCKET": args.artifacts_bucket_name,
            "GOLD_DATABASE": gold_database,
            "SILVER_DATABASE": silver_database,
            "MAX_ATTEMPTS": str(ingestion.max_attempts),
            "LEASE_SECONDS": str(ingestion.lease_seconds),
            "TARGET_FILE_SIZE_MB": str(settings.silver.target_file_size_mb),
        }
        records = control_table_access(args.control_table_arn, update=True)
        functions: dict[str, aws.lambda_.Function] = {}
        for purpose, description, handler, memory_mb, timeout_seconds, extra in (
            (
                "gold-plan",
                "Claims pending gold records and writes the run's manifest of marts",
                PLAN_HANDLER,
                PLAN_MEMORY_MB,
                PLAN_TIMEOUT_SECONDS,
                [s3_write(args.artifacts_bucket_arn, [RUNS_PREFIX], "WriteManifests")],
            ),
            (
                "gold-finish",
                "Marks a gold run's records success",
                FINISH_HANDLER,
                RECORD_MEMORY_MB,
                RECORD_TIMEOUT_SECONDS,
                [],
            ),
            (
                "gold-fail",
                "Marks a failed gold run's records error with the cause",
                FAIL_HANDLER,
                RECORD_MEMORY_MB,
                RECORD_TIMEOUT_SECONDS,
                [],
            ),
        ):
            logs = function_logs[purpose]
            role = self._role(
                purpose,
                "lambda.amazonaws.com",
                records,
                *extra,
                kms_use(args.kms_key_arn, encrypt=True),
                logs_write(logs.arn),
            )
            functions[purpose] = aws.lambda_.Function(
                f"{name}-{purpose.removeprefix('gold-')}",
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
                tags=layer_tags("gold"),
                opts=child_options(self, depends_on=[logs]),
            )
        self.plan, self.finish, self.fail = (
            functions["gold-plan"],
            functions["gold-finish"],
            functions["gold-fail"],
        )

        # --- the state machine -------------------------------------------------------------
        machine_role = self._role(
            "gold-marts",
            "states.amazonaws.com",
            {
                "Sid": "InvokeGoldFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [
                    resource
                    for f in functions.values()
                    for resource in (f.arn, pulumi.Output.concat(f.arn, ":*"))
                ],
            },
            *spark_run_statements(
                application_arn=application_arn,
                job_role_arn=self.job_role.arn,
                sync_rule_arn=arn("events", f"rule/{SYNC_JOB_RULE}"),
                kms_key_arn=args.kms_key_arn,
            ),
        )
        spark_job = pulumi.Output.all(
            application_id,
            self.job_role.arn,
            entry_point,
            py_files,
            gold_database,
            warehouse,
            job_logs.name,
            log_uri,
        ).apply(lambda v: SparkJob(*v))
        definition = pulumi.Output.all(
            self.plan.arn, self.finish.arn, self.fail.arn, spark_job, silver_database
        ).apply(
            lambda v: gold_definition(
                plan_function_arn=v[0],
                finish_function_arn=v[1],
                fail_function_arn=v[2],
                job=v[3],
                source_database=v[4],
                marts=[mart.name for mart in MARTS],
                max_concurrency=gold.max_concurrency,
                max_attempts=ingestion.max_attempts,
                interval_seconds=ingestion.retry_interval_seconds,
                backoff_rate=ingestion.retry_backoff_rate,
            )
        )
        self.state_machine = standard_state_machine(
            self,
            f"{name}-marts",
            name=names.resource("gold-marts"),
            role=machine_role,
            logs=machine_logs,
            definition=definition.apply(lambda d: json.dumps(d, indent=2)),
            kms_key_arn=args.kms_key_arn,
            layer="gold",
        )
        actions = [observe.alarm_topic_arn] if observe.alarm_topic_arn else []
        aws.cloudwatch.MetricAlarm(
            f"{name}-failed-runs-alarm",
            name=names.resource("gold-failed-runs"),
            alarm_description="Gold state machine executions failed (a mart could not be built)",
            namespace="AWS/States",
            metric_name="ExecutionsFailed",
            dimensions={"StateMachineArn": self.state_machine.arn},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=layer_tags("gold"),
            opts=child_options(self),
        )

        # --- starts: after each successful silver run, and on the optional schedule --------
        self.after_silver = self._after_silver(silver_database)
        self.schedule = None
        if gold.schedule:
            start_role = self._start_role("gold-marts-start", "scheduler.amazonaws.com")
            self.schedule = aws.scheduler.Schedule(
                f"{name}-schedule",
                name=names.resource("gold-marts"),
                description="Runs the gold marts on a schedule (besides after each silver run)",
                schedule_expression=gold.schedule,
                schedule_expression_timezone=settings.silver.schedule_timezone,
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": self.state_machine.arn,
                    "role_arn": start_role.arn,
                    "input": json.dumps({"trigger": "schedule"}),
                    "retry_policy": {
                        "maximum_event_age_in_seconds": 3600,
                        "maximum_retry_attempts": 3,
                    },
                },
                opts=child_options(self),
            )

        # --- Athena: the consumers' workgroup and a named query per mart -------------------
        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=names.resource("gold-consumers"),
            description="Queries on the gold marts (PII-free); results encrypted with the lake key",
            state="ENABLED",
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": gold.athena_bytes_scanned_cutoff_mb * 1024 * 1024,
                "engine_version": {"selected_engine_version": ATHENA_ENGINE_VERSION},
                "result_configuration": {
                    "output_location": s3_uri(args.observer_bucket_name, ATHENA_RESULTS_PREFIX),
                    "encryption_configuration": {
                        "encryption_option": "SSE_KMS",
                        "kms_key_arn": args.kms_key_arn,
                    },
                },
            },
            # Queries consumers saved in the workgroup must not block `pulumi destroy` in dev.
            force_destroy=not settings.protect_stateful,
            tags=layer_tags("gold"),
            opts=child_options(self),
        )
        for mart in MARTS:
            aws.athena.NamedQuery(
                f"{name}-query-{mart.name}",
                # A label inside the workgroup (Athena names queries by id), not a physical name.
                name=mart.name,
                description=f"{mart.description} Top {EXAMPLE_LIMIT} of one month.",
                workgroup=self.workgroup.name,
                database=gold_database,
                query=example_query(mart),
                opts=child_options(self),
            )

        # --- consumers: a role (and an optional demo user) with one policy -----------------
        consumer_document = pulumi.Output.all(
            account, self.workgroup.name, gold_database, args.observer_bucket_arn, args.kms_key_arn
        ).apply(
            lambda v: json.dumps(
                consumer_policy(
                    region=names.region,
                    account=v[0],
                    workgroup=v[1],
                    gold_database=v[2],
                    observer_bucket_arn=v[3],
                    kms_key_arn=v[4],
                )
            )
        )
        consumers = list(settings.governance.consumers)
        self.consumer_role = aws.iam.Role(
            f"{name}-consumer-role",
            name=names.resource("gold-consumer"),
            description="Queries the gold marts with Athena; Lake Formation shows gold, no PII",
            assume_role_policy=account.apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                # Empty consumers: principals of this account allowed to
                                # assume the role by their own IAM policy.
                                "Principal": {"AWS": consumers or [f"arn:aws:iam::{a}:root"]},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                )
            ),
            tags=layer_tags("gold"),
            opts=child_options(self),
        )
        aws.iam.RolePolicy(
            f"{name}-consumer-policy",
            role=self.consumer_role.id,
            policy=consumer_document,
            opts=child_options(self),
        )
        principals: list[pulumi.Input[str]] = [self.consumer_role.arn]
        self.demo_user = None
        if gold.demo_user:
            group = aws.iam.Group(
                f"{name}-consumers-group",
                name=names.resource("gold-consumers"),
                opts=child_options(self),
            )
            aws.iam.GroupPolicy(
                f"{name}-consumers-group-policy",
                group=group.name,
                policy=consumer_document,
                opts=child_options(self),
            )
            self.demo_user = aws.iam.User(
                f"{name}-demo-user",
                name=names.resource("gold-demo"),
                # A console password added by hand must not block `pulumi destroy`.
                force_destroy=True,
                tags={**layer_tags("gold"), "purpose": "try gold in the AWS console"},
                opts=child_options(self),
            )
            aws.iam.UserGroupMembership(
                f"{name}-demo-user-membership",
                user=self.demo_user.name,
                groups=[group.name],
                opts=child_options(self),
            )
            principals.append(self.demo_user.arn)

        # --- Lake Formation: layer tags on the databases, PII-free grants on gold ----------
        self.layer_tag = aws.lakeformation.LfTag(
            f"{name}-layer-tag",
            key=LAYER_TAG_KEY,
            values=LAYER_TAG_VALUES,
            opts=child_options(self),
        )
        database_tags = []
        for layer, database in (
            (Layer.BRONZE, args.bronze_database_name),
            (Layer.SILVER, silver_database),
            (Layer.GOLD, gold_database),
        ):
            tags = [{"key": LAYER_TAG_KEY, "value": layer.value}]
            if layer is Layer.GOLD:
                # Inherited by every gold table and column: no gold column is pii.
                tags.append({"key": LF_TAG_KEY, "value": Classification.INTERNAL.value})
            database_tags.append(
                aws.lakeformation.ResourceLfTags(
                    f"{name}-{layer.value}-database-tags",
                    database={"name": database},
                    lf_tags=tags,
                    opts=child_options(self, depends_on=[self.layer_tag, args.classification_tag]),
                )
            )
        for index, principal in enumerate(principals):
            who = "consumer" if index == 0 else "demo-user"
            depends = [self.layer_tag, args.classification_tag, *database_tags]
            grant_pii_free_access(
                f"{name}-{who}-tables-grant",
                parent=self,
                principal=principal,
                extra_expression=GOLD_ONLY,
                depends_on=depends,
            )
            grant_pii_free_access(
                f"{name}-{who}-database-grant",
                parent=self,
                principal=principal,
                extra_expression=GOLD_ONLY,
                resource_type="DATABASE",
                depends_on=depends,
            )

        self.state_machine_arn = self.state_machine.arn
        self.application_id = application_id
        self.job_role_arn = self.job_role.arn
        self.workgroup_name = self.workgroup.name
        self.consumer_role_arn = self.consumer_role.arn
        self.demo_user_name = self.demo_user.name if self.demo_user else None
        outputs: dict[str, Any] = {
            "state_machine_arn": self.state_machine_arn,
            "application_id": self.application_id,
            "job_role_arn": self.job_role_arn,
            "workgroup_name": self.workgroup_name,
            "consumer_role_arn": self.consumer_role_arn,
        }
        if self.demo_user_name is not None:
            outputs["demo_user_name"] = self.demo_user_name
        self.register_outputs(outputs)

    def _role(
        self, purpose: str, service: str, *statements: pulumi.Input[dict[str, Any]]
    ) -> aws.iam.Role:
        """One role per workload, with one inline policy of exactly its statements."""
        return workload_role(
            self,
            f"{self._name}-{purpose.removeprefix('gold-')}",
            name=self._lake_names.resource(purpose),
            service=service,
            account=self._account,
            statements=statements,
            layer="gold",
        )

    def _start_role(self, purpose: str, service: str) -> aws.iam.Role:
        """A role ``service`` assumes to start the gold state machine, and nothing else."""
        return self._role(
            purpose,
            service,
            {
                "Sid": "StartGoldRun",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": self.state_machine.arn,
            },
        )

    def _after_silver(self, silver_database: pulumi.Input[str]) -> aws.cloudwatch.EventRule:
        """Start a gold run on each SilverPipelineSucceeded event of this lake's silver."""
        name, names = self._name, self._lake_names
        rule = aws.cloudwatch.EventRule(
            f"{name}-after-silver",
            name=names.resource("gold-after-silver"),
            description="Starts the gold marts after each successful silver run",
            event_pattern=pulumi.Output.from_input(silver_database).apply(
                lambda database: json.dumps(silver_succeeded_pattern(database))
            ),
            tags=layer_tags("gold"),
            opts=child_options(self),
        )
        role = self._start_role("gold-after-silver", "events.amazonaws.com")
        aws.cloudwatch.EventTarget(
            f"{name}-after-silver-target",
            rule=rule.name,
            arn=self.state_machine.arn,
            role_arn=role.arn,
            input_transformer={
                "input_paths": {"silver_run_id": "$.detail.run_id"},
                "input_template": '{"trigger": "silver", "silver_run_id": "<silver_run_id>"}',
            },
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3},
            opts=child_options(self),
        )
        return rule


def silver_succeeded_pattern(silver_database: str) -> dict[str, Any]:
    """The silver pipeline's success event, for this lake's silver database only."""
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [SUCCEEDED_DETAIL_TYPE],
        "detail": {"database": [silver_database]},
    }


__all__ = [
    "GoldMart",
    "GoldMartArgs",
    "check_no_pii_columns",
    "consumer_policy",
    "example_queries_markdown",
    "example_query",
    "gold_definition",
    "silver_succeeded_pattern",
]
