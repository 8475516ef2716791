"""The lake's own EventBridge bus: layer-to-layer events only the publishing workload can send.

    silver pipeline state machine ──events:PutEvents──▶ bus <project>-<env>-lake
        bus policy: PutEvents allowed for the silver pipeline's role, denied to every other
        principal (an IAM allow elsewhere in the account does not reach this bus)
    gold rule (on that bus) ──▶ gold state machine

On the default bus any principal allowed ``events:PutEvents`` could forge the
``datalake.silver`` event that starts gold.
"""

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import LakeNames, layer_tags

from .options import child_options


def lake_event_bus(
    parent: pulumi.Resource,
    logical: str,
    *,
    names: LakeNames,
    account: pulumi.Input[str],
    publisher: str,
    layer: str,
) -> aws.cloudwatch.EventBus:
    """The bus ``<project>-<env>-lake`` and its policy: only the role ``<prefix>-<publisher>``
    may put events on it."""
    bus = aws.cloudwatch.EventBus(
        logical, name=names.event_bus, tags=layer_tags(layer), opts=child_options(parent)
    )
    aws.cloudwatch.EventBusPolicy(
        f"{logical}-policy",
        event_bus_name=bus.name,
        policy=pulumi.Output.all(bus.arn, account).apply(
            lambda v: json.dumps(
                bus_policy(
                    bus_arn=v[0],
                    account_arn=f"arn:{names.partition}:iam::{v[1]}:root",
                    publisher_role_arn=f"arn:{names.partition}:iam::{v[1]}:role/"
                    + names.resource(publisher),
                )
            )
        ),
        opts=child_options(parent),
    )
    return bus


def bus_policy(*, bus_arn: str, account_arn: str, publisher_role_arn: str) -> dict[str, Any]:
    """PutEvents for the publisher's role; denied to any other principal. The role is named
    by a condition, not as the principal: the policy can exist before the role does."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublisherPutsEvents",
                "Effect": "Allow",
                "Principal": {"AWS": account_arn},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": publisher_role_arn}},
            },
            {
                "Sid": "NobodyElsePutsEvents",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": publisher_role_arn}},
            },
        ],
    }
