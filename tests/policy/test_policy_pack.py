"""The CrossGuard pack (policy/) over the program's mocked resources, without the Pulumi CLI.

Each rule runs through its real ``pulumi_policy`` wrapper (``validate``) on the arguments the
engine would build (tests/policy/mocked.py). The dev and prod stacks must pass every rule, and
every rule must report a violation planted into a copy of the stack.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.preview import Registered
from policy.pack import RULES, policies
from tests.policy.mocked import PACK_CONFIG, Violation, evaluate

ROOT = Path(__file__).resolve().parents[2]
POLICIES = {p.name: p for p in policies()}
KEY_POLICY_SIDS_OF_ROOT = "AccountAdministersThroughIam"


@pytest.fixture(params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> list[Registered]:
    resources: list[Registered] = request.getfixturevalue(f"{request.param}_resources")
    return resources


def violations(rule: str, records: list[Registered], config: Any = PACK_CONFIG) -> list[Violation]:
    """What one rule reports over ``records``."""
    return evaluate(POLICIES[rule], records, config)


def on(resource: str, found: list[Violation]) -> list[str]:
    """The messages reported on one resource (by logical name)."""
    return [v.message for v in found if v.resource == resource]


def planted(
    records: list[Registered], name: str, change: Callable[[Registered], None]
) -> list[Registered]:
    """A copy of ``records`` in which the resource ``name`` went through ``change``."""
    copied = copy.deepcopy(records)
    (target,) = [r for r in copied if r.name == name]
    change(target)
    return copied


def without(records: list[Registered], name: str) -> list[Registered]:
    """A copy of ``records`` without the resource ``name``."""
    return [r for r in copy.deepcopy(records) if r.name != name]


def edit_policy(prop: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]):
    """A change that rewrites the statements of a JSON policy property."""

    def change(record: Registered) -> None:
        document = json.loads(record.inputs[prop])
        document["Statement"] = edit(document["Statement"])
        record.inputs[prop] = json.dumps(document)

    return change


def set_input(path: str, value: Any) -> Callable[[Registered], None]:
    """A change that sets a (dotted, ``[0]``-indexed) input path."""

    def change(record: Registered) -> None:
        node: Any = record.inputs
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return change


# --- the pack --------------------------------------------------------------------------------


def test_the_pack_declares_every_rule_once_and_mandatory() -> None:
    names = [p.name for p in policies()]

    assert names == [r.name for r in RULES]
    assert len(set(names)) == len(names)
    assert all(p.enforcement_level is not None for p in policies())
    assert all(p.enforcement_level.value == "mandatory" for p in policies())  # type: ignore[union-attr]


def test_the_pack_project_runs_in_the_project_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())

    assert project["runtime"]["name"] == "python"
    assert (ROOT / "policy" / project["runtime"]["options"]["virtualenv"]).resolve() == (
        ROOT / ".venv"
    )
    assert "pulumi-policy==1.21.0" in (ROOT / "policy" / "requirements.txt").read_text()


def test_the_preview_workflow_runs_the_pack() -> None:
    workflow = (ROOT / ".github" / "workflows" / "preview.yml").read_text()

    assert "policyPacks: policy" in workflow or "--policy-pack policy" in workflow


@pytest.mark.parametrize("rule", list(POLICIES))
def test_the_stack_passes(stack: list[Registered], rule: str) -> None:
    assert [v.message for v in violations(rule, stack)] == []


# --- each rule reports a planted violation ---------------------------------------------------


def test_key_rotation_off_is_reported(prod_resources: list[Registered]) -> None:
    records = planted(prod_resources, "storage-key", set_input("enableKeyRotation", False))

    found = on("storage-key", violations("aws-kms-key-enable-key-rotation", records))

    assert found == ["storage-key: set enable_key_rotation=True on the KMS key"]


def test_a_key_policy_without_the_account_root_is_reported(
    prod_resources: list[Registered],
) -> None:
    drop_root = edit_policy(
        "policy", lambda s: [x for x in s if x.get("Sid") != KEY_POLICY_SIDS_OF_ROOT]
    )
    records = planted(prod_resources, "storage-key", drop_root)

    (found,) = on(
        "storage-key",
        violations("aws-kms-key-disallow-bypass-policy-lockout-safety-check", records),
    )

    assert "account root" in found
    assert "kms:PutKeyPolicy" in found


def test_bypassing_the_lockout_safety_check_is_reported(dev_resources: list[Registered]) -> None:
    records = planted(
        dev_resources, "storage-key", set_input("bypassPolicyLockoutSafetyCheck", True)
    )

    found = on(
        "storage-key",
        violations("aws-kms-key-disallow-bypass-policy-lockout-safety-check", records),
    )

    assert found == ["storage-key: remove bypass_policy_lockout_safety_check=True"]


def test_a_bucket_on_s3_managed_keys_is_reported(prod_resources: list[Registered]) -> None:
    records = planted(
        prod_resources,
        "storage-lake-encryption",
        set_input("rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
    )

    rule = "aws-s3-bucket-configure-server-side-encryption-customer-managed-key"
    found = violations(rule, records)

    assert [v.resource for v in found] == ["storage-lake"]
    assert "SSE-KMS with the lake's customer key" in found[0].message


def test_a_bucket_on_another_kms_key_is_reported(dev_resources: list[Registered]) -> None:
    other = "arn:aws:kms:eu-west-1:123456789012:key/someone-elses"
    records = planted(
        dev_resources,
        "storage-landing-encryption",
        set_input("rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId", other),
    )

    rule = "aws-s3-bucket-configure-server-side-encryption-customer-managed-key"

    assert [v.resource for v in violations(rule, records)] == ["storage-landing"]


def test_bucket_keys_off_is_reported(prod_resources: list[Registered]) -> None:
    records = planted(
        prod_resources, "storage-observer-encryption", set_input("rules.0.bucketKeyEnabled", False)
    )

    found = violations("aws-s3-bucket-enable-server-side-encryption-bucket-key", records)

    assert [v.resource for v in found] == ["storage-observer"]
    assert "bucket_key_enabled=True" in found[0].message


def test_an_open_public_access_flag_is_reported(prod_resources: list[Registered]) -> None:
    records = planted(
        prod_resources,
        "storage-landing-public-access-block",
        set_input("restrictPublicBuckets", False),
    )

    found = violations("s3-bucket-level-public-access-prohibited", records)

    assert [(v.resource, v.message) for v in found] == [
        (
            "storage-landing",
            "storage-landing: its BucketPublicAccessBlock must set all four flags; "
            "set restrictPublicBuckets to True",
        )
    ]


def test_a_bucket_without_a_public_access_block_is_reported(
    dev_resources: list[Registered],
) -> None:
    records = without(dev_resources, "storage-artifacts-public-access-block")

    found = violations("s3-bucket-level-public-access-prohibited", records)

    assert [v.message for v in found] == ["storage-artifacts: declare a BucketPublicAccessBlock"]


def test_a_bucket_without_access_logging_is_reported(prod_resources: list[Registered]) -> None:
    records = without(prod_resources, "storage-lake-access-logging")

    found = violations("s3-bucket-logging-enabled", records)

    assert [v.resource for v in found] == ["storage-lake"]


def test_a_bucket_policy_without_the_tls_deny_is_reported(
    prod_resources: list[Registered],
) -> None:
    drop_tls = edit_policy(
        "policy", lambda s: [x for x in s if x.get("Sid") != "DenyInsecureTransport"]
    )
    records = planted(prod_resources, "storage-lake-policy", drop_tls)

    found = violations("s3-bucket-ssl-requests-only", records)

    assert [v.resource for v in found] == ["storage-lake"]


def _allow(sid: str, actions: list[str], resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


@pytest.mark.parametrize(
    ("policy_name", "actions"),
    [
        ("silver-plan-policy", ["s3:GetObject"]),  # an inline role policy
        ("pii-worker-policy", ["s3:*"]),  # a managed policy
        ("gold-consumer-policy", ["*"]),
    ],
)
def test_a_bucket_action_on_any_resource_is_reported(
    prod_resources: list[Registered], policy_name: str, actions: list[str]
) -> None:
    records = planted(
        prod_resources,
        policy_name,
        edit_policy("policy", lambda s: [*s, _allow("Planted", actions, "*")]),
    )

    found = on(policy_name, violations("lake-iam-no-wildcard-resource-on-bucket-actions", records))

    assert found == [
        f"{policy_name}: statement Planted allows {', '.join(actions)} on Resource '*'; "
        "name the bucket and prefix ARNs it needs instead"
    ]


def test_an_unprotected_table_outside_dev_is_reported(prod_resources: list[Registered]) -> None:
    def unprotect(record: Registered) -> None:
        record.protect = False

    records = planted(prod_resources, "control-table", unprotect)

    (found,) = on("control-table", violations("lake-stateful-resources-protected", records))

    assert found.startswith("control-table (Table): set protect=True")
    assert "environment prod" in found


def test_unprotected_stateful_resources_in_dev_are_fine(dev_resources: list[Registered]) -> None:
    assert not any(r.protect for r in dev_resources if r.name == "control-table")
    assert violations("lake-stateful-resources-protected", dev_resources) == []


def test_settings_that_drop_the_deployer_are_reported(dev_resources: list[Registered]) -> None:
    someone = "arn:aws:iam::123456789012:role/SomeoneElse"
    records = planted(dev_resources, "governance-settings", set_input("admins", [someone]))

    (found,) = on("governance-settings", violations("lake-formation-keeps-deployer-admin", records))

    assert "drop the deployer arn:aws:iam::123456789012:role/Deployer" in found


def test_the_deployer_rule_needs_to_be_told_the_deployer(dev_resources: list[Registered]) -> None:
    (found,) = violations("lake-formation-keeps-deployer-admin", dev_resources, config={})

    assert "set deployer_arns in the policy pack config" in found.message


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("silver-plan-logs", "kmsKeyId", None),
        ("bronze-controller-dlq", "kmsMasterKeyId", "alias/aws/sqs"),
    ],
)
def test_a_log_group_or_queue_off_the_lake_key_is_reported(
    prod_resources: list[Registered], name: str, path: str, value: Any
) -> None:
    records = planted(prod_resources, name, set_input(path, value))

    found = violations("lake-log-groups-and-queues-on-lake-key", records)

    assert [v.resource for v in found] == [name]
    assert "encrypted with the lake key" in found[0].message


def test_a_start_role_that_cannot_decrypt_is_reported(prod_resources: list[Registered]) -> None:
    drop_key = edit_policy("policy", lambda s: [x for x in s if x.get("Sid") != "UseLakeKey"])
    records = planted(prod_resources, "bronze-pipe-policy", drop_key)

    (found,) = on(
        "bronze-pipe-role", violations("lake-state-machine-start-roles-can-decrypt", records)
    )

    assert found.startswith("bronze-pipe-role: starts bronze-ingestion")
    assert "cannot kms:Decrypt or kms:GenerateDataKey" in found


def test_a_start_role_scoped_to_its_machine_passes(prod_resources: list[Registered]) -> None:
    (machine,) = [r for r in prod_resources if r.name == "silver-pipeline"]
    machine_arn = f"arn:aws:sfn:eu-west-1:123456789012:{machine.inputs['name']}"
    grant = _allow(
        "UseStateMachineKey",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        machine.inputs["encryptionConfiguration"]["kmsKeyId"],
        Condition={
            "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine_arn}
        },
    )
    records = planted(
        prod_resources, "silver-pipeline-start-policy", edit_policy("policy", lambda s: [*s, grant])
    )

    found = violations("lake-state-machine-start-roles-can-decrypt", records)

    assert on("silver-pipeline-start-role", found) == []


def _log_delivery(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if "delivery.logs" not in json.dumps(s.get("Principal"))]


def test_a_key_policy_without_log_delivery_is_reported(dev_resources: list[Registered]) -> None:
    records = planted(dev_resources, "storage-key", edit_policy("policy", _log_delivery))

    (found,) = violations("lake-kms-key-policy-allows-log-delivery", records)

    assert found.resource == "storage-key"
    assert "delivery.logs.amazonaws.com" in found.message


def test_a_key_policy_with_scoped_log_delivery_passes(dev_resources: list[Registered]) -> None:
    delivery = {
        "Sid": "VendedLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }
    add = edit_policy("policy", lambda s: [*_log_delivery(s), delivery])
    records = planted(dev_resources, "storage-key", add)

    assert violations("lake-kms-key-policy-allows-log-delivery", records) == []


def test_every_rule_has_a_planted_violation_test() -> None:
    source = Path(__file__).read_text()
    untested = [p.name for p in policies() if f'"{p.name}"' not in source.split("# --- each")[1]]

    assert untested == []
