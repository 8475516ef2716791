"""Events between the layers: the lake's own bus, and dead letters for every EventBridge target."""

from __future__ import annotations

import json

import pytest

from components.lake_bus import bus_policy
from components.preview import ACCOUNT_ID
from tests.components.inventory import ALARM, QUEUE, SCHEDULE, Inventory, run_stack, with_lake

KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"
BUS = "datalake-dev-lake"
BUS_ARN = f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:event-bus/{BUS}"
PUBLISHER = f"arn:aws:iam::{ACCOUNT_ID}:role/datalake-dev-silver-pipeline"


@pytest.fixture(scope="module")
def dev(dev_resources) -> Inventory:
    return Inventory(dev_resources)


@pytest.fixture(scope="module")
def scheduled() -> Inventory:
    """dev with a gold schedule too: every kind of schedule."""
    return run_stack(with_lake("dev", gold={"schedule": "cron(0 5 * * ? *)"}))


def test_silver_publishes_on_the_lake_bus_and_gold_listens_there(dev):
    (bus,) = dev.of_type("aws:cloudwatch/eventBus:EventBus")
    assert bus.inputs["name"] == BUS
    publish = dev.definition("silver-pipeline")["States"]["PublishSucceeded"]
    (entry,) = publish["Parameters"]["Entries"]
    assert entry["EventBusName"] == BUS
    rule = dev.named("aws:cloudwatch/eventRule:EventRule", "gold-after-silver")
    assert rule.inputs["eventBusName"] == BUS
    (target,) = dev.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["eventBusName"] == BUS
    # Nothing of the lake listens on, or publishes to, the default bus any more.
    everything = json.dumps([r.inputs for r in dev], default=str)
    assert "event-bus/default" not in everything


def test_only_the_silver_pipeline_role_can_put_events_on_the_bus(dev):
    (policy,) = dev.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    assert policy.inputs["eventBusName"] == BUS
    document = json.loads(policy.inputs["policy"])
    assert document == bus_policy(
        bus_arn=BUS_ARN, account_arn=f"arn:aws:iam::{ACCOUNT_ID}:root", publisher_role_arn=PUBLISHER
    )
    deny = next(s for s in document["Statement"] if s["Effect"] == "Deny")
    assert deny["Principal"] == "*" and deny["Action"] == "events:PutEvents"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": PUBLISHER}}
    # That role exists under that name, and its policy puts events on this bus only.
    roles = {r.inputs["name"] for r in dev.of_type("aws:iam/role:Role")}
    assert PUBLISHER.rsplit("/", 1)[1] in roles
    statements = dev.policy("silver-pipeline-policy")
    assert statements["PublishSucceeded"]["Resource"] == BUS_ARN


def test_every_eventbridge_target_has_an_encrypted_alarmed_dead_letter_queue(scheduled):
    queues = {q.inputs["name"]: q for q in scheduled.of_type(QUEUE)}
    alarms = {a.inputs["name"]: a for a in scheduled.of_type(ALARM)}
    schedules = scheduled.of_type(SCHEDULE)
    assert len(schedules) == 3
    targets = [s.inputs["target"]["deadLetterConfig"]["arn"] for s in schedules]
    targets += [
        t.inputs["deadLetterConfig"]["arn"]
        for t in scheduled.of_type("aws:cloudwatch/eventTarget:EventTarget")
    ]
    assert len(targets) == 4
    for arn in targets:
        name = arn.rsplit(":", 1)[1]
        assert name.endswith("-dlq") and name in queues, arn
        assert queues[name].inputs["kmsMasterKeyId"] == KEY_ARN
        alarm = alarms[name].inputs
        assert (alarm["namespace"], alarm["metricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert alarm["dimensions"] == {"QueueName": name}
        assert alarm["threshold"] == 1


def test_eventbridge_may_send_dead_letters_for_the_gold_rule_only(dev):
    (policy,) = dev.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert policy.inputs["queueUrl"].endswith("/datalake-dev-gold-after-silver-dlq")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"].endswith(":datalake-dev-gold-after-silver-dlq")
    assert statement["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:rule/{BUS}/"
            "datalake-dev-gold-after-silver"
        }
    }
