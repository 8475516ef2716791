"""Resource options shared by the components: children parented to their component."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def child_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    """Options of an ordinary child resource."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on or []))


def stateful_options(
    parent: pulumi.Resource, protect: bool, depends_on: Sequence[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    """Options of a resource that holds data (or account-wide state): protected and retained
    outside dev."""
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect,
        retain_on_delete=protect,
        depends_on=list(depends_on or []),
    )


def moved_from(old_parent: pulumi.Resource) -> pulumi.ResourceTransformation:
    """Options transformation of a new child component whose resources used to be children of
    ``old_parent``: each is aliased to its old place, so a deployed stack moves it into the
    child component instead of replacing it (names stay the same)."""

    def alias(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        if args.opts.parent is old_parent:  # the child component itself is new
            return pulumi.ResourceTransformationResult(args.props, args.opts)
        moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=old_parent)])
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, moved)
        )

    return alias


def child_component_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Options of a child component that took over resources ``parent`` used to hold."""
    return pulumi.ResourceOptions(parent=parent, transformations=[moved_from(parent)])
