"""LakeAlarmTopic: the SNS topic every alarm and the budget notify, when the settings name none.

    topic <project>-<env>-alarms   encrypted with the lake key (its policy lets CloudWatch and
                                   Budgets use it: ``policies.alarm_publishers_key_use``)
    topic policy                   cloudwatch.amazonaws.com may publish for this account's
                                   alarms named ``<project>-<env>-*``; budgets.amazonaws.com
                                   for this account's budgets

The program creates it right after storage (it needs the lake key) and hands its ARN to every
layer through ``LakeIdentity.alarm_topic_arn``; subscribe to it (e-mail, chat) by hand or in
your own program. With ``observability.alarm_topic_arn`` set, none is created: that topic's
policy and key are yours to open to the same two services.
"""

import json
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from .foundation import LakeIdentity, names_of
from .options import child_options
from .policies import alarm_publishers

TOPIC_PURPOSE = "alarms"


class LakeAlarmTopicArgs(TypedDict):
    """Inputs of :class:`LakeAlarmTopic`."""

    lake: LakeIdentity
    """The lake's identity: the topic's name and the alarms' name prefix."""
    kms_key_arn: pulumi.Input[str]
    """The lake key, which encrypts the topic."""


class LakeAlarmTopic(pulumi.ComponentResource):
    """An SNS topic (lake key) that the lake's CloudWatch alarms and its budget may publish to."""

    topic_arn: pulumi.Output[str]
    """The topic's ARN (``LakeIdentity.alarm_topic_arn`` of every layer)."""

    def __init__(
        self, name: str, args: LakeAlarmTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeAlarmTopic", name, None, opts)
        names = names_of(args["lake"])
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=names.resource(TOPIC_PURPOSE),
            kms_master_key_id=args["kms_key_arn"],
            opts=child_options(self),
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, caller.account_id).apply(
                lambda v: json.dumps(
                    topic_policy(v[0], account=v[1], partition=names.partition, prefix=names.prefix)
                )
            ),
            opts=child_options(self),
        )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})


def topic_policy(topic_arn: str, *, account: str, partition: str, prefix: str) -> dict[str, Any]:
    """Who may publish: the lake's alarms (by name) and this account's budgets."""
    region = topic_arn.split(":")[3]
    sids = {
        "cloudwatch.amazonaws.com": "LakeAlarmsPublish",
        "budgets.amazonaws.com": "BudgetsPublish",
    }
    publishers = [
        {
            "Sid": sids[service],
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": source},
            },
        }
        for service, source in alarm_publishers(partition, account, region, prefix).items()
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            *publishers,
            {
                "Sid": "AccountManagesTheTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Publish",
                ],
                "Resource": topic_arn,
            },
        ],
    }
