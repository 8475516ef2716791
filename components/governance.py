"""LakeGovernance: Lake Formation owns access to the lake bucket.

    Lake Formation data-lake settings (admins, default permissions by permission mode)
      └─ lake bucket registered as a data location, accessed through a dedicated role
           (read/write on bronze/ silver/ gold/ only, use of the lake key)

Data-lake settings are account-and-region wide: deploy one lake per account and region, or
manage the settings in one stack only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.options import child_options
from datalake.naming import LakeNames, Layer, layer_tags

REGISTERED_PREFIXES = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)
IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"


@dataclass
class LakeGovernanceArgs:
    """Inputs of :class:`LakeGovernance`."""

    names: LakeNames
    lake_bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    permission_mode: str = "lake-formation"
    """``lake-formation`` (only LF grants count) or ``iam-compatible``."""
    admins: list[str] = field(default_factory=list)
    """Admin principal ARNs; empty makes the identity running the deployment the admin."""


class LakeGovernance(pulumi.ComponentResource):
    """Lake Formation settings and the lake bucket's registration as a data location."""

    registration_role_arn: pulumi.Output[str]
    admin_arns: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: LakeGovernanceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeGovernance", name, None, opts)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        iam_compatible = args.permission_mode == "iam-compatible"

        admins: pulumi.Input[list[str]] = list(args.admins)
        if not args.admins:
            # The caller may be an assumed-role session; LF needs the role itself.
            session = aws.iam.get_session_context_output(
                arn=caller.arn, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            admins = session.issuer_arn.apply(lambda arn: [arn])
        default_permissions = (
            [{"permissions": ["ALL"], "principals": [IAM_ALLOWED_PRINCIPALS]}]
            if iam_compatible
            else []
        )
        self.settings = aws.lakeformation.DataLakeSettings(
            f"{name}-settings",
            admins=admins,
            create_database_default_permissions=default_permissions,
            create_table_default_permissions=default_permissions,
            opts=child_options(self),
        )

        self.registration_role = aws.iam.Role(
            f"{name}-registration-role",
            name=args.names.resource("lakeformation-registration"),
            description="Lake Formation reads and writes registered lake prefixes with this role",
            assume_role_policy=caller.account_id.apply(
                lambda account: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lakeformation.amazonaws.com"},
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
            policy=pulumi.Output.all(args.lake_bucket_arn, args.kms_key_arn).apply(
                lambda v: json.dumps(registration_policy(bucket_arn=v[0], key_arn=v[1]))
            ),
            opts=child_options(self),
        )
        self.location = aws.lakeformation.Resource(
            f"{name}-lake-location",
            arn=args.lake_bucket_arn,
            role_arn=self.registration_role.arn,
            use_service_linked_role=False,
            hybrid_access_enabled=iam_compatible,
            opts=child_options(self, depends_on=[self.settings]),
        )

        self.registration_role_arn = self.registration_role.arn
        self.admin_arns = self.settings.admins
        self.register_outputs(
            {"registration_role_arn": self.registration_role_arn, "admins": self.admin_arns}
        )


def registration_policy(*, bucket_arn: str, key_arn: str) -> dict:
    """Least privilege for the registration role: the layer prefixes and the lake key."""
    prefixes = [f"{layer.value}/*" for layer in REGISTERED_PREFIXES]
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
