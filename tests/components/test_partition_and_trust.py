"""ARNs in the region's partition, and trust policies held to the lake's own resources.

A GovCloud stack runs under mocks that answer in ``aws-us-gov`` (their placeholder ARNs too),
so any ``arn:aws:`` left in an input was built by the program with the partition hard-coded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.asl import LAMBDA_INVOKE, StateMachine, Succeed, lambda_invoke
from components.policies import TRUST_SOURCES
from components.preview import ACCOUNT_ID, Registered
from datalake.naming import LakeNames, partition_of, service_endpoint
from tests.components.inventory import ROLE, STATE_MACHINE, Inventory, run_stack, with_lake

GOV_REGION = "us-gov-west-1"


@pytest.fixture(scope="module")
def govcloud() -> Inventory:
    config = with_lake("dev")
    config["datalake:lake"] = {**config["datalake:lake"], "region": GOV_REGION}
    return run_stack(config)


def strings(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (JSON documents included, parsed)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                yield from strings(json.loads(value))


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eu-west-1", "aws"),
        ("us-east-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_the_partition_comes_from_the_region(region, partition):
    assert partition_of(region) == partition
    assert LakeNames("datalake", "dev", region).partition == partition


def test_service_endpoints_follow_the_partition():
    assert service_endpoint("s3", "eu-west-1") == "s3.eu-west-1.amazonaws.com"
    assert service_endpoint("s3", "us-gov-west-1") == "s3.us-gov-west-1.amazonaws.com"
    assert service_endpoint("s3", "cn-north-1") == "s3.cn-north-1.amazonaws.com.cn"


def test_state_machine_integrations_follow_the_partition():
    machine = StateMachine(
        start_at="A",
        states={"A": lambda_invoke("fn", {}, next="B"), "B": Succeed()},
    )
    assert json.loads(machine.to_json())["States"]["A"]["Resource"] == LAMBDA_INVOKE
    gov = json.loads(machine.to_json("aws-us-gov"))["States"]["A"]["Resource"]
    assert gov == "arn:aws-us-gov:states:::lambda:invoke"


def test_a_govcloud_stack_builds_no_commercial_arn(govcloud):
    offenders = {
        (r.type, r.name, s) for r in govcloud for s in strings(r.inputs) if "arn:aws:" in s
    }
    assert offenders == set()
    definitions = govcloud.definitions()
    assert definitions, "the stack has state machines"
    for name, definition in definitions.items():
        for state in _states(definition):
            if "Resource" in state:
                assert state["Resource"].startswith("arn:aws-us-gov:states:::"), name


def test_a_govcloud_stack_trusts_its_own_resources(govcloud):
    roles = govcloud.of_type(ROLE)
    machine = govcloud.named(STATE_MACHINE, "bronze-ingestion")
    assert machine.inputs["name"].startswith("datalake-dev-")
    sources = [
        arn
        for role in roles
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        for arn in statement.get("Condition", {}).get("ArnLike", {}).get("aws:SourceArn", [])
    ]
    assert sources and all(a.startswith("arn:aws-us-gov:") for a in sources)
    assert all(f":{GOV_REGION}:{ACCOUNT_ID}:" in a for a in sources)


def _states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in definition["States"].values():
        yield state
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


def _trust(role: Registered) -> dict[str, Any]:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return dict(statement)


def test_every_service_role_is_held_to_the_lake_resources_the_service_names(dev_resources):
    """aws:SourceArn where the service sends it when assuming the role; never on Lambda roles
    (Lambda does not send it) nor on the ECS task execution role."""
    checked = set()
    for role in Inventory(dev_resources).of_type(ROLE):
        trust = _trust(role)
        service = trust["Principal"].get("Service")
        if not isinstance(service, str):
            continue  # the consumer role (IAM principals); registration (two services)
        sources = trust.get("Condition", {}).get("ArnLike", {}).get("aws:SourceArn")
        if service == "lambda.amazonaws.com" or role.name.endswith("-execution-role"):
            assert sources is None, role.name
            continue
        if service not in TRUST_SOURCES:
            continue
        arn_service = TRUST_SOURCES[service][0]
        assert sources, role.name
        for arn in sources:
            assert arn.startswith(f"arn:aws:{arn_service}:eu-west-1:{ACCOUNT_ID}:"), role.name
        checked.add(service)
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert checked >= {
        "states.amazonaws.com",
        "scheduler.amazonaws.com",
        "events.amazonaws.com",
        "pipes.amazonaws.com",
        "emr-serverless.amazonaws.com",
        "ecs-tasks.amazonaws.com",
    }


# --- Lambda environment variables on the lake key --------------------------------------------


def test_every_lambda_with_environment_variables_encrypts_them_with_the_lake_key(dev_resources):
    lake = Inventory(dev_resources)
    (key,) = lake.of_type("aws:kms/key:Key")
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-{key.name}"
    roles = {f"arn:aws:iam::{ACCOUNT_ID}:role/{r.inputs['name']}": r for r in lake.of_type(ROLE)}
    functions = lake.of_type("aws:lambda/function:Function")
    with_environment = [f for f in functions if f.inputs.get("environment")]
    assert with_environment
    for function in with_environment:
        name = function.inputs["name"]
        assert function.inputs.get("kmsKeyArn") == key_arn, name
        # The role can decrypt them: its inline policy uses the lake key.
        role = roles[function.inputs["role"]]
        statements = [
            s
            for p in lake.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] == role.inputs["name"]
            for s in json.loads(p.inputs["policy"])["Statement"]
        ]
        assert any(
            "kms:Decrypt" in s["Action"] and s["Resource"] == key_arn and "Condition" not in s
            for s in statements
        ), name


# --- ECR: immutable, content-addressed tags ---------------------------------------------------


def test_the_image_repository_is_immutable_and_the_tag_content_addressed(dev_resources, tmp_path):
    from components.ingest_task import image_tag

    lake = Inventory(dev_resources)
    (repository,) = lake.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    (image,) = lake.of_type("docker-build:index:Image")
    (tag,) = image.inputs["tags"]
    assert tag.endswith(f":{image_tag()}") and tag.rsplit(":", 1)[1] != "latest"

    for path in ("workloads/bronze/Dockerfile", ".dockerignore", "constraints.txt"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    (tmp_path / "datalake").mkdir()
    (tmp_path / "datalake" / "a.py").write_text("A = 1\n")
    before = image_tag(tmp_path)
    assert image_tag(tmp_path) == before  # deterministic: a redeploy without changes is a no-op
    (tmp_path / "datalake" / "__pycache__").mkdir()
    (tmp_path / "datalake" / "__pycache__" / "a.pyc").write_bytes(b"x")
    assert image_tag(tmp_path) == before  # what .dockerignore leaves out does not count
    (tmp_path / "datalake" / "a.py").write_text("A = 2\n")
    assert image_tag(tmp_path) != before  # changed code: a new tag, never a moved one
