"""SparkRuntime: where one layer's Spark job runs, as whom, with which code.

    EMR Serverless application  its own (capped by the emr settings, starts on demand, stops
                                when idle), or one passed in by id and ARN (shared)
    job log group               /aws/emr-serverless/<project>-<env>-<layer>-spark
    job code                    artifacts <code_prefix><sha256>/<entry script>
                                          <code_prefix><sha256>/<layer>_job_modules.zip
    job runtime role            built from the declared access, nothing more:
        reads   lake <prefix>* (get), the layer's Glue database (read), LF SELECT + DESCRIBE
        writes  lake <prefix>* (get, put, delete), its Glue database (create and update
                tables), LF CREATE_TABLE + ALTER, table writes, the data location
        always  list the lake under those prefixes, read its code and run manifests, the lake
                key, its log group, Spark event logs in observer <event_logs_prefix>

SilverPipeline and GoldMart each have one (named like them, so their resources keep the names
they had before); gold shares silver's application by passing its id and ARN.
"""

from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.naming import layer_tags
from datalake.settings import EmrServerlessSettings

from .foundation import LakeFoundation, after_lake_formation, names_of, section_settings
from .options import child_options
from .policies import Statement, kms_use, s3_read, s3_write
from .spark_bundle import build_spark_job_bundle
from .spark_tasks import SYNC_JOB_RULE, SparkJob, spark_run_statements
from .workloads import regional_arn, s3_uri, workload_log_group, workload_role

READ_TABLES = ["SELECT", "DESCRIBE"]
WRITE_TABLES = ["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"]
GLUE_READ = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"]


class LakeLayerAccess(TypedDict):
    """One lake layer a job reads or writes."""

    prefix: str
    """The layer's lake bucket prefix (``bronze/``, ``silver/``...)."""
    database: NotRequired[pulumi.Input[str]]
    """The layer's Glue database, when the job uses its tables (not only its files)."""
    list_partitions: NotRequired[bool]
    """A written database: also ``glue:GetPartitions`` (a read database always has it)."""


class SparkRuntimeArgs(TypedDict):
    """Inputs of :class:`SparkRuntime`."""

    foundation: LakeFoundation
    """The lake's foundation: buckets, key, Lake Formation readiness."""
    layer: str
    """The layer whose job this is (``silver``, ``gold``): physical names and tags."""
    entry_script: str
    """Path of the job's entry script; the local modules it imports are bundled with it."""
    code_prefix: str
    """Artifacts prefix of the job code (``silver/jobs/``)."""
    manifests_prefix: str
    """Artifacts prefix of the run manifests the job reads (``silver/runs/``)."""
    event_logs_prefix: str
    """Observer prefix of the Spark event logs (``emr-logs/silver/``)."""
    reads: list[LakeLayerAccess]
    """The layers the job reads."""
    writes: LakeLayerAccess
    """The layer the job writes (its Iceberg warehouse); it needs its database."""
    emr: NotRequired[dict[str, Any]]
    """Settings of an application of its own (``EmrServerlessSettings`` as JSON; defaults);
    its ``job_timeout_minutes`` bounds every job run, on a shared application too."""
    application_id: NotRequired[pulumi.Input[str]]
    """An existing application to run on (shared); with ``application_arn``, none is created."""
    application_arn: NotRequired[pulumi.Input[str]]
    """That application's ARN."""


class SparkRuntime(pulumi.ComponentResource):
    """An EMR Serverless application (own or shared), a job role, logs and the job code."""

    application_id: pulumi.Output[str]
    """The application the job runs on."""
    application_arn: pulumi.Output[str]
    """Its ARN."""
    job_role_arn: pulumi.Output[str]
    """The job runtime role."""
    job_entry_point: pulumi.Output[str]
    """``s3://`` URI of the uploaded entry script."""
    job_modules: pulumi.Output[str]
    """``s3://`` URI of the uploaded modules zip (``--py-files``)."""
    log_group_name: pulumi.Output[str]
    """The job's CloudWatch log group."""
    event_log_uri: pulumi.Output[str]
    """Where Spark event logs go (``s3://<observer>/<event_logs_prefix>``)."""
    warehouse: pulumi.Output[str]
    """The Iceberg warehouse of the written layer (``s3://<lake>/<prefix>``)."""

    def __init__(
        self, name: str, args: SparkRuntimeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:SparkRuntime", name, None, opts)
        foundation, layer = args["foundation"], args["layer"]
        lake = foundation["lake"]
        names = names_of(lake)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self._foundation, self._region, self._account = foundation, names.region, caller.account_id

        self.logs = workload_log_group(
            self,
            f"{name}-spark-logs",
            name=f"/aws/emr-serverless/{names.resource(f'{layer}-spark')}",
            retention_days=lake["log_retention_days"],
            kms_key_arn=foundation["kms_key_arn"],
            layer=layer,
        )
        if "application_id" in args and "application_arn" in args:
            self.application_id = pulumi.Output.from_input(args["application_id"])
            self.application_arn = pulumi.Output.from_input(args["application_arn"])
        else:
            application = spark_application(
                self,
                f"{name}-spark",
                name=names.resource(f"{layer}-spark"),
                emr=section_settings(EmrServerlessSettings, f"{layer}.emr", args.get("emr")),
                layer=layer,
            )
            self.application_id, self.application_arn = application.id, application.arn

        script, modules = self._job_code(name, args)
        artifacts = foundation["artifacts_bucket_name"]
        self.job_entry_point = s3_uri(artifacts, script.key)
        self.job_modules = s3_uri(artifacts, modules.key)
        self.event_log_uri = s3_uri(foundation["observer_bucket_name"], args["event_logs_prefix"])
        self.warehouse = s3_uri(foundation["lake_bucket_name"], args["writes"]["prefix"])

        self.job_role = workload_role(
            self,
            f"{name}-spark-job",
            name=names.resource(f"{layer}-spark-job"),
            service="emr-serverless.amazonaws.com",
            account=self._account,
            statements=job_statements(args, self.logs, self._arn),
            layer=layer,
            names=names,
        )
        role_arn: pulumi.Input[str] = self.job_role.arn
        for purpose, permissions, resource in lake_formation_grants(args):
            aws.lakeformation.Permissions(
                f"{name}-job-{purpose}-grant",
                principal=after_lake_formation(foundation, role_arn),
                permissions=permissions,
                **resource,
                opts=child_options(self),
            )

        self.job_role_arn = self.job_role.arn
        self.log_group_name = self.logs.name
        self._database = args["writes"].get("database", "")
        self._timeout_minutes = section_settings(
            EmrServerlessSettings, f"{layer}.emr", args.get("emr")
        ).job_timeout_minutes
        self.register_outputs(
            {
                "application_id": self.application_id,
                "application_arn": self.application_arn,
                "job_role_arn": self.job_role_arn,
                "job_entry_point": self.job_entry_point,
                "job_modules": self.job_modules,
                "log_group_name": self.log_group_name,
                "event_log_uri": self.event_log_uri,
                "warehouse": self.warehouse,
            }
        )

    def job(self) -> pulumi.Output[SparkJob]:
        """What every run of this job shares, for the state machine's Spark tasks."""
        return pulumi.Output.all(
            self.application_id,
            self.job_role_arn,
            self.job_entry_point,
            self.job_modules,
            self._database,
            self.warehouse,
            self.log_group_name,
            self.event_log_uri,
            self._timeout_minutes,
        ).apply(lambda v: SparkJob(*v))

    def run_statements(self) -> list[pulumi.Input[Statement]]:
        """What a state machine needs to run this job and wait for it."""
        return spark_run_statements(
            application_arn=self.application_arn,
            job_role_arn=self.job_role_arn,
            sync_rule_arn=self._arn("events", f"rule/{SYNC_JOB_RULE}"),
            kms_key_arn=self._foundation["kms_key_arn"],
        )

    def _arn(self, service: str, resource: str) -> pulumi.Output[str]:
        return regional_arn(service, self._region, self._account, resource)

    def _job_code(
        self, name: str, args: SparkRuntimeArgs
    ) -> tuple[aws.s3.BucketObjectv2, aws.s3.BucketObjectv2]:
        """Upload the entry script and its modules zip under ``<code_prefix><sha256>/``."""
        entry, layer = Path(args["entry_script"]), args["layer"]
        bundle = build_spark_job_bundle(entry)
        if not entry.is_file():
            pulumi.log.warn(
                f"{entry} does not exist yet: the {layer} jobs "
                "have no code and `pulumi up` will fail to upload it",
                resource=self,
            )
        prefix = f"{args['code_prefix']}{bundle.digest}/"
        zip_path = bundle.cached_zip(layer)
        uploads = []
        for purpose, key, path, digest, content_type in (
            ("script", entry.name, entry, bundle.entry_sha256, "text/x-python"),
            ("modules", zip_path.name, zip_path, bundle.zip_sha256, "application/zip"),
        ):
            uploads.append(
                aws.s3.BucketObjectv2(
                    f"{name}-job-{purpose}",
                    bucket=self._foundation["artifacts_bucket_name"],
                    key=f"{prefix}{key}",
                    source=pulumi.FileAsset(str(path)),
                    # etag is not the MD5 of an SSE-KMS object: the content hash tracks changes.
                    source_hash=digest,
                    content_type=content_type,
                    tags=layer_tags(layer),
                    opts=child_options(self),
                )
            )
        return uploads[0], uploads[1]


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


def _title(access: LakeLayerAccess) -> str:
    return access["prefix"].strip("/").title()


def job_statements(
    args: SparkRuntimeArgs, logs: aws.cloudwatch.LogGroup, arn: Any
) -> tuple[pulumi.Input[Statement], ...]:
    """The job role's policy, from the declared reads and writes (``arn(service, resource)``
    spells a regional ARN of this account)."""
    foundation, reads, writes = args["foundation"], args["reads"], args["writes"]
    lake = foundation["lake_bucket_arn"]
    listed = [p for a in [*reads, writes] for p in (a["prefix"], f"{a['prefix']}*")]

    def catalog(sid: str, actions: list[str], database: pulumi.Input[str]) -> Statement:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": [
                arn("glue", "catalog"),
                pulumi.Output.concat(arn("glue", "database/"), database),
                pulumi.Output.concat(arn("glue", "table/"), database, "/*"),
            ],
        }

    partitions = ["glue:GetPartitions"] if writes.get("list_partitions") else []
    written = GLUE_READ[:3] + partitions + ["glue:CreateTable", "glue:UpdateTable"]
    return (
        *(s3_read(lake, [r["prefix"]], f"Read{_title(r)}") for r in reads),
        {
            # Iceberg rewrites data files and deletes them when snapshots expire.
            "Sid": f"ReadWrite{_title(writes)}",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            ],
            "Resource": [pulumi.Output.concat(lake, f"/{writes['prefix']}*")],
        },
        {
            "Sid": f"List{'And'.join(_title(a) for a in [*reads, writes])}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": lake,
            "Condition": {"StringLike": {"s3:prefix": listed}},
        },
        s3_read(
            foundation["artifacts_bucket_arn"],
            [args["code_prefix"], args["manifests_prefix"]],
            "ReadCodeAndManifests",
        ),
        *(
            catalog(f"Read{_title(r)}Catalog", GLUE_READ, r["database"])
            for r in reads
            if "database" in r
        ),
        catalog(f"{_title(writes)}Catalog", written, writes["database"]),
        {
            # GetDataAccess has no resource-level permissions; Lake Formation decides.
            "Sid": "LakeFormationDataAccess",
            "Effect": "Allow",
            "Action": "lakeformation:GetDataAccess",
            "Resource": "*",
        },
        kms_use(foundation["kms_key_arn"], encrypt=True),
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
            "Resource": [logs.arn, pulumi.Output.concat(logs.arn, ":*")],
        },
        s3_write(foundation["observer_bucket_arn"], [args["event_logs_prefix"]], "WriteEventLogs"),
    )


def lake_formation_grants(
    args: SparkRuntimeArgs,
) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(purpose, permissions, resource) of each Lake Formation grant to the job role.

    Lake Formation decides on Glue metadata of governed databases: the job describes and reads
    the tables it reads (a grant cannot name tables the other job has not created yet, hence
    the wildcard), creates and writes the tables of its own layer and its data location.
    Purposes name the layer only when the job uses more than one database.
    """
    reads, writes = [r for r in args["reads"] if "database" in r], args["writes"]

    def purpose(access: LakeLayerAccess, kind: str) -> str:
        return f"{access['prefix'].strip('/')}-{kind}" if reads else kind

    grants: list[tuple[str, list[str], dict[str, Any]]] = []
    for access, database_permissions, table_permissions in (
        *((r, ["DESCRIBE"], READ_TABLES) for r in reads),
        (writes, ["DESCRIBE", "CREATE_TABLE", "ALTER"], WRITE_TABLES),
    ):
        database = access["database"]
        grants.append(
            (purpose(access, "database"), database_permissions, {"database": {"name": database}})
        )
        grants.append(
            (
                purpose(access, "tables"),
                table_permissions,
                {"table": {"database_name": database, "wildcard": True}},
            )
        )
    location = pulumi.Output.concat(
        args["foundation"]["lake_bucket_arn"], "/", writes["prefix"].rstrip("/")
    )
    grants.append(
        (
            purpose(writes, "location"),
            ["DATA_LOCATION_ACCESS"],
            {"data_location": {"arn": location}},
        )
    )
    return grants
