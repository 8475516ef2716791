"""Settings and domain validated together (``datalake.stack.load_lake``): the domain file the
settings name, and settings naming tables or columns the domain lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from datalake.domain import default_domain_path, load_domain
from datalake.settings import SettingsError, load_settings
from datalake.stack import DOMAIN_SETTING, domain_path, load_lake

ROOT = Path(__file__).resolve().parents[2]
TICKETS = "examples/consumer-project/domain.yaml"


def problems(config: dict, root: Path = ROOT) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as raised:
        load_lake(config, project="datalake", environment="dev", root=root)
    return [(issue.path, issue.message) for issue in raised.value.issues]


def test_no_domain_setting_is_the_packaged_beer_example():
    settings, domain = load_lake({}, project="datalake", environment="dev", root=ROOT)
    assert settings.domain is None
    assert domain == load_domain(default_domain_path())
    assert domain_path(None, "/anywhere") == default_domain_path()


def test_the_domain_path_is_relative_to_the_project_directory(tmp_path):
    settings, domain = load_lake({"domain": TICKETS}, environment="dev", root=ROOT)
    assert settings.domain == TICKETS
    assert domain.name == "support-tickets"
    assert list(domain.tables) == ["customer", "agent", "ticket"]
    absolute = str(ROOT / TICKETS)
    assert load_lake({"domain": absolute}, environment="dev", root=tmp_path)[1] == domain


def test_a_missing_domain_file_names_the_setting_and_where_it_looked(tmp_path):
    [(path, message)] = problems({"domain": "domain.yml"}, root=tmp_path)
    assert path == DOMAIN_SETTING == "datalake:lake.domain"
    assert f"no domain file at {tmp_path / 'domain.yml'}" in message
    assert f"relative to the project directory {tmp_path}" in message
    assert "allowed: the path of a domain YAML file, or null" in message


def test_every_problem_of_a_bad_domain_file_is_reported_under_the_setting(tmp_path):
    text = (ROOT / TICKETS).read_text()
    bad = text.replace("{name: team, type: string", "{name: team, type: str").replace(
        "{name: region, type: string", "{name: region, type: text"
    )
    (tmp_path / "domain.yaml").write_text(bad)
    found = problems({"domain": "domain.yaml"}, root=tmp_path)
    assert {path for path, _ in found} == {DOMAIN_SETTING}
    messages = "\n".join(message for _, message in found)
    assert str(tmp_path / "domain.yaml") in messages
    assert "tables[0].columns[3].type" in messages
    assert "tables[1].columns[2].type: 'str' is not allowed" in messages


def test_a_strategy_for_a_table_the_domain_lacks_lists_its_tables():
    found = problems({"domain": TICKETS, "pii": {"strategies": {"profile.email": "hash"}}})
    assert found == [
        (
            "datalake:lake.pii.strategies.profile.email",
            "the domain support-tickets has no table 'profile'; its tables: customer, agent, "
            "ticket",
        )
    ]


def test_a_strategy_for_a_column_the_table_lacks_lists_its_columns():
    found = problems({"domain": TICKETS, "pii": {"strategies": {"customer.mail": "hash"}}})
    assert found == [
        (
            "datalake:lake.pii.strategies.customer.mail",
            "table customer of the domain support-tickets has no column 'mail'; its columns: "
            "customer_id, customer_name, email, region",
        )
    ]


def test_strategies_of_the_domain_columns_and_of_pii_types_are_accepted():
    config = {
        "domain": TICKETS,
        "pii": {"strategies": {"customer.email": "partial", "EMAIL": "redact"}},
    }
    settings, _ = load_lake(config, environment="dev", root=ROOT)
    assert settings.pii.strategies == {"customer.email": "partial", "EMAIL": "redact"}
    # Without the domain, only the shape of the key is checked.
    assert load_settings({"pii": {"strategies": {"nowhere.nothing": "hash"}}}, environment="dev")


def test_settings_and_domain_problems_are_reported_together(tmp_path):
    found = problems({"domain": "missing.yaml", "pii": {"min_score": 2}}, root=tmp_path)
    assert [path for path, _ in found] == ["datalake:lake.pii.min_score", DOMAIN_SETTING]


def test_a_domain_setting_that_is_not_a_path_is_a_settings_error():
    found = problems({"domain": ""})
    assert found[0][0] == DOMAIN_SETTING
    assert "at least 1 character" in found[0][1]


def test_the_example_stacks_load_with_their_domain():
    import yaml

    for stack in ("dev", "prod"):
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        _, domain = load_lake(config["datalake:lake"], environment=stack, root=ROOT)
        assert domain.name == "beer-reviews"
