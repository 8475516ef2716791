"""PIIMasker: the HMAC key, what workers may do to detect and mask PII, and PII-aware access.

Secrets Manager secret (lake key) ── HMAC key, read once per worker ── optional rotation λ
worker policy: comprehend:DetectPiiEntities, read that secret, verdict cache prefix
Lake Formation LF-Tag classification = public | internal | pii
  └─ attached to table columns by classify_columns(); consumers are granted through
     pii_free_expression() (every value but pii), see grant_pii_free_access()
worker environment: the masking policy handed to the ingest workers
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.code import lambda_code
from components.options import child_options, stateful_options
from components.policies import (
    kms_use,
    logs_write,
    policy_json,
    s3_read,
    s3_write,
)
from components.workloads import workload_log_group, workload_role
from datalake.contracts import Classification, TableContract
from datalake.naming import layer_tags
from datalake.settings import LakeSettings

LF_TAG_KEY = "classification"
LF_TAG_VALUES = [c.value for c in Classification]
VERDICT_PREFIX = "pii-verdicts/"
ROTATION_HANDLER = "workloads.pii.rotation.rotation_handler"


@dataclass
class PIIMaskerArgs:
    """Inputs of :class:`PIIMasker`."""

    settings: LakeSettings
    kms_key_arn: pulumi.Input[str]
    lake_bucket_name: pulumi.Input[str]
    lake_bucket_arn: pulumi.Input[str]


def pii_free_expression(extra: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """LF-Tag expression matching every classification but ``pii`` (plus ``extra`` terms)."""
    allowed = [v for v in LF_TAG_VALUES if v != Classification.PII.value]
    return [{"key": LF_TAG_KEY, "values": allowed}, *extra]


def grant_pii_free_access(
    name: str,
    *,
    parent: pulumi.Resource,
    principal: pulumi.Input[str],
    extra_expression: Sequence[dict[str, Any]] = (),
    resource_type: Literal["TABLE", "DATABASE"] = "TABLE",
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.lakeformation.Permissions:
    """SELECT and DESCRIBE on the tables (and columns) of the PII-free expression.

    The gold component calls this with its consumer principal and a term that limits the
    grant to the gold database; columns tagged ``pii`` never match. With
    ``resource_type="DATABASE"`` it grants DESCRIBE on the databases the expression matches
    (SELECT does not apply to a database).
    """
    return aws.lakeformation.Permissions(
        name,
        principal=principal,
        permissions=["SELECT", "DESCRIBE"] if resource_type == "TABLE" else ["DESCRIBE"],
        lf_tag_policy={
            "resource_type": resource_type,
            "expressions": pii_free_expression(extra_expression),
        },
        opts=child_options(parent, depends_on=list(depends_on)),
    )


def classify_columns(
    name: str,
    *,
    parent: pulumi.Resource,
    database: pulumi.Input[str],
    table: pulumi.Input[str],
    contract: TableContract,
    lf_tag: aws.lakeformation.LfTag,
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[aws.lakeformation.ResourceLfTags]:
    """Tag a Glue table ``internal`` and each column with its contract classification."""
    tags = [
        aws.lakeformation.ResourceLfTags(
            f"{name}-table",
            table={"database_name": database, "name": table},
            lf_tags=[{"key": lf_tag.key, "value": Classification.INTERNAL.value}],
            opts=child_options(parent, depends_on=[lf_tag, *depends_on]),
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
                lf_tags=[{"key": lf_tag.key, "value": classification.value}],
                # Column tags override the table's inherited value: tag the table first.
                opts=child_options(parent, depends_on=[tags[0], *depends_on]),
            )
        )
    return tags


class PIIMasker(pulumi.ComponentResource):
    """HMAC key secret, worker permissions, the classification LF-Tag, worker settings."""

    secret_arn: pulumi.Output[str]
    worker_policy_arn: pulumi.Output[str]
    lf_tag: aws.lakeformation.LfTag
    worker_environment: dict[str, pulumi.Input[str]]

    def __init__(
        self, name: str, args: PIIMaskerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:PIIMasker", name, None, opts)
        settings, pii = args.settings, args.settings.pii
        names = settings.names

        # --- the HMAC key ------------------------------------------------------------------
        self.secret = aws.secretsmanager.Secret(
            f"{name}-hmac-key",
            name=names.resource("pii-hmac-key"),
            description="HMAC-SHA256 key of the PII hash strategy (changing it breaks joins)",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30 if settings.protect_stateful else 7,
            tags=layer_tags("governance"),
            opts=stateful_options(self, settings.protect_stateful),
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
        if pii.secret_rotation_days:
            self._rotation(name, args, pii.secret_rotation_days)

        # --- what ingestion workers may do -------------------------------------------------
        self.worker_policy = aws.iam.Policy(
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
                kms_use(args.kms_key_arn, encrypt=False),
                s3_read(args.lake_bucket_arn, [VERDICT_PREFIX], "ReadVerdicts"),
                s3_write(args.lake_bucket_arn, [VERDICT_PREFIX], "WriteVerdicts"),
            ),
            tags=layer_tags("governance"),
            opts=child_options(self),
        )

        # --- classification tag ------------------------------------------------------------
        self.lf_tag = aws.lakeformation.LfTag(
            f"{name}-classification",
            key=LF_TAG_KEY,
            values=LF_TAG_VALUES,
            opts=child_options(self),
        )

        self.worker_environment = {
            "PII_SECRET_ID": self.secret.arn,
            "PII_VERDICT_PREFIX": VERDICT_PREFIX,
            "PII_DEFAULT_STRATEGY": pii.default_strategy,
            "PII_STRATEGIES": json.dumps(pii.strategies, sort_keys=True),
            "PII_REDACTION_TOKEN": pii.redaction_token,
            "PII_COMPREHEND_ENABLED": "true" if pii.comprehend_enabled else "false",
            "PII_LANGUAGE_CODE": pii.language_code,
            "PII_COMPREHEND_MAX_ATTEMPTS": str(pii.comprehend_max_attempts),
            "PII_SAMPLE_SIZE": str(pii.sample_size),
            "PII_MIN_FRACTION": str(pii.min_fraction),
            "PII_MIN_SCORE": str(pii.min_score),
        }
        self.secret_arn = self.secret.arn
        self.worker_policy_arn = self.worker_policy.arn
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "worker_policy_arn": self.worker_policy_arn,
                "lf_tag_key": self.lf_tag.key,
            }
        )

    def _rotation(self, name: str, args: PIIMaskerArgs, days: int) -> None:
        names = args.settings.names
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        logs = workload_log_group(
            self,
            f"{name}-rotation-logs",
            name=f"/aws/lambda/{names.resource('pii-key-rotation')}",
            retention_days=args.settings.observability.log_retention_days,
            kms_key_arn=args.kms_key_arn,
            layer="governance",
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
                kms_use(args.kms_key_arn, encrypt=True),
                logs_write(logs.arn),
            ),
            layer="governance",
        )
        function = aws.lambda_.Function(
            f"{name}-rotation",
            name=names.resource("pii-key-rotation"),
            description="Rotates the PII HMAC key",
            role=role.arn,
            runtime=args.settings.ingestion.lambda_runtime,
            architectures=[args.settings.ingestion.lambda_architecture],
            handler=ROTATION_HANDLER,
            code=lambda_code(args.settings.ingestion),
            timeout=60,
            logging_config={"log_format": "JSON", "log_group": logs.name},
            tags=layer_tags("governance"),
            opts=child_options(self, depends_on=[logs]),
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
            rotation_lambda_arn=function.arn,
            rotation_rules={"automatically_after_days": days},
            opts=child_options(self, depends_on=[permission]),
        )
