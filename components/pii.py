"""PIIMasker: the HMAC key, what workers may do to detect and mask PII, and PII-aware access.

Secrets Manager secret (lake key) ── HMAC key, read once per worker ── optional rotation λ
  └─ resource policy: only the bronze workers, the rotation role, the deployer and
     break-glass principals read or replace the value (components.secret_policy)
worker policy: comprehend:DetectPiiEntities, read that secret, verdict cache prefix
Lake Formation LF-Tag classification = public | internal | pii
  └─ attached to table columns by classify_columns(); consumers are granted through
     pii_free_expression() (every value but pii), see grant_pii_free_access()
worker environment: the masking policy handed to the ingest workers (a ``PiiRuntime``)
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.contracts import Classification, TableContract
from datalake.layout import PII_VERDICT_PREFIX
from datalake.naming import layer_tags
from datalake.runtime import PiiRuntime
from datalake.settings import PiiSettings

from .code import lambda_archive
from .foundation import (
    LakeFoundation,
    after_lake_formation,
    lf_tag_key,
    names_of,
    section_settings,
)
from .layer_function import LambdaRuntime, layer_function
from .options import child_options, stateful_options
from .perimeter import deployment_perimeter
from .policies import kms_use, logs_write, policy_json, s3_read, s3_write
from .secret_policy import hmac_secret_policy
from .workloads import workload_log_group, workload_role

LF_TAG = "classification"
LF_TAG_VALUES = [c.value for c in Classification]
ROTATION_HANDLER = "workloads.pii.rotation.rotation_handler"
ROTATION_TIMEOUT_SECONDS = 60
LAYER = "governance"
RECOVERY_WINDOW_DAYS = {True: 30, False: 7}
"""Days a deleted key can be restored: longer where stateful resources are protected."""


class PIIMaskerArgs(TypedDict):
    """Inputs of :class:`PIIMasker`."""

    foundation: LakeFoundation
    """The lake's identity and foundation: the key, the lake bucket (verdict cache), the Lambda
    runtime of the rotation function, Lake Formation readiness (the classification tag)."""
    pii: NotRequired[dict[str, Any]]
    """The ``pii`` settings section (masking strategies, detection limits, key rotation)."""
    break_glass_principals: NotRequired[list[str]]
    """IAM principals that may read the HMAC key besides the lake's readers
    (``governance.break_glass_principals``)."""


TagExpression = aws.lakeformation.PermissionsLfTagPolicyExpressionArgsDict
"""One term of an LF-Tag expression: a tag key and the values that match."""


def pii_free_expression(
    classification_key: pulumi.Input[str], extra: Sequence[Mapping[str, Any]] = ()
) -> list[TagExpression]:
    """LF-Tag expression matching every classification but ``pii`` of the lake's
    classification tag (plus ``extra`` terms, each a ``{"key": ..., "values": [...]}``)."""
    allowed = [v for v in LF_TAG_VALUES if v != Classification.PII.value]
    terms = [TagExpression(key=e["key"], values=e["values"]) for e in extra]
    return [TagExpression(key=classification_key, values=allowed), *terms]


def grant_pii_free_access(
    name: str,
    *,
    parent: pulumi.Resource,
    principal: pulumi.Input[str],
    classification_key: pulumi.Input[str],
    extra_expression: Sequence[Mapping[str, Any]] = (),
    resource_type: Literal["TABLE", "DATABASE"] = "TABLE",
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.lakeformation.Permissions:
    """SELECT and DESCRIBE on the tables (and columns) of the PII-free expression.

    The gold component calls this with its consumer principal and a term that limits the
    grant to the gold database; columns tagged ``pii`` never match. With
    ``resource_type="DATABASE"`` it grants DESCRIBE on the databases the expression matches
    (SELECT does not apply to a database).
    """
    policy: aws.lakeformation.PermissionsLfTagPolicyArgsDict = {
        "resource_type": resource_type,
        "expressions": pii_free_expression(classification_key, extra_expression),
    }
    return aws.lakeformation.Permissions(
        name,
        principal=principal,
        permissions=["SELECT", "DESCRIBE"] if resource_type == "TABLE" else ["DESCRIBE"],
        lf_tag_policy=policy,
        opts=child_options(parent, depends_on=list(depends_on)),
    )


def classify_columns(
    name: str,
    *,
    parent: pulumi.Resource,
    database: pulumi.Input[str],
    table: pulumi.Input[str],
    contract: TableContract,
    tag_key: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[aws.lakeformation.ResourceLfTags]:
    """Tag a Glue table ``internal`` and each column with its contract classification.

    ``tag_key`` is the classification LF-Tag's key, as an output of the tag that also carries
    Lake Formation readiness (``after_lake_formation``): the assignments wait for both.
    """
    tags = [
        aws.lakeformation.ResourceLfTags(
            f"{name}-table",
            table={"database_name": database, "name": table},
            lf_tags=[{"key": tag_key, "value": Classification.INTERNAL.value}],
            opts=child_options(parent, depends_on=depends_on),
        )
    ]
    for classification in (Classification.PUBLIC, Classification.PII):
        columns = [c.name for c in contract.columns if c.classification is classification]
        if not columns:
            continue
        tags.append(
            aws.lakeformation.ResourceLfTags(
                f"{name}-{classification.value}-columns",
                table_with_columns={
                    "database_name": database,
                    "name": table,
                    "column_names": columns,
                },
                lf_tags=[{"key": tag_key, "value": classification.value}],
                # Column tags override the table's inherited value: tag the table first.
                opts=child_options(parent, depends_on=[tags[0], *depends_on]),
            )
        )
    return tags


class PIIMasker(pulumi.ComponentResource):
    """HMAC key secret, worker permissions, the classification LF-Tag, worker settings."""

    secret_arn: pulumi.Output[str]
    """The Secrets Manager secret holding the HMAC key of the ``hash`` strategy."""
    worker_policy_arn: pulumi.Output[str]
    """Managed policy the ingest workers need: Comprehend, the key, the verdict cache."""
    classification_tag_key: pulumi.Output[str]
    """Key of the Lake Formation tag (``public | internal | pii``) columns are tagged with."""
    worker_environment: pulumi.Output[dict[str, str]]
    """The masking settings of the ingest workers (``PiiRuntime`` variables)."""

    def __init__(
        self, name: str, args: PIIMaskerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:PIIMasker", name, None, opts)
        foundation = args["foundation"]
        lake, kms_key_arn = foundation["lake"], foundation["kms_key_arn"]
        pii = section_settings(PiiSettings, "pii", args.get("pii"))
        names = names_of(lake)

        # --- the HMAC key ------------------------------------------------------------------
        self.secret = aws.secretsmanager.Secret(
            f"{name}-hmac-key",
            name=names.resource("pii-hmac-key"),
            description="HMAC-SHA256 key of the PII hash strategy (changing it breaks joins)",
            kms_key_id=kms_key_arn,
            recovery_window_in_days=RECOVERY_WINDOW_DAYS[lake["protect"]],
            tags=layer_tags(LAYER),
            opts=stateful_options(self, lake["protect"]),
        )
        initial = aws.secretsmanager.get_random_password_output(
            password_length=64,
            exclude_punctuation=True,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-hmac-key-initial",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(initial.random_password),
            # A new random value on every run would rotate the key on every deployment.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secret_string"]),
        )
        self._secret_policy(name, foundation, tuple(args.get("break_glass_principals", [])))
        if pii.secret_rotation_days:
            self._rotation(name, foundation, pii.secret_rotation_days)

        # --- what ingestion workers may do -------------------------------------------------
        lake_bucket_arn = foundation["lake_bucket_arn"]
        worker_policy = aws.iam.Policy(
            f"{name}-worker-policy",
            name=names.resource("pii-workers"),
            description="Detect PII with Comprehend, read the HMAC key, cache verdicts",
            policy=policy_json(
                {
                    # DetectPiiEntities has no resource-level permissions.
                    "Sid": "DetectPii",
                    "Effect": "Allow",
                    "Action": "comprehend:DetectPiiEntities",
                    "Resource": "*",
                },
                {
                    "Sid": "ReadHmacKey",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": self.secret.arn,
                },
                kms_use(kms_key_arn, encrypt=False),
                s3_read(lake_bucket_arn, [PII_VERDICT_PREFIX], "ReadVerdicts"),
                s3_write(lake_bucket_arn, [PII_VERDICT_PREFIX], "WriteVerdicts"),
            ),
            tags=layer_tags(LAYER),
            opts=child_options(self),
        )

        # --- classification tag ------------------------------------------------------------
        tag = aws.lakeformation.LfTag(
            f"{name}-classification",
            key=after_lake_formation(foundation, lf_tag_key(foundation["lake"], LF_TAG)),
            values=LF_TAG_VALUES,
            # Account-wide: deleting it drops every column's classification and the grants.
            opts=stateful_options(self, foundation["lake"]["protect"]),
        )

        self.secret_arn = self.secret.arn
        self.worker_policy_arn = worker_policy.arn
        self.classification_tag_key = tag.key
        self.worker_environment = pulumi.Output.all(
            self.secret.arn, foundation["lake_bucket_name"]
        ).apply(
            lambda v: PiiRuntime.for_lake(pii, secret_id=v[0], lake_bucket=v[1]).to_environment()
        )
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "worker_policy_arn": self.worker_policy_arn,
                "classification_tag_key": self.classification_tag_key,
                "worker_environment": self.worker_environment,
            }
        )

    def _secret_policy(
        self, name: str, foundation: LakeFoundation, break_glass: tuple[str, ...]
    ) -> aws.secretsmanager.SecretPolicy:
        """Deny the key's value to everyone but its readers, whatever their IAM allows."""
        # Pulumi reads the secret version back: the deployer stays a reader.
        perimeter = deployment_perimeter(self, names_of(foundation["lake"]), break_glass)
        return aws.secretsmanager.SecretPolicy(
            f"{name}-hmac-key-policy",
            secret_arn=self.secret.arn,
            policy=perimeter.apply(lambda p: json.dumps(hmac_secret_policy(p))),
            block_public_policy=True,
            opts=child_options(self),
        )

    def _rotation(self, name: str, foundation: LakeFoundation, days: int) -> None:
        """A Lambda that rotates the key every ``days``, allowed to touch this secret only."""
        lake, kms_key_arn = foundation["lake"], foundation["kms_key_arn"]
        names = names_of(lake)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        logs = workload_log_group(
            self,
            f"{name}-rotation-logs",
            name=f"/aws/lambda/{names.resource('pii-key-rotation')}",
            retention_days=lake["log_retention_days"],
            kms_key_arn=kms_key_arn,
            layer=LAYER,
        )
        role = workload_role(
            self,
            f"{name}-rotation",
            name=names.resource("pii-key-rotation"),
            service="lambda.amazonaws.com",
            account=caller.account_id,
            statements=(
                {
                    "Sid": "RotateThisSecret",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:DescribeSecret",
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue",
                        "secretsmanager:UpdateSecretVersionStage",
                    ],
                    "Resource": self.secret.arn,
                },
                {
                    "Sid": "NewRandomKey",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetRandomPassword",
                    "Resource": "*",
                },
                kms_use(kms_key_arn, encrypt=True),
                logs_write(logs.arn),
            ),
            layer=LAYER,
        )
        workloads = foundation["workloads"]
        runtime, architecture = workloads["lambda_runtime"], workloads["lambda_architecture"]
        function = layer_function(
            self,
            f"{name}-rotation",
            name=names.resource("pii-key-rotation"),
            description="Rotates the PII HMAC key",
            handler=ROTATION_HANDLER,
            runtime=LambdaRuntime(lambda_archive(runtime, architecture), runtime, architecture),
            role=role,
            logs=logs,
            layer=LAYER,
            timeout_seconds=ROTATION_TIMEOUT_SECONDS,
        )
        permission = aws.lambda_.Permission(
            f"{name}-rotation-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret.arn,
            opts=child_options(self),
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-rotation-schedule",
            secret_id=self.secret.id,
            rotation_rules={"automatically_after_days": days},
            rotation_lambda_arn=function.arn,
            opts=child_options(self, depends_on=[permission]),
        )
