"""GoldConsumerAccess: who may query gold, and what Lake Formation shows them (gold, no PII).

    role gold-consumer           trusted by governance.consumers (or the account root)
      └─ policy                  queries in the gold workgroup, Glue read of the gold database,
                                 the Athena results prefix, the lake key; no S3 on the lake
                                 bucket at all: Lake Formation vends gold credentials
    group gold-consumers + user gold-demo   (gold.demo_user: same policy, no key, no password)
    Lake Formation grants        per principal: TABLE SELECT/DESCRIBE and DATABASE DESCRIBE
                                 through classification ∈ {public, internal} ∧ layer = gold

The consumer role trusts the principals in ``consumers``; when that list is empty it trusts the
account root, which lets any IAM principal of the account whose own policy allows
``sts:AssumeRole`` on it assume it (nothing else is opened).
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.layout import ATHENA_RESULTS_PREFIX
from datalake.naming import Layer, layer_tags, partition_of, service_endpoint

from .foundation import LakeFoundation, after_lake_formation, names_of
from .options import child_options
from .pii import pii_free_expression

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

KEY_VIA_SERVICES = ("s3", "athena")
"""The services through which a consumer may use the lake key (``kms:ViaService``)."""


class GoldConsumerAccessArgs(TypedDict):
    """Inputs of :class:`GoldConsumerAccess`."""

    foundation: LakeFoundation
    """The lake's foundation: the gold database, the observer bucket, the key."""
    workgroup_name: pulumi.Input[str]
    """The Athena workgroup consumers query in."""
    layer_tag_key: pulumi.Input[str]
    """Key of the ``layer`` LF-Tag (once the databases carry it): grants are limited to gold."""
    classification_tag_key: pulumi.Input[str]
    """Key of the ``classification`` LF-Tag: grants exclude ``pii``."""
    consumers: NotRequired[list[str]]
    """IAM principals allowed to assume the consumer role (empty: the account's own)."""
    demo_user: NotRequired[bool]
    """Also an IAM user with the same policy, for trying gold in the console."""


class GoldConsumerAccess(pulumi.ComponentResource):
    """The gold consumer role (and optional demo user), its policy, its Lake Formation grants."""

    consumer_role_arn: pulumi.Output[str]
    """The role consumers assume to query gold."""
    demo_user_name: pulumi.Output[str]
    """The demo user's name (empty without ``demo_user``)."""

    def __init__(
        self, name: str, args: GoldConsumerAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:GoldConsumerAccess", name, None, opts)
        foundation = args["foundation"]
        self._names = names = names_of(foundation["lake"])
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        document = pulumi.Output.all(
            account,
            args["workgroup_name"],
            foundation["gold_database_name"],
            foundation["observer_bucket_arn"],
            foundation["kms_key_arn"],
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
        consumers = list(args.get("consumers", []))
        self.consumer_role = aws.iam.Role(
            f"{name}-consumer-role",
            name=names.resource("gold-consumer"),
            description="Queries the gold marts with Athena; Lake Formation shows gold, no PII",
            assume_role_policy=account.apply(
                lambda a: json.dumps(consumer_trust(consumers, a, partition=names.partition))
            ),
            tags=layer_tags("gold"),
            opts=child_options(self),
        )
        aws.iam.RolePolicy(
            f"{name}-consumer-policy",
            role=self.consumer_role.id,
            policy=document,
            opts=child_options(self),
        )
        principals: list[tuple[str, pulumi.Input[str]]] = [("consumer", self.consumer_role.arn)]
        self.demo_user_name = pulumi.Output.from_input("")
        if args.get("demo_user", False):
            demo_user = self._demo_user(name, document)
            self.demo_user_name = demo_user.name
            principals.append(("demo-user", demo_user.arn))

        # Tables and columns tagged pii never match; the layer term keeps bronze and silver out.
        gold_only = [{"key": args["layer_tag_key"], "values": [Layer.GOLD.value]}]
        # The masker's tag by its output: the grant waits for the tag.
        expression = pii_free_expression(args["classification_tag_key"], gold_only)
        for who, principal in principals:
            for kind, resource_type, permissions in (
                ("tables", "TABLE", ["SELECT", "DESCRIBE"]),
                ("database", "DATABASE", ["DESCRIBE"]),
            ):
                aws.lakeformation.Permissions(
                    f"{name}-{who}-{kind}-grant",
                    principal=after_lake_formation(foundation, principal),
                    permissions=permissions,
                    lf_tag_policy={"resource_type": resource_type, "expressions": expression},
                    opts=child_options(self),
                )

        self.consumer_role_arn = self.consumer_role.arn
        self.register_outputs(
            {"consumer_role_arn": self.consumer_role_arn, "demo_user_name": self.demo_user_name}
        )

    def _demo_user(self, name: str, document: pulumi.Input[str]) -> aws.iam.User:
        """A user in a group with the consumer policy: no access key, no password."""
        names = self._names
        group = aws.iam.Group(
            f"{name}-consumers-group",
            name=names.resource("gold-consumers"),
            opts=child_options(self),
        )
        aws.iam.GroupPolicy(
            f"{name}-consumers-group-policy",
            group=group.name,
            policy=document,
            opts=child_options(self),
        )
        user = aws.iam.User(
            f"{name}-demo-user",
            name=names.resource("gold-demo"),
            # A console password added by hand must not block `pulumi destroy`.
            force_destroy=True,
            tags={**layer_tags("gold"), "purpose": "try gold in the AWS console"},
            opts=child_options(self),
        )
        aws.iam.UserGroupMembership(
            f"{name}-demo-user-membership",
            user=user.name,
            groups=[group.name],
            opts=child_options(self),
        )
        return user


def consumer_trust(consumers: list[str], account: str, partition: str = "aws") -> dict[str, Any]:
    """The consumer role's trust policy: the configured consumers, or this account's own."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                # Empty consumers: principals of this account allowed to assume the role by
                # their own IAM policy.
                "Principal": {"AWS": consumers or [f"arn:{partition}:iam::{account}:root"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }


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
    partition = partition_of(region)
    glue = f"arn:{partition}:glue:{region}:{account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "QueryInGoldWorkgroup",
                "Effect": "Allow",
                "Action": list(CONSUMER_ATHENA_ACTIONS),
                "Resource": f"arn:{partition}:athena:{region}:{account}:workgroup/{workgroup}",
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
                # Query results are encrypted with the lake key, by S3 (SSE-KMS) on Athena's
                # behalf: the key works only through those services, never directly.
                "Sid": "UseLakeKeyForResults",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": kms_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [
                            service_endpoint(service, region) for service in KEY_VIA_SERVICES
                        ]
                    }
                },
            },
        ],
    }
