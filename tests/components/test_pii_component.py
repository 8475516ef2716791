"""PIIMasker under Pulumi mocks: key secret, worker permissions, LF-Tags, worker settings."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi
import pytest

from components.code import LAMBDA_SIZE_BUDGET_BYTES
from components.pii import grant_pii_free_access, pii_free_expression
from components.preview import ACCOUNT_ID, LakeMocks, RecordingMonitor, Registered
from datalake.domain import default_domain_path, load_domain
from tests.components.inventory import FUNCTION, MANAGED_POLICY, Inventory, run_stack, with_lake

KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"


@pytest.fixture(scope="module")
def dev(dev_resources: list[Registered]) -> Inventory:
    return Inventory(dev_resources)


@pytest.fixture(scope="module")
def prod(prod_resources: list[Registered]) -> Inventory:
    return Inventory(prod_resources)


def test_hmac_key_secret_is_encrypted_with_the_lake_key(dev, prod):
    (dev_secret,) = dev.of_type("aws:secretsmanager/secret:Secret")
    (prod_secret,) = prod.of_type("aws:secretsmanager/secret:Secret")
    assert dev_secret.inputs["kmsKeyId"] == KEY_ARN
    assert dev_secret.inputs["name"] == "datalake-dev-pii-hmac-key"
    assert not dev_secret.protect and prod_secret.protect and prod_secret.retain_on_delete
    (version,) = dev.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert "secretString" in version.ignore_changes  # a deployment never rotates the key by itself
    secret_value = version.inputs["secretString"]  # Pulumi's wire form of a secret
    assert secret_value["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    assert len(secret_value["value"]) == 64


def test_worker_policy_grants_comprehend_the_secret_and_the_verdict_prefix_only(dev):
    (policy,) = dev.of_type(MANAGED_POLICY)
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["DetectPii"]["Action"] == "comprehend:DetectPiiEntities"
    assert statements["ReadHmacKey"]["Resource"].endswith("datalake-dev-pii-hmac-key")
    assert statements["ReadVerdicts"]["Resource"] == [
        "arn:aws:s3:::datalake-dev-lake-eu-west-1/pii-verdicts/*"
    ]
    assert set(statements) == {
        "DetectPii",
        "ReadHmacKey",
        "UseLakeKey",
        "ReadVerdicts",
        "WriteVerdicts",
    }


def test_only_the_ingestion_roles_get_the_pii_policy(dev):
    attachments = dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert sorted(a.inputs["role"] for a in attachments) == [
        "datalake-dev-bronze-ingest-lite",
        "datalake-dev-bronze-ingest-mass-task",
    ]
    (policy,) = dev.of_type(MANAGED_POLICY)
    assert all(a.inputs["policyArn"].endswith(policy.inputs["name"]) for a in attachments)
    comprehend = [
        r.name
        for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")
        if "comprehend" in r.inputs["policy"]
    ]
    assert comprehend == []  # no inline grant elsewhere


def test_classification_tag_exists_and_marks_profile_email_pii(dev):
    lf_tags = dev.of_type("aws:lakeformation/lfTag:LfTag")
    # Named after the lake: two lakes of one account never share a tag (governance adds `layer`).
    (tag,) = [t for t in lf_tags if t.inputs["key"] == "datalake-dev-classification"]
    assert tag.inputs == {
        "key": "datalake-dev-classification",
        "values": ["public", "internal", "pii"],
    }
    tags = dev.of_type("aws:lakeformation/resourceLfTags:ResourceLfTags")
    pii = [t.inputs for t in tags if t.inputs["lfTags"][0]["value"] == "pii"]
    assert pii == [
        {
            "tableWithColumns": {
                "databaseName": "datalake_dev_bronze",
                "name": "profile",
                "columnNames": ["email"],
            },
            "lfTags": [{"key": "datalake-dev-classification", "value": "pii"}],
        }
    ]
    tables = {t.inputs["table"]["name"] for t in tags if "table" in t.inputs}
    assert tables == set(load_domain(default_domain_path()).tables)


def test_workers_receive_the_masking_settings():
    resources = run_stack(
        with_lake(pii={"default_strategy": "partial", "strategies": {"profile.email": "hash"}})
    )
    lite = resources.named(FUNCTION, "bronze-ingest-lite")
    env = lite.inputs["environment"]["variables"]
    assert env["PII_SECRET_ID"].endswith("datalake-dev-pii-hmac-key")
    assert env["PII_DEFAULT_STRATEGY"] == "partial"
    assert json.loads(env["PII_STRATEGIES"]) == {"profile.email": "hash"}
    assert env["PII_MIN_FRACTION"] == "0.5" and env["PII_MIN_SCORE"] == "0.7"


def test_rotation_is_off_by_default_and_scheduled_when_set(dev):
    assert dev.of_type("aws:secretsmanager/secretRotation:SecretRotation") == []
    resources = run_stack(with_lake(pii={"secret_rotation_days": 90}))
    (rotation,) = resources.of_type("aws:secretsmanager/secretRotation:SecretRotation")
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 90}
    function = resources.named(FUNCTION, "pii-rotation")
    assert function.inputs["handler"] == "workloads.pii.rotation.rotation_handler"
    permission = [
        p
        for p in resources.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "secretsmanager.amazonaws.com"
    ]
    assert len(permission) == 1


def test_pii_free_expression_excludes_pii():
    assert pii_free_expression("lake-classification") == [
        {"key": "lake-classification", "values": ["public", "internal"]}
    ]


def test_grant_helper_uses_the_pii_free_expression():
    monitor = RecordingMonitor(LakeMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="datalake", stack="dev", preview=False, monitor=monitor
    )

    class Parent(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("datalake:index:Test", "parent")

    @pulumi.runtime.test
    def program() -> None:
        grant_pii_free_access(
            "consumers",
            parent=Parent(),
            principal=f"arn:aws:iam::{ACCOUNT_ID}:role/Analysts",
            classification_key="classification",
            extra_expression=[{"key": "layer", "values": ["gold"]}],
        )

    program()
    (grant,) = [
        r
        for r in monitor.registered.values()
        if r.type == "aws:lakeformation/permissions:Permissions"
    ]
    assert grant.inputs["permissions"] == ["SELECT", "DESCRIBE"]
    assert grant.inputs["lfTagPolicy"] == {
        "resourceType": "TABLE",
        "expressions": [
            {"key": "classification", "values": ["public", "internal"]},
            {"key": "layer", "values": ["gold"]},
        ],
    }


def test_the_lambda_bundle_fits_next_to_the_pyarrow_layer(dev):
    lite = dev.named(FUNCTION, "bronze-ingest-lite")
    with zipfile.ZipFile(Path(lite.inputs["code"].path)) as bundle:
        unzipped = sum(info.file_size for info in bundle.infolist())
        names = bundle.namelist()
    assert unzipped <= LAMBDA_SIZE_BUDGET_BYTES, f"{unzipped / 2**20:.0f} MiB"
    assert any(n.startswith("duckdb/") for n in names) and "workloads/pii/strategies.py" in names
    assert not any(n.startswith(("pyarrow/", "numpy/", "boto3/")) for n in names)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_still_declare_one_pii_masker(stack, dev, prod):
    resources = dev if stack == "dev" else prod
    assert len(resources.of_type("datalake:index:PIIMasker")) == 1
