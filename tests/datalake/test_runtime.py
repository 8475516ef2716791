"""The runtime contract: each workload's environment as one model, read and written alike."""

from __future__ import annotations

import pytest

from datalake.naming import Bucket
from datalake.runtime import (
    BronzeRuntime,
    GoldRuntime,
    IngestTask,
    PiiRuntime,
    RuntimeConfigError,
    SilverRuntime,
    combined_environment,
)
from datalake.settings import load_settings

SETTINGS = load_settings(
    {
        "region": "eu-west-1",
        "ingestion": {"mass_threshold_records": 500, "max_attempts": 5, "lease_seconds": 900},
        "pii": {
            "strategies": {"profile.email": "partial", "EMAIL": "redact"},
            "comprehend_enabled": True,
            "min_fraction": 0.25,
        },
        "silver": {"target_file_size_mb": 64, "snapshot_retention_days": 3},
    },
    project="datalake",
    environment="dev",
)
NAMES = SETTINGS.names
LAKE, ARTIFACTS = NAMES.bucket(Bucket.LAKE), NAMES.bucket(Bucket.ARTIFACTS)
DOMAIN_URI = f"s3://{ARTIFACTS}/domain/0123456789abcdef.json"


def every_runtime():
    return [
        BronzeRuntime.for_lake(
            SETTINGS.ingestion,
            control_table=NAMES.control_table,
            lake_bucket=LAKE,
            domain_uri=DOMAIN_URI,
        ),
        PiiRuntime.for_lake(SETTINGS.pii, secret_id="arn:secret", lake_bucket=LAKE),
        SilverRuntime.for_lake(
            SETTINGS.silver,
            SETTINGS.ingestion,
            control_table=NAMES.control_table,
            lake_bucket=LAKE,
            artifacts_bucket=ARTIFACTS,
            domain_uri=DOMAIN_URI,
        ),
        GoldRuntime.for_lake(
            SETTINGS.ingestion,
            control_table=NAMES.control_table,
            artifacts_bucket=ARTIFACTS,
            target_file_size_mb=SETTINGS.silver.target_file_size_mb,
            domain_uri=DOMAIN_URI,
        ),
        IngestTask(control_id="abc"),
    ]


@pytest.mark.parametrize("runtime", every_runtime(), ids=lambda r: type(r).__name__)
def test_what_a_component_sets_is_what_the_workload_reads(runtime):
    environment = runtime.to_environment()
    assert all(isinstance(v, str) for v in environment.values())
    assert set(environment) == set(type(runtime).variables())
    noise = {"PATH": "/bin", "AWS_REGION": "eu-west-1"}
    assert type(runtime).from_environment({**environment, **noise}) == runtime


def test_the_constructors_carry_the_settings():
    bronze, pii, silver, gold, _ = every_runtime()
    assert (bronze.mass_threshold_records, bronze.max_attempts, bronze.lease_seconds) == (
        500,
        5,
        900,
    )
    assert pii.strategies == {"profile.email": "partial", "EMAIL": "redact"}
    assert (pii.verdict_bucket, pii.min_fraction, pii.comprehend_enabled) == (LAKE, 0.25, True)
    assert (silver.target_file_size_mb, silver.snapshot_retention_days) == (64, 3)
    assert (silver.max_attempts, gold.max_attempts, gold.target_file_size_mb) == (5, 5, 64)
    assert {bronze.domain_uri, silver.domain_uri, gold.domain_uri} == {DOMAIN_URI}
    local = PiiRuntime.for_lake(
        SETTINGS.pii, secret_id="s", lake_bucket=LAKE, comprehend_enabled=False
    )
    assert not local.comprehend_enabled and local.strategies == pii.strategies


def test_values_are_written_as_the_workloads_parse_them():
    environment = every_runtime()[1].to_environment()
    assert environment["PII_STRATEGIES"] == '{"EMAIL": "redact", "profile.email": "partial"}'
    assert environment["PII_COMPREHEND_ENABLED"] == "true"
    assert environment["PII_MIN_FRACTION"] == "0.25"
    assert environment["LAKE_BUCKET"] == LAKE


def test_the_error_names_every_missing_or_bad_variable():
    with pytest.raises(RuntimeConfigError) as raised:
        SilverRuntime.from_environment({"MAX_ATTEMPTS": "zero"})
    message = str(raised.value)
    assert message.startswith("silver workload environment: ")
    for name in ("CONTROL_TABLE", "DATALAKE_DOMAIN", "LAKE_BUCKET", "ARTIFACTS_BUCKET"):
        assert name in message
    with pytest.raises(RuntimeConfigError, match="PII_STRATEGIES"):
        PiiRuntime.from_environment(
            {"PII_SECRET_ID": "s", "LAKE_BUCKET": "b", "PII_STRATEGIES": '{"x.y": "shuffle"}'}
        )
    with pytest.raises(RuntimeConfigError, match="CONTROL_ID"):
        IngestTask.from_environment({})


def test_one_process_gets_one_value_per_variable():
    bronze, pii, *_ = every_runtime()
    merged = combined_environment(bronze, pii)
    assert BronzeRuntime.from_environment(merged) == bronze
    assert PiiRuntime.from_environment(merged) == pii
    other = pii.model_copy(update={"verdict_bucket": "another-bucket"})
    with pytest.raises(RuntimeConfigError, match="LAKE_BUCKET"):
        combined_environment(bronze, other)


def test_masking_strategies_are_the_ones_the_workers_implement():
    from typing import get_args

    from datalake.runtime import MaskingStrategy
    from workloads.pii.strategies import STRATEGIES

    assert set(get_args(MaskingStrategy)) == set(STRATEGIES)
