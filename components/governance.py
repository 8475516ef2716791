"""LakeGovernance: Lake Formation owns access to the lake bucket.

    Lake Formation data-lake settings (governance.data_lake_settings: managed)
      admins = the deploying identity + governance.admins; default permissions explicit
      protected and retained outside dev: a destroy never resets the account's admins
      └─ lake bucket registered as a data location, accessed through a dedicated role
           (read/write on bronze/ silver/ gold/ only, use of the lake key)
      └─ the `<project>-<env>-layer` LF-Tag (bronze, silver, gold) the databases carry

Data-lake settings are account-and-region wide. One stack per account and region manages them
(``managed``); any other lake in that account sets ``external`` and deploys with an identity
that already is a Lake Formation admin. LF-Tag keys are named after the lake
(``<project>-<env>-layer``), so two lakes of one account never share a tag or a grant.
"""

import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.layout import layer_prefix
from datalake.naming import Layer, layer_tags

from .foundation import LakeIdentity, lf_tag_key, names_of
from .options import child_options, stateful_options
from .workloads import deployer_arn

REGISTERED_PREFIXES = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)
IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
LAYER_TAG = "layer"
DefaultPermission = aws.lakeformation.DataLakeSettingsCreateDatabaseDefaultPermissionArgsDict
LAYER_TAG_VALUES = [Layer.BRONZE.value, Layer.SILVER.value, Layer.GOLD.value]


class LakeGovernanceArgs(TypedDict):
    """Inputs of :class:`LakeGovernance`."""

    lake: LakeIdentity
    """The lake's identity (names of the registration role)."""
    lake_bucket_arn: pulumi.Input[str]
    """The lake bucket, registered with Lake Formation as a data location."""
    kms_key_arn: pulumi.Input[str]
    """The lake's KMS key, which the registration role uses."""
    permission_mode: NotRequired[str]
    """``lake-formation`` (only LF grants count; the default) or ``iam-compatible``."""
    admins: NotRequired[list[str]]
    """Admin principal ARNs besides the identity running the deployment (always an admin)."""
    data_lake_settings: NotRequired[str]
    """``managed`` (the default): this stack owns the account's Lake Formation settings;
    ``external``: another stack does, and this one declares none."""


class LakeGovernance(pulumi.ComponentResource):
    """Lake Formation settings, the lake bucket's registration as a data location, and the
    ``layer`` LF-Tag every database is tagged with."""

    registration_role_arn: pulumi.Output[str]
    """Role Lake Formation uses to read and write the registered prefixes."""
    admin_arns: pulumi.Output[list[str]]
    """The Lake Formation admins the settings declare."""
    layer_tag_key: pulumi.Output[str]
    """Key of the ``layer`` LF-Tag (values: bronze, silver, gold)."""
    lake_formation_ready: pulumi.Output[str]
    """Resolves once the admins and the registered location exist; grants wait for it."""

    def __init__(
        self, name: str, args: LakeGovernanceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeGovernance", name, None, opts)
        names = names_of(args["lake"])
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        iam_compatible = args.get("permission_mode", "lake-formation") == "iam-compatible"

        lake = args["lake"]
        stateful = stateful_options(self, lake["protect"])
        self.settings: aws.lakeformation.DataLakeSettings | None = None
        if args.get("data_lake_settings", "managed") == "managed":
            self.settings = aws.lakeformation.DataLakeSettings(
                f"{name}-settings",
                # PutDataLakeSettings replaces the whole list: dropping the deployer would lock
                # this very deploy out of the tags, grants and tables it creates next.
                admins=deployer_arn(self, caller.arn).apply(
                    lambda deployer: admins_with(deployer, args.get("admins", []))
                ),
                create_database_default_permissions=default_permissions(iam_compatible),
                create_table_default_permissions=default_permissions(iam_compatible),
                opts=stateful,
            )
        after_settings = [self.settings] if self.settings else []

        self.registration_role = aws.iam.Role(
            f"{name}-registration-role",
            name=names.resource("lakeformation-registration"),
            description="Lake Formation reads and writes registered lake prefixes with this role",
            assume_role_policy=caller.account_id.apply(
                lambda account: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": ["lakeformation.amazonaws.com", "glue.amazonaws.com"]
                                },
                                "Action": ["sts:AssumeRole", "sts:SetContext"],
                                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                            }
                        ],
                    }
                )
            ),
            tags=layer_tags("governance"),
            opts=child_options(self),
        )
        aws.iam.RolePolicy(
            f"{name}-registration-access",
            role=self.registration_role.id,
            policy=pulumi.Output.all(args["lake_bucket_arn"], args["kms_key_arn"]).apply(
                lambda v: json.dumps(registration_policy(bucket_arn=v[0], key_arn=v[1]))
            ),
            opts=child_options(self),
        )
        self.location = aws.lakeformation.Resource(
            f"{name}-lake-location",
            arn=args["lake_bucket_arn"],
            role_arn=self.registration_role.arn,
            use_service_linked_role=False,
            hybrid_access_enabled=iam_compatible,
            opts=stateful_options(self, lake["protect"], depends_on=after_settings),
        )

        # The consumer grants are expressed in this tag: named after the lake, never shared.
        self.layer_tag = aws.lakeformation.LfTag(
            f"{name}-layer-tag",
            key=lf_tag_key(lake, LAYER_TAG),
            values=LAYER_TAG_VALUES,
            opts=pulumi.ResourceOptions.merge(
                stateful_options(self, lake["protect"], depends_on=after_settings),
                # Until this release GoldMart "gold" declared the tag: adopt it, don't replace it.
                pulumi.ResourceOptions(
                    aliases=[pulumi.Alias(name="gold-layer-tag", parent=_former_gold_urn())]
                ),
            ),
        )

        self.registration_role_arn = self.registration_role.arn
        self.admin_arns = (
            self.settings.admins.apply(list) if self.settings else pulumi.Output.from_input([])
        )
        self.layer_tag_key = self.layer_tag.key
        self.lake_formation_ready = pulumi.Output.all(
            *(r.id for r in (*after_settings, self.location))
        ).apply(lambda ids: ids[0])
        self.register_outputs(
            {
                "registration_role_arn": self.registration_role_arn,
                "admins": self.admin_arns,
                "layer_tag_key": self.layer_tag_key,
                "lake_formation_ready": self.lake_formation_ready,
            }
        )


def admins_with(deployer: str, admins: list[str]) -> list[str]:
    """The configured admins plus the deployer, once each, in a stable order."""
    return sorted({deployer, *admins})


def default_permissions(iam_compatible: bool) -> list[DefaultPermission]:
    """New databases and tables: ``IAM_ALLOWED_PRINCIPALS`` only in IAM-compatible mode.

    The empty list is declared on purpose; the provider may not clear defaults an account
    already has (pulumi-aws#4366), which ``datalake verify`` reports.
    """
    if iam_compatible:
        return [{"permissions": ["ALL"], "principal": IAM_ALLOWED_PRINCIPALS}]
    return []


def _former_gold_urn() -> str:
    stack, project = pulumi.get_stack(), pulumi.get_project()
    return f"urn:pulumi:{stack}::{project}::datalake:index:GoldMart::gold"


def registration_policy(*, bucket_arn: str, key_arn: str) -> dict:
    """Least privilege for the registration role: the layer prefixes and the lake key."""
    prefixes = [f"{layer_prefix(layer.value)}*" for layer in REGISTERED_PREFIXES]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListLayerPrefixes",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {
                    "StringLike": {"s3:prefix": [*prefixes, *[p[:-1] for p in prefixes]]}
                },
            },
            {
                "Sid": "ReadWriteLayerObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{bucket_arn}/{p}" for p in prefixes],
            },
            {
                "Sid": "UseLakeKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": key_arn,
            },
        ],
    }
