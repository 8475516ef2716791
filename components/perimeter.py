"""The lake's perimeter: resource policies that keep raw PII, bronze, silver and the HMAC key
to the lake's own roles, whatever an account principal's IAM policy allows.

    key policy        account root administers through IAM (lockout rule) · S3 access logs,
                      CloudWatch Logs, vended log delivery, EventBridge → queues, alarms and
                      budgets → the alarm topic may use it ·
                      outsiders use it only through the lake's services (kms:ViaService) ·
                      only the HMAC key's readers (and the deployer) decrypt through
                      Secrets Manager · outsiders create grants only through AWS services
    bucket policies   TLS 1.2+, lake key only · landing raw/: outsiders may only upload ·
                      landing stream-errors/, lake bronze/ silver/ quarantine/ pii-verdicts/:
                      outsiders nothing · listing: outsiders see gold/ only (lake) and
                      stream-errors/ only (landing: Firehose's object names, for status)
    CDC stream        outsiders may put records (the key through Kinesis: data keys) but never
                      read them (no decryption through Kinesis outside the lake)
    HMAC secret       value read/replaced only by the bronze workers, the rotation role,
                      the deployer (Pulumi reads the version back) and break-glass

This module says who is inside (:class:`Perimeter`, :func:`outsiders`); the policies are
written from it in ``key_policy`` (the key and the CDC stream), ``bucket_policies`` and
``secret_policy`` (the HMAC secret).

"Insiders" are the lake's roles, recognised by name: every role the program creates is
``<project>-<env>-<purpose>`` (``LakeNames.resource``), so the policies can name them before
they exist and without a dependency cycle. The gold consumer role shares the prefix but is an
outsider (its ``Deny`` statements name it). Break-glass principals come from
``governance.break_glass_principals``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames

from .workloads import deployer_arn

Policy = dict[str, Any]
"""A policy document or one of its statements, as JSON."""
CONSUMER_ROLE = "gold-consumer"
"""Purpose of the gold consumer role: named like a lake role, treated as an outsider."""
HMAC_KEY_READERS = ("bronze-ingest-lite", "bronze-ingest-mass-task", "pii-key-rotation")
"""Purposes of the roles that read the HMAC key: the two bronze workers and its rotation."""


@dataclass(frozen=True)
class Perimeter:
    """Who is inside the lake: its roles (by name prefix), break-glass principals, the
    deployer; and the account, partition and region the policies are written for."""

    partition: str
    account_id: str
    region: str
    prefix: str
    """``<project>-<environment>``: the start of every lake role's name."""
    break_glass: tuple[str, ...] = ()
    deployer_arn: str = ""
    """The IAM identity running the deployment (the role, not its session)."""

    def role(self, purpose: str) -> str:
        """ARN of the lake role of ``purpose`` (whether or not it exists yet)."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix}-{purpose}"

    @property
    def insiders(self) -> list[str]:
        """``aws:PrincipalArn`` patterns of the principals inside the perimeter."""
        return [self.role("*"), *self.break_glass]

    @property
    def hmac_key_readers(self) -> list[str]:
        """Principals that may read the HMAC key's value."""
        deployer = [self.deployer_arn] if self.deployer_arn else []
        return [*(self.role(p) for p in HMAC_KEY_READERS), *self.break_glass, *deployer]

    def service(self, name: str) -> str:
        """The regional endpoint of a service, as ``kms:ViaService`` names it."""
        return f"{name}.{self.region}.amazonaws.com"


def deployment_perimeter(
    parent: pulumi.Resource, names: LakeNames, break_glass: Sequence[str]
) -> pulumi.Output[Perimeter]:
    """The perimeter of this deployment: its account, partition and deploying identity."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    # The caller may be an assumed-role session; policies name the role itself.
    deployer = deployer_arn(parent, caller.arn)
    return pulumi.Output.all(partition.partition, caller.account_id, deployer).apply(
        lambda v: Perimeter(
            partition=v[0],
            account_id=v[1],
            region=names.region,
            prefix=names.prefix,
            break_glass=tuple(break_glass),
            deployer_arn=v[2],
        )
    )


def outsiders(perimeter: Perimeter) -> list[tuple[str, dict[str, Any]]]:
    """Sid suffix and principal condition of each kind of outsider."""
    return [
        ("OutsideTheLake", {"ArnNotLike": {"aws:PrincipalArn": perimeter.insiders}}),
        ("ByConsumers", {"ArnLike": {"aws:PrincipalArn": [perimeter.role(CONSUMER_ROLE)]}}),
    ]
