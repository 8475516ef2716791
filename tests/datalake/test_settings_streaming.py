"""The ``streaming`` settings: every problem named by its path before any resource exists, and
the defaults a data engineer gets when they only switch it on."""

from __future__ import annotations

from pathlib import Path

import pytest

from datalake.settings import SettingsError
from datalake.stack import load_lake

ROOT = Path(__file__).resolve().parents[2]
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-dms-AbCdEf"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]


def source(**overrides: object) -> dict:
    return {"engine": "postgres", "database_name": "orders", "secret_arn": SECRET, **overrides}


def problems(config: dict) -> dict[str, str]:
    with pytest.raises(SettingsError) as raised:
        load_lake(config, project="datalake", environment="dev", root=ROOT)
    return {issue.path: issue.message for issue in raised.value.issues}


def test_switched_on_alone_it_streams_on_demand_with_no_dms():
    settings, _ = load_lake(
        {"streaming": {"enabled": True}}, project="datalake", environment="dev", root=ROOT
    )
    streaming = settings.streaming
    assert (streaming.stream.mode, streaming.stream.retention_hours) == ("on-demand", 24)
    assert streaming.delivery.buffer_size_mb >= 64  # what dynamic partitioning accepts
    assert streaming.source is None


def test_a_source_without_subnets_or_the_stream_names_both_paths():
    found = problems({"streaming": {"source": source()}})
    assert "a source needs the stream" in found["datalake:lake.streaming.enabled"]
    assert "reach the database" in found["datalake:lake.streaming.source.subnet_ids"]


def test_dms_capacity_units_name_the_values_dms_accepts():
    found = problems(
        {
            "streaming": {
                "enabled": True,
                "source": source(subnet_ids=SUBNETS, min_capacity_units=8, max_capacity_units=3),
            }
        }
    )
    assert found["datalake:lake.streaming.source.max_capacity_units"].startswith(
        "allowed: 1, 2, 4, 8, 16"
    )
    assert "must not exceed" in found["datalake:lake.streaming.source.min_capacity_units"]


def test_one_subnet_from_the_network_section_is_reported_there():
    found = problems(
        {"network": {"subnet_ids": SUBNETS[:1]}, "streaming": {"enabled": True, "source": source()}}
    )
    assert "two availability zones" in found["datalake:lake.network.subnet_ids"]


def test_a_credential_in_config_is_refused_the_secret_holds_it():
    found = problems(
        {"streaming": {"enabled": True, "source": source(subnet_ids=SUBNETS, password="x")}}
    )
    assert any(path.endswith("streaming.source.password") for path in found)


def test_a_domain_without_cdc_tables_cannot_stream(tmp_path):
    # Retail's one CDC table (orders) turned off too.
    text = (ROOT / "examples/retail/domain.yaml").read_text()
    marker = "    primary_key: [order_id]\n"
    assert marker in text
    text = text.replace(marker, marker + "    raw_formats: [csv]\n    cdc: false\n")
    (tmp_path / "domain.yaml").write_text(text)
    with pytest.raises(SettingsError) as raised:
        load_lake(
            {"domain": "domain.yaml", "streaming": {"enabled": True}},
            project="datalake",
            environment="dev",
            root=tmp_path,
        )
    found = {issue.path: issue.message for issue in raised.value.issues}
    assert list(found) == ["datalake:lake.streaming.enabled"], found
    assert "has no CDC table (cdc: true) to stream" in found["datalake:lake.streaming.enabled"]


def test_a_renamed_table_must_be_a_cdc_table_of_the_domain():
    config = {
        "streaming": {
            "enabled": True,
            "source": source(subnet_ids=SUBNETS, table_names={"reviews": "beer_reviews"}),
        }
    }
    found = problems(config)
    message = found["datalake:lake.streaming.source.table_names.reviews"]
    assert "brewery, beer, profile, review" in message


@pytest.mark.parametrize(
    ("engine", "schema"),
    [("postgres", "public"), ("aurora-postgresql", "public"), ("mysql", "orders")],
)
def test_the_source_schema_defaults_to_what_the_engine_calls_it(engine, schema):
    settings, _ = load_lake(
        {"streaming": {"enabled": True, "source": source(engine=engine, subnet_ids=SUBNETS)}},
        project="datalake",
        environment="dev",
        root=ROOT,
    )
    assert settings.streaming.source is not None
    assert settings.streaming.source.source_schema == schema


def test_the_configuration_reference_lists_the_keys_of_the_optional_source():
    from datalake.config_docs import render_configuration_markdown

    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[3].strip()
        for line in render_configuration_markdown().splitlines()
        if line.startswith("| `datalake:lake.streaming.source")
    }
    assert rows["datalake:lake.streaming.source"] == "`null`"
    assert rows["datalake:lake.streaming.source.engine"] == "required"
    assert rows["datalake:lake.streaming.source.secret_arn"] == "required"
    assert rows["datalake:lake.streaming.source.subnet_ids"] == "`[]`"
    assert rows["datalake:lake.streaming.source.max_capacity_units"] == "`4`"
