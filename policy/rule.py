"""The two shapes of rule: one resource at a time, or the whole stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policy.model import Finding, LakeResource, Stack

ResourceCheck = Callable[[LakeResource, Mapping[str, Any]], list[str]]
"""Messages for one resource (empty: it complies), given the policy's config."""
StackCheck = Callable[[Stack, Mapping[str, Any]], list[Finding]]
"""Findings over the whole stack, given the policy's config."""


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource of ``types`` (a ``ResourceValidationPolicy``)."""

    name: str
    description: str
    types: tuple[str, ...]
    check: ResourceCheck
    config_schema: Mapping[str, Mapping[str, Any]] | None = None

    def findings(self, resource: LakeResource, config: Mapping[str, Any]) -> list[str]:
        """The messages for ``resource`` (none when the rule does not apply to its type)."""
        return self.check(resource, config) if resource.type in self.types else []


@dataclass(frozen=True)
class StackRule:
    """A rule that spans resources (a ``StackValidationPolicy``)."""

    name: str
    description: str
    check: StackCheck
    config_schema: Mapping[str, Mapping[str, Any]] | None = None

    def findings(self, stack: Stack, config: Mapping[str, Any]) -> list[Finding]:
        """The findings over ``stack``."""
        return self.check(stack, config)
