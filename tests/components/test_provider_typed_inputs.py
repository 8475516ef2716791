"""Every declared resource's inputs, as the provider SDKs type them: no unknown key, no
required key missing, at every level.

The definitions come from the installed packages themselves: each package's resource-module
table (``_utilities.register(resource_modules=...)`` in its ``__init__.py``) maps a type token
(``aws:s3/bucket:Bucket``) to its Python class; the class's ``<Name>Args`` ``@input_type``
gives each property's Pulumi (camelCase) name, whether it is required (its getter's
annotation does not admit ``None``) and its type, down through the nested ``*Args`` classes of
``_inputs.py``. The registered inputs are the property map the program sent, camelCase.
"""

from __future__ import annotations

import collections.abc
import copy
import functools
import importlib
import inspect
import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import _types as pulumi_types

from components.preview import Registered

PACKAGES = ("pulumi_aws", "pulumi_docker_build")
PROVIDER_TYPE = re.compile(r"^pulumi:providers:(?P<package>[\w-]+)$")


@functools.cache
def resource_classes() -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), from each package's resource-module table."""
    table: dict[str, tuple[str, str]] = {}
    for package in PACKAGES:
        init = Path(importlib.import_module(package).__file__ or "")
        found = re.search(r'resource_modules="""(.*?)"""', init.read_text(), re.DOTALL)
        assert found, f"{package} has no resource-module table"
        for module in json.loads(found.group(1)):
            for token, name in module["classes"].items():
                table[token] = (module["fqn"], name)
    return table


def args_class(type_token: str) -> type | None:
    """The ``@input_type`` Args class of a resource type (a provider's too); ``None`` for a
    component resource of this program."""
    provider = PROVIDER_TYPE.match(type_token)
    if provider:
        module_name, name = provider["package"].replace("-", "_"), "Provider"
        module_name = f"pulumi_{module_name}"
    elif type_token in resource_classes():
        module_name, name = resource_classes()[type_token]
    else:
        return None
    resource = getattr(importlib.import_module(module_name), name)
    # Where a nested input type has the same name (pulumi_aws.s3.BucketLoggingArgs is Bucket's
    # ``logging`` block), the SDK names the resource's own args ``<Name>InitArgs``.
    module = importlib.import_module(resource.__module__)
    cls = getattr(module, f"{name}InitArgs", None) or getattr(module, f"{name}Args")
    assert pulumi_types.is_input_type(cls), f"{cls} is not an @input_type"
    return cls


def _members(hint: Any) -> list[Any]:
    """The alternatives a hint allows, with ``Input``/``Output``/``Awaitable``/``None`` peeled."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return [m for arg in typing.get_args(hint) for m in _members(arg)]
    if hint is type(None) or origin in (collections.abc.Awaitable, pulumi.Output):
        return []
    if hint is pulumi.Output or (isinstance(hint, type) and issubclass(hint, pulumi.Output)):
        return []
    return [hint]


def problems(cls: type, value: Any, path: str) -> Iterator[str]:
    """Unknown and missing keys of ``value`` (a property map) against the input type ``cls``."""
    if not isinstance(value, dict):
        return
    hints = pulumi_types._raw_return_hints(cls)
    required = pulumi_types._required_property_names(cls)
    for key in sorted(set(value) - set(hints)):
        yield f"{path}.{key}: unknown to {cls.__name__}"
    for key in sorted(required - set(value)):
        yield f"{path}.{key}: required by {cls.__name__}, missing"
    for key in sorted(set(value) & set(hints)):
        yield from _check_value(hints[key], value[key], f"{path}.{key}")


def _check_value(hint: Any, value: Any, path: str) -> Iterator[str]:
    members = _members(hint)
    objects = [m for m in members if isinstance(m, type) and pulumi_types.is_input_type(m)]
    if isinstance(value, dict):
        if objects:
            if len(objects) == 1:
                yield from problems(objects[0], value, path)
            elif not any(not list(problems(o, value, path)) for o in objects):
                yield f"{path}: matches none of {[o.__name__ for o in objects]}"
            return
        maps = [m for m in members if typing.get_origin(m) in (collections.abc.Mapping, dict)]
        for mapping in maps[:1]:
            inner = typing.get_args(mapping)[1] if typing.get_args(mapping) else Any
            for key, item in value.items():
                yield from _check_value(inner, item, f"{path}[{key!r}]")
        return
    if isinstance(value, list):
        lists = [m for m in members if typing.get_origin(m) in (collections.abc.Sequence, list)]
        for sequence in lists[:1]:
            inner = typing.get_args(sequence)[0] if typing.get_args(sequence) else Any
            for index, item in enumerate(value):
                yield from _check_value(inner, item, f"{path}[{index}]")


def typed_input_problems(resources: list[Registered]) -> list[str]:
    """Every unknown or missing input key of every resource the provider SDKs type."""
    found: list[str] = []
    for resource in resources:
        cls = args_class(resource.type)
        if cls is None:
            assert resource.type.startswith("datalake:index:"), f"no SDK type: {resource.type}"
            continue
        found += problems(cls, resource.inputs, f"{resource.type} {resource.name}")
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_input_is_typed_by_the_provider(request: pytest.FixtureRequest, stack: str) -> None:
    resources: list[Registered] = request.getfixturevalue(f"{stack}_resources")

    assert typed_input_problems(resources) == []


def test_every_declared_type_maps_to_an_sdk_class(dev_resources: list[Registered]) -> None:
    custom = {r.type for r in dev_resources if r.custom}

    classes = {t: args_class(t) for t in custom}

    assert all(cls is not None for cls in classes.values())
    # The Args class is the resource's own: its properties are the constructor's arguments.
    for token, cls in classes.items():
        if token.startswith("pulumi:providers:"):
            continue
        module, name = resource_classes()[token]
        init = inspect.signature(getattr(importlib.import_module(module), name)._internal_init)
        arguments = set(init.parameters) - {"__self__", "resource_name", "opts", "__props__"}
        assert set(pulumi_types.input_type_py_to_pulumi_names(cls)) == arguments, token  # type: ignore[arg-type]


def _find(resources: list[Registered], name: str) -> Registered:
    (found,) = [r for r in resources if r.name == name]
    return found


def test_a_planted_unknown_key_is_reported(dev_resources: list[Registered]) -> None:
    resources = copy.deepcopy(dev_resources)
    encryption = _find(resources, "storage-lake-encryption")
    encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsKeyArn"] = "x"
    _find(resources, "control-table").inputs["billing"] = "PAY_PER_REQUEST"

    assert sorted(typed_input_problems(resources)) == [
        "aws:dynamodb/table:Table control-table.billing: unknown to TableArgs",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        " storage-lake-encryption.rules[0].applyServerSideEncryptionByDefault.kmsKeyArn: "
        "unknown to "
        "BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs",
    ]


def test_a_planted_missing_required_key_is_reported(dev_resources: list[Registered]) -> None:
    resources = copy.deepcopy(dev_resources)
    del _find(resources, "storage-lake-encryption").inputs["rules"][0][
        "applyServerSideEncryptionByDefault"
    ]["sseAlgorithm"]
    del _find(resources, "silver-pipeline-policy").inputs["role"]

    assert sorted(typed_input_problems(resources)) == [
        "aws:iam/rolePolicy:RolePolicy silver-pipeline-policy.role: required by RolePolicyArgs,"
        " missing",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        " storage-lake-encryption.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm: "
        "required by "
        "BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs, "
        "missing",
    ]
