"""StreamingIngest under Pulumi mocks: the stream, the Firehose delivery into raw, the DMS source
side, their roles decided request by request, and the settings refused before any resource.

The delivery's prefixes, query and processors are checked by what they do (where a record of a
table lands, whether bronze is notified, which key the query extracts), the roles with the
policy evaluator of ``test_perimeter`` (allowed and denied requests).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pulumi
import pytest

from components import StreamingIngest
from components.preview import ACCOUNT_ID, LakeMocks, RecordingMonitor, run_program, stack_config
from datalake.domain import default_domain_path, load_domain
from datalake.layout import RAW_SUFFIXES, STREAM_ERRORS_PREFIX, RawFormat, parse_raw_key
from datalake.streaming import (
    KINESIS_TARGET_SETTINGS,
    PARTITIONING_FAILED,
    PROCESSORS,
    REPLICATION_SETTINGS,
    expand_prefix,
)
from tests.components.inventory import ROLE, ROLE_POLICY, Inventory, run_stack, with_lake
from tests.components.test_perimeter import Judge, Request, decide

REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-storage-key"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:cdc/beer-source-AbCdEf"
SECRET_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
ENDPOINT = "aws:dms/endpoint:Endpoint"
REPLICATION = "aws:dms/replicationConfig:ReplicationConfig"
SUBNET_GROUP = "aws:dms/replicationSubnetGroup:ReplicationSubnetGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
COMPONENT = "datalake:index:StreamingIngest"
STREAMING_TYPES = {STREAM, FIREHOSE, ENDPOINT, REPLICATION, SUBNET_GROUP}
AT = dt.datetime(2026, 12, 1, 10, 42, tzinfo=dt.UTC)
SOURCE = {
    "engine": "postgres",
    "database_name": "beer",
    "secret_arn": SECRET,
    "secret_kms_key_arn": SECRET_KEY,
    "schema_name": "reviews_app",
    "table_names": {"review": "beer_reviews"},
    "subnet_ids": SUBNETS,
    "min_capacity_units": 2,
    "max_capacity_units": 8,
}


@pytest.fixture(scope="module")
def streamed() -> Inventory:
    """Dev with a provisioned stream and tuned delivery; producers put records themselves."""
    return run_stack(
        with_lake(
            streaming={
                "enabled": True,
                "stream": {"mode": "provisioned", "shards": 3, "retention_hours": 48},
                "delivery": {
                    "buffer_size_mb": 128,
                    "buffer_interval_seconds": 120,
                    "retry_seconds": 900,
                },
            }
        )
    )


@pytest.fixture(scope="module")
def replicated() -> Inventory:
    """Dev with an on-demand stream fed by DMS Serverless from PostgreSQL."""
    return run_stack(with_lake(streaming={"enabled": True, "source": SOURCE}))


@pytest.fixture(scope="module")
def judge(replicated: Inventory) -> Judge:
    return Judge(replicated)


def outputs(lake: Inventory) -> dict[str, Any]:
    return lake.one(COMPONENT).outputs


def landing(lake: Inventory) -> str:
    return lake.named("aws:s3/bucket:Bucket", "storage-landing").inputs["bucket"]


def delivery_config(lake: Inventory) -> dict[str, Any]:
    return dict(lake.one(FIREHOSE).inputs["extendedS3Configuration"])


def role_named(lake: Inventory, logical: str) -> tuple[str, list[dict[str, Any]]]:
    """A role's ARN and its identity policies."""
    role = lake.named(ROLE, logical)
    name = role.inputs["name"]
    docs = [
        json.loads(p.inputs["policy"])
        for p in lake.of_type(ROLE_POLICY)
        if p.inputs["role"] == name
    ]
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", docs


def allows(
    who: str, identity: list[dict[str, Any]], action: str, resource: str, **context: str
) -> bool:
    """An identity-only decision (no resource policy on the resource)."""
    empty: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
    return decide(Request(who, action, resource, context), identity, empty)


# --- disabled by default -------------------------------------------------------------------


def test_no_streaming_resource_in_the_default_program(dev_resources, prod_resources):
    for resources in (dev_resources, prod_resources):
        lake = Inventory(resources)
        assert lake.of_type(COMPONENT) == []
        assert not [r.name for r in lake if r.type in STREAMING_TYPES]
        assert not [r.name for r in lake.of_type(ROLE) if "cdc" in r.inputs["name"]]


# --- the stream ----------------------------------------------------------------------------


def test_the_stream_is_encrypted_with_the_lake_key_and_sized_by_settings(streamed, replicated):
    stream = streamed.one(STREAM).inputs
    key = streamed.one("aws:kms/key:Key")
    assert stream["encryptionType"] == "KMS"
    assert stream["kmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-{key.name}"
    assert stream["streamModeDetails"] == {"streamMode": "PROVISIONED"}
    assert (stream["shardCount"], stream["retentionPeriod"]) == (3, 48)
    on_demand = replicated.one(STREAM).inputs
    assert on_demand["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in on_demand and on_demand["retentionPeriod"] == 24
    assert on_demand["encryptionType"] == "KMS" and on_demand["kmsKeyId"] == KEY_ARN


def test_the_component_registers_its_outputs(streamed, replicated):
    stream, firehose = streamed.one(STREAM), streamed.one(FIREHOSE)
    assert outputs(streamed) == {
        "stream_name": stream.inputs["name"],
        "stream_arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream.inputs['name']}",
        "delivery_stream_name": firehose.inputs["name"],
        "delivery_stream_arn": (
            f"arn:aws:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{firehose.inputs['name']}"
        ),
        "replication_config_arn": "",
    }
    identifier = replicated.one(REPLICATION).inputs["replicationConfigIdentifier"]
    assert outputs(replicated)["replication_config_arn"].endswith(
        f":replication-config:{identifier}"
    )
    for lake in (streamed, replicated):
        inside = {r.urn for r in lake.children_of(COMPONENT)}
        declared = [
            r for r in lake if r.type in STREAMING_TYPES or "cdc" in r.inputs.get("name", "")
        ]
        assert declared and all(r.urn in inside for r in declared)


# --- the delivery --------------------------------------------------------------------------


def test_firehose_reads_the_stream_and_writes_the_landing_bucket(streamed):
    firehose = streamed.one(FIREHOSE).inputs
    config = delivery_config(streamed)
    assert firehose["destination"] == "extended_s3"
    assert (
        firehose["kinesisSourceConfiguration"]["kinesisStreamArn"]
        == outputs(streamed)["stream_arn"]
    )
    assert config["bucketArn"] == f"arn:aws:s3:::{landing(streamed)}"
    role_arn, _ = role_named(streamed, "streaming-delivery-role")
    assert config["roleArn"] == firehose["kinesisSourceConfiguration"]["roleArn"] == role_arn
    assert config["kmsKeyArn"] == KEY_ARN
    # Kinesis-sourced: encrypted by the stream, a server-side encryption block is refused.
    assert "serverSideEncryption" not in firehose


def test_a_delivered_change_lands_where_bronze_is_notified_and_registers_it(streamed):
    config = delivery_config(streamed)
    # The one key the JQ query extracts is the key the prefix partitions by.
    (processor,) = [
        p
        for p in config["processingConfiguration"]["processors"]
        if p["type"] == "MetadataExtraction"
    ]
    parameters = {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}
    query = parameters["MetadataExtractionQuery"]
    assert parameters["JsonParsingEngine"] == "JQ-1.6"
    match = re.fullmatch(r'\{(\w+): \.metadata\["table-name"\]\}', query)
    assert match, query
    extracted = match[1]
    assert f"!{{partitionKeyFromQuery:{extracted}}}" in config["prefix"]
    # A change of table review at 10:42 UTC: raw/review/cdc/2026/12/01/10/<name>.jsonl.gz
    assert config["customTimeZone"] == "UTC"
    folder = expand_prefix(config["prefix"], at=AT, keys={extracted: "review"})
    assert folder == "raw/review/cdc/2026/12/01/10/"
    name = f"{outputs(streamed)['delivery_stream_name']}-1-2026-12-01-10-42-00-0f3c"
    key = f"{folder}{name}{config['fileExtension']}"
    raw = parse_raw_key(key, {"review"})
    assert (raw.table, raw.format) == ("review", RawFormat.JSONL)
    assert (
        config["compressionFormat"] == "GZIP"
        and RAW_SUFFIXES[config["fileExtension"]] is RawFormat.JSONL
    )
    (notification,) = streamed.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["bucket"] == landing(streamed)
    assert any(
        key.startswith(rule["filterPrefix"]) and key.endswith(rule["filterSuffix"])
        for rule in notification.inputs["lambdaFunctions"]
    )


def test_failed_records_are_kept_under_the_error_prefix_and_never_ingested(streamed):
    config = delivery_config(streamed)
    folder = expand_prefix(config["errorOutputPrefix"], at=AT, error_type=PARTITIONING_FAILED)
    assert folder == f"{STREAM_ERRORS_PREFIX}partitioning-failed/2026/12/01/10/"
    (notification,) = streamed.of_type("aws:s3/bucketNotification:BucketNotification")
    assert not any(
        folder.startswith(r["filterPrefix"]) for r in notification.inputs["lambdaFunctions"]
    )
    # Expired like raw (dev keeps raw 14 days), never earlier.
    lifecycle = {
        r.inputs["bucket"]: r.inputs["rules"]
        for r in streamed.of_type(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )
    }
    rules = {r["filter"].get("prefix"): r for r in lifecycle[landing(streamed)]}
    assert rules[STREAM_ERRORS_PREFIX]["expiration"] == rules["raw/"]["expiration"] == {"days": 14}


def test_processors_buffering_and_retries_come_from_the_shared_definition_and_settings(streamed):
    config = delivery_config(streamed)
    processing = config["processingConfiguration"]
    assert processing["enabled"] is True
    configured = [
        {
            "type": p["type"],
            "parameters": {
                q["parameterName"]: q["parameterValue"] for q in p.get("parameters", [])
            },
        }
        for p in processing["processors"]
    ]
    assert configured == list(PROCESSORS)
    assert [p["type"] for p in configured] == [
        "RecordDeAggregation",
        "MetadataExtraction",
        "AppendDelimiterToRecord",
    ]
    assert configured[0]["parameters"] == {"SubRecordType": "JSON"}
    assert config["dynamicPartitioningConfiguration"] == {"enabled": True, "retryDuration": 900}
    assert (config["bufferingSize"], config["bufferingInterval"]) == (128, 120)


def test_delivery_errors_are_logged_to_an_encrypted_group_the_role_writes_only(streamed):
    group = streamed.named("aws:cloudwatch/logGroup:LogGroup", "streaming-delivery-logs").inputs
    stream = streamed.named(
        "aws:cloudwatch/logStream:LogStream", "streaming-delivery-log-stream"
    ).inputs
    assert group["kmsKeyId"] == KEY_ARN and group["retentionInDays"] == 30
    assert stream["logGroupName"] == group["name"]
    logging = delivery_config(streamed)["cloudwatchLoggingOptions"]
    assert logging == {
        "enabled": True,
        "logGroupName": group["name"],
        "logStreamName": stream["name"],
    }
    who, identity = role_named(streamed, "streaming-delivery-role")
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:"
    assert allows(
        who, identity, "logs:PutLogEvents", f"{logs}{group['name']}:log-stream:{stream['name']}"
    )
    assert not allows(who, identity, "logs:PutLogEvents", f"{logs}/aws/lambda/x:log-stream:y")
    assert not allows(who, identity, "logs:CreateLogGroup", f"{logs}{group['name']}")


# --- least privilege, decided --------------------------------------------------------------


def s3_writes(
    judge: Judge, who: str, identity: list[dict[str, Any]], bucket: str, key: str
) -> bool:
    """PutObject and the data key S3 asks for it as the caller (Bucket Keys: the bucket's ARN
    is the encryption context)."""
    context = {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}",
    }
    return judge.s3(who, identity, "s3:PutObject", bucket, key) and judge.kms(
        who, identity, "kms:GenerateDataKey", **context
    )


def test_firehose_writes_the_streamed_folders_of_raw_and_the_error_prefix_only(replicated, judge):
    who, identity = role_named(replicated, "streaming-delivery-role")
    bucket, lake_bucket = landing(replicated), f"datalake-dev-lake-{REGION}"
    assert s3_writes(judge, who, identity, bucket, "raw/review/cdc/2026/12/01/10/d-1-x.jsonl.gz")
    assert s3_writes(
        judge, who, identity, bucket, "stream-errors/partitioning-failed/2026/12/01/10/d-1-x"
    )
    # Not a batch file, not another layer, not another bucket; never a read.
    assert not s3_writes(judge, who, identity, bucket, "raw/review/reviews-0001.csv.gz")
    assert not s3_writes(judge, who, identity, lake_bucket, "bronze/review/x.parquet")
    assert not judge.s3(
        who, identity, "s3:GetObject", bucket, "raw/review/cdc/2026/12/01/10/d-1-x.jsonl.gz"
    )
    assert not judge.s3(who, identity, "s3:DeleteObject", bucket, "raw/review/cdc/2026/12/01/10/d")
    elsewhere = {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{lake_bucket}",
    }
    assert not judge.kms(who, identity, "kms:GenerateDataKey", **elsewhere)


def test_firehose_reads_this_stream_only(replicated, judge):
    who, identity = role_named(replicated, "streaming-delivery-role")
    stream = outputs(replicated)["stream_arn"]
    other = stream.replace("cdc-stream", "other-stream")
    for action in ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream"):
        assert allows(who, identity, action, stream), action
        assert not allows(who, identity, action, other), action
    assert not allows(who, identity, "kinesis:PutRecord", stream)
    via = {"kms:ViaService": f"kinesis.{REGION}.amazonaws.com"}
    context = "kms:EncryptionContext:aws:kinesis:arn"
    assert judge.kms(who, identity, "kms:Decrypt", **via, **{context: stream})
    assert not judge.kms(who, identity, "kms:Decrypt", **via, **{context: other})
    assert not judge.kms(who, identity, "kms:Decrypt")


def test_dms_puts_to_this_stream_only(replicated, judge):
    who, identity = role_named(replicated, "streaming-dms-target-role")
    stream = outputs(replicated)["stream_arn"]
    other = stream.replace("cdc-stream", "other-stream")
    for action in ("kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream"):
        assert allows(who, identity, action, stream), action
        assert not allows(who, identity, action, other), action
    assert not allows(who, identity, "kinesis:GetRecords", stream)
    via = {"kms:ViaService": f"kinesis.{REGION}.amazonaws.com"}
    context = "kms:EncryptionContext:aws:kinesis:arn"
    assert judge.kms(who, identity, "kms:GenerateDataKey", **via, **{context: stream})
    assert not judge.kms(who, identity, "kms:GenerateDataKey", **via, **{context: other})
    assert not judge.kms(who, identity, "kms:Decrypt", **via, **{context: stream})
    assert not judge.s3(who, identity, "s3:PutObject", landing(replicated), "raw/review/x.jsonl.gz")


def test_dms_reads_the_named_secret_only_and_decrypts_it_through_secrets_manager(replicated):
    who, identity = role_named(replicated, "streaming-dms-secrets-role")
    assert allows(who, identity, "secretsmanager:GetSecretValue", SECRET)
    assert not allows(who, identity, "secretsmanager:GetSecretValue", SECRET.replace("beer", "crm"))
    assert not allows(who, identity, "secretsmanager:PutSecretValue", SECRET)
    their_key = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    via = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    assert decide(Request(who, "kms:Decrypt", SECRET_KEY, via), identity, their_key)
    assert not decide(Request(who, "kms:Decrypt", SECRET_KEY), identity, their_key)
    assert not allows(who, identity, "kms:Decrypt", KEY_ARN, **via)


def test_the_roles_trust_their_service_for_this_account_only(replicated):
    role = replicated.named(ROLE, "streaming-delivery-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT_ID}}
    for logical in ("streaming-dms-target-role", "streaming-dms-secrets-role"):
        (trust,) = json.loads(replicated.named(ROLE, logical).inputs["assumeRolePolicy"])[
            "Statement"
        ]
        assert trust["Principal"] == {
            "Service": ["dms.amazonaws.com", f"dms.{REGION}.amazonaws.com"]
        }
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": [f"arn:aws:dms:{REGION}:{ACCOUNT_ID}:*"]},
        }


# --- the DMS source side -------------------------------------------------------------------


def endpoints(lake: Inventory) -> dict[str, dict[str, Any]]:
    return {e.inputs["endpointType"]: e.inputs for e in lake.of_type(ENDPOINT)}


def test_the_kinesis_target_sends_unformatted_json_with_transaction_details(replicated):
    target = endpoints(replicated)["target"]
    settings = target["kinesisSettings"]
    assert target["engineName"] == "kinesis" and target["kmsKeyArn"] == KEY_ARN
    assert settings["messageFormat"] == "json-unformatted"
    assert settings["includeTransactionDetails"] is True
    assert settings["includeControlDetails"] is True  # control records: bronze skips them
    assert settings["streamArn"] == outputs(replicated)["stream_arn"]
    role_arn, _ = role_named(replicated, "streaming-dms-target-role")
    assert settings["serviceAccessRoleArn"] == role_arn
    camel = {
        re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in KINESIS_TARGET_SETTINGS.items()
    }
    assert {k: settings[k] for k in camel} == camel


def test_the_source_reads_its_connection_from_the_secret_over_tls(replicated):
    source = endpoints(replicated)["source"]
    role_arn, _ = role_named(replicated, "streaming-dms-secrets-role")
    assert (source["engineName"], source["databaseName"]) == ("postgres", "beer")
    assert source["secretsManagerArn"] == SECRET
    assert source["secretsManagerAccessRoleArn"] == role_arn
    assert source["sslMode"] == "require" and source["kmsKeyArn"] == KEY_ARN
    # Never a credential or connection detail in the program: the secret holds them.
    assert not {"username", "password", "serverName", "port"} & set(source)


def test_the_replication_maps_the_domains_cdc_tables_with_their_source_names(replicated):
    config = replicated.one(REPLICATION).inputs
    rules = json.loads(config["tableMappings"])["rules"]
    domain = load_domain(default_domain_path())
    cdc = [t.name for t in domain.tables.values() if t.cdc]
    selections = [r for r in rules if r["rule-type"] == "selection"]
    assert [r["object-locator"] for r in selections] == [
        {"schema-name": "reviews_app", "table-name": "beer_reviews" if t == "review" else t}
        for t in cdc
    ]
    assert all(r["rule-action"] == "include" for r in selections)
    (rename,) = [r for r in rules if r["rule-type"] == "transformation"]
    assert rename["object-locator"] == {"schema-name": "reviews_app", "table-name": "beer_reviews"}
    assert (rename["rule-target"], rename["rule-action"], rename["value"]) == (
        "table",
        "rename",
        "review",
    )
    assert len({r["rule-id"] for r in rules}) == len(rules)


def test_tables_without_cdc_are_not_replicated():
    config = stack_config("dev")
    config["datalake:lake"] = {
        **config["datalake:lake"],
        "domain": "examples/retail/domain.yaml",
        "streaming": {"enabled": True, "source": {**SOURCE, "table_names": {}}},
    }
    lake = Inventory(run_program("dev", config))
    rules = json.loads(lake.one(REPLICATION).inputs["tableMappings"])["rules"]
    assert [r["object-locator"]["table-name"] for r in rules] == ["orders"]


def test_the_replication_is_serverless_full_load_and_cdc_in_the_settings_network(replicated):
    config = replicated.one(REPLICATION).inputs
    endpoint_arns = {e.inputs["endpointType"]: e.name for e in replicated.of_type(ENDPOINT)}
    assert config["replicationType"] == "full-load-and-cdc"
    assert config["sourceEndpointArn"].endswith(
        f":endpoint:{endpoints(replicated)['source']['endpointId']}"
    )
    assert config["targetEndpointArn"].endswith(
        f":endpoint:{endpoints(replicated)['target']['endpointId']}"
    )
    assert set(endpoint_arns) == {"source", "target"}
    assert json.loads(config["replicationSettings"]) == REPLICATION_SETTINGS
    before = json.loads(config["replicationSettings"])["BeforeImageSettings"]
    assert before["ColumnFilter"] == "pk-only"  # no second copy of a row's values
    assert config["startReplication"] is False
    compute = config["computeConfig"]
    group = replicated.one(SUBNET_GROUP).inputs
    assert group["subnetIds"] == SUBNETS
    assert compute["replicationSubnetGroupId"] == group["replicationSubnetGroupId"]
    (security_group,) = [
        g for g in replicated.of_type(SECURITY_GROUP) if g.name.startswith("streaming")
    ]
    assert compute["vpcSecurityGroupIds"] == [security_group.name]
    assert (compute["minCapacityUnits"], compute["maxCapacityUnits"]) == (2, 8)
    assert compute["kmsKeyId"] == KEY_ARN


def test_the_security_group_lets_dms_reach_the_database_and_https_only(replicated):
    (group,) = [g for g in replicated.of_type(SECURITY_GROUP) if g.name.startswith("streaming")]
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"  # the subnet group's VPC
    assert not group.inputs.get("ingress")
    ports = sorted((e["fromPort"], e["toPort"], e["protocol"]) for e in group.inputs["egress"])
    assert ports == [(443, 443, "tcp"), (5432, 5432, "tcp")]


def test_a_mysql_source_uses_its_port_names_no_database_and_network_subnets():
    mysql = {**SOURCE, "engine": "aurora", "subnet_ids": [], "start_replication": True}
    network = {
        "subnet_ids": ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"],
        "security_group_ids": ["sg-0aaaaaaaaaaaaaaa0"],
    }
    lake = run_stack(with_lake(streaming={"enabled": True, "source": mysql}, network=network))
    source = endpoints(lake)["source"]
    assert source["engineName"] == "aurora" and "databaseName" not in source
    (group,) = [g for g in lake.of_type(SECURITY_GROUP) if g.name.startswith("streaming")]
    assert {e["fromPort"] for e in group.inputs["egress"]} == {3306, 443}
    assert lake.one(SUBNET_GROUP).inputs["subnetIds"] == network["subnet_ids"]
    assert lake.one(REPLICATION).inputs["startReplication"] is True


# --- settings errors before any resource ---------------------------------------------------


def construct(
    streaming: dict[str, Any], network: dict[str, Any] | None = None
) -> tuple[list[str], str]:
    """Build the component alone under the mocks (as the provider would): what it registered,
    and the error it raised."""
    monitor = RecordingMonitor(LakeMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="datalake", stack="dev", preview=False, monitor=monitor
    )
    # Only what the component reads of a foundation: the provider passes plain values too.
    foundation = {
        "lake": {
            "project": "datalake",
            "environment": "dev",
            "region": REGION,
            "protect": False,
            "log_retention_days": 30,
        },
        "kms_key_arn": KEY_ARN,
        "landing_bucket_arn": "arn:aws:s3:::datalake-dev-landing-eu-west-1",
        "domain": load_domain(default_domain_path()).to_document(),
    }
    errors: list[str] = []

    @pulumi.runtime.test
    def program() -> None:
        try:
            StreamingIngest(
                "streaming",
                {"foundation": foundation, "streaming": streaming, "network": network or {}},
            )
        except pulumi.RunError as error:
            errors.append(str(error))

    program()
    return [r.name for r in monitor.registered.values()], "".join(errors)


def test_the_component_alone_declares_the_stream_path():
    registered, error = construct({"enabled": True})
    assert error == ""
    assert {"streaming", "streaming-stream", "streaming-delivery"} <= set(registered)


@pytest.mark.parametrize(
    ("streaming", "network", "paths"),
    [
        ({"enabled": False}, None, ["datalake:lake.streaming.enabled"]),
        (
            {"enabled": True, "stream": {"mode": "sometimes"}},
            None,
            ["datalake:lake.streaming.stream.mode"],
        ),
        (
            {
                "enabled": True,
                "source": {
                    **SOURCE,
                    "subnet_ids": [],
                    "min_capacity_units": 3,
                    "table_names": {"reviews": "x"},
                },
            },
            None,
            [
                "datalake:lake.streaming.source.min_capacity_units",
                "datalake:lake.streaming.source.subnet_ids",
                "datalake:lake.streaming.source.table_names.reviews",
            ],
        ),
        (
            {"enabled": True, "source": {**SOURCE, "subnet_ids": []}},
            {"subnet_ids": [SUBNETS[0]]},
            ["datalake:lake.network.subnet_ids"],
        ),
    ],
    ids=["disabled", "bad-mode", "every-source-problem", "one-subnet"],
)
def test_bad_settings_fail_before_any_resource_with_their_paths(streaming, network, paths):
    registered, error = construct(streaming, network)
    assert registered == []
    for path in paths:
        assert path in error, (path, error)
    assert error.count("\n  - ") == len(paths)  # every problem at once, nothing else


def test_the_program_refuses_streaming_settings_before_any_resource():
    config = with_lake(streaming={"enabled": True, "source": {**SOURCE, "max_capacity_units": 5}})
    with pytest.raises(
        pulumi.RunError, match=r"datalake:lake\.streaming\.source\.max_capacity_units"
    ):
        run_program("dev", config)
