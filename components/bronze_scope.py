"""Where a bronze resource goes and what it is called: the pieces of :class:`BronzeZone` share it.

Every bronze child is parented to the one ``BronzeZone`` component (so logical names and URNs
stay ``<zone>-<purpose>`` whichever module declares them), named ``<project>-<env>-<purpose>``,
tagged ``layer=bronze`` and, for roles, trusted by one service in this account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames

from .layer_function import dead_letter_queue
from .options import child_options
from .workloads import WorkloadRole, workload_log_group, workload_role

LAYER = "bronze"


@dataclass(frozen=True)
class BronzeScope:
    """The component, its logical name, the lake's names, the account and the lake key."""

    parent: pulumi.Resource
    name: str
    names: LakeNames
    account: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int

    def logical(self, purpose: str) -> str:
        """Logical name of a child: ``<zone>-<purpose>``."""
        return f"{self.name}-{purpose}"

    def role(
        self,
        purpose: str,
        service: str,
        *statements: pulumi.Input[dict[str, Any]],
        source_arns: bool = True,
    ) -> WorkloadRole:
        """One role per workload, with one inline policy of exactly its statements, trusted
        by ``service`` for the lake's own resources (``source_arns=False``: a role the
        service assumes without naming the resource)."""
        return workload_role(
            self.parent,
            self.logical(purpose.removeprefix("bronze-")),
            name=self.names.resource(purpose),
            service=service,
            account=self.account,
            statements=statements,
            layer=LAYER,
            names=self.names,
            source_arns=source_arns,
        )

    def attach_pii_policy(
        self, purpose: str, role: WorkloadRole, policy_arn: pulumi.Input[str]
    ) -> None:
        """Attach the PIIMasker's worker policy to one of the zone's roles."""
        aws.iam.RolePolicyAttachment(
            self.logical(f"{purpose}-pii"),
            role=role.name,
            policy_arn=policy_arn,
            opts=child_options(self.parent),
        )

    def dead_letter_queue(self, purpose: str) -> aws.sqs.Queue:
        """The queue ``<project>-<env>-<purpose>-dlq``, encrypted with the lake key."""
        return dead_letter_queue(
            self.parent,
            self.logical(f"{purpose}-dlq"),
            name=self.names.resource(f"{purpose}-dlq"),
            kms_key_arn=self.kms_key_arn,
            layer=LAYER,
        )

    def log_group(self, purpose: str, path: str) -> aws.cloudwatch.LogGroup:
        """The log group ``<path>/<project>-<env>-<purpose>``."""
        return workload_log_group(
            self.parent,
            self.logical(f"{purpose}-logs"),
            name=f"{path}/{self.names.resource(purpose)}",
            retention_days=self.log_retention_days,
            kms_key_arn=self.kms_key_arn,
            layer=LAYER,
        )
