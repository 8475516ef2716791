"""StreamingIngest: database changes streamed into raw, where the batch files land.

    source database ──(optional) DMS Serverless, full-load-and-cdc──┐  (streaming_source.py)
    producers putting DMS-shaped records ───────────────────────────┤
                                                                    ▼
    Kinesis stream <prefix>-cdc-stream   lake key · mode, shards, retention from settings
                                         (outsiders may put records, never read them)
      ──▶ Firehose <prefix>-cdc-delivery   role: read this stream; write raw/*/cdc/ and
          stream-errors/ of the landing bucket; the key through Kinesis and S3; its log stream
          RecordDeAggregation (JSON) → MetadataExtraction (JQ: the table) →
          AppendDelimiterToRecord · GZIP · buffering from settings · UTC
      ──▶ landing raw/<table>/cdc/YYYY/MM/DD/HH/<name>.jsonl.gz
          (the S3 notification of a batch file: controller, control table, bronze unchanged)
      ──▶ landing stream-errors/<error type>/YYYY/MM/DD/HH/   records it could not deliver:
          kept, never dropped (expire like raw, sealed like raw PII)
      ──▶ delivery errors: /aws/kinesisfirehose/<prefix>-cdc-delivery (lake key, retention)

The prefixes, the JQ query and the processors are ``datalake/streaming.py``'s, never spelled
here: the local delivery loop evaluates the very same definitions.
"""

import re
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, layer_tags
from datalake.settings import NetworkSettings, SettingsError, SettingsIssue, config_path
from datalake.settings_streaming import (
    DeliverySettings,
    KinesisStreamSettings,
    StreamingSettings,
    streaming_domain_issues,
    streaming_issues,
)
from datalake.streaming import (
    COMPRESSION,
    DELIVERY_PREFIX,
    DELIVERY_PURPOSE,
    ERROR_PREFIX,
    FILE_EXTENSION,
    PROCESSORS,
    STREAM_PURPOSE,
    cdc_tables,
)

from .foundation import LakeFoundation, foundation_domain, names_of, section_settings
from .options import child_options, stateful_options
from .policies import (
    bucket_location,
    external_id_trust,
    kinesis_read,
    log_stream_write,
    s3_key_use,
    s3_write,
    stream_key_use,
)
from .streaming_source import SourceInputs, dms_replication
from .workloads import WorkloadRole, regional_arn, role_with_policy, workload_log_group

LAYER = "raw"
"""Every streaming resource carries the ``layer: raw`` tag: it feeds the raw prefix."""


def write_pattern(template: str) -> str:
    """Where a Firehose prefix expression can expand, as an IAM resource pattern: each
    ``!{...}`` is a ``*`` (``raw/*/cdc/*/*/*/*/``), so the role writes the streamed folders
    and nothing else (never a batch file of ``raw/<table>/``)."""
    return re.sub(r"!\{[^}]*\}", "*", template)


DELIVERED_PREFIXES = (write_pattern(DELIVERY_PREFIX), write_pattern(ERROR_PREFIX))
"""The object patterns Firehose writes: delivered changes and the records it could not
deliver."""
LOG_STREAM = "DestinationDelivery"
"""Firehose's log stream for S3 delivery errors (the name the console also uses)."""
STREAM_MODES = {"on-demand": "ON_DEMAND", "provisioned": "PROVISIONED"}


class StreamingIngestArgs(TypedDict):
    """Inputs of :class:`StreamingIngest`: the foundation and the streaming settings."""

    foundation: LakeFoundation
    """The lake's identity and foundation resources (landing bucket, key, the domain)."""
    streaming: NotRequired[dict[str, Any]]
    """The ``streaming`` settings section (stream, delivery, the optional DMS source); its
    ``enabled`` must be true."""
    network: NotRequired[dict[str, Any]]
    """The ``network`` settings section: its subnets host DMS when the source names none."""


class StreamingIngest(pulumi.ComponentResource):
    """A KMS-encrypted Kinesis stream, its Firehose delivery into ``raw/<table>/cdc/``, and
    optionally the DMS Serverless replication that feeds it."""

    stream_name: pulumi.Output[str]
    """The Kinesis stream changes are put to."""
    stream_arn: pulumi.Output[str]
    """The Kinesis stream's ARN."""
    delivery_stream_name: pulumi.Output[str]
    """The Firehose delivery stream writing the changes to the landing bucket."""
    delivery_stream_arn: pulumi.Output[str]
    """The Firehose delivery stream's ARN."""
    replication_config_arn: pulumi.Output[str]
    """The DMS Serverless replication (empty without ``streaming.source``)."""

    def __init__(
        self, name: str, args: StreamingIngestArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        foundation = args["foundation"]
        # Every settings problem fails the program before a single resource is registered.
        streaming, subnet_ids, tables = _checked_inputs(args)
        super().__init__("datalake:index:StreamingIngest", name, None, opts)
        lake = foundation["lake"]
        names = names_of(lake)
        key_arn = foundation["kms_key_arn"]
        landing_arn = foundation["landing_bucket_arn"]
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id

        # --- the stream: the lake key, capacity and retention from settings ----------------
        stream = cdc_stream(self, name, names, streaming.stream, key_arn, lake["protect"])

        # --- Firehose's logs and its least-privilege role ---------------------------------
        log_stream = delivery_logs(self, name, names, lake["log_retention_days"], key_arn)
        role = delivery_role(
            self,
            f"{name}-delivery",
            names=names,
            account=account,
            statements=(
                kinesis_read(stream.arn),
                stream_key_use(key_arn, stream.arn, names.region, produce=False),
                s3_write(landing_arn, DELIVERED_PREFIXES, "WriteDeliveredRecords"),
                bucket_location(landing_arn),
                s3_key_use(key_arn, landing_arn, DELIVERED_PREFIXES, names.region),
                log_stream_write(
                    regional_arn(
                        "logs",
                        names.region,
                        account,
                        pulumi.Output.concat(
                            "log-group:", log_stream.log_group_name, ":log-stream:", LOG_STREAM
                        ),
                    )
                ),
            ),
        )

        # --- the delivery: the shared prefixes, query and processors ----------------------
        delivery = delivery_stream(
            self,
            f"{name}-delivery",
            name=names.resource(DELIVERY_PURPOSE),
            settings=streaming.delivery,
            stream=stream,
            role=role,
            bucket_arn=landing_arn,
            key_arn=key_arn,
            log_stream=log_stream,
        )

        # --- optionally, the source side: DMS Serverless into the stream ------------------
        replication_arn: pulumi.Output[str] = pulumi.Output.from_input("")
        if streaming.source is not None:
            replication = dms_replication(
                self,
                f"{name}-dms",
                SourceInputs(
                    names=names,
                    account=account,
                    source=streaming.source,
                    stream_arn=stream.arn,
                    key_arn=key_arn,
                    subnet_ids=subnet_ids,
                    tables=tables,
                ),
            )
            replication_arn = replication.arn

        self.stream_name = stream.name
        self.stream_arn = stream.arn
        self.delivery_stream_name = delivery.name
        self.delivery_stream_arn = delivery.arn
        self.replication_config_arn = replication_arn
        self.register_outputs(
            {
                "stream_name": self.stream_name,
                "stream_arn": self.stream_arn,
                "delivery_stream_name": self.delivery_stream_name,
                "delivery_stream_arn": self.delivery_stream_arn,
                "replication_config_arn": self.replication_config_arn,
            }
        )


def _checked_inputs(args: StreamingIngestArgs) -> tuple[StreamingSettings, list[str], list[str]]:
    """The validated section, the subnets DMS runs in and the domain's CDC tables; every
    problem at once, each under its config path."""
    streaming = section_settings(StreamingSettings, "streaming", args.get("streaming"))
    network = section_settings(NetworkSettings, "network", args.get("network"))
    domain = foundation_domain(args["foundation"])
    tables = cdc_tables(domain.tables.values())
    found = streaming_issues(streaming, network.subnet_ids) + streaming_domain_issues(
        streaming, tables, domain.name
    )
    if not streaming.enabled:
        message = "StreamingIngest is the stream: set enabled: true"
        found.append((("streaming", "enabled"), message, False))
    source = streaming.source
    subnet_ids = list(source.subnet_ids or network.subnet_ids) if source else []
    if found:
        issues = [SettingsIssue(config_path(*path), m, v) for path, m, v in found]
        raise pulumi.RunError(str(SettingsError(issues)))
    return streaming, subnet_ids, tables


def cdc_stream(
    parent: pulumi.Resource,
    logical: str,
    names: LakeNames,
    settings: KinesisStreamSettings,
    key_arn: pulumi.Input[str],
    protect: bool,
) -> aws.kinesis.Stream:
    """The stream, encrypted with the lake key; it holds undelivered changes, so it is
    protected and retained like the buckets."""
    provisioned = settings.mode == "provisioned"
    return aws.kinesis.Stream(
        f"{logical}-stream",
        name=names.resource(STREAM_PURPOSE),
        stream_mode_details={"stream_mode": STREAM_MODES[settings.mode]},
        shard_count=settings.shards if provisioned else None,
        retention_period=settings.retention_hours,
        encryption_type="KMS",
        kms_key_id=key_arn,
        tags=layer_tags(LAYER),
        opts=stateful_options(parent, protect),
    )


def delivery_logs(
    parent: pulumi.Resource,
    logical: str,
    names: LakeNames,
    retention_days: int,
    key_arn: pulumi.Input[str],
) -> aws.cloudwatch.LogStream:
    """Firehose's log group (lake key, the lake's retention) and the stream it logs to."""
    logs = workload_log_group(
        parent,
        f"{logical}-delivery-logs",
        name=f"/aws/kinesisfirehose/{names.resource(DELIVERY_PURPOSE)}",
        retention_days=retention_days,
        kms_key_arn=key_arn,
        layer=LAYER,
    )
    return aws.cloudwatch.LogStream(
        f"{logical}-delivery-log-stream",
        log_group_name=logs.name,
        name=LOG_STREAM,
        opts=child_options(parent),
    )


def delivery_role(
    parent: pulumi.Resource,
    logical: str,
    *,
    names: LakeNames,
    account: pulumi.Input[str],
    statements: tuple[pulumi.Input[dict[str, Any]], ...],
) -> WorkloadRole:
    """Firehose's role ``<prefix>-cdc-delivery``, trusted by Firehose for this account (its
    documented ``sts:ExternalId`` form), with exactly ``statements``."""
    return role_with_policy(
        parent,
        logical,
        name=names.resource(DELIVERY_PURPOSE),
        trust=pulumi.Output.from_input(account).apply(
            lambda a: external_id_trust("firehose.amazonaws.com", a)
        ),
        statements=statements,
        layer=LAYER,
    )


Processor = aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgsDict  # noqa: E501


def firehose_processors() -> list[Processor]:
    """:data:`~datalake.streaming.PROCESSORS` as Firehose's processor blocks, in order."""
    blocks: list[Processor] = []
    for processor in PROCESSORS:
        block = Processor(type=processor["type"])
        if processor["parameters"]:  # Firehose stores no empty list: it would always differ
            block["parameters"] = [
                {"parameter_name": key, "parameter_value": value}
                for key, value in processor["parameters"].items()
            ]
        blocks.append(block)
    return blocks


def delivery_stream(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    settings: DeliverySettings,
    stream: aws.kinesis.Stream,
    role: WorkloadRole,
    bucket_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    log_stream: aws.cloudwatch.LogStream,
) -> aws.kinesis.FirehoseDeliveryStream:
    """Firehose from the stream to the landing bucket, partitioned by table. No server-side
    encryption setting: a Kinesis-sourced delivery stream is encrypted by its source."""
    destination: aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgsDict = {
        "bucket_arn": bucket_arn,
        "role_arn": role.arn,
        "prefix": DELIVERY_PREFIX,
        "error_output_prefix": ERROR_PREFIX,
        "compression_format": COMPRESSION,
        "file_extension": FILE_EXTENSION,
        "custom_time_zone": "UTC",
        "kms_key_arn": key_arn,
        "buffering_size": settings.buffer_size_mb,
        "buffering_interval": settings.buffer_interval_seconds,
        "dynamic_partitioning_configuration": {
            "enabled": True,
            "retry_duration": settings.retry_seconds,
        },
        "processing_configuration": {"enabled": True, "processors": firehose_processors()},
        "cloudwatch_logging_options": {
            "enabled": True,
            "log_group_name": log_stream.log_group_name,
            "log_stream_name": log_stream.name,
        },
    }
    return aws.kinesis.FirehoseDeliveryStream(
        logical,
        name=name,
        destination="extended_s3",
        kinesis_source_configuration={"kinesis_stream_arn": stream.arn, "role_arn": role.arn},
        extended_s3_configuration=destination,
        tags=layer_tags(LAYER),
        opts=child_options(parent),
    )
