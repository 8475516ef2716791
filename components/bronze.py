"""BronzeZone: event-driven raw -> bronze ingestion.

    landing raw/*.gz ──S3 notification──▶ processing controller λ ──▶ control table
    control table stream ──EventBridge Pipe (new pending bronze records)──▶ ingestion state machine
    state machine ──Choice: record_count ≥ threshold──▶ ingest λ ("lite") | Fargate task ("mass")
                  ──Retry with backoff, Catch──▶ record marked error, execution failed
    ingest ──▶ lake bronze/ (Parquet) + quarantine/ ; Glue bronze tables with partition projection
    alarms: files out of attempts, failed executions, dead letters

The Lambdas run ``workloads.bronze.handlers`` from a deterministic bundle of ``datalake/`` +
``workloads/`` + pinned wheels for the Lambda platform; pyarrow comes from a managed layer.
The Fargate task runs the same code from an image built from ``workloads/bronze/Dockerfile``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.code import ROOT, lambda_code
from components.network import IngestionNetwork, IngestionNetworkArgs
from components.options import child_options
from components.pii import classify_columns
from components.policies import (
    control_table_access,
    kms_use,
    logs_write,
    metrics_put,
    s3_read,
    s3_write,
    sqs_send,
    state_machine_log_delivery,
)
from components.workloads import standard_state_machine, workload_log_group, workload_role
from datalake.contracts import BRONZE_PARTITION_KEYS, CONTRACTS, TableContract, bronze_columns
from datalake.errors import EXHAUSTED_METRIC, METRIC_NAMESPACE, NOT_RETRYABLE
from datalake.layout import BRONZE_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX, RAW_SUFFIXES
from datalake.naming import LakeNames, layer_tags
from datalake.settings import IngestionSettings, LakeSettings

CONTROLLER_HANDLER = "workloads.bronze.handlers.controller_handler"
INGEST_HANDLER = "workloads.bronze.handlers.ingest_handler"
CONTAINER_NAME = "ingest"
HIVE_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"


@dataclass
class BronzeZoneArgs:
    """Inputs of :class:`BronzeZone`: the settings and the foundation it builds on."""

    settings: LakeSettings
    landing_bucket_name: pulumi.Input[str]
    landing_bucket_arn: pulumi.Input[str]
    lake_bucket_name: pulumi.Input[str]
    lake_bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    control_table_name: pulumi.Input[str]
    control_table_arn: pulumi.Input[str]
    control_stream_arn: pulumi.Input[str]
    bronze_database_name: pulumi.Input[str]
    pii_worker_policy_arn: pulumi.Input[str]
    """Managed policy of the PIIMasker: what the workers need to detect and mask PII."""
    pii_environment: dict[str, pulumi.Input[str]]
    """The masking settings the PIIMasker hands to the workers."""
    classification_tag: aws.lakeformation.LfTag | None = None
    """When given, bronze table columns are tagged with their contract classification."""


def ingestion_definition(
    *,
    threshold: int,
    lite_function_arn: str,
    cluster_arn: str,
    task_definition_arn: str,
    subnet_ids: list[str],
    security_group_ids: list[str],
    assign_public_ip: bool,
    control_table_name: str,
    max_attempts: int,
    interval_seconds: int,
    backoff_rate: float,
) -> dict[str, Any]:
    """Amazon States Language of the ingestion state machine (Standard: it waits on ECS)."""
    retry = [
        # The input itself is bad: the worker already marked the record; retrying repeats it.
        {"ErrorEquals": [e.__name__ for e in NOT_RETRYABLE], "MaxAttempts": 0},
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": interval_seconds,
            "BackoffRate": backoff_rate,
            "MaxAttempts": max_attempts - 1,
            "JitterStrategy": "FULL",
        },
    ]
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}]
    return {
        "Comment": "Ingest one raw object into bronze on Lambda or Fargate",
        "StartAt": "ChooseCompute",
        "States": {
            "ChooseCompute": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.record_count",
                        "NumericGreaterThanEquals": threshold,
                        "Next": "IngestOnFargate",
                    }
                ],
                "Default": "IngestOnLambda",
            },
            "IngestOnLambda": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": lite_function_arn,
                    "Payload": {"control_id.$": "$.control_id"},
                },
                "ResultSelector": {"result.$": "$.Payload"},
                "Retry": retry,
                "Catch": catch,
                "End": True,
            },
            "IngestOnFargate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": cluster_arn,
                    "TaskDefinition": task_definition_arn,
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": subnet_ids,
                            "SecurityGroups": security_group_ids,
                            "AssignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
                        }
                    },
                    "Overrides": {
                        "ContainerOverrides": [
                            {
                                "Name": CONTAINER_NAME,
                                "Environment": [{"Name": "CONTROL_ID", "Value.$": "$.control_id"}],
                            }
                        ]
                    },
                },
                "ResultSelector": {"stopped_reason.$": "$.StoppedReason"},
                "Retry": retry,
                "Catch": catch,
                "End": True,
            },
            # The worker records its own failures; this covers what it cannot (timeouts,
            # out-of-memory kills, a task that never started). Only unfinished records change.
            "RecordFailure": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": {
                    "TableName": control_table_name,
                    "Key": {"control_id": {"S.$": "$.control_id"}},
                    "UpdateExpression": "SET #s = :error, layer_status = :layer_status, "
                    "#e = :message, updated_at = :now",
                    "ConditionExpression": "#s IN (:pending, :running)",
                    "ExpressionAttributeNames": {"#s": "status", "#e": "error"},
                    "ExpressionAttributeValues": {
                        ":error": {"S": "error"},
                        ":layer_status": {"S": "bronze#error"},
                        ":message": {"S.$": "States.JsonToString($.failure)"},
                        ":now": {"S.$": "$$.State.EnteredTime"},
                        ":pending": {"S": "pending"},
                        ":running": {"S": "running"},
                    },
                },
                "ResultPath": None,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "IngestFailed"}
                ],
                "Next": "IngestFailed",
            },
            "IngestFailed": {
                "Type": "Fail",
                "Error": "IngestFailed",
                "Cause": "The file stays in raw; its control record holds the error.",
            },
        },
    }


def pipe_filter() -> dict[str, Any]:
    """Only new, pending bronze control records start an ingestion."""
    return {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"layer": {"S": ["bronze"]}, "status": {"S": ["pending"]}}},
    }


PIPE_INPUT_TEMPLATE = (
    '{"control_id": "<$.dynamodb.NewImage.control_id.S>", '
    '"record_count": <$.dynamodb.NewImage.record_count.N>}'
)


def glue_bronze_table_args(
    contract: TableContract, lake_bucket: pulumi.Input[str], database: pulumi.Input[str]
) -> dict[str, Any]:
    """Glue table of a contract's bronze files, queryable in Athena with no crawler."""
    location = pulumi.Output.concat("s3://", lake_bucket, f"/{BRONZE_PREFIX}{contract.name}/")
    partitions = "/".join(f"{k}=${{{k}}}" for k in BRONZE_PARTITION_KEYS)
    template = pulumi.Output.concat(location, partitions, "/")
    return {
        "name": contract.name,
        "database_name": database,
        "table_type": "EXTERNAL_TABLE",
        "description": contract.description,
        "parameters": {
            "classification": "parquet",
            "parquet.compression": "ZSTD",
            "contract_version": str(contract.version),
            "projection.enabled": "true",
            "projection.year.type": "integer",
            "projection.year.range": "2020,2100",
            "projection.month.type": "integer",
            "projection.month.range": "1,12",
            "projection.month.digits": "2",
            "projection.day.type": "integer",
            "projection.day.range": "1,31",
            "projection.day.digits": "2",
            "storage.location.template": template,
        },
        "partition_keys": [{"name": k, "type": "string"} for k in BRONZE_PARTITION_KEYS],
        "storage_descriptor": {
            "location": location,
            "input_format": f"{HIVE_PARQUET}.MapredParquetInputFormat",
            "output_format": f"{HIVE_PARQUET}.MapredParquetOutputFormat",
            "ser_de_info": {"serialization_library": f"{HIVE_PARQUET}.serde.ParquetHiveSerDe"},
            "columns": [
                {
                    "name": c.name,
                    "type": c.type.glue,
                    "comment": c.description or None,
                    "parameters": {"classification": c.classification.value},
                }
                for c in bronze_columns(contract)
            ],
        },
    }


@dataclass
class _LambdaFactory:
    """The settings both bronze Lambdas share: code bundle, layer, runtime, environment."""

    parent: pulumi.Resource
    names: LakeNames
    code: pulumi.Archive
    layer: pulumi.Input[str]
    environment: dict[str, pulumi.Input[str]]
    ingestion: IngestionSettings

    def __call__(
        self,
        logical: str,
        *,
        purpose: str,
        description: str,
        role: aws.iam.Role,
        handler: str,
        memory_mb: int,
        timeout_seconds: int,
        logs: aws.cloudwatch.LogGroup,
        ephemeral_storage_mb: int = 512,
    ) -> aws.lambda_.Function:
        return aws.lambda_.Function(
            logical,
            name=self.names.resource(purpose),
            description=description,
            role=role.arn,
            runtime=self.ingestion.lambda_runtime,
            architectures=[self.ingestion.lambda_architecture],
            handler=handler,
            code=self.code,
            layers=[self.layer],
            memory_size=memory_mb,
            timeout=timeout_seconds,
            ephemeral_storage={"size": ephemeral_storage_mb},
            environment={"variables": self.environment},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            tags=layer_tags("bronze"),
            opts=child_options(self.parent, depends_on=[logs]),
        )


class BronzeZone(pulumi.ComponentResource):
    """Controller, dispatch state machine, lite Lambda, Fargate task and bronze tables."""

    controller_function_name: pulumi.Output[str]
    ingest_function_name: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    bronze_table_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: BronzeZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:BronzeZone", name, None, opts)
        self._name = name
        settings = args.settings
        self._lake_names = settings.names
        names, ingestion, observe = settings.names, settings.ingestion, settings.observability
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account = caller.account_id
        runtime_env = {
            "CONTROL_TABLE": args.control_table_name,
            "LAKE_BUCKET": args.lake_bucket_name,
            "MASS_THRESHOLD_RECORDS": str(ingestion.mass_threshold_records),
            "MAX_ATTEMPTS": str(ingestion.max_attempts),
            "LEASE_SECONDS": str(ingestion.lease_seconds),
            "METRIC_NAMESPACE": METRIC_NAMESPACE,
            **args.pii_environment,
        }

        # --- code: one bundle for both Lambdas, pyarrow from a managed layer, one image ----
        code = lambda_code(ingestion)
        pyarrow_layer: pulumi.Input[str] = (
            ingestion.pyarrow_layer_arn
            or aws.ssm.get_parameter_output(
                name=(
                    f"/aws/service/aws-sdk-pandas/{ingestion.pandas_layer_version}/{names.region}/"
                    f"py{ingestion.lambda_runtime.removeprefix('python')}/"
                    f"{ingestion.lambda_architecture}/layer-arn"
                ),
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).value
        )

        # --- dead-letter queues and logs ---------------------------------------------------
        def queue(purpose: str) -> aws.sqs.Queue:
            return aws.sqs.Queue(
                f"{name}-{purpose}-dlq",
                name=names.resource(f"{purpose}-dlq"),
                kms_master_key_id=args.kms_key_arn,
                message_retention_seconds=14 * 24 * 3600,
                tags=layer_tags("bronze"),
                opts=child_options(self),
            )

        def log_group(purpose: str, path: str) -> aws.cloudwatch.LogGroup:
            return workload_log_group(
                self,
                f"{name}-{purpose}-logs",
                name=f"{path}/{names.resource(purpose)}",
                retention_days=observe.log_retention_days,
                kms_key_arn=args.kms_key_arn,
                layer="bronze",
            )

        self.controller_dlq = queue("controller")
        self.ingest_dlq = queue("bronze-ingest")
        self.pipe_dlq = queue("bronze-pipe")
        controller_logs = log_group("processing-controller", "/aws/lambda")
        lite_logs = log_group("bronze-ingest-lite", "/aws/lambda")
        mass_logs = log_group("bronze-ingest-mass", "/ecs")
        machine_logs = log_group("bronze-ingestion", "/aws/vendedlogs/states")

        # --- processing controller: S3 event -> control record -----------------------------
        controller_role = self._role(
            "processing-controller",
            "lambda.amazonaws.com",
            account,
            s3_read(args.landing_bucket_arn, [RAW_PREFIX], "ReadRawObjects"),
            kms_use(args.kms_key_arn, encrypt=True),
            control_table_access(args.control_table_arn, update=False),
            logs_write(controller_logs.arn),
            sqs_send([self.controller_dlq.arn]),
        )
        function = _LambdaFactory(self, names, code, pyarrow_layer, runtime_env, ingestion)
        self.controller = function(
            f"{name}-controller",
            purpose="processing-controller",
            description="Registers one control record per raw object",
            role=controller_role,
            handler=CONTROLLER_HANDLER,
            memory_mb=ingestion.controller_memory_mb,
            timeout_seconds=ingestion.controller_timeout_seconds,
            logs=controller_logs,
        )
        self._async_failures_to(self.controller, self.controller_dlq, "controller")
        permission = aws.lambda_.Permission(
            f"{name}-controller-s3-invoke",
            action="lambda:InvokeFunction",
            function=self.controller.name,
            principal="s3.amazonaws.com",
            source_arn=args.landing_bucket_arn,
            source_account=account,
            opts=child_options(self),
        )
        aws.s3.BucketNotification(
            f"{name}-raw-objects",
            bucket=args.landing_bucket_name,
            lambda_functions=[
                {
                    "id": f"raw-objects{suffix.replace('.', '-')}",
                    "lambda_function_arn": self.controller.arn,
                    "events": ["s3:ObjectCreated:*"],
                    "filter_prefix": RAW_PREFIX,
                    "filter_suffix": suffix,
                }
                for suffix in RAW_SUFFIXES
            ],
            opts=child_options(self, depends_on=[permission]),
        )

        # --- workers: one policy for the lite Lambda and the Fargate task ------------------
        worker_statements = (
            s3_read(args.landing_bucket_arn, [RAW_PREFIX], "ReadRawObjects"),
            s3_write(args.lake_bucket_arn, [BRONZE_PREFIX, QUARANTINE_PREFIX], "WriteBronze"),
            kms_use(args.kms_key_arn, encrypt=True),
            control_table_access(args.control_table_arn, update=True),
            metrics_put(METRIC_NAMESPACE),
        )
        lite_role = self._role(
            "bronze-ingest-lite",
            "lambda.amazonaws.com",
            account,
            *worker_statements,
            logs_write(lite_logs.arn),
            sqs_send([self.ingest_dlq.arn]),
        )
        self.lite = function(
            f"{name}-ingest-lite",
            purpose="bronze-ingest-lite",
            description="Ingests small raw files into bronze",
            role=lite_role,
            handler=INGEST_HANDLER,
            memory_mb=ingestion.lambda_memory_mb,
            timeout_seconds=ingestion.lambda_timeout_seconds,
            logs=lite_logs,
            ephemeral_storage_mb=2048,
        )
        self._async_failures_to(self.lite, self.ingest_dlq, "ingest-lite")
        self._attach_pii_policy("ingest-lite", lite_role, args.pii_worker_policy_arn)

        # --- mass ingestion: image, cluster, Fargate task ----------------------------------
        repository = aws.ecr.Repository(
            f"{name}-image-repository",
            name=names.resource("bronze-ingest"),
            image_tag_mutability="MUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            force_delete=settings.is_dev,
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-image-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "keep the last 10 images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": 10,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child_options(self),
        )
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        platform = "linux/arm64" if ingestion.lambda_architecture == "arm64" else "linux/amd64"
        self.image = docker_build.Image(
            f"{name}-image",
            context={"location": str(ROOT)},
            dockerfile={"location": str(ROOT / "workloads" / "bronze" / "Dockerfile")},
            platforms=[platform],
            push=True,
            tags=[repository.repository_url.apply(lambda url: f"{url}:bronze-ingest")],
            registries=[
                {
                    "address": repository.repository_url,
                    "username": token.user_name,
                    "password": token.password,
                }
            ],
            opts=child_options(self),
        )
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=names.resource("bronze-ingest"),
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
        task_role = self._role(
            "bronze-ingest-mass-task", "ecs-tasks.amazonaws.com", account, *worker_statements
        )
        self._attach_pii_policy("ingest-mass", task_role, args.pii_worker_policy_arn)
        execution_role = self._role(
            "bronze-ingest-mass-execution",
            "ecs-tasks.amazonaws.com",
            account,
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": repository.arn,
            },
            {
                # Registry-wide by design of ECR: the token call has no resource to scope to.
                "Sid": "RegistryToken",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            kms_use(args.kms_key_arn, encrypt=False),
            logs_write(mass_logs.arn),
        )
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=names.resource("bronze-ingest-mass"),
            cpu=str(ingestion.ecs_cpu),
            memory=str(ingestion.ecs_memory_mb),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": "ARM64"
                if ingestion.lambda_architecture == "arm64"
                else "X86_64",
            },
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.all(
                self.image.ref, mass_logs.name, pulumi.Output.from_input(runtime_env)
            ).apply(
                lambda v: json.dumps(
                    [
                        {
                            "name": CONTAINER_NAME,
                            "image": v[0],
                            "essential": True,
                            "readonlyRootFilesystem": True,
                            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
                            "environment": [
                                {"name": k, "value": val} for k, val in sorted(v[2].items())
                            ],
                            "logConfiguration": {
                                "logDriver": "awslogs",
                                "options": {
                                    "awslogs-group": v[1],
                                    "awslogs-region": names.region,
                                    "awslogs-stream-prefix": "ingest",
                                },
                            },
                        }
                    ]
                )
            ),
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
        network = settings.network
        if network.subnet_ids:
            subnet_ids: pulumi.Input[list[str]] = list(network.subnet_ids)
            security_group_ids: pulumi.Input[list[str]] = list(network.security_group_ids)
        else:
            created = IngestionNetwork(
                f"{name}-network",
                IngestionNetworkArgs(names=names, cidr=network.vpc_cidr),
                opts=child_options(self),
            )
            subnet_ids, security_group_ids = created.subnet_ids, created.security_group_ids

        # --- the ingestion state machine ---------------------------------------------------
        family_arn = pulumi.Output.concat(
            "arn:aws:ecs:",
            names.region,
            ":",
            account,
            ":task-definition/",
            self.task_definition.family,
            ":*",
        )
        machine_role = self._role(
            "bronze-ingestion",
            "states.amazonaws.com",
            account,
            {
                "Sid": "InvokeLite",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [self.lite.arn, pulumi.Output.concat(self.lite.arn, ":*")],
            },
            {"Sid": "RunMass", "Effect": "Allow", "Action": "ecs:RunTask", "Resource": family_arn},
            {
                "Sid": "WatchMass",
                "Effect": "Allow",
                "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
                "Resource": "*",
                "Condition": {"ArnEquals": {"ecs:cluster": self.cluster.arn}},
            },
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [task_role.arn, execution_role.arn],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            {
                "Sid": "SyncTaskEvents",
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": pulumi.Output.concat(
                    "arn:aws:events:",
                    names.region,
                    ":",
                    account,
                    ":rule/StepFunctionsGetEventsForECSTaskRule",
                ),
            },
            {
                "Sid": "RecordFailure",
                "Effect": "Allow",
                "Action": "dynamodb:UpdateItem",
                "Resource": args.control_table_arn,
            },
            kms_use(args.kms_key_arn, encrypt=True),
            state_machine_log_delivery(),
        )
        self.state_machine = standard_state_machine(
            self,
            f"{name}-ingestion",
            name=names.resource("bronze-ingestion"),
            role=machine_role,
            logs=machine_logs,
            definition=pulumi.Output.all(
                self.lite.arn,
                self.cluster.arn,
                self.task_definition.arn,
                subnet_ids,
                security_group_ids,
                args.control_table_name,
            ).apply(
                lambda v: json.dumps(
                    ingestion_definition(
                        threshold=ingestion.mass_threshold_records,
                        lite_function_arn=v[0],
                        cluster_arn=v[1],
                        task_definition_arn=v[2],
                        subnet_ids=list(v[3]),
                        security_group_ids=list(v[4]),
                        assign_public_ip=network.assign_public_ip,
                        control_table_name=v[5],
                        max_attempts=ingestion.max_attempts,
                        interval_seconds=ingestion.retry_interval_seconds,
                        backoff_rate=ingestion.retry_backoff_rate,
                    ),
                    indent=2,
                )
            ),
            kms_key_arn=args.kms_key_arn,
            layer="bronze",
        )

        # --- the pipe: control-table stream -> state machine -------------------------------
        pipe_role = self._role(
            "bronze-pipe",
            "pipes.amazonaws.com",
            account,
            {
                "Sid": "ReadControlStream",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                "Resource": args.control_stream_arn,
            },
            {
                "Sid": "StartIngestion",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": self.state_machine.arn,
            },
            kms_use(args.kms_key_arn, encrypt=True),
            sqs_send([self.pipe_dlq.arn]),
        )
        self.pipe = aws.pipes.Pipe(
            f"{name}-pipe",
            name=names.resource("bronze-pipe"),
            description="New pending bronze control records start an ingestion",
            role_arn=pipe_role.arn,
            source=args.control_stream_arn,
            source_parameters={
                "dynamodb_stream_parameters": {
                    "starting_position": "LATEST",
                    "batch_size": 1,
                    "maximum_retry_attempts": 10,
                    "dead_letter_config": {"arn": self.pipe_dlq.arn},
                },
                "filter_criteria": {"filters": [{"pattern": json.dumps(pipe_filter())}]},
            },
            target=self.state_machine.arn,
            target_parameters={
                "input_template": PIPE_INPUT_TEMPLATE,
                "step_function_state_machine_parameters": {"invocation_type": "FIRE_AND_FORGET"},
            },
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )

        # --- bronze tables in Glue ---------------------------------------------------------
        self.tables = {
            table: aws.glue.CatalogTable(
                f"{name}-table-{table}",
                **glue_bronze_table_args(
                    contract, args.lake_bucket_name, args.bronze_database_name
                ),
                opts=child_options(self),
            )
            for table, contract in CONTRACTS.items()
        }
        if args.classification_tag is not None:
            for table, glue_table in self.tables.items():
                classify_columns(
                    f"{name}-classify-{table}",
                    parent=self,
                    database=glue_table.database_name,
                    table=glue_table.name,
                    contract=CONTRACTS[table],
                    lf_tag=args.classification_tag,
                    depends_on=[glue_table],
                )

        # --- alarms ------------------------------------------------------------------------
        actions = [observe.alarm_topic_arn] if observe.alarm_topic_arn else []
        self._alarm(
            "files-out-of-attempts",
            "Raw files stayed in error after every attempt",
            namespace=METRIC_NAMESPACE,
            metric=EXHAUSTED_METRIC,
            dimensions=None,
            actions=actions,
        )
        self._alarm(
            "failed-ingestions",
            "Ingestion state machine executions failed",
            namespace="AWS/States",
            metric="ExecutionsFailed",
            dimensions={"StateMachineArn": self.state_machine.arn},
            actions=actions,
        )
        for purpose, dlq in (
            ("controller", self.controller_dlq),
            ("ingest", self.ingest_dlq),
            ("pipe", self.pipe_dlq),
        ):
            self._alarm(
                f"{purpose}-dead-letters",
                f"Messages in the {purpose} dead-letter queue",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dlq.name},
                actions=actions,
                statistic="Maximum",
            )

        self.controller_function_name = self.controller.name
        self.ingest_function_name = self.lite.name
        self.state_machine_arn = self.state_machine.arn
        self.cluster_name = self.cluster.name
        self.image_ref = self.image.ref
        self.bronze_table_names = [t.name for t in self.tables.values()]
        self.register_outputs(
            {
                "controller_function_name": self.controller_function_name,
                "ingest_function_name": self.ingest_function_name,
                "state_machine_arn": self.state_machine_arn,
                "cluster_name": self.cluster_name,
                "image_ref": self.image_ref,
                "bronze_tables": self.bronze_table_names,
            }
        )

    def _role(
        self,
        purpose: str,
        service: str,
        account: pulumi.Output[str],
        *statements: pulumi.Input[dict[str, Any]],
    ) -> aws.iam.Role:
        """One role per workload, with one inline policy of exactly its statements."""
        return workload_role(
            self,
            f"{self._name}-{purpose.removeprefix('bronze-')}",
            name=self._lake_names.resource(purpose),
            service=service,
            account=account,
            statements=statements,
            layer="bronze",
        )

    def _attach_pii_policy(
        self, purpose: str, role: aws.iam.Role, policy_arn: pulumi.Input[str]
    ) -> None:
        aws.iam.RolePolicyAttachment(
            f"{self._name}-{purpose}-pii",
            role=role.name,
            policy_arn=policy_arn,
            opts=child_options(self),
        )

    def _async_failures_to(
        self, function: aws.lambda_.Function, queue: aws.sqs.Queue, purpose: str
    ) -> None:
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-{purpose}-async",
            function_name=function.name,
            maximum_retry_attempts=2,
            destination_config={"on_failure": {"destination": queue.arn}},
            opts=child_options(self),
        )

    def _alarm(
        self,
        purpose: str,
        description: str,
        *,
        namespace: str,
        metric: str,
        dimensions: dict[str, pulumi.Input[str]] | None,
        actions: list[str],
        statistic: str = "Sum",
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{purpose}-alarm",
            name=self._lake_names.resource(f"bronze-{purpose}"),
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
