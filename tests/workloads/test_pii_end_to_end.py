"""The masker in the ingest core: no raw e-mail anywhere in bronze; the key from Secrets Manager."""

from __future__ import annotations

import gzip

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from botocore.stub import Stubber

from datalake.domain import default_domain_path, load_domain
from datalake.runtime import PiiRuntime, RuntimeConfigError
from examples.beer.generate import sample_file
from tests.workloads.conftest import LAKE, gz
from workloads.pii.detection import MemoryVerdictCache, PiiDetector
from workloads.pii.masker import MaskingPolicy, PiiMasker, SecretsManagerKey
from workloads.pii.rotation import rotation_handler
from workloads.pii.runtime import build_masker
from workloads.pii.strategies import hmac_reference

KEY = "k" * 64


@pytest.fixture
def secret(lake) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name="datalake-test-pii-hmac-key", SecretString=KEY)["ARN"]


def masker(secret: str, **policy) -> PiiMasker:
    return PiiMasker(
        detector=PiiDetector(cache=MemoryVerdictCache()),
        policy=MaskingPolicy(**policy),
        keys=SecretsManagerKey(boto3.client("secretsmanager", region_name="us-east-1"), secret),
    )


def every_string_in_lake(lake) -> set[str]:
    found: set[str] = set()
    for key in lake.keys(""):
        body = lake.s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
        if key.endswith(".parquet"):
            table = lake.parquet(key)
            for column in table.columns:
                if pa.types.is_string(column.type):
                    found.update(v for v in column.to_pylist() if v)
        else:
            found.add(gzip.decompress(body).decode() if key.endswith(".gz") else body.decode())
    return found


def test_no_raw_email_reaches_bronze_after_ingesting_the_sample_profiles(lake, secret):
    body = sample_file("profile").read_bytes()
    emails = set(pacsv.read_csv(sample_file("profile")).column("email").drop_null().to_pylist())
    record = lake.register("raw/profile/profiles.csv.gz", body)
    done = lake.worker(masker=masker(secret)).run(record.control_id)
    assert done.rows_written == 33_388 and done.masked_columns == ["email"]
    stored = every_string_in_lake(lake)
    assert not stored & emails
    blob = "\n".join(stored)  # quarantine lines and every string cell, as one text
    assert not [email for email in sorted(emails)[:2000] if email in blob]
    bronze = lake.parquet(lake.keys("bronze/profile/")[0])
    first_email = pacsv.read_csv(sample_file("profile")).column("email")[0].as_py()
    assert bronze.column("email")[0].as_py() == hmac_reference(first_email, KEY.encode())


def test_hash_tokens_join_across_files_and_partial_keeps_domains(lake, secret):
    lines = "profile_id,profile_name,email,state\n1,ann,ann@example.org,CA\n"
    lake.worker(masker=masker(secret)).run(
        lake.register("raw/profile/a.csv.gz", gz(lines)).control_id
    )
    lake.worker(masker=masker(secret)).run(
        lake.register("raw/profile/b.csv.gz", gz(lines.replace("1,ann", "2,ann2"))).control_id
    )
    tokens = [lake.parquet(k).column("email")[0].as_py() for k in lake.keys("bronze/profile/")]
    assert tokens[0] == tokens[1]

    partial = masker(secret, strategies={"EMAIL": "partial"})
    lake.worker(masker=partial).run(
        lake.register("raw/profile/c.csv.gz", gz(lines.replace("1,ann", "3,ann3"))).control_id
    )
    values = {lake.parquet(k).column("email")[0].as_py() for k in lake.keys("bronze/profile/")}
    assert "a*****n@example.org" in values


def test_the_key_is_read_once_and_never_shown(lake, secret, monkeypatch):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    calls = []
    real = client.get_secret_value
    monkeypatch.setattr(client, "get_secret_value", lambda **kw: calls.append(kw) or real(**kw))
    keys = SecretsManagerKey(client, secret)
    assert keys.key() == keys.key() == KEY.encode()
    assert len(calls) == 1
    assert KEY not in repr(keys)


def test_runtime_builds_a_patterns_only_masker_when_comprehend_is_off(lake, secret):
    config = PiiRuntime.from_environment(
        {
            "PII_SECRET_ID": secret,
            "LAKE_BUCKET": LAKE,
            "PII_COMPREHEND_ENABLED": "false",
            "PII_STRATEGIES": '{"profile.email": "redact"}',
        }
    )
    built = build_masker(
        config,
        s3=lake.s3,
        secrets=boto3.client("secretsmanager", region_name="us-east-1"),
        comprehend=None,
    )
    assert built.detector.comprehend is None
    table = pa.table({"profile_id": ["1"], "email": ["ann@example.org"]})
    masked = built.mask(table, load_domain(default_domain_path()).table("profile"))
    assert masked.column("email").to_pylist() == ["[REDACTED]"]
    assert lake.keys("pii-verdicts/") == ["pii-verdicts/profile/v1/email.profile_id.json"]


def test_runtime_config_names_missing_variables():
    with pytest.raises(RuntimeConfigError, match="PII_SECRET_ID"):
        PiiRuntime.from_environment({"LAKE_BUCKET": "x"})
    with pytest.raises(RuntimeConfigError, match="PII_DEFAULT_STRATEGY"):
        PiiRuntime.from_environment(
            {"LAKE_BUCKET": "x", "PII_SECRET_ID": "s", "PII_DEFAULT_STRATEGY": "shuffle"}
        )


# --- key rotation ---------------------------------------------------------------------------

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pii-hmac-key-AbCdEf"
V1, V2, V3 = (f"{n}" * 36 for n in "123")


def rotation_client():
    return boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def describe(versions):
    return {"ARN": ARN, "Name": "pii", "RotationEnabled": True, "VersionIdsToStages": versions}


def test_rotation_creates_a_pending_key_then_makes_it_current():
    client = rotation_client()
    versions = {V1: ["AWSCURRENT"], V2: ["AWSPENDING"]}
    with Stubber(client) as stub:
        stub.add_response("describe_secret", describe(versions), {"SecretId": ARN})
        stub.add_client_error("get_secret_value", "ResourceNotFoundException")
        stub.add_response("get_random_password", {"RandomPassword": "n" * 64})
        stub.add_response(
            "put_secret_value",
            {"ARN": ARN, "Name": "pii", "VersionId": V2},
            {
                "SecretId": ARN,
                "ClientRequestToken": V2,
                "SecretString": "n" * 64,
                "VersionStages": ["AWSPENDING"],
            },
        )
        rotation_handler(
            {"SecretId": ARN, "ClientRequestToken": V2, "Step": "createSecret"}, client=client
        )
        stub.add_response("describe_secret", describe(versions), {"SecretId": ARN})
        stub.add_response(
            "update_secret_version_stage",
            {"ARN": ARN, "Name": "pii"},
            {
                "SecretId": ARN,
                "VersionStage": "AWSCURRENT",
                "MoveToVersionId": V2,
                "RemoveFromVersionId": V1,
            },
        )
        rotation_handler(
            {"SecretId": ARN, "ClientRequestToken": V2, "Step": "finishSecret"}, client=client
        )
        stub.assert_no_pending_responses()


def test_rotation_refuses_a_version_that_is_not_pending():
    client = rotation_client()
    with Stubber(client) as stub:
        stub.add_response("describe_secret", describe({V1: ["AWSCURRENT"], V3: ["AWSPREVIOUS"]}))
        with pytest.raises(ValueError, match="not pending"):
            rotation_handler(
                {"SecretId": ARN, "ClientRequestToken": V3, "Step": "createSecret"}, client=client
            )


def test_masked_emails_contain_no_at_sign_after_hashing(lake, secret):
    record = lake.register(
        "raw/profile/p.csv.gz", gz("profile_id,profile_name,email,state\n1,a,a@x.org,CA\n")
    )
    lake.worker(masker=masker(secret)).run(record.control_id)
    emails = lake.parquet(lake.keys("bronze/profile/")[0]).column("email")
    assert not pc.any(pc.match_substring(emails, "@")).as_py()
