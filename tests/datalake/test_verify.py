"""``datalake verify`` against moto: a healthy deployment passes, a broken one fails each check.

moto 5.2.5 implements the Lake Formation, Glue, S3, KMS, STS and Step Functions calls, but not
``iam:SimulatePrincipalPolicy`` (NotImplementedError): the IAM client is a real botocore client
under ``botocore.stub.Stubber``, which also asserts the simulation requests (the encryption
context in particular).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from datalake.verify import (
    STATE_MACHINE_CONTEXT_KEY,
    VerifyReport,
    caller_role_arn,
    verify_main,
)
from datalake.verify_buckets import denies_insecure_transport

REGION = "eu-west-1"
ACCOUNT = "123456789012"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/Deployer"
START_ROLE = f"arn:aws:iam::{ACCOUNT}:role/datalake-dev-silver-pipeline-start"
BUCKETS = {
    "landing_bucket": "datalake-dev-landing-eu-west-1",
    "lake_bucket": "datalake-dev-lake-eu-west-1",
}
DATABASES = {"bronze_database": "datalake_dev_bronze", "silver_database": "datalake_dev_silver"}
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


class MotoClients:
    """moto's clients, but IAM answers simulations from a Stubber."""

    def __init__(self, session: boto3.session.Session, iam: Any):
        self.session = session
        self.iam = iam

    def client(self, service: str) -> Any:
        if service == "iam":
            return self.iam
        return self.session.client(service)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def healthy_account(session: boto3.session.Session) -> dict[str, Any]:
    """A deployment as the program declares it; returns its stack outputs."""
    key_arn = session.client("kms").create_key(Description="lake")["KeyMetadata"]["Arn"]
    s3 = session.client("s3")
    for bucket in BUCKETS.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    glue = session.client("glue")
    for database in DATABASES.values():
        glue.create_database(DatabaseInput={"Name": database, "CreateTableDefaultPermissions": []})
    caller = session.client("sts").get_caller_identity()["Arn"]
    session.client("lakeformation").put_data_lake_settings(
        DataLakeSettings={
            "DataLakeAdmins": [
                {"DataLakePrincipalIdentifier": caller},
                {"DataLakePrincipalIdentifier": DEPLOYER},
            ],
            "CreateDatabaseDefaultPermissions": [],
            "CreateTableDefaultPermissions": [],
        }
    )
    machine = session.client("stepfunctions").create_state_machine(
        name="datalake-dev-silver-pipeline",
        definition=DEFINITION,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/datalake-dev-silver-pipeline",
        encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": key_arn},
    )
    return {
        "region": REGION,
        "kms_key_arn": key_arn,
        **BUCKETS,
        **DATABASES,
        "silver_state_machine_arn": machine["stateMachineArn"],
        "state_machine_start_role_arns": [START_ROLE],
    }


def decision(allowed: bool) -> dict[str, Any]:
    return {
        "EvaluationResults": [
            {
                "EvalActionName": "simulated",
                "EvalDecision": "allowed" if allowed else "implicitDeny",
            }
        ]
    }


def stub_simulations(iam: Any, machine: str, key: str, *, kms_allowed: bool) -> Stubber:
    """The simulations verify asks, in order, with the answers of a role that may start
    ``machine`` and may (or not) use its key."""
    stubber = Stubber(iam)
    stubber.add_response(
        "simulate_principal_policy",
        decision(True),
        {
            "PolicySourceArn": START_ROLE,
            "ActionNames": ["states:StartExecution"],
            "ResourceArns": [machine],
        },
    )
    context = [
        {
            "ContextKeyName": STATE_MACHINE_CONTEXT_KEY,
            "ContextKeyValues": [machine],
            "ContextKeyType": "string",
        },
        {
            "ContextKeyName": "kms:ViaService",
            "ContextKeyValues": [f"states.{REGION}.amazonaws.com"],
            "ContextKeyType": "string",
        },
    ]
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        stubber.add_response(
            "simulate_principal_policy",
            decision(kms_allowed),
            {
                "PolicySourceArn": START_ROLE,
                "ActionNames": [action],
                "ResourceArns": [key],
                "ContextEntries": context,
            },
        )
    stubber.activate()
    return stubber


def run(
    session: boto3.session.Session,
    outputs: dict[str, Any],
    *,
    kms_allowed: bool = True,
    deployer: str | None = DEPLOYER,
) -> VerifyReport:
    iam = session.client("iam")
    stubber = stub_simulations(
        iam, outputs["silver_state_machine_arn"], outputs["kms_key_arn"], kms_allowed=kms_allowed
    )
    report = verify_main(outputs, clients=MotoClients(session, iam), deployer_arn=deployer)
    stubber.assert_no_pending_responses()
    return report


def failed(report: VerifyReport) -> dict[str, str]:
    return {c.name: c.detail for c in report.failures}


def test_a_healthy_deployment_passes(session: boto3.session.Session) -> None:
    report = run(session, healthy_account(session))

    assert failed(report) == {}
    assert report.exit_code == 0
    names = [c.name for c in report.checks]
    assert "lake-formation-admin:deployer" in names
    assert f"bucket-tls-only:{BUCKETS['lake_bucket']}" in names
    assert f"no-iam-allowed-principals:{DATABASES['silver_database']}" in names
    assert f"start-role:{START_ROLE}" in names
    assert report.render().endswith(f"{len(report.checks)} passed, 0 failed")


def test_a_broken_account_fails_each_check(session: boto3.session.Session) -> None:
    outputs = healthy_account(session)
    landing, lake = BUCKETS["landing_bucket"], BUCKETS["lake_bucket"]
    s3 = session.client("s3")
    s3.delete_public_access_block(Bucket=landing)
    s3.put_bucket_encryption(
        Bucket=lake,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.delete_bucket_policy(Bucket=lake)
    lake_formation = session.client("lakeformation")
    lake_formation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
        Resource={"Database": {"Name": DATABASES["bronze_database"]}},
        Permissions=["ALL"],
    )
    lake_formation.put_data_lake_settings(
        DataLakeSettings={
            "DataLakeAdmins": [{"DataLakePrincipalIdentifier": DEPLOYER}],
            "CreateDatabaseDefaultPermissions": [],
            "CreateTableDefaultPermissions": [],
        }
    )

    report = run(session, outputs, kms_allowed=False)

    caller = session.client("sts").get_caller_identity()["Arn"]
    assert failed(report) == {
        "lake-formation-admin:caller": (
            f"{caller} is NOT a data-lake admin (admins: ['{DEPLOYER}'])"
        ),
        f"no-iam-allowed-principals:{DATABASES['bronze_database']}": (
            "IAM_ALLOWED_PRINCIPALS in grants"
        ),
        f"bucket-encryption:{lake}": (
            f"AES256 with no KMS key, not SSE-KMS with {outputs['kms_key_arn']}"
        ),
        f"bucket-public-access-block:{landing}": (
            "no public access block (NoSuchPublicAccessBlockConfiguration)"
        ),
        f"bucket-tls-only:{lake}": "no bucket policy (NoSuchBucketPolicy)",
        f"start-role:{START_ROLE}": (
            f"starts {outputs['silver_state_machine_arn']}; cannot kms:Decrypt or "
            f"kms:GenerateDataKey on {outputs['kms_key_arn']}"
        ),
    }
    assert report.exit_code == 1
    assert "FAIL bucket-tls-only" in report.render()


def test_table_defaults_and_account_defaults_are_checked(session: boto3.session.Session) -> None:
    outputs = healthy_account(session)
    session.client("glue").update_database(
        Name=DATABASES["silver_database"],
        DatabaseInput={
            "Name": DATABASES["silver_database"],
            "CreateTableDefaultPermissions": [
                {
                    "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                    "Permissions": ["ALL"],
                }
            ],
        },
    )
    settings = session.client("lakeformation").get_data_lake_settings()["DataLakeSettings"]
    settings["CreateTableDefaultPermissions"] = [
        {
            "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
            "Permissions": ["ALL"],
        }
    ]
    session.client("lakeformation").put_data_lake_settings(DataLakeSettings=settings)

    report = run(session, outputs)

    assert failed(report) == {
        "lake-formation-defaults": (
            "account default permissions for new databases/tables grant IAM_ALLOWED_PRINCIPALS"
        ),
        f"no-iam-allowed-principals:{DATABASES['silver_database']}": (
            "IAM_ALLOWED_PRINCIPALS in CreateTableDefaultPermissions"
        ),
    }


def test_an_unknown_deployer_and_unknown_start_roles_fail(session: boto3.session.Session) -> None:
    outputs = healthy_account(session)
    del outputs["state_machine_start_role_arns"]

    report = verify_main(
        outputs, clients=MotoClients(session, session.client("iam")), deployer_arn=None
    )

    assert failed(report) == {
        "lake-formation-admin:deployer": "no deployer ARN given (--deployer)",
        "start-roles": (
            "no start roles known: export state_machine_start_role_arns or pass them (--start-role)"
        ),
    }


def test_an_assumed_role_caller_is_checked_as_its_role(session: boto3.session.Session) -> None:
    class AssumedRole:
        def client(self, service: str) -> Any:
            if service == "sts":
                sts = session.client("sts")
                stubber = Stubber(sts)
                stubber.add_response(
                    "get_caller_identity",
                    {
                        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci",
                        "Account": ACCOUNT,
                        "UserId": "AROA:ci",
                    },
                )
                stubber.activate()
                return sts
            return session.client(service)

    # moto has no role Deployer: iam:GetRole fails, the ARN is rebuilt without a path.
    assert caller_role_arn(AssumedRole()) == DEPLOYER


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({}, True),
        ({"Action": "s3:GetObject"}, False),
        ({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, False),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, False),
        ({"Resource": "arn:aws:s3:::b/*"}, False),
    ],
)
def test_the_tls_deny_must_cover_everything(statement: dict[str, Any], expected: bool) -> None:
    policy = json.loads(tls_only_policy("b"))
    policy["Statement"][0].update(statement)

    assert denies_insecure_transport(policy, "b") is expected


def test_bucket_keys_off_fail(session: boto3.session.Session) -> None:
    outputs = healthy_account(session)
    key = outputs["kms_key_arn"]
    session.client("s3").put_bucket_encryption(
        Bucket=BUCKETS["landing_bucket"],
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    },
                    "BucketKeyEnabled": False,
                }
            ]
        },
    )

    report = run(session, outputs)

    assert failed(report) == {
        f"bucket-encryption:{BUCKETS['landing_bucket']}": (
            f"SSE-KMS with {key}, but bucket keys are off"
        )
    }


def test_the_cli_prints_every_check_and_exits_non_zero_on_a_failure(
    session: boto3.session.Session, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``datalake verify --outputs FILE --deployer ARN``: the stack outputs file in, one line
    per check out, exit 1 when the account fails a check (here: no public access block)."""
    import json

    from typer.testing import CliRunner

    from datalake import cli_operate
    from datalake.cli import app

    outputs = healthy_account(session)
    session.client("s3").delete_public_access_block(Bucket=BUCKETS["landing_bucket"])
    iam = session.client("iam")
    stub_simulations(
        iam, outputs["silver_state_machine_arn"], outputs["kms_key_arn"], kms_allowed=True
    )
    monkeypatch.setattr(
        cli_operate, "Aws", lambda region=None, endpoint_url=None: MotoClients(session, iam)
    )
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))

    result = CliRunner().invoke(app, ["verify", "--outputs", str(path), "--deployer", DEPLOYER])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    failed_lines = [line for line in lines if line.startswith("FAIL ")]
    assert (
        failed_lines == [line for line in failed_lines if BUCKETS["landing_bucket"] in line]
        and len(failed_lines) == 1
    )
    assert any(line.startswith("PASS lake-formation-admin") for line in lines)
    assert "Traceback" not in result.output
