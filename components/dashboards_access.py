"""What the Grafana workspace may read: the lake's Athena workgroup, the gold catalog through
Lake Formation (PII-free, as the gold consumers), and CloudWatch metrics.

    role <prefix>-grafana        trusted by grafana.amazonaws.com for this account's
                                 workspaces (aws:SourceAccount, aws:SourceArn)
      └─ policy                  the gold consumer policy (components/gold_access.py): queries
                                 in the lake's workgroup only, Glue read of gold, the Athena
                                 results prefix, the lake key through S3/Athena; plus what the
                                 Athena data source browses (catalogs, workgroups, databases)
                                 and CloudWatch metric reads
    Lake Formation grants        TABLE SELECT/DESCRIBE, DATABASE DESCRIBE through
                                 classification ∈ {public, internal} ∧ layer = gold

With dashboards on, the workgroup is tagged ``GrafanaDataSource: true`` (``GoldMart``), as
Grafana's managed ``AmazonGrafanaAthenaAccess`` policy expects, so the workspace console lists
it. That managed policy is not attached, though: it allows every tagged workgroup of the
account and results buckets named ``grafana-athena-query-results-*``; this inline policy is the
same access narrowed to the lake's own workgroup and results prefix.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, Layer, layer_tags

from .foundation import LakeFoundation, after_lake_formation
from .gold_access import consumer_policy
from .options import child_options
from .pii import pii_free_expression
from .policies import assume_role_policy
from .workloads import WorkloadRole

GRAFANA_SERVICE = "grafana.amazonaws.com"
ATHENA_LIST_ACTIONS = ("athena:ListWorkGroups", "athena:ListDataCatalogs")
"""What the Athena data source's editor lists account-wide (no resource-level scope)."""
ATHENA_CATALOG_ACTIONS = (
    "athena:GetDataCatalog",
    "athena:ListDatabases",
    "athena:GetDatabase",
    "athena:ListTableMetadata",
    "athena:GetTableMetadata",
)
"""What it reads of the account's default Glue catalog (Glue and Lake Formation still decide
which databases and tables it sees)."""
CLOUDWATCH_READ_ACTIONS = (
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:DescribeAlarmHistory",
    "ec2:DescribeRegions",
    "tag:GetResources",
)
"""CloudWatch's metric reads (no resource-level permissions) and what the CloudWatch data
source calls to list regions and resolve dimensions."""
GRAFANA_DATA_CATALOG = "AwsDataCatalog"


def grafana_trust(account: str, names: LakeNames) -> str:
    """The workspace role's trust: Grafana, for workspaces of this account and region."""
    source = f"arn:{names.partition}:grafana:{names.region}:{account}:/workspaces/*"
    return assume_role_policy(GRAFANA_SERVICE, account, [source])


def grafana_policy(
    *,
    region: str,
    account: str,
    workgroup: str,
    gold_database: str,
    observer_bucket_arn: str,
    kms_key_arn: str,
    partition: str,
) -> dict[str, Any]:
    """The gold consumer's policy plus the data sources' browsing and CloudWatch reads."""
    document = consumer_policy(
        region=region,
        account=account,
        workgroup=workgroup,
        gold_database=gold_database,
        observer_bucket_arn=observer_bucket_arn,
        kms_key_arn=kms_key_arn,
    )
    catalog = f"arn:{partition}:athena:{region}:{account}:datacatalog/{GRAFANA_DATA_CATALOG}"
    document["Statement"] += [
        {
            "Sid": "ListAthenaWorkgroupsAndCatalogs",
            "Effect": "Allow",
            "Action": list(ATHENA_LIST_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "BrowseDataCatalog",
            "Effect": "Allow",
            "Action": list(ATHENA_CATALOG_ACTIONS),
            "Resource": catalog,
        },
        {
            "Sid": "ReadCloudWatchMetrics",
            "Effect": "Allow",
            "Action": list(CLOUDWATCH_READ_ACTIONS),
            "Resource": "*",
        },
    ]
    return document


def grafana_role(
    parent: pulumi.Resource,
    logical: str,
    *,
    names: LakeNames,
    account: pulumi.Output[str],
    foundation: LakeFoundation,
    workgroup_name: pulumi.Input[str],
) -> WorkloadRole:
    """The workspace's role ``<prefix>-grafana`` with :func:`grafana_policy` inline."""
    role = aws.iam.Role(
        f"{logical}-role",
        name=names.resource("grafana"),
        description="Amazon Managed Grafana: the lake's Athena workgroup, gold, CloudWatch",
        assume_role_policy=account.apply(lambda a: grafana_trust(a, names)),
        tags=layer_tags(Layer.GOLD),
        opts=child_options(parent),
    )
    policy = aws.iam.RolePolicy(
        f"{logical}-policy",
        role=role.id,
        policy=pulumi.Output.all(
            account,
            workgroup_name,
            foundation["gold_database_name"],
            foundation["observer_bucket_arn"],
            foundation["kms_key_arn"],
        ).apply(
            lambda v: json.dumps(
                grafana_policy(
                    region=names.region,
                    account=v[0],
                    workgroup=v[1],
                    gold_database=v[2],
                    observer_bucket_arn=v[3],
                    kms_key_arn=v[4],
                    partition=names.partition,
                )
            )
        ),
        opts=child_options(parent),
    )
    return WorkloadRole(role, policy)


def grant_gold_reads(
    parent: pulumi.Resource,
    logical: str,
    *,
    foundation: LakeFoundation,
    principal: pulumi.Input[str],
    layer_tag_key: pulumi.Input[str],
    classification_tag_key: pulumi.Input[str],
) -> None:
    """The gold consumers' Lake Formation grants, for the workspace role: gold, no PII."""
    gold_only = [{"key": layer_tag_key, "values": [Layer.GOLD.value]}]
    expression = pii_free_expression(classification_tag_key, gold_only)
    for kind, resource_type, permissions in (
        ("tables", "TABLE", ["SELECT", "DESCRIBE"]),
        ("database", "DATABASE", ["DESCRIBE"]),
    ):
        aws.lakeformation.Permissions(
            f"{logical}-{kind}-grant",
            principal=after_lake_formation(foundation, principal),
            permissions=permissions,
            lf_tag_policy={"resource_type": resource_type, "expressions": expression},
            opts=child_options(parent),
        )
