"""The order a real deploy creates things in, read from the mocks' dependency graph.

A resource is registered (and so created) only after every resource it depends on has been
created: its recorded ``dependencies`` (the SDK already expands a component named in
``depends_on`` into that component's children), and its ``parent``, whose URN resolves only
once the parent's own registration, and therefore the parent's dependencies, are done. So
"``a`` is created after ``b``" is "``b`` is reachable from ``a`` over dependency and parent
edges".

Orders AWS needs and mocks cannot show (issue 11, items 5 and 6):
- Glue databases after the Lake Formation settings (else they get IAM_ALLOWED_PRINCIPALS);
- Lake Formation grants, LF-Tags and tag associations after the settings (the admins);
- state machines, the pipe and async-invoke configs after their role's inline policy (their
  creation checks the role's permissions at once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import pytest

from components.preview import Registered

LF_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
LF_GRANT = "aws:lakeformation/permissions:Permissions"
LF_TAG = "aws:lakeformation/lfTag:LfTag"
LF_TAG_ASSOCIATION = "aws:lakeformation/resourceLfTags:ResourceLfTags"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
PIPE = "aws:pipes/pipe:Pipe"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


class DeployGraph:
    """Which resources a deploy creates before which, from the mocked registrations."""

    def __init__(self, resources: Iterable[Registered]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[Registered]:
        """Every resource of one type."""
        return [r for r in self.resources if r.type == type_]

    @functools.cache  # noqa: B019 - one graph per stack, kept for the module
    def created_before(self, urn: str) -> frozenset[str]:
        """Every URN that is created before ``urn``: dependencies and parents, transitively."""
        seen: set[str] = set()
        pending = [urn]
        while pending:
            current = self.by_urn.get(pending.pop())
            if current is None:
                continue
            for before in [*current.dependencies, current.parent]:
                if before and before not in seen:
                    seen.add(before)
                    pending.append(before)
        return frozenset(seen)

    def waits_for(self, resource: Registered, prerequisite: Registered) -> bool:
        """Whether ``resource`` is created only after ``prerequisite``."""
        return prerequisite.urn in self.created_before(resource.urn)

    def role_named_by_arn(self, arn: str) -> Registered:
        """The role whose (mocked) ARN is ``arn``."""
        (role,) = [r for r in self.of_type(ROLE) if arn.endswith(f":role/{r.inputs['name']}")]
        return role

    def inline_policies(self, role: Registered) -> list[Registered]:
        """The ``RolePolicy`` resources attached to ``role``."""
        return [p for p in self.of_type(ROLE_POLICY) if p.inputs.get("role") == role.inputs["name"]]

    def lake_formation_settings(self) -> Registered:
        """The stack's one ``DataLakeSettings``."""
        (settings,) = self.of_type(LF_SETTINGS)
        return settings


@pytest.fixture(params=["dev", "prod"])
def graph(request: pytest.FixtureRequest) -> DeployGraph:
    return DeployGraph(request.getfixturevalue(f"{request.param}_resources"))


def not_after(graph: DeployGraph, types: Iterable[str], prerequisite: Registered) -> list[str]:
    """Resources of ``types`` that may be created before ``prerequisite``."""
    return [
        r.name
        for type_ in types
        for r in graph.of_type(type_)
        if not graph.waits_for(r, prerequisite)
    ]


def not_after_role_policy(
    graph: DeployGraph, type_: str, role_arn_of: Callable[[Registered], str]
) -> list[str]:
    """Resources of ``type_`` created possibly before one of their role's inline policies."""
    early = []
    for resource in graph.of_type(type_):
        role = graph.role_named_by_arn(role_arn_of(resource))
        policies = graph.inline_policies(role)
        assert policies, f"{role.name} has no inline policy"
        early += [
            f"{resource.name} before {p.name}" for p in policies if not graph.waits_for(resource, p)
        ]
    return early


def test_glue_databases_wait_for_the_lake_formation_settings(graph: DeployGraph) -> None:
    settings = graph.lake_formation_settings()

    assert graph.of_type(GLUE_DATABASE)
    assert not_after(graph, [GLUE_DATABASE], settings) == []


def test_grants_and_lf_tags_wait_for_the_lake_formation_admins(graph: DeployGraph) -> None:
    settings = graph.lake_formation_settings()

    assert graph.of_type(LF_GRANT) and graph.of_type(LF_TAG_ASSOCIATION)
    assert not_after(graph, [LF_GRANT, LF_TAG, LF_TAG_ASSOCIATION], settings) == []


def test_state_machines_wait_for_their_role_policy(graph: DeployGraph) -> None:
    early = not_after_role_policy(graph, STATE_MACHINE, lambda m: m.inputs["roleArn"])

    assert early == []


def test_the_pipe_waits_for_its_role_policy(graph: DeployGraph) -> None:
    assert not_after_role_policy(graph, PIPE, lambda p: p.inputs["roleArn"]) == []


def test_async_invoke_configs_wait_for_their_function_role_policy(graph: DeployGraph) -> None:
    functions = {f.inputs["name"]: f for f in graph.of_type(FUNCTION)}

    def role_of(config: Registered) -> str:
        return str(functions[config.inputs["functionName"]].inputs["role"])

    assert graph.of_type(INVOKE_CONFIG)
    assert not_after_role_policy(graph, INVOKE_CONFIG, role_of) == []


def test_the_graph_sees_inherited_order() -> None:
    # A child of a component that depends on X is created after X.
    def record(name: str, parent: str = "", deps: tuple[str, ...] = ()) -> Registered:
        return Registered(
            urn=name,
            type="t",
            name=name,
            inputs={},
            parent=parent,
            protect=False,
            retain_on_delete=False,
            custom=True,
            dependencies=list(deps),
        )

    x, component, child, other = (
        record("x"),
        record("component", deps=("x",)),
        record("child", parent="component"),
        record("other"),
    )
    graph = DeployGraph([x, component, child, other])

    assert graph.waits_for(child, x)
    assert not graph.waits_for(other, x)
    assert not graph.waits_for(x, child)
