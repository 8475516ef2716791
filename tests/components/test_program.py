"""The real ``__main__.py`` under Pulumi mocks, with the dev and prod example stacks."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.preview import (
    ACCOUNT_ID,
    DEPLOYER_ROLE_ARN,
    ROOT,
    Registered,
    run_program,
    stack_config,
)
from datalake.naming import Bucket
from datalake.stack_file import load_stack_file
from tests.components.inventory import Inventory

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
TABLE = "aws:dynamodb/table:Table"
STATEFUL_TYPES = {BUCKET, KEY, TABLE}
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"


def per_bucket(resources: list[Registered], type_: str) -> dict[str, dict[str, Any]]:
    """Inputs of a bucket configuration resource, keyed by the bucket it configures."""
    return {r.inputs["bucket"]: r.inputs for r in Inventory(resources).of_type(type_)}


@pytest.fixture(scope="module")
def dev_settings():
    return load_stack_file(ROOT / "Pulumi.dev.yaml")


@pytest.fixture(scope="module")
def prod_settings():
    return load_stack_file(ROOT / "Pulumi.prod.yaml")


@pytest.fixture(params=["dev", "prod"])
def stack(request, dev_resources, prod_resources, dev_settings, prod_settings):
    if request.param == "dev":
        return dev_resources, dev_settings
    return prod_resources, prod_settings


def bucket_names(resources: list[Registered]) -> dict[str, str]:
    """Logical purpose -> physical bucket name."""
    return {
        r.name.removeprefix("storage-"): r.inputs["bucket"]
        for r in Inventory(resources).of_type(BUCKET)
    }


# --- storage -------------------------------------------------------------------------------


def test_four_buckets_named_by_the_naming_convention(stack):
    resources, settings = stack
    assert bucket_names(resources) == {b.value: settings.names.bucket(b) for b in Bucket}


def test_kms_key_is_customer_managed_with_rotation_and_alias(stack):
    resources, settings = stack
    key = Inventory(resources).one(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["rotationPeriodInDays"] == settings.encryption.key_rotation_days
    policy = json.loads(key.inputs["policy"])
    root = [s for s in policy["Statement"] if s["Sid"] == "AccountAdministersThroughIam"]
    assert root[0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    alias = Inventory(resources).one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == settings.names.kms_alias
    assert alias.inputs["targetKeyId"] == "key-storage-key"


def test_every_bucket_encrypts_with_the_lake_key_and_bucket_keys(stack):
    resources, _ = stack
    encryption = per_bucket(
        resources,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    assert set(encryption) == set(bucket_names(resources).values())
    for inputs in encryption.values():
        (rule,) = inputs["rules"]
        assert rule["bucketKeyEnabled"] is True
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": KEY_ARN,
        }


def test_every_bucket_blocks_public_access_and_enforces_ownership(stack):
    resources, _ = stack
    blocks = per_bucket(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = per_bucket(resources, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    for name in bucket_names(resources).values():
        block = blocks[name]
        assert all(
            block[flag] is True
            for flag in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        assert ownership[name]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_every_bucket_policy_denies_plain_http_and_other_encryption(stack):
    resources, _ = stack
    policies = per_bucket(resources, "aws:s3/bucketPolicy:BucketPolicy")
    for name in bucket_names(resources).values():
        statements = {s["Sid"]: s for s in json.loads(policies[name]["policy"])["Statement"]}
        tls = statements["DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(tls["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
        encryption = statements["DenyOtherEncryption"]
        assert encryption["Effect"] == "Deny" and encryption["Action"] == "s3:PutObject"
        # Only a header that is sent is checked (a Deny ...IfExists would refuse uploads
        # without one, which the bucket default encrypts with the lake key).
        sse, key_id = (
            "s3:x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        )
        assert encryption["Condition"] == {
            "StringNotEquals": {sse: "aws:kms"},
            "Null": {sse: "false"},
        }
        wrong_key = statements["DenyOtherKmsKey"]
        assert wrong_key["Condition"] == {
            "StringNotEquals": {key_id: KEY_ARN},
            "Null": {key_id: "false"},
        }


def test_only_the_observer_bucket_accepts_access_log_delivery(stack):
    resources, _ = stack
    policies = per_bucket(resources, "aws:s3/bucketPolicy:BucketPolicy")
    names = bucket_names(resources)
    for purpose, name in names.items():
        sids = {s["Sid"] for s in json.loads(policies[name]["policy"])["Statement"]}
        assert ("AllowS3ServerAccessLogDelivery" in sids) is (purpose == "observer")


def test_server_access_logs_go_to_the_observer_bucket(stack):
    resources, _ = stack
    names = bucket_names(resources)
    logging = per_bucket(resources, "aws:s3/bucketLogging:BucketLogging")
    assert set(logging) == {names["landing"], names["lake"], names["artifacts"]}
    for purpose in ("landing", "lake", "artifacts"):
        assert logging[names[purpose]]["targetBucket"] == names["observer"]
        assert logging[names[purpose]]["targetPrefix"] == f"access-logs/{purpose}/"


def test_versioning_on_the_landing_lake_and_artifacts_buckets_only(stack):
    resources, _ = stack
    names = bucket_names(resources)
    versioning = per_bucket(resources, "aws:s3/bucketVersioning:BucketVersioning")
    # landing: the replay source; an overwritten raw file must stay recoverable
    assert set(versioning) == {names["landing"], names["lake"], names["artifacts"]}
    for inputs in versioning.values():
        assert inputs["versioningConfiguration"] == {"status": "Enabled"}


def lifecycle_rule(resources: list[Registered], purpose: str, rule_id: str) -> dict[str, Any]:
    lifecycle = per_bucket(
        resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    rules = {r["id"]: r for r in lifecycle[bucket_names(resources)[purpose]]["rules"]}
    return rules[rule_id]


def test_lifecycle_rules_come_from_settings(stack):
    resources, settings = stack
    raw = lifecycle_rule(resources, "landing", "raw-lifecycle")
    assert raw["filter"] == {"prefix": "raw/"}
    assert raw["expiration"] == {"days": settings.storage.raw.retention_days}
    bronze = lifecycle_rule(resources, "lake", "bronze-lifecycle")
    assert bronze["filter"] == {"prefix": "bronze/"}
    assert bronze["transitions"] == [
        {"days": t.days, "storageClass": t.storage_class}
        for t in settings.storage.bronze.transitions
    ]
    emr_logs = lifecycle_rule(resources, "observer", "emr-logs-lifecycle")
    assert emr_logs["filter"] == {"prefix": "emr-logs/"}
    assert emr_logs["expiration"] == {"days": settings.storage.emr_logs.retention_days}
    assert lifecycle_rule(resources, "landing", "expire-noncurrent-versions")
    noncurrent = lifecycle_rule(resources, "lake", "expire-noncurrent-versions")
    assert noncurrent["noncurrentVersionExpiration"] == {
        "noncurrentDays": settings.storage.noncurrent_version_retention_days
    }


def test_stack_files_change_lifecycle(dev_resources, prod_resources):
    dev_raw = lifecycle_rule(dev_resources, "landing", "raw-lifecycle")
    prod_raw = lifecycle_rule(prod_resources, "landing", "raw-lifecycle")
    assert dev_raw["expiration"] == {"days": 14}
    assert prod_raw["expiration"] == {"days": 365}
    assert [t["storageClass"] for t in prod_raw["transitions"]] == ["STANDARD_IA", "GLACIER_IR"]


def test_iceberg_prefixes_never_expire(stack):
    resources, _ = stack
    lifecycle = per_bucket(
        resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    for rule in lifecycle[bucket_names(resources)["lake"]]["rules"]:
        if rule["filter"].get("prefix") in ("silver/", "gold/"):
            assert "expiration" not in rule


def test_force_destroy_follows_settings(dev_resources, prod_resources):
    assert all(b.inputs["forceDestroy"] is True for b in Inventory(dev_resources).of_type(BUCKET))
    assert all(b.inputs["forceDestroy"] is False for b in Inventory(prod_resources).of_type(BUCKET))


# --- protection ----------------------------------------------------------------------------


def test_stateful_resources_are_protected_and_retained_in_prod(prod_resources):
    stateful = [r for r in prod_resources if r.type in STATEFUL_TYPES]
    assert len(stateful) == 6  # 4 buckets, the key, the control table
    assert all(r.protect and r.retain_on_delete for r in stateful)
    assert Inventory(prod_resources).one(TABLE).inputs["deletionProtectionEnabled"] is True


def test_nothing_is_protected_in_dev(dev_resources):
    assert not any(r.protect or r.retain_on_delete for r in dev_resources)
    assert Inventory(dev_resources).one(TABLE).inputs["deletionProtectionEnabled"] is False


# --- control table -------------------------------------------------------------------------


def test_control_table_keys_indexes_stream_recovery_and_encryption(stack):
    resources, settings = stack
    table = Inventory(resources).one(TABLE).inputs
    assert table["name"] == settings.names.control_table
    assert table["hashKey"] == "control_id"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["streamEnabled"] is True and table["streamViewType"] == "NEW_IMAGE"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
    indexes = {i["name"]: (i["hashKey"], i["rangeKey"]) for i in table["globalSecondaryIndexes"]}
    assert indexes == {
        "by-object-key": ("object_key", "created_at"),
        "by-layer-status": ("layer_status", "created_at"),
        "by-table-checksum": ("table_name", "checksum"),
    }
    declared = {a["name"] for a in table["attributes"]}
    assert declared == {"control_id"} | {k for pair in indexes.values() for k in pair}


# --- catalog -------------------------------------------------------------------------------


def test_one_glue_database_per_layer_at_its_prefix(stack):
    resources, settings = stack
    lake = bucket_names(resources)["lake"]
    databases = {
        r.name: r.inputs
        for r in Inventory(resources).of_type("aws:glue/catalogDatabase:CatalogDatabase")
    }
    assert set(databases) == {"catalog-bronze", "catalog-silver", "catalog-gold"}
    for layer in ("bronze", "silver", "gold"):
        database = databases[f"catalog-{layer}"]
        assert database["name"] == f"datalake_{settings.environment}_{layer}"
        assert database["locationUri"] == f"s3://{lake}/{layer}/"
        assert database["createTableDefaultPermissions"] == []
        assert database["tags"] == {"layer": layer}


# --- governance ----------------------------------------------------------------------------


def test_lake_formation_admins_default_to_the_deployer(dev_resources):
    settings = (
        Inventory(dev_resources).one("aws:lakeformation/dataLakeSettings:DataLakeSettings").inputs
    )
    assert settings["admins"] == [DEPLOYER_ROLE_ARN]
    assert settings["createDatabaseDefaultPermissions"] == []
    assert settings["createTableDefaultPermissions"] == []


def test_lake_formation_admins_come_from_settings(prod_resources, prod_settings):
    settings = (
        Inventory(prod_resources).one("aws:lakeformation/dataLakeSettings:DataLakeSettings").inputs
    )
    # PutDataLakeSettings replaces the whole list: the deployer always stays in it, or the
    # deploy would lock itself out of the tags, grants and tables it declares next.
    assert settings["admins"] == sorted({DEPLOYER_ROLE_ARN, *prod_settings.governance.admins})
    assert len(settings["admins"]) == len(prod_settings.governance.admins) + 1


def test_lake_bucket_is_registered_with_a_dedicated_least_privilege_role(stack):
    resources, settings = stack
    lake = bucket_names(resources)["lake"]
    location = Inventory(resources).one("aws:lakeformation/resource:Resource").inputs
    role = Inventory(resources).named("aws:iam/role:Role", "governance-registration-role")
    assert location["arn"] == f"arn:aws:s3:::{lake}"
    assert location["useServiceLinkedRole"] is False
    assert location["hybridAccessEnabled"] is False
    role_name = settings.names.resource("lakeformation-registration")
    assert role.inputs["name"] == role_name
    assert location["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": ["lakeformation.amazonaws.com", "glue.amazonaws.com"]}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    policy = json.loads(
        Inventory(resources)
        .named("aws:iam/rolePolicy:RolePolicy", "governance-registration-access")
        .inputs["policy"]
    )
    objects = next(s for s in policy["Statement"] if s["Sid"] == "ReadWriteLayerObjects")
    assert objects["Resource"] == [
        f"arn:aws:s3:::{lake}/{p}/*" for p in ("bronze", "silver", "gold")
    ]
    key = next(s for s in policy["Statement"] if s["Sid"] == "UseLakeKey")
    assert key["Resource"] == KEY_ARN
    assert not any(s.get("Resource") == "*" for s in policy["Statement"])


def test_external_lake_formation_settings_are_not_declared_and_grants_wait_for_the_location():
    config = stack_config("dev")
    config["datalake:lake"] = {
        **config["datalake:lake"],
        "governance": {"data_lake_settings": "external"},
    }
    resources = run_program("dev", config)
    assert Inventory(resources).of_type("aws:lakeformation/dataLakeSettings:DataLakeSettings") == []
    (location,) = Inventory(resources).of_type("aws:lakeformation/resource:Resource")
    for grant in Inventory(resources).of_type("aws:lakeformation/permissions:Permissions"):
        assert location.urn in grant.dependencies


def test_lake_formation_settings_and_catalog_are_protected_and_retained_in_prod(prod_resources):
    for type_ in (
        "aws:lakeformation/dataLakeSettings:DataLakeSettings",
        "aws:lakeformation/resource:Resource",
        "aws:lakeformation/lfTag:LfTag",
        "aws:glue/catalogDatabase:CatalogDatabase",
    ):
        found = Inventory(prod_resources).of_type(type_)
        assert found and all(r.protect and r.retain_on_delete for r in found), type_


def test_iam_compatible_mode_grants_iam_allowed_principals():
    config = stack_config("dev")
    config["datalake:lake"] = {
        **config["datalake:lake"],
        "governance": {"permission_mode": "iam-compatible"},
    }
    resources = run_program("dev", config)
    settings = (
        Inventory(resources).one("aws:lakeformation/dataLakeSettings:DataLakeSettings").inputs
    )
    expected = [{"permissions": ["ALL"], "principal": "IAM_ALLOWED_PRINCIPALS"}]
    assert settings["createDatabaseDefaultPermissions"] == expected
    assert settings["createTableDefaultPermissions"] == expected
    assert (
        Inventory(resources)
        .one("aws:lakeformation/resource:Resource")
        .inputs["hybridAccessEnabled"]
    )
    for database in Inventory(resources).of_type("aws:glue/catalogDatabase:CatalogDatabase"):
        assert database.inputs["createTableDefaultPermissions"] == [
            {
                "permissions": ["ALL"],
                "principal": {"dataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
            }
        ]


# --- program structure ---------------------------------------------------------------------


def test_components_use_datalake_type_tokens_and_own_their_children(stack):
    resources, settings = stack
    components = {r.urn: r for r in resources if not r.custom}
    # The alarm topic is created only when the settings name none (prod names its own).
    topic = set() if settings.observability.alarm_topic_arn else {"datalake:index:LakeAlarmTopic"}
    assert {r.type for r in components.values()} == topic | {
        "datalake:index:LakeStorage",
        "datalake:index:LakeCatalog",
        "datalake:index:ProcessingControlTable",
        "datalake:index:LakeGovernance",
        "datalake:index:BronzeZone",
        "datalake:index:IngestionNetwork",
        "datalake:index:PIIMasker",
        "datalake:index:SilverPipeline",
        "datalake:index:SparkRuntime",
        "datalake:index:GoldMart",
        "datalake:index:GoldConsumerAccess",
        "datalake:index:LakeObservability",
    }
    assert not [r.type for r in resources if r.type.endswith("V2")], "deprecated *V2 resources"
    for resource in resources:
        if resource.custom and resource.type != "pulumi:providers:aws":
            assert resource.parent in components, f"{resource.name} is not inside a component"


def test_components_register_their_outputs(stack):
    resources, settings = stack
    storage = Inventory(resources).one("datalake:index:LakeStorage")
    assert storage.outputs["lake_bucket"] == settings.names.bucket(Bucket.LAKE)
    assert storage.outputs["key_alias"] == settings.names.kms_alias
    control = Inventory(resources).one("datalake:index:ProcessingControlTable")
    assert control.outputs["stream_arn"].endswith("/stream/2026-01-01T00:00:00.000")


def test_provider_default_tags_carry_settings_tags_project_and_environment(stack):
    resources, settings = stack
    provider = Inventory(resources).one("pulumi:providers:aws")
    assert provider.inputs["region"] == settings.region
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {
        **settings.tags,
        "project": "datalake",
        "environment": settings.environment,
        "managed-by": "pulumi",
    }


def test_resources_of_one_layer_carry_the_layer_tag(stack):
    resources, _ = stack
    tags = {r.name: r.inputs.get("tags") for r in Inventory(resources).of_type(BUCKET)}
    assert tags == {
        "storage-landing": {"layer": "raw"},
        "storage-lake": {"layer": "lake"},
        "storage-artifacts": {"layer": "artifacts"},
        "storage-observer": {"layer": "observability"},
    }
    assert Inventory(resources).one(TABLE).inputs["tags"] == {"layer": "control"}


def test_invalid_stack_config_fails_before_any_resource_is_declared():
    config = stack_config("prod")
    config["datalake:lake"] = {**config["datalake:lake"], "protection": {"enabled": False}}
    with pytest.raises(pulumi.RunError, match=r"datalake:lake\.protection\.enabled") as caught:
        run_program("prod", config)
    assert "allowed outside" in str(caught.value)
