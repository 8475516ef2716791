"""Resource options shared by the components: children parented to their component."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def child_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    """Options of an ordinary child resource."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on or []))


def stateful_options(parent: pulumi.Resource, protect: bool) -> pulumi.ResourceOptions:
    """Options of a resource that holds data: protected and retained outside dev."""
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect)
