"""The source side of :class:`~components.streaming.StreamingIngest`: DMS Serverless reading a
database's changes into the lake's Kinesis stream.

    source endpoint <prefix>-cdc-source   PostgreSQL / MySQL (RDS, Aurora); host, port and
      credentials from the Secrets Manager secret named in settings (never in config), read
      through the role <prefix>-cdc-dms-secrets (that secret only); TLS required
    target endpoint <prefix>-cdc-target   Kinesis, json-unformatted, transaction details on
      (``KINESIS_TARGET_SETTINGS``), through the role <prefix>-cdc-dms-target (put records to
      that stream only, the key through Kinesis for that stream only)
    replication <prefix>-cdc              full-load-and-cdc, table mappings from the domain's
      CDC tables (renamed from their source names), ``REPLICATION_SETTINGS``, capacity from
      settings, the lake key; started on deploy only if settings say so
      └─ subnet group <prefix>-cdc (the settings' subnets) · security group: no inbound,
         outbound to the database port and HTTPS (Kinesis, Secrets Manager) only

DMS needs the account-wide role ``dms-vpc-role`` (AmazonDMSVPCManagementRole) before it
creates a subnet group; an account that has used DMS has it, a new one must create it once.
"""

import json
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, layer_tags, service_endpoint
from datalake.settings_streaming import SOURCE_PORTS, DmsSourceSettings
from datalake.streaming import KINESIS_TARGET_SETTINGS, REPLICATION_SETTINGS, table_mappings

from .options import child_options
from .policies import (
    assume_role_policy,
    kinesis_put,
    secret_read,
    stream_key_use,
    trust_source_arns,
)
from .workloads import WorkloadRole, role_with_policy

LAYER = "raw"
DMS_SERVICE = "dms.amazonaws.com"
REPLICATION_TYPE = "full-load-and-cdc"
POSTGRES_ENGINES = frozenset({"postgres", "aurora-postgresql"})
"""Engines whose endpoint names a database; a MySQL endpoint reads every database (the
table mappings' schema is the MySQL database) and DMS stores none for it."""
SSL_MODE = "require"
"""The source connection is encrypted (the engines' certificates need no configuration)."""
HTTPS = 443


@dataclass(frozen=True)
class SourceInputs:
    """What the DMS side needs from the component: names, the stream and the key, where to
    run, and which tables to replicate."""

    names: LakeNames
    account: pulumi.Input[str]
    source: DmsSourceSettings
    stream_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    subnet_ids: list[str]
    tables: list[str]
    """The domain's CDC tables (their domain names)."""

    @property
    def port(self) -> int:
        """The database port: the settings', else the engine's."""
        return self.source.port or SOURCE_PORTS[self.source.engine]


def dms_replication(
    parent: pulumi.Resource, logical: str, inputs: SourceInputs
) -> aws.dms.ReplicationConfig:
    """Both endpoints, their roles, the network and the serverless replication."""
    names, source = inputs.names, inputs.source
    target_role = dms_role(
        parent,
        f"{logical}-target",
        inputs,
        purpose="cdc-dms-target",
        statements=(
            kinesis_put(inputs.stream_arn),
            stream_key_use(inputs.key_arn, inputs.stream_arn, names.region, produce=True),
        ),
    )
    secrets_role = dms_role(
        parent,
        f"{logical}-secrets",
        inputs,
        purpose="cdc-dms-secrets",
        statements=tuple(secret_read(source.secret_arn, source.secret_kms_key_arn, names.region)),
    )
    target = aws.dms.Endpoint(
        f"{logical}-target",
        endpoint_id=names.resource("cdc-target"),
        endpoint_type="target",
        engine_name="kinesis",
        kinesis_settings=cast(
            aws.dms.EndpointKinesisSettingsArgsDict,
            {
                **KINESIS_TARGET_SETTINGS,
                "stream_arn": inputs.stream_arn,
                "service_access_role_arn": target_role.arn,
            },
        ),
        kms_key_arn=inputs.key_arn,
        tags=layer_tags(LAYER),
        opts=child_options(parent),
    )
    # Host, port and credentials come from the secret: the provider refuses server_name,
    # port, username and password next to it.
    source_endpoint = aws.dms.Endpoint(
        f"{logical}-source",
        endpoint_id=names.resource("cdc-source"),
        endpoint_type="source",
        engine_name=source.engine,
        database_name=source.database_name if source.engine in POSTGRES_ENGINES else None,
        secrets_manager_arn=source.secret_arn,
        secrets_manager_access_role_arn=secrets_role.arn,
        ssl_mode=SSL_MODE,
        kms_key_arn=inputs.key_arn,
        tags=layer_tags(LAYER),
        opts=child_options(parent),
    )
    subnets = aws.dms.ReplicationSubnetGroup(
        f"{logical}-subnets",
        replication_subnet_group_id=names.resource("cdc"),
        replication_subnet_group_description=f"{names.prefix} CDC replication",
        subnet_ids=inputs.subnet_ids,
        tags=layer_tags(LAYER),
        opts=child_options(parent),
    )
    group = replication_security_group(parent, f"{logical}-security-group", subnets, inputs)
    return aws.dms.ReplicationConfig(
        f"{logical}-replication",
        replication_config_identifier=names.resource("cdc"),
        replication_type=REPLICATION_TYPE,
        source_endpoint_arn=source_endpoint.endpoint_arn,
        target_endpoint_arn=target.endpoint_arn,
        table_mappings=json.dumps(
            table_mappings(
                inputs.tables, schema_name=source.source_schema, source_names=source.table_names
            )
        ),
        replication_settings=json.dumps(REPLICATION_SETTINGS),
        compute_config={
            "replication_subnet_group_id": subnets.replication_subnet_group_id,
            "vpc_security_group_ids": [group.id],
            "min_capacity_units": source.min_capacity_units,
            "max_capacity_units": source.max_capacity_units,
            "kms_key_id": inputs.key_arn,
        },
        start_replication=source.start_replication,
        tags=layer_tags(LAYER),
        opts=child_options(parent),
    )


def dms_trust(names: LakeNames, account: str) -> str:
    """DMS assumes the endpoint roles under its global name (Kinesis targets) or its regional
    one (Secrets Manager access); only for this account's DMS resources of the region."""
    sources = trust_source_arns(
        DMS_SERVICE,
        partition=names.partition,
        region=names.region,
        account=account,
        prefix=names.prefix,
    )
    regional = service_endpoint("dms", names.region)
    return assume_role_policy([DMS_SERVICE, regional], account, sources)


def dms_role(
    parent: pulumi.Resource,
    logical: str,
    inputs: SourceInputs,
    *,
    purpose: str,
    statements: tuple[pulumi.Input[dict[str, Any]], ...],
) -> WorkloadRole:
    """An endpoint's role ``<prefix>-<purpose>`` with exactly ``statements``."""
    names = inputs.names
    return role_with_policy(
        parent,
        logical,
        name=names.resource(purpose),
        trust=pulumi.Output.from_input(inputs.account).apply(lambda a: dms_trust(names, a)),
        statements=statements,
        layer=LAYER,
    )


def replication_security_group(
    parent: pulumi.Resource,
    logical: str,
    subnets: aws.dms.ReplicationSubnetGroup,
    inputs: SourceInputs,
) -> aws.ec2.SecurityGroup:
    """No inbound; outbound to the database port and to HTTPS (Kinesis, Secrets Manager,
    through endpoints or a NAT of the subnets' VPC) only."""
    return aws.ec2.SecurityGroup(
        logical,
        vpc_id=subnets.vpc_id,
        description="DMS CDC replication: no inbound, outbound to the database and HTTPS",
        egress=[
            {
                "protocol": "tcp",
                "from_port": inputs.port,
                "to_port": inputs.port,
                "cidr_blocks": ["0.0.0.0/0"],
                "description": f"the source database ({inputs.source.engine})",
            },
            {
                "protocol": "tcp",
                "from_port": HTTPS,
                "to_port": HTTPS,
                "cidr_blocks": ["0.0.0.0/0"],
                "description": "Kinesis and Secrets Manager over TLS",
            },
        ],
        tags={**layer_tags(LAYER), "Name": inputs.names.resource("cdc-dms")},
        opts=child_options(parent),
    )
