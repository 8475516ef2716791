"""Messages with user values, patterns, file names or reasons print verbatim (no rich markup)."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from datalake.cli import app
from workloads.local.present import print_summary
from workloads.local.runner import LocalRunReport

runner = CliRunner()
BRACKETED = ["[red]", "[bold]x[/bold]", "[a-z]", "[/]", "[link=http://x]y[/link]", "\\[z]"]


def test_a_settings_pattern_prints_verbatim(tmp_path):
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text("config:\n  datalake:lake:\n    region: nowhere\n")
    result = runner.invoke(app, ["config", "validate", str(stack)], terminal_width=300)
    assert result.exit_code == 1
    assert r"must match ^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$" in result.output


def test_a_stack_file_name_with_brackets_prints_verbatim(tmp_path):
    folder = tmp_path / "[bold]stacks[red]"
    folder.mkdir()
    stack = folder / "Pulumi.dev.yaml"
    stack.write_text("config:\n  datalake:lake:\n    region: eu-west-1\n")
    result = runner.invoke(app, ["config", "validate", str(stack)], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "[bold]stacks[red]" in result.output


def test_run_errors_print_verbatim():
    report = LocalRunReport()
    for i, text in enumerate(BRACKETED):
        report.errors.append((f"raw/beer/{text}.csv.gz", f"line {i}: reason with {text} inside"))
    out = io.StringIO()
    print_summary(Console(file=out, width=300, color_system=None), report)
    for i, text in enumerate(BRACKETED):
        assert f"raw/beer/{text}.csv.gz: line {i}: reason with {text} inside" in out.getvalue()
