"""The ``datalake config`` commands and the generated configuration reference."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from datalake.cli import app
from datalake.config_docs import (
    DOC_PATH,
    SCHEMA_PATH,
    generated_docs,
    render_configuration_markdown,
    render_schema_json,
)
from datalake.domain import default_domain_path, load_domain
from datalake.settings import LakeSettings

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_generated_docs_are_up_to_date():
    for relative, text in generated_docs().items():
        assert (ROOT / relative).read_text() == text, (
            f"{relative} is stale: run `datalake config docs`"
        )


def test_tables_doc_lists_every_contract_column_and_the_pii_classification():
    text = (ROOT / "docs/tables.md").read_text()
    for contract in load_domain(default_domain_path()).tables.values():
        for column in contract.columns:
            assert f"| `{column.name}` |" in text
    assert "| `email` | string (Glue `string`, Iceberg `string`) |  | pii |" in text


def test_configuration_doc_lists_every_leaf_setting_with_its_default():
    text = render_configuration_markdown()
    assert "| `datalake:lake.ingestion.mass_threshold_records` | integer (≥ 1) | `100000` |" in text
    assert "`datalake:lake.storage.raw.retention_days`" in text
    assert "`datalake:lake.storage.raw.transitions[].storage_class`" in text
    for section in LakeSettings.model_fields:
        assert f"`datalake:lake.{section}" in text


def test_docs_check_fails_on_a_stale_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / DOC_PATH).write_text("# old\n")
    (tmp_path / SCHEMA_PATH).write_text(render_schema_json())
    result = runner.invoke(app, ["config", "docs", "--root", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "stale" in result.output
    result = runner.invoke(app, ["config", "docs", "--root", str(tmp_path)])
    assert result.exit_code == 0
    assert (tmp_path / DOC_PATH).read_text() == render_configuration_markdown()


def test_validate_accepts_the_example_stacks():
    for stack in ("dev", "prod"):
        result = runner.invoke(app, ["config", "validate", str(ROOT / f"Pulumi.{stack}.yaml")])
        assert result.exit_code == 0, result.output
        assert f"environment '{stack}'" in result.output


def test_validate_reports_every_problem_and_exits_non_zero(tmp_path):
    stack = tmp_path / "Pulumi.qa.yaml"
    stack.write_text(
        "config:\n"
        "  datalake:lake:\n"
        "    protection: {enabled: false}\n"
        "    storage: {raw: {retention_days: 0}}\n"
    )
    result = runner.invoke(app, ["config", "validate", str(stack)], terminal_width=200)
    assert result.exit_code == 1
    assert "datalake:lake.storage.raw.retention_days" in result.output
    assert "datalake:lake.protection.enabled" in result.output
    assert "Traceback" not in result.output


def test_names_prints_the_physical_names(tmp_path):
    result = runner.invoke(
        app, ["config", "names", str(ROOT / "Pulumi.prod.yaml")], terminal_width=200
    )
    assert result.exit_code == 0
    assert "datalake-prod-processing-control" in result.output
    assert "datalake-prod-lake-eu-west-1-123456789012" in result.output
