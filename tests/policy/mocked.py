"""The mocked program's records as the policy SDK's arguments, as the Pulumi engine builds them.

Resource policies see a resource's inputs; stack policies see every resource's outputs (here:
what :class:`components.preview.LakeMocks` answered, inputs plus ARNs and ids), with parent and
dependency links, and each AWS resource's provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.preview import DEPLOYER_ROLE_ARN, LakeMocks, Registered

AWS_PROVIDER = "pulumi:providers:aws"
PACK_CONFIG: dict[str, dict[str, Any]] = {
    "lake-formation-keeps-deployer-admin": {"deployer_arns": [DEPLOYER_ROLE_ARN]}
}
"""The pack config the tests run with: the mocks' deployer (components.preview)."""


@dataclass(frozen=True)
class Violation:
    """One reported violation: policy, resource (logical name, or ``<stack>``) and message."""

    policy: str
    resource: str
    message: str


def _options(record: Registered) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=list(record.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=record.parent or None,
    )


def _provider(records: Iterable[Registered]) -> PolicyProviderResource | None:
    found = next((r for r in records if r.type == AWS_PROVIDER), None)
    if found is None:
        return None
    return PolicyProviderResource(found.type, found.inputs, found.urn, found.name)


def mocked_outputs(record: Registered) -> dict[str, Any]:
    """What the mocks answered for ``record`` (a component's registered outputs)."""
    if not record.custom:
        return dict(record.outputs)
    args = pulumi.runtime.MockResourceArgs(record.type, record.name, dict(record.inputs))
    _, state = LakeMocks().new_resource(args)
    return state


def resource_args(
    record: Registered, provider: PolicyProviderResource | None, config: Mapping[str, Any]
) -> ResourceValidationArgs:
    """The ``ResourceValidationArgs`` of one registered resource."""
    return ResourceValidationArgs(
        record.type,
        record.inputs,
        record.urn,
        record.name,
        _options(record),
        provider if record.type.startswith("aws:") else None,
        dict(config),
    )


def stack_args(records: list[Registered], config: Mapping[str, Any]) -> StackValidationArgs:
    """The ``StackValidationArgs`` of the whole mocked stack."""
    provider = _provider(records)
    resources = {
        r.urn: PolicyResource(
            r.type,
            mocked_outputs(r),
            r.urn,
            r.name,
            _options(r),
            provider if r.type.startswith("aws:") else None,
            None,
            [],
            {},
        )
        for r in records
    }
    for record in records:
        resource = resources[record.urn]
        resource.parent = resources.get(record.parent)
        resource.dependencies = [resources[d] for d in record.dependencies if d in resources]
    return StackValidationArgs(list(resources.values()), dict(config))


def evaluate(
    policy: Policy,
    records: list[Registered],
    config: Mapping[str, Mapping[str, Any]] = PACK_CONFIG,
) -> list[Violation]:
    """Run one policy's ``validate`` over the mocked stack, as the engine would."""
    names = {r.urn: r.name for r in records}
    policy_config = config.get(policy.name, {})
    found: list[Violation] = []
    if isinstance(policy, ResourceValidationPolicy):
        provider = _provider(records)
        for record in records:
            args = resource_args(record, provider, policy_config)

            def report(message: str, urn: str | None = None, name: str = record.name) -> None:
                found.append(Violation(policy.name, name, message))

            policy.validate(args, report)
    elif isinstance(policy, StackValidationPolicy):

        def report_stack(message: str, urn: str | None = None) -> None:
            found.append(Violation(policy.name, names.get(urn or "", "<stack>"), message))

        policy.validate(stack_args(records, policy_config), report_stack)
    return found
