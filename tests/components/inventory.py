"""Reading what the program registered under the mocks: one helper for every component test.

lake = Inventory(dev_resources)
machine = lake.named(STATE_MACHINE, "bronze-ingestion")
lake.definition("bronze-ingestion")           # the parsed ASL
lake.policy("bronze-processing-controller-policy")   # statements by Sid
lake.children_of("datalake:index:GoldMart")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from components.preview import ACCOUNT_ID, Registered, run_program, stack_config

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"
QUEUE = "aws:sqs/queue:Queue"


class Inventory:
    """The resources of one mocked program run, with the look-ups the tests need."""

    def __init__(self, resources: Iterable[Registered]):
        self.resources = list(resources)

    def __iter__(self) -> Iterator[Registered]:
        return iter(self.resources)

    def of_type(self, type_: str) -> list[Registered]:
        """Every resource of one Pulumi type token."""
        return [r for r in self.resources if r.type == type_]

    def named(self, type_: str, name: str) -> Registered:
        """The one resource of ``type_`` with logical name ``name``."""
        found = [r for r in self.of_type(type_) if r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise LookupError(f"{len(found)} {type_} named {name!r}; there are: {names}")
        return found[0]

    def one(self, type_: str) -> Registered:
        """The only resource of ``type_``."""
        found = self.of_type(type_)
        if len(found) != 1:
            raise LookupError(f"expected one {type_}, found {sorted(r.name for r in found)}")
        return found[0]

    def children_of(self, component_type: str) -> list[Registered]:
        """Resources whose parent is the (single) component of ``component_type``, directly or
        through child components."""
        (component,) = self.of_type(component_type)
        parents = {component.urn}
        out: list[Registered] = []
        changed = True
        while changed:
            changed = False
            for r in self.resources:
                if r.parent in parents and r.urn not in parents:
                    parents.add(r.urn)
                    out.append(r)
                    changed = True
        return out

    def definition(self, machine_name: str) -> dict[str, Any]:
        """The parsed Amazon States Language of a state machine, by logical name."""
        return json.loads(self.named(STATE_MACHINE, machine_name).inputs["definition"])

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Every state machine's definition, by logical name."""
        return {r.name: json.loads(r.inputs["definition"]) for r in self.of_type(STATE_MACHINE)}

    def policy_document(self, policy_name: str) -> dict[str, Any]:
        """An inline role policy's document, by the policy's logical name."""
        return json.loads(self.named(ROLE_POLICY, policy_name).inputs["policy"])

    def policy(self, policy_name: str) -> dict[str, dict[str, Any]]:
        """An inline role policy's statements by Sid."""
        return {s["Sid"]: s for s in self.policy_document(policy_name)["Statement"]}

    def policies(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Inline policy documents whose logical name starts with ``prefix``."""
        return {
            r.name: json.loads(r.inputs["policy"])
            for r in self.of_type(ROLE_POLICY)
            if r.name.startswith(prefix)
        }


def assert_starts_only(
    statements: dict[str, dict[str, Any]], machine_arn: str, dead_letters: str = ""
) -> None:
    """A start role's statements: start the one machine, and use the lake key only in that
    machine's encryption context (a customer-key state machine cannot be started without it);
    with ``dead_letters`` (a schedule's role), also send to that queue, the key through SQS."""
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"
    rest = dict(statements)
    if dead_letters:
        send = rest.pop("SendToDeadLetterQueue")
        assert (send["Action"], send["Resource"]) == ("sqs:SendMessage", [dead_letters])
        encrypt = rest.pop("EncryptDeadLetters")
        assert sorted(encrypt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert encrypt["Resource"] == key_arn
        assert encrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}
        }
    start = [s for s in rest.values() if s["Action"] == "states:StartExecution"]
    assert [s["Resource"] for s in start] == [machine_arn]
    (key,) = [s for s in rest.values() if s not in start]
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key["Resource"] == key_arn
    assert key["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine_arn}
    }


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    return value if isinstance(value, list) else [value]


def with_lake(stack: str = "dev", **sections: dict[str, Any]) -> dict[str, Any]:
    """The stack's config with some settings sections updated (merged one level deep)."""
    config = stack_config(stack)
    lake = dict(config.get("datalake:lake") or {})
    for key, value in sections.items():
        lake[key] = {**lake.get(key, {}), **value}
    config["datalake:lake"] = lake
    return config


def run_stack(config: dict[str, Any], stack: str = "dev") -> Inventory:
    """Run the program under the mocks with ``config`` and return its inventory."""
    return Inventory(run_program(stack, config))
