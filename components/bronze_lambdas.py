"""The two bronze Lambdas: the processing controller and the lite ingest worker.

    landing raw/*.gz ──S3 notification (one rule per raw suffix)──▶ processing controller λ
        └─ registers one pending control record per object (async failures: controller DLQ)
    ingest lite λ ◀── the ingestion state machine (files under the mass threshold)
        └─ raw/ ──▶ bronze/ (Parquet) + quarantine/, the record finished (async: ingest DLQ)

Both run ``workloads.bronze.handlers`` from the one bundle; pyarrow comes from the AWS SDK for
pandas managed layer (or the layer ARN of the settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.errors import METRIC_NAMESPACE
from datalake.layout import RAW_PREFIX, RAW_SUFFIXES
from datalake.settings import IngestionSettings

from .bronze_scope import LAYER, BronzeScope
from .code import lambda_archive
from .layer_function import LambdaRuntime, async_failures_to, layer_function
from .options import child_options
from .policies import (
    control_table_access,
    domain_read,
    kms_use,
    logs_write,
    metrics_put,
    s3_read,
    sqs_send,
)

CONTROLLER_HANDLER = "workloads.bronze.handlers.controller_handler"
INGEST_HANDLER = "workloads.bronze.handlers.ingest_handler"
CONTROLLER_EPHEMERAL_MB = 512
LITE_EPHEMERAL_MB = 2048
"""The lite worker stages a raw file and its Parquet output in ``/tmp``."""


def bronze_lambda_runtime(
    parent: pulumi.Resource, ingestion: IngestionSettings, region: str
) -> LambdaRuntime:
    """The bundle on the configured runtime and architecture, with the pyarrow layer."""
    layer: pulumi.Input[str] = (
        ingestion.pyarrow_layer_arn
        or aws.ssm.get_parameter_output(
            name=(
                f"/aws/service/aws-sdk-pandas/{ingestion.pandas_layer_version}/{region}/"
                f"py{ingestion.lambda_runtime.removeprefix('python')}/"
                f"{ingestion.lambda_architecture}/layer-arn"
            ),
            opts=pulumi.InvokeOutputOptions(parent=parent),
        ).value
    )
    return LambdaRuntime(
        code=lambda_archive(ingestion.lambda_runtime, ingestion.lambda_architecture),
        runtime=ingestion.lambda_runtime,
        architecture=ingestion.lambda_architecture,
        layers=(layer,),
    )


def processing_controller(
    scope: BronzeScope,
    ingestion: IngestionSettings,
    runtime: LambdaRuntime,
    *,
    landing_bucket_name: pulumi.Input[str],
    landing_bucket_arn: pulumi.Input[str],
    control_table_arn: pulumi.Input[str],
    artifacts_bucket_arn: pulumi.Input[str],
    environment: pulumi.Input[Mapping[str, str]],
    logs: aws.cloudwatch.LogGroup,
    dead_letters: aws.sqs.Queue,
) -> aws.lambda_.Function:
    """The controller and the landing bucket's notification of every new raw object (it reads
    the domain to know the tables)."""
    role = scope.role(
        "processing-controller",
        "lambda.amazonaws.com",
        s3_read(landing_bucket_arn, [RAW_PREFIX], "ReadRawObjects"),
        domain_read(artifacts_bucket_arn),
        kms_use(scope.kms_key_arn, encrypt=True),
        control_table_access(control_table_arn, update=False),
        logs_write(logs.arn),
        sqs_send([dead_letters.arn]),
        metrics_put(METRIC_NAMESPACE),  # files registered, duplicates
    )
    controller = layer_function(
        scope.parent,
        scope.logical("controller"),
        name=scope.names.resource("processing-controller"),
        description="Registers one control record per raw object",
        handler=CONTROLLER_HANDLER,
        runtime=runtime,
        role=role,
        logs=logs,
        layer=LAYER,
        timeout_seconds=ingestion.controller_timeout_seconds,
        memory_mb=ingestion.controller_memory_mb,
        environment=environment,
        ephemeral_storage_mb=CONTROLLER_EPHEMERAL_MB,
        kms_key_arn=scope.kms_key_arn,
    )
    async_failures_to(
        scope.parent, scope.logical("controller-async"), function=controller, queue=dead_letters
    )
    permission = aws.lambda_.Permission(
        scope.logical("controller-s3-invoke"),
        action="lambda:InvokeFunction",
        function=controller.name,
        principal="s3.amazonaws.com",
        source_arn=landing_bucket_arn,
        source_account=scope.account,
        opts=child_options(scope.parent),
    )
    aws.s3.BucketNotification(
        scope.logical("raw-objects"),
        bucket=landing_bucket_name,
        lambda_functions=[
            {
                "id": f"raw-objects{suffix.replace('.', '-')}",
                "lambda_function_arn": controller.arn,
                "events": ["s3:ObjectCreated:*"],
                "filter_prefix": RAW_PREFIX,
                "filter_suffix": suffix,
            }
            for suffix in RAW_SUFFIXES
        ],
        opts=child_options(scope.parent, depends_on=[permission]),
    )
    return controller


def lite_ingest(
    scope: BronzeScope,
    ingestion: IngestionSettings,
    runtime: LambdaRuntime,
    *,
    worker_statements: tuple[pulumi.Input[dict[str, Any]], ...],
    pii_worker_policy_arn: pulumi.Input[str],
    environment: pulumi.Input[Mapping[str, str]],
    logs: aws.cloudwatch.LogGroup,
    dead_letters: aws.sqs.Queue,
) -> aws.lambda_.Function:
    """The Lambda worker for files under the mass threshold, with the PII worker policy."""
    role = scope.role(
        "bronze-ingest-lite",
        "lambda.amazonaws.com",
        *worker_statements,
        logs_write(logs.arn),
        sqs_send([dead_letters.arn]),
    )
    lite = layer_function(
        scope.parent,
        scope.logical("ingest-lite"),
        name=scope.names.resource("bronze-ingest-lite"),
        description="Ingests small raw files into bronze",
        handler=INGEST_HANDLER,
        runtime=runtime,
        role=role,
        logs=logs,
        layer=LAYER,
        timeout_seconds=ingestion.lambda_timeout_seconds,
        memory_mb=ingestion.lambda_memory_mb,
        environment=environment,
        ephemeral_storage_mb=LITE_EPHEMERAL_MB,
        kms_key_arn=scope.kms_key_arn,
    )
    async_failures_to(
        scope.parent, scope.logical("ingest-lite-async"), function=lite, queue=dead_letters
    )
    scope.attach_pii_policy("ingest-lite", role, pii_worker_policy_arn)
    return lite
