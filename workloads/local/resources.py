"""Creates the lake's runtime resources on an emulator, named as the Pulumi program names them.

One function for the local mode and the tests: the same settings model and naming as the
components, so a name can never drift between the two. The domain is published as in AWS:
its canonical document in the artifacts bucket, ``domain/<digest>.json``, which every
handler reads through ``DATALAKE_DOMAIN``.

``datalake local up`` then wires the lake's events as AWS does (:func:`wire_events`), with a
queue standing in for each AWS service that would call a workload directly:

    landing raw/*.csv.gz|.jsonl.gz|.json.gz ──S3 notification──▶ raw-objects queue
        (in AWS: the controller Lambda)
    control table stream (NEW_IMAGE, as ProcessingControlTable declares) ──▶ read by the
        dispatcher (in AWS: the pipe to the ingestion state machine)
    lake bus: rule gold-after-silver (the same pattern and input) ──▶ gold-starts queue
        (in AWS: the gold state machine)
    state machines silver-pipeline, gold-marts (the deployed names and ARNs, so
        ``datalake process --endpoint-url`` starts them; ``datalake local up`` only:
        :func:`create_state_machines`) ──one message per execution, with its input and task
        token──▶ silver-starts queue, gold-starts queue
        (in AWS: Lambdas and Spark jobs; locally the dispatcher runs the layer and settles
        the execution with SendTaskSuccess: :func:`local_machine_definition`)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import boto3

from datalake.control import ControlStore
from datalake.control_table import create_control_table
from datalake.domain import Domain
from datalake.layout import RAW_PREFIX, RAW_SUFFIXES, domain_key, layer_prefix
from datalake.local_outputs import STATE_MACHINES, lake_buckets, local_outputs
from datalake.naming import Bucket, Layer
from datalake.runtime import (
    BronzeRuntime,
    GoldRuntime,
    PiiRuntime,
    SilverRuntime,
    combined_environment,
)
from datalake.settings import LakeSettings

from ..shared.tables import ensure_table
from ..silver.catalogs import glue_catalog
from ..silver.handlers import properties_of


@dataclass
class LocalLake:
    """Handles on a lake running on the emulator."""

    settings: LakeSettings
    endpoint: str
    buckets: dict[Bucket, str]
    key_arn: str
    secret_arn: str
    store: ControlStore
    s3: Any
    catalog: Any
    domain: Domain
    domain_uri: str
    """Where the handlers read the domain from (``s3://<artifacts>/domain/<digest>.json``)."""

    def database(self, layer: Layer) -> str:
        return self.settings.database_name(layer)

    @property
    def properties(self) -> dict[str, str]:
        """Iceberg table properties of the run's tables (the silver settings)."""
        return properties_of(self.silver_runtime())

    def bronze_runtime(self) -> BronzeRuntime:
        """What the bronze handlers read, from the same settings as ``BronzeZone``."""
        return BronzeRuntime.for_lake(
            self.settings.ingestion,
            control_table=self.settings.names.control_table,
            lake_bucket=self.buckets[Bucket.LAKE],
            domain_uri=self.domain_uri,
        )

    def pii_runtime(self) -> PiiRuntime:
        """The masking policy of the settings; no Comprehend on a laptop (declared columns
        and validated patterns decide)."""
        return PiiRuntime.for_lake(
            self.settings.pii,
            secret_id=self.secret_arn,
            lake_bucket=self.buckets[Bucket.LAKE],
            comprehend_enabled=False,
        )

    def silver_runtime(self) -> SilverRuntime:
        """What the silver Lambdas would read, from the same settings as ``SilverPipeline``."""
        return SilverRuntime.for_lake(
            self.settings.silver,
            self.settings.ingestion,
            control_table=self.settings.names.control_table,
            lake_bucket=self.buckets[Bucket.LAKE],
            artifacts_bucket=self.buckets[Bucket.ARTIFACTS],
            domain_uri=self.domain_uri,
        )

    def gold_runtime(self) -> GoldRuntime:
        """What the gold Lambdas would read, from the same settings as ``GoldMart``."""
        return GoldRuntime.for_lake(
            self.settings.ingestion,
            control_table=self.settings.names.control_table,
            artifacts_bucket=self.buckets[Bucket.ARTIFACTS],
            target_file_size_mb=self.settings.silver.target_file_size_mb,
            domain_uri=self.domain_uri,
        )

    def environment(self) -> dict[str, str]:
        """The handlers' environment, built by the runtime models the components use."""
        return combined_environment(self.bronze_runtime(), self.pii_runtime())


def publish_domain(s3: Any, bucket: str, domain: Domain) -> str:
    """Write the canonical domain document to ``bucket``; return its ``s3://`` URI."""
    key = domain_key(domain.digest)
    s3.put_object(Bucket=bucket, Key=key, Body=domain.canonical_json().encode())
    return f"s3://{bucket}/{key}"


def create_local_lake(settings: LakeSettings, endpoint: str, domain: Domain) -> LocalLake:
    """Key, buckets (SSE-KMS), control table, Glue databases, HMAC secret, the published
    domain, and the Iceberg tables of its tables, views (silver) and marts (gold)."""
    region, names = settings.region, settings.names
    client = lambda service: boto3.client(service, endpoint_url=endpoint, region_name=region)  # noqa: E731
    kms = client("kms")
    key_arn = kms.create_key(Description=f"{names.prefix} data lake key")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=names.kms_alias, TargetKeyId=key_arn)
    s3 = client("s3")
    buckets = lake_buckets(names)  # the names `datalake status --endpoint-url` derives
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    dynamodb = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=region)
    store = ControlStore(
        create_control_table(dynamodb, names.control_table),
        max_attempts=settings.ingestion.max_attempts,
        lease_seconds=settings.ingestion.lease_seconds,
    )
    glue = client("glue")
    for layer in (Layer.BRONZE, Layer.SILVER, Layer.GOLD):
        glue.create_database(
            DatabaseInput={
                "Name": settings.database_name(layer),
                "LocationUri": f"s3://{buckets[Bucket.LAKE]}/{layer_prefix(layer)}",
            }
        )
    secret_arn = client("secretsmanager").create_secret(
        Name=names.resource("pii-hmac-key"), SecretString=secrets.token_hex(32), KmsKeyId=key_arn
    )["ARN"]
    lake = LocalLake(
        settings,
        endpoint,
        buckets,
        key_arn,
        secret_arn,
        store,
        s3,
        glue_catalog(region, endpoint=endpoint),
        domain,
        publish_domain(s3, buckets[Bucket.ARTIFACTS], domain),
    )
    for contract in domain.silver_contracts():
        ensure_table(lake.catalog, lake.database(Layer.SILVER), contract, lake.properties)
    for contract in domain.gold_contracts():
        ensure_table(
            lake.catalog, lake.database(Layer.GOLD), contract, lake.properties, audit=False
        )
    return lake


SILVER_EVENT_SOURCE = "datalake.silver"
SILVER_SUCCEEDED = "SilverPipelineSucceeded"
"""The silver pipeline's success event (``components/silver_machine.py`` publishes it)."""
GOLD_START_INPUT = {"silver_run_id": "$.detail.run_id"}
GOLD_START_TEMPLATE = '{"trigger": "silver", "silver_run_id": "<silver_run_id>"}'
"""The gold run's input the rule builds from the event (``components/gold_starts.py``)."""
GOLD_MART_FAILED = "GoldMartFailed"
"""The error a gold execution fails with when a mart failed (``components/gold_machine.py``)."""
EXECUTION_FAILED = "FAILED"
"""The ``status`` of a task result that fails the execution (:func:`local_machine_definition`)."""
SILVER_MACHINE, GOLD_MACHINE = "silver_state_machine_arn", "gold_state_machine_arn"
"""The stack outputs of the state machines the live lake creates (``STATE_MACHINES``)."""


def silver_succeeded_pattern(silver_database: str) -> dict[str, Any]:
    """The pattern of the rule that starts gold: this lake's silver success events only."""
    return {
        "source": [SILVER_EVENT_SOURCE],
        "detail-type": [SILVER_SUCCEEDED],
        "detail": {"database": [silver_database]},
    }


def raw_notifications(queue_arn: str) -> list[dict[str, Any]]:
    """One configuration per raw suffix, as ``BronzeZone`` declares for the controller."""
    return [
        {
            "Id": f"raw-objects{suffix.replace('.', '-')}",
            "QueueArn": queue_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {
                "Key": {
                    "FilterRules": [
                        {"Name": "prefix", "Value": RAW_PREFIX},
                        {"Name": "suffix", "Value": suffix},
                    ]
                }
            },
        }
        for suffix in RAW_SUFFIXES
    ]


@dataclass(frozen=True)
class LakeEvents:
    """Where the live lake's events arrive (queue URLs, the stream, the bus)."""

    raw_queue: str
    """The landing bucket's ObjectCreated notifications of raw files."""
    gold_queue: str
    """What the gold-after-silver rule delivers, and the gold state machine's executions."""
    control_stream: str
    """The control table's stream ARN."""
    event_bus: str
    """The lake's bus: the silver run publishes its success there."""
    silver_queue: str
    """The silver state machine's executions."""


def _queue(sqs: Any, name: str, visibility_seconds: int) -> tuple[str, str]:
    url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(visibility_seconds)}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def local_machine_definition(queue_url: str, comment: str) -> dict[str, Any]:
    """A state machine whose one task is the dispatcher: the deployed definitions invoke
    Lambdas and Spark jobs that do not exist on the emulator, so an execution sends its
    input and task token to ``queue_url`` and waits (``.waitForTaskToken``); the dispatcher
    runs the layer and answers with SendTaskSuccess, whose result either succeeds the
    execution or, with ``status`` :data:`EXECUTION_FAILED`, fails it with its ``error`` and
    ``cause``. (SendTaskFailure would be the direct way, but moto drops its cause, which
    ``datalake process --wait`` prints.)"""
    return {
        "Comment": comment,
        "StartAt": "RunOnTheDispatcher",
        "States": {
            "RunOnTheDispatcher": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {
                        "trigger": "execution",
                        "execution_name.$": "$$.Execution.Name",
                        "input.$": "$",
                        "task_token.$": "$$.Task.Token",
                    },
                },
                "Next": "Outcome",
            },
            "Outcome": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.status", "StringEquals": EXECUTION_FAILED, "Next": "Failed"}
                ],
                "Default": "Succeeded",
            },
            "Failed": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"},
            "Succeeded": {"Type": "Succeed"},
        },
    }


def create_state_machines(lake: LocalLake, events: LakeEvents) -> dict[str, str]:
    """The silver and gold state machines (ARNs by stack output), named as the components
    name them (the ARNs ``datalake/local_outputs.py`` gives the operating commands), each
    sending its executions to its queue (:func:`local_machine_definition`).

    Only for a lake operated from outside (``datalake local up``): moto's ASL interpreter,
    which a machine's first use imports, costs about a second of the run's start, which a
    one-shot run has no use for."""
    names = lake.settings.names
    client = lambda service: boto3.client(  # noqa: E731
        service, endpoint_url=lake.endpoint, region_name=names.region
    )
    # The account as the operating commands ask for it (``cli_operate._connect``).
    account = client("sts").get_caller_identity()["Account"]
    queues = {SILVER_MACHINE: events.silver_queue, GOLD_MACHINE: events.gold_queue}
    outputs = local_outputs(lake.settings, account)
    sfn = client("stepfunctions")
    comments = {
        SILVER_MACHINE: "The silver pipeline, run by the local lake's dispatcher",
        GOLD_MACHINE: "The gold marts, run by the local lake's dispatcher",
    }
    arns = {}
    for output, queue_url in queues.items():
        name = names.resource(STATE_MACHINES[output])
        arn = sfn.create_state_machine(
            name=name,
            definition=json.dumps(local_machine_definition(queue_url, comments[output])),
            roleArn=f"arn:{names.partition}:iam::{account}:role/{name}",  # IAM: no region
        )["stateMachineArn"]
        if arn != getattr(outputs, output):  # the commands would start a machine not there
            raise RuntimeError(f"state machine {arn} is not {getattr(outputs, output)}")
        arns[output] = arn
    return arns


def wire_events(lake: LocalLake) -> LakeEvents:
    """The raw-objects queue and the landing notifications, the lake bus and its gold rule
    with the gold-starts queue as target, the silver-starts queue; the control table's
    stream ARN."""
    names, region = lake.settings.names, lake.settings.region
    client = lambda service: boto3.client(  # noqa: E731
        service, endpoint_url=lake.endpoint, region_name=region
    )
    sqs = client("sqs")
    # A message reappears after the controller's timeout, as a Lambda's would be retried.
    timeout = lake.settings.ingestion.controller_timeout_seconds
    raw_url, raw_arn = _queue(sqs, names.resource("raw-objects-local"), timeout)
    lake.s3.put_bucket_notification_configuration(
        Bucket=lake.buckets[Bucket.LANDING],
        NotificationConfiguration={"QueueConfigurations": raw_notifications(raw_arn)},
    )
    gold_url, gold_arn = _queue(sqs, names.resource("gold-starts-local"), timeout)
    events = client("events")
    events.create_event_bus(Name=names.event_bus)
    rule = names.resource("gold-after-silver")
    events.put_rule(
        Name=rule,
        EventBusName=names.event_bus,
        EventPattern=json.dumps(silver_succeeded_pattern(lake.database(Layer.SILVER))),
        Description="Starts the gold marts after each successful silver run",
    )
    events.put_targets(
        Rule=rule,
        EventBusName=names.event_bus,
        Targets=[
            {
                "Id": "gold-starts",
                "Arn": gold_arn,
                "InputTransformer": {
                    "InputPathsMap": GOLD_START_INPUT,
                    "InputTemplate": GOLD_START_TEMPLATE,
                },
            }
        ],
    )
    silver_url, _ = _queue(sqs, names.resource("silver-starts-local"), timeout)
    stream = client("dynamodb").describe_table(TableName=names.control_table)["Table"]
    return LakeEvents(raw_url, gold_url, stream["LatestStreamArn"], names.event_bus, silver_url)
