"""How a gold run starts after silver: a rule on the lake's bus, its target and dead letters.

lake bus <project>-<env>-lake ── rule gold-after-silver (source datalake.silver,
    SilverPipelineSucceeded, this lake's silver database) ──▶ gold-marts state machine
    (role gold-after-silver: start it, nothing else)
    └─ starts that fail their retries ──▶ gold-after-silver-dlq (lake key; the queue
       policy lets EventBridge send for this rule only) ── not empty ──▶ alarm
"""

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.naming import layer_tags

from .dead_letters import rule_dead_letters_policy, target_dead_letters
from .foundation import alarm_actions
from .layer_parts import LayerParts
from .options import child_options
from .silver_machine import EVENT_SOURCE, SUCCEEDED_DETAIL_TYPE

EVENT_RETRY_POLICY: aws.cloudwatch.EventTargetRetryPolicyArgsDict = {
    "maximum_event_age_in_seconds": 3600,
    "maximum_retry_attempts": 3,
}


def after_silver(
    parent: pulumi.Resource,
    parts: LayerParts,
    *,
    machine: aws.sfn.StateMachine,
    silver_database: pulumi.Input[str],
    event_bus_name: pulumi.Input[str],
) -> aws.cloudwatch.EventRule:
    """Start a gold run on each SilverPipelineSucceeded event of this lake's silver."""
    rule = aws.cloudwatch.EventRule(
        f"{parts.name}-after-silver",
        name=parts.names.resource("gold-after-silver"),
        description="Starts the gold marts after each successful silver run",
        event_bus_name=event_bus_name,
        event_pattern=pulumi.Output.from_input(silver_database).apply(
            lambda database: json.dumps(silver_succeeded_pattern(database))
        ),
        tags=layer_tags("gold"),
        opts=child_options(parent),
    )
    role = parts.start_role("gold-after-silver", "events.amazonaws.com", machine, "StartGoldRun")
    dead_letters = target_dead_letters(
        parent,
        f"{parts.name}-after-silver",
        names=parts.names,
        purpose="gold-after-silver",
        kms_key_arn=parts.foundation["kms_key_arn"],
        layer="gold",
        actions=alarm_actions(parts.foundation["lake"]),
    )
    rule_dead_letters_policy(
        parent, f"{parts.name}-after-silver-dlq-policy", queue=dead_letters, rule=rule
    )
    aws.cloudwatch.EventTarget(
        f"{parts.name}-after-silver-target",
        rule=rule.name,
        event_bus_name=event_bus_name,
        arn=machine.arn,
        role_arn=role.arn,
        input_transformer=aws.cloudwatch.EventTargetInputTransformerArgsDict(
            input_paths={"silver_run_id": "$.detail.run_id"},
            input_template='{"trigger": "silver", "silver_run_id": "<silver_run_id>"}',
        ),
        retry_policy=EVENT_RETRY_POLICY,
        dead_letter_config={"arn": dead_letters.arn},
        opts=child_options(parent),
    )
    return rule


def silver_succeeded_pattern(silver_database: str) -> dict[str, Any]:
    """The silver pipeline's success event, for this lake's silver database only."""
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [SUCCEEDED_DETAIL_TYPE],
        "detail": {"database": [silver_database]},
    }
