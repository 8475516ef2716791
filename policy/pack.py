"""The rules as ``pulumi_policy`` policies, and the views they are evaluated on.

``policies()`` is what ``policy/__main__.py`` serves; the tests build the same
``ResourceValidationArgs`` / ``StackValidationArgs`` from the mocked program and call each
policy's ``validate``, so the wrappers are tested along with the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import lake_rules, storage_rules
from policy.model import LakeResource, Stack
from policy.rule import ResourceRule, StackRule

PACK_NAME = "datalake-guardrails"
RULES: list[ResourceRule | StackRule] = [*storage_rules.RULES, *lake_rules.RULES]
"""Every rule of the pack, in report order."""


def resource_view(args: ResourceValidationArgs) -> LakeResource:
    """The rule's view of the resource a ``ResourceValidationPolicy`` is validating."""
    return LakeResource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=args.props,
        protect=bool(args.opts.protect),
        parent=args.opts.parent,
        provider_props=args.provider.props if args.provider else {},
    )


def stack_view(args: StackValidationArgs) -> Stack:
    """The rule's view of the stack a ``StackValidationPolicy`` is validating."""
    return Stack(
        LakeResource(
            type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=r.props,
            protect=bool(r.opts.protect),
            parent=r.parent.urn if r.parent else None,
            dependencies=[d.urn for d in r.dependencies],
            provider_props=r.provider.props if r.provider else {},
        )
        for r in args.resources
    )


def _resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        for message in rule.findings(resource_view(args), args.get_config()):
            report(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_schema(rule.config_schema),
    )


def _stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for finding in rule.findings(stack_view(args), args.get_config()):
            report(finding.message, finding.urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_schema(rule.config_schema),
    )


def _schema(properties: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    if properties is None:
        return None
    return PolicyConfigSchema({k: dict(v) for k, v in properties.items()})


def policies() -> list[Policy]:
    """Every rule as a mandatory ``pulumi_policy`` policy."""
    return [
        _resource_policy(rule) if isinstance(rule, ResourceRule) else _stack_policy(rule)
        for rule in RULES
    ]
