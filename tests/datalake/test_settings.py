"""The settings model: defaults, the example stacks, and clear errors for bad configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datalake.naming import Layer
from datalake.settings import (
    LakeSettings,
    SettingsError,
    load_settings,
    settings_json_schema,
)
from datalake.stack_file import load_stack_file

ROOT = Path(__file__).resolve().parents[2]


def errors_of(config: dict[str, Any], environment: str = "dev") -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load_settings(config, project="datalake", environment=environment)
    return caught.value


def paths_of(error: SettingsError) -> list[str]:
    return [issue.path for issue in error.issues]


def test_empty_config_gives_complete_defaults():
    settings = load_settings({}, project="datalake", environment="dev")
    assert settings.ingestion.mass_threshold_records == 100_000
    assert settings.storage.versioning is True
    assert settings.silver.schedule == "rate(1 hour)"
    assert settings.governance.permission_mode == "lake-formation"
    assert settings.database_name(Layer.SILVER) == "datalake_dev_silver"
    assert settings.protect_stateful is False


def test_environment_and_project_default_from_pulumi_but_config_wins():
    settings = load_settings({"environment": "staging"}, project="beer", environment="prod")
    assert (settings.project, settings.environment) == ("beer", "staging")
    assert settings.protect_stateful is True


def test_example_stacks_are_valid_and_dev_is_short():
    dev = load_stack_file(ROOT / "Pulumi.dev.yaml")
    prod = load_stack_file(ROOT / "Pulumi.prod.yaml")
    assert dev.environment == "dev" and not dev.protect_stateful
    assert prod.environment == "prod" and prod.protect_stateful
    assert prod.governance.admins == ["arn:aws:iam::123456789012:role/DataPlatformAdmin"]
    assert len((ROOT / "Pulumi.dev.yaml").read_text().splitlines()) <= 15


def test_protection_defaults_on_outside_dev_and_can_be_explicitly_on_in_dev():
    assert load_settings({}, environment="qa").protect_stateful is True
    assert load_settings({"protection": {"enabled": True}}, environment="dev").protect_stateful


def test_explicit_database_names_override_derived_ones():
    settings = load_settings({"catalog": {"gold_database": "analytics_gold"}}, environment="dev")
    assert settings.database_name(Layer.GOLD) == "analytics_gold"
    assert settings.database_name(Layer.BRONZE) == "datalake_dev_bronze"


# At least ten invalid configs, each naming the path of the offending setting.
INVALID_CONFIGS: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "unknown nested key",
        {"storage": {"raw": {"retention_dayz": 3}}},
        "dev",
        "datalake:lake.storage.raw.retention_dayz",
        "allowed keys here: retention_days, transitions",
    ),
    (
        "unknown top-level key",
        {"buckets": {}},
        "dev",
        "datalake:lake.buckets",
        "allowed keys here: catalog, dashboards, domain, encryption",
    ),
    (
        "negative retention",
        {"storage": {"raw": {"retention_days": -1}}},
        "dev",
        "datalake:lake.storage.raw.retention_days",
        "greater than or equal to 1",
    ),
    (
        "unknown storage class",
        {"storage": {"bronze": {"transitions": [{"days": 40, "storage_class": "COLD"}]}}},
        "dev",
        "datalake:lake.storage.bronze.transitions[0].storage_class",
        "'STANDARD_IA', 'ONEZONE_IA'",
    ),
    (
        "Iceberg layer expiry",
        {"storage": {"silver": {"retention_days": 30}}},
        "dev",
        "datalake:lake.storage.silver.retention_days",
        "Iceberg tables manage their own files",
    ),
    (
        "archive class on Iceberg layer",
        {"storage": {"gold": {"transitions": [{"days": 90, "storage_class": "DEEP_ARCHIVE"}]}}},
        "dev",
        "datalake:lake.storage.gold.transitions[0].storage_class",
        "GLACIER_IR, INTELLIGENT_TIERING",
    ),
    (
        "IA transition too early",
        {"storage": {"raw": {"transitions": [{"days": 7, "storage_class": "STANDARD_IA"}]}}},
        "dev",
        "datalake:lake.storage.raw.transitions[0].days",
        "at least 30 days",
    ),
    (
        "uppercase project gives an invalid bucket name",
        {"project": "BeerLake"},
        "dev",
        "datalake:lake.project",
        "must match",
    ),
    (
        "bucket name too long",
        {"project": "a-rather-long-lake-name", "storage": {"bucket_suffix": "123456789012-extra"}},
        "sandbox",
        "datalake:lake.project",
        "S3 allows 3-63",
    ),
    (
        "invalid cron",
        {"silver": {"schedule": "cron(0 2 * * * *)"}},
        "dev",
        "datalake:lake.silver.schedule",
        "exactly one of day-of-month and day-of-week must be '?'",
    ),
    (
        "invalid rate",
        {"gold": {"schedule": "rate(1 hours)"}},
        "dev",
        "datalake:lake.gold.schedule",
        "use 'hour' for a value of 1",
    ),
    (
        "protection off in prod",
        {"protection": {"enabled": False}},
        "prod",
        "datalake:lake.protection.enabled",
        "cannot be turned off in 'prod'",
    ),
    (
        "force destroy in prod",
        {"storage": {"force_destroy": True}},
        "prod",
        "datalake:lake.storage.force_destroy",
        "cannot be force-destroyed in 'prod'",
    ),
    (
        "versioning off in prod",
        {"storage": {"versioning": False}},
        "prod",
        "datalake:lake.storage.versioning",
        "versioning is required in 'prod'",
    ),
    (
        "Fargate memory not valid for the CPU",
        {"ingestion": {"ecs_cpu": 1024, "ecs_memory_mb": 512}},
        "dev",
        "datalake:lake.ingestion.ecs_memory_mb",
        "2048-8192 MiB in steps of 1024",
    ),
    (
        "ECS CPU not a Fargate size",
        {"ingestion": {"ecs_cpu": 3000}},
        "dev",
        "datalake:lake.ingestion.ecs_cpu",
        "256, 512, 1024, 2048, 4096, 8192 or 16384",
    ),
    (
        "Lambda timeout over the limit",
        {"ingestion": {"lambda_timeout_seconds": 901}},
        "dev",
        "datalake:lake.ingestion.lambda_timeout_seconds",
        "less than or equal to 900",
    ),
    (
        "admin is not an IAM principal ARN",
        {"governance": {"admins": ["alice"]}},
        "dev",
        "datalake:lake.governance.admins[0]",
        "must match",
    ),
    (
        "unknown permission mode",
        {"governance": {"permission_mode": "open"}},
        "dev",
        "datalake:lake.governance.permission_mode",
        "'lake-formation' or 'iam-compatible'",
    ),
    (
        "reserved tag key",
        {"tags": {"environment": "x"}},
        "dev",
        "datalake:lake.tags.environment",
        "reserved tag key",
    ),
    (
        "PII threshold out of range",
        {"pii": {"min_score": 1.5}},
        "dev",
        "datalake:lake.pii.min_score",
        "less than or equal to 1",
    ),
    (
        "PII strategy keyed by neither a column nor a PII type",
        {"pii": {"strategies": {"profile": "hash"}}},
        "dev",
        "datalake:lake.pii.strategies.profile",
        "expected <table>.<column> of the domain or a PII type",
    ),
    (
        "unknown PII strategy",
        {"pii": {"strategies": {"EMAIL": "shuffle"}}},
        "dev",
        "datalake:lake.pii.strategies.EMAIL",
        "'hash', 'partial' or 'redact'",
    ),
    (
        "subnets without security groups",
        {"network": {"subnet_ids": ["subnet-0123456789abcdef0"]}},
        "dev",
        "datalake:lake.network.security_group_ids",
        "give both subnet_ids and security_group_ids",
    ),
    (
        "admins while another stack owns the Lake Formation settings",
        {
            "governance": {
                "data_lake_settings": "external",
                "admins": ["arn:aws:iam::123456789012:role/Admin"],
            }
        },
        "prod",
        "datalake:lake.governance.admins",
        "with data_lake_settings 'external' allowed: []",
    ),
    (
        "IAM-compatible defaults without owning the Lake Formation settings",
        {"governance": {"data_lake_settings": "external", "permission_mode": "iam-compatible"}},
        "dev",
        "datalake:lake.governance.permission_mode",
        "allowed: 'lake-formation'",
    ),
    (
        "unknown ownership of the Lake Formation settings",
        {"governance": {"data_lake_settings": "shared"}},
        "dev",
        "datalake:lake.governance.data_lake_settings",
        "'managed' or 'external'",
    ),
    (
        "Glue database name with hyphen",
        {"catalog": {"bronze_database": "beer-bronze"}},
        "dev",
        "datalake:lake.catalog.bronze_database",
        "must match",
    ),
]


@pytest.mark.parametrize(
    ("config", "environment", "path", "fragment"),
    [case[1:] for case in INVALID_CONFIGS],
    ids=[case[0] for case in INVALID_CONFIGS],
)
def test_invalid_config_names_its_path_and_what_is_allowed(config, environment, path, fragment):
    error = errors_of(config, environment)
    matching = [issue for issue in error.issues if issue.path == path]
    assert matching, f"no issue at {path}; got {paths_of(error)}"
    assert fragment in matching[0].message
    assert path in str(error)


def test_bad_value_is_shown_in_the_message():
    error = errors_of({"storage": {"raw": {"retention_days": -5}}})
    assert "(got -5)" in str(error)


def test_all_problems_of_a_config_are_reported_at_once():
    error = errors_of(
        {
            "storage": {"raw": {"retention_dayz": 3}, "force_destroy": True},
            "silver": {"schedule": "every hour"},
            "ingestion": {"ecs_memory_mb": 100},
            "protection": {"enabled": False},
            "colour": "blue",
        },
        environment="prod",
    )
    assert set(paths_of(error)) == {
        "datalake:lake.storage.raw.retention_dayz",
        "datalake:lake.silver.schedule",
        "datalake:lake.ingestion.ecs_memory_mb",
        "datalake:lake.protection.enabled",
        "datalake:lake.colour",
    }


def test_cross_field_rules_report_several_problems_together():
    error = errors_of(
        {
            "storage": {"force_destroy": True, "versioning": False},
            "protection": {"enabled": False},
        },
        environment="prod",
    )
    assert len(error.issues) == 3


def test_dev_may_force_destroy_and_turn_protection_off():
    settings = load_settings(
        {"storage": {"force_destroy": True, "versioning": False}, "protection": {"enabled": False}},
        environment="dev",
    )
    assert settings.storage.force_destroy and not settings.protect_stateful


def test_settings_are_immutable():
    settings = load_settings({}, environment="dev")
    with pytest.raises(Exception, match="frozen"):
        settings.region = "eu-west-1"  # type: ignore[misc]


def test_json_schema_rejects_unknown_keys_and_documents_defaults():
    schema = settings_json_schema()
    assert schema["title"] == "datalake:lake"
    assert schema["additionalProperties"] is False
    ingestion = schema["$defs"]["IngestionSettings"]
    assert ingestion["additionalProperties"] is False
    assert ingestion["properties"]["mass_threshold_records"]["default"] == 100_000


def test_model_defaults_construct_without_input():
    assert LakeSettings().environment == "dev"
