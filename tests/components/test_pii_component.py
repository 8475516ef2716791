"""PIIMasker under Pulumi mocks: key secret, worker permissions, LF-Tags, worker settings."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.code import LAMBDA_SIZE_BUDGET_BYTES
from components.pii import grant_pii_free_access, pii_free_expression
from components.preview import (
    ACCOUNT_ID,
    LakeMocks,
    RecordingMonitor,
    Registered,
    run_program,
    stack_config,
)

KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"


def of_type(resources: list[Registered], type_: str) -> list[Registered]:
    return [r for r in resources if r.type == type_]


def config_with(**pii: Any) -> dict[str, Any]:
    config = stack_config("dev")
    config["datalake:lake"] = {**config["datalake:lake"], "pii": pii}
    return config


def test_hmac_key_secret_is_encrypted_with_the_lake_key(dev_resources, prod_resources):
    (dev,) = of_type(dev_resources, "aws:secretsmanager/secret:Secret")
    (prod,) = of_type(prod_resources, "aws:secretsmanager/secret:Secret")
    assert dev.inputs["kmsKeyId"] == KEY_ARN
    assert dev.inputs["name"] == "datalake-dev-pii-hmac-key"
    assert not dev.protect and prod.protect and prod.retain_on_delete
    (version,) = of_type(dev_resources, "aws:secretsmanager/secretVersion:SecretVersion")
    assert "secretString" in version.ignore_changes  # a deployment never rotates the key by itself
    secret_value = version.inputs["secretString"]  # Pulumi's wire form of a secret
    assert secret_value["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    assert len(secret_value["value"]) == 64


def test_worker_policy_grants_comprehend_the_secret_and_the_verdict_prefix_only(dev_resources):
    (policy,) = of_type(dev_resources, "aws:iam/policy:Policy")
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


def test_only_the_ingestion_roles_get_the_pii_policy(dev_resources):
    attachments = of_type(dev_resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert sorted(a.inputs["role"] for a in attachments) == [
        "datalake-dev-bronze-ingest-lite",
        "datalake-dev-bronze-ingest-mass-task",
    ]
    (policy,) = of_type(dev_resources, "aws:iam/policy:Policy")
    assert all(a.inputs["policyArn"].endswith(policy.inputs["name"]) for a in attachments)
    comprehend = [
        r.name
        for r in of_type(dev_resources, "aws:iam/rolePolicy:RolePolicy")
        if "comprehend" in r.inputs["policy"]
    ]
    assert comprehend == []  # no inline grant elsewhere


def test_classification_tag_exists_and_marks_profile_email_pii(dev_resources):
    lf_tags = of_type(dev_resources, "aws:lakeformation/lfTag:LfTag")
    (tag,) = [t for t in lf_tags if t.inputs["key"] == "classification"]  # gold adds `layer`
    assert tag.inputs == {"key": "classification", "values": ["public", "internal", "pii"]}
    tags = of_type(dev_resources, "aws:lakeformation/resourceLfTags:ResourceLfTags")
    pii = [t.inputs for t in tags if t.inputs["lfTags"][0]["value"] == "pii"]
    assert pii == [
        {
            "tableWithColumns": {
                "databaseName": "datalake_dev_bronze",
                "name": "profile",
                "columnNames": ["email"],
            },
            "lfTags": [{"key": "classification", "value": "pii"}],
        }
    ]
    tables = {t.inputs["table"]["name"] for t in tags if "table" in t.inputs}
    assert tables == {"brewery", "beer", "profile", "review"}


def test_workers_receive_the_masking_settings(dev_resources):
    resources = run_program(
        "dev", config_with(default_strategy="partial", strategies={"profile.email": "hash"})
    )
    (lite,) = [
        f
        for f in of_type(resources, "aws:lambda/function:Function")
        if f.name == "bronze-ingest-lite"
    ]
    env = lite.inputs["environment"]["variables"]
    assert env["PII_SECRET_ID"].endswith("datalake-dev-pii-hmac-key")
    assert env["PII_DEFAULT_STRATEGY"] == "partial"
    assert json.loads(env["PII_STRATEGIES"]) == {"profile.email": "hash"}
    assert env["PII_MIN_FRACTION"] == "0.5" and env["PII_MIN_SCORE"] == "0.7"


def test_rotation_is_off_by_default_and_scheduled_when_set(dev_resources):
    assert of_type(dev_resources, "aws:secretsmanager/secretRotation:SecretRotation") == []
    resources = run_program("dev", config_with(secret_rotation_days=90))
    (rotation,) = of_type(resources, "aws:secretsmanager/secretRotation:SecretRotation")
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 90}
    (function,) = [
        f for f in of_type(resources, "aws:lambda/function:Function") if f.name == "pii-rotation"
    ]
    assert function.inputs["handler"] == "workloads.pii.rotation.rotation_handler"
    permission = [
        p
        for p in of_type(resources, "aws:lambda/permission:Permission")
        if p.inputs["principal"] == "secretsmanager.amazonaws.com"
    ]
    assert len(permission) == 1


def test_pii_free_expression_excludes_pii():
    assert pii_free_expression() == [{"key": "classification", "values": ["public", "internal"]}]


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


def test_the_lambda_bundle_fits_next_to_the_pyarrow_layer(dev_resources):
    (lite,) = [
        f
        for f in of_type(dev_resources, "aws:lambda/function:Function")
        if f.name == "bronze-ingest-lite"
    ]
    with zipfile.ZipFile(Path(lite.inputs["code"].path)) as bundle:
        unzipped = sum(info.file_size for info in bundle.infolist())
        names = bundle.namelist()
    assert unzipped <= LAMBDA_SIZE_BUDGET_BYTES, f"{unzipped / 2**20:.0f} MiB"
    assert any(n.startswith("duckdb/") for n in names) and "workloads/pii/strategies.py" in names
    assert not any(n.startswith(("pyarrow/", "numpy/", "boto3/")) for n in names)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_still_declare_one_pii_masker(stack, dev_resources, prod_resources):
    resources = dev_resources if stack == "dev" else prod_resources
    assert len(of_type(resources, "datalake:index:PIIMasker")) == 1
