"""``datalake domain validate|docs`` and the input errors of ``datalake local run``.

The errors come before the emulator starts, so these run in-process and fast.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from datalake.cli import app
from datalake.contracts.docs import render_tables_markdown
from datalake.domain import load_domain

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT / "examples" / "retail" / "domain.yaml"
BEER = ROOT / "examples" / "beer" / "domain.yaml"
runner = CliRunner()


def invoke(*arguments: str):
    return runner.invoke(app, list(arguments), terminal_width=400)


def test_validate_prints_one_ok_line_with_the_counts():
    result = invoke("domain", "validate", str(RETAIL))
    assert result.exit_code == 0, result.output
    assert result.output == (f"ok {RETAIL}: domain 'retail-orders', 4 tables, 2 views, 5 marts\n")
    result = invoke("domain", "validate", str(BEER))
    assert result.exit_code == 0 and "4 tables, 1 views, 5 marts" in result.output


def test_validate_prints_every_problem_and_exits_one(tmp_path):
    bad = tmp_path / "domain.yaml"
    bad.write_text(
        RETAIL.read_text()
        .replace("column: line_total, description: Sum", "column: line_totl, description: Sum")
        .replace("grain: [state]", "grain: [region]")
    )
    result = invoke("domain", "validate", str(bad))
    assert result.exit_code == 1
    assert "marts[0].measures[0].column" in result.output and "line_totl" in result.output
    assert "marts[2].grain[0]" in result.output and "region" in result.output
    assert "Traceback" not in result.output


def test_docs_prints_or_writes_the_reference_of_the_domain(tmp_path):
    expected = render_tables_markdown(load_domain(RETAIL))
    result = invoke("domain", "docs", str(RETAIL))
    assert result.exit_code == 0 and result.output == expected
    out = tmp_path / "retail.md"
    result = invoke("domain", "docs", str(RETAIL), "--out", str(out))
    assert result.exit_code == 0 and out.read_text() == expected
    for name in ("order_line_flat", "revenue_by_category_month", "customer_state"):
        assert name in expected


def test_local_run_refuses_a_folder_naming_no_table(tmp_path):
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "c.csv.gz").write_bytes(b"")
    result = invoke("local", "run", "--domain", str(RETAIL), "--input", str(tmp_path))
    assert result.exit_code == 1
    assert (
        "folder(s) clients name no table of domain 'retail-orders' (folders: clients; tables: "
        "customers, products, orders, order_lines)" in result.output
    )


def test_local_run_refuses_other_file_types(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "orders.xlsx").write_bytes(b"")
    result = invoke("local", "run", "--domain", str(RETAIL), "--input", str(tmp_path))
    assert result.exit_code == 1
    assert "orders.xlsx: not a raw file (accepted: .csv.gz, .jsonl.gz" in result.output


def test_local_run_of_a_domain_without_generator_asks_for_an_input_folder():
    result = invoke("local", "run", "--domain", str(RETAIL))
    assert result.exit_code == 1
    assert "domain 'retail-orders' has no generator" in result.output
    assert "give an input folder (--input DIR)" in result.output


def test_local_run_reports_a_bad_domain_file(tmp_path):
    bad = tmp_path / "domain.yaml"
    bad.write_text("name: Not-A-Name\ntables: []\n")
    result = invoke("local", "run", "--domain", str(bad))
    assert result.exit_code == 1
    assert "invalid domain file" in result.output and "Traceback" not in result.output


def test_config_validate_checks_the_domain_the_stack_names(tmp_path):
    stack = tmp_path / "Pulumi.qa.yaml"
    stack.write_text(f"config:\n  datalake:lake:\n    domain: {RETAIL}\n")
    result = invoke("config", "validate", str(stack))
    assert result.exit_code == 0, result.output
    assert "domain 'retail-orders'" in result.output
    (tmp_path / "domain.yaml").write_text("name: qa\ntables: []\n")
    stack.write_text("config:\n  datalake:lake:\n    domain: domain.yaml\n")  # project-relative
    result = invoke("config", "validate", str(stack))
    assert result.exit_code == 1
    assert "datalake:lake.domain" in result.output and "tables" in result.output


ITEM_COUNT = "{name: item_count, type: long, minimum: 0, description: Units over all its lines.}"
LIST_PRICE = '{name: list_price, type: double, minimum: 0, description: "Catalogue price, USD."}'


def test_validate_against_the_previous_file_refuses_removed_and_retyped_columns(tmp_path):
    evolved = tmp_path / "added.yaml"
    evolved.write_text(
        RETAIL.read_text().replace(
            ITEM_COUNT, ITEM_COUNT + "\n      - {name: coupon, type: string}"
        )
    )
    result = invoke("domain", "validate", str(evolved), "--previous", str(RETAIL))
    assert result.exit_code == 0, result.output  # a nullable column is added in place

    refused = tmp_path / "refused.yaml"
    refused.write_text(
        RETAIL.read_text()
        .replace(f"      - {LIST_PRICE}\n", "")
        .replace("{name: order_total, type: double,", "{name: order_total, type: long,")
    )
    result = invoke("domain", "validate", str(refused), "--previous", str(RETAIL))
    assert result.exit_code == 1
    assert f"{refused} (against {RETAIL})" in result.output
    assert (
        "tables[1]: table products: column list_price (double) is in the deployed table but no "
        "longer in the domain; restore it (to drop a column, create a new table and backfill it)"
    ) in result.output
    assert (
        "tables[2]: table orders: column order_total is double in the deployed table but long in "
        "the domain; restore type double"
    ) in result.output
    assert "views[1]: table order_flat: column order_total is double" in result.output
