"""Every public component can be served to other Pulumi languages: Pulumi's own analyzer infers
its schema from the typed Args and outputs, in-process (no CLI), with a description for each.
"""

from typing import Any

import pytest
import yaml
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

from components import PROVIDER_NAME, PUBLIC_COMPONENTS
from components.preview import ROOT


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = Analyzer(PROVIDER_NAME).analyze(list(PUBLIC_COMPONENTS))
    return generate_schema(
        PROVIDER_NAME,
        "0.0.0",
        None,
        result["component_definitions"],
        result["type_definitions"],
        sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}"),
    ).to_json()


def _annotated(cls: type, *, skip: tuple[type, ...] = ()) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass in skip or klass is object:
            continue
        names.update(k for k in getattr(klass, "__annotations__", {}) if not k.startswith("_"))
    return names


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@pytest.mark.parametrize("component", PUBLIC_COMPONENTS, ids=lambda c: c.__name__)
def test_component_is_in_the_schema_with_every_input_and_output(component, schema):
    import inspect

    import pulumi

    token = f"{PROVIDER_NAME}:index:{component.__name__}"
    resource = schema["resources"][token]
    assert resource["isComponent"] is True
    assert resource.get("description"), f"{token} has no description"

    args_type = inspect.get_annotations(component.__init__)["args"]
    inputs = {_camel(k) for k in _annotated(args_type)}
    assert inputs == set(resource.get("inputProperties", {}))
    outputs = {
        _camel(k) for k in _annotated(component, skip=(pulumi.ComponentResource, pulumi.Resource))
    }
    assert outputs, f"{token} declares no outputs"
    assert outputs == set(resource.get("properties", {}))


def test_every_input_output_and_type_property_has_a_description(schema):
    undocumented = []
    for token, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            for prop, spec in resource.get(kind, {}).items():
                if not spec.get("description"):
                    undocumented.append(f"{token}.{kind}.{prop}")
    for token, type_spec in schema.get("types", {}).items():
        if not type_spec.get("description"):
            undocumented.append(token)
        for prop, spec in type_spec.get("properties", {}).items():
            if not spec.get("description"):
                undocumented.append(f"{token}.{prop}")
    assert undocumented == []


def test_type_tokens_follow_the_datalake_index_convention(schema):
    assert all(t.startswith(f"{PROVIDER_NAME}:index:") for t in schema["resources"])
    assert all(t.startswith(f"{PROVIDER_NAME}:index:") for t in schema.get("types", {}))


def test_the_provider_serves_every_public_component():
    """No component exported by the library is missing from the provider (and its schema)."""
    import inspect

    import pulumi

    import components

    exported = {
        obj
        for _, obj in inspect.getmembers(components, inspect.isclass)
        if issubclass(obj, pulumi.ComponentResource)
    }
    assert exported == set(PUBLIC_COMPONENTS)
    plugin = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"


def test_a_component_with_a_union_input_is_refused_by_the_analyzer():
    """The check above can fail: the analyzer rejects what other languages cannot express."""
    from typing import TypedDict

    import pulumi

    class BadArgs(TypedDict):
        size: int | str

    class Bad(pulumi.ComponentResource):
        out: pulumi.Output[str]

        def __init__(self, name: str, args: BadArgs, opts: pulumi.ResourceOptions | None = None):
            super().__init__("datalake:index:Bad", name, None, opts)

    with pytest.raises(Exception, match=r"size|Union|union"):
        Analyzer(PROVIDER_NAME).analyze([Bad])
