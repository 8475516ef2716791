"""Building blocks the layer components share: a workload's role, its log group, a Standard
state machine, and the ARN/URI spellings.

Each workload gets its own role with one inline policy of exactly its statements and its own
log group (retention from settings, encrypted with the lake key); each state machine logs
errors to its log group and is encrypted with the lake key.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.options import child_options
from components.policies import assume_role_policy, policy_json
from datalake.naming import layer_tags


def workload_role(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    service: str,
    account: pulumi.Input[str],
    statements: tuple[pulumi.Input[dict[str, Any]], ...],
    layer: str,
) -> aws.iam.Role:
    """A role trusted by ``service`` in this account, with one inline policy."""
    role = aws.iam.Role(
        f"{logical}-role",
        name=name,
        assume_role_policy=pulumi.Output.from_input(account).apply(
            lambda a: assume_role_policy(service, a)
        ),
        tags=layer_tags(layer),
        opts=child_options(parent),
    )
    aws.iam.RolePolicy(
        f"{logical}-policy",
        role=role.id,
        policy=policy_json(*statements),
        opts=child_options(parent),
    )
    return role


def standard_state_machine(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    role: aws.iam.Role,
    logs: aws.cloudwatch.LogGroup,
    definition: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    layer: str,
) -> aws.sfn.StateMachine:
    """A Standard workflow (it waits on ECS and EMR jobs), logging errors, KMS-encrypted."""
    return aws.sfn.StateMachine(
        logical,
        name=name,
        type="STANDARD",
        role_arn=role.arn,
        definition=definition,
        logging_configuration={
            "level": "ERROR",
            "include_execution_data": False,
            "log_destination": pulumi.Output.concat(logs.arn, ":*"),
        },
        encryption_configuration={
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kms_key_id": kms_key_arn,
            "kms_data_key_reuse_period_seconds": 300,
        },
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def workload_log_group(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    layer: str,
) -> aws.cloudwatch.LogGroup:
    """A workload's log group: retention from settings, encrypted with the lake key."""
    return aws.cloudwatch.LogGroup(
        logical,
        name=name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def regional_arn(
    service: str, region: str, account: pulumi.Input[str], resource: pulumi.Input[str]
) -> pulumi.Output[str]:
    """``arn:aws:<service>:<region>:<account>:<resource>``."""
    return pulumi.Output.concat(f"arn:aws:{service}:", region, ":", account, ":", resource)


def s3_uri(bucket: pulumi.Input[str], key: pulumi.Input[str]) -> pulumi.Output[str]:
    """``s3://<bucket>/<key>``."""
    return pulumi.Output.concat("s3://", bucket, "/", key)
