"""The ``datalake`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from datalake import cli_local, cli_operate
from datalake.cli_common import (
    DomainOption,
    Files,
    Rows,
    Seed,
    command_domain,
    console,
    error_line,
    fail,
    input_option,
)
from datalake.config_docs import generated_docs
from datalake.domain import Domain, DomainError, check_evolution, load_domain
from datalake.inputs import InputError
from datalake.settings import LakeSettings, SettingsError
from datalake.stack_file import DEFAULT_PROJECT, load_stack_file

app = typer.Typer(help="Operate the serverless data lake.", no_args_is_help=True)
config_app = typer.Typer(help="Check stack files and generate the configuration reference.")
app.add_typer(config_app, name="config")
cli_local.register(app)  # local run, local up (before seed: the order of --help)
seed_app = typer.Typer(help="Example data: generate an input folder, upload it.")
app.add_typer(seed_app, name="seed")
domain_app = typer.Typer(help="Check a domain file and write the reference of its tables.")
app.add_typer(domain_app, name="domain")
cli_operate.register(app, seed_app)  # seed upload, process, status, reprocess

StackFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A stack file, Pulumi.<stack>.yaml.")
]
Project = Annotated[str, typer.Option(help="Pulumi project name.")]
DomainFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A domain file (domain.yaml).")
]


def _load(stack_file: Path, project: str) -> LakeSettings:
    try:
        return load_stack_file(stack_file, project=project)
    except SettingsError as error:
        fail(str(error))


def _stack_domain(stack_file: Path, settings: LakeSettings) -> Domain:
    """The domain the stack's ``datalake:lake.domain`` names (relative to the project
    directory, the stack file's), checked against the settings that name its tables."""
    from datalake.stack import DOMAIN_SETTING, domain_issues, domain_path

    try:
        domain = load_domain(domain_path(settings.domain, stack_file.resolve().parent))
    except DomainError as error:
        fail(f"{DOMAIN_SETTING}: {error}")
    issues = domain_issues(settings, domain)
    if issues:
        fail(str(SettingsError(issues)))
    return domain


@config_app.command("validate")
def validate(
    stack_file: StackFile,
    project: Project = DEFAULT_PROJECT,
) -> None:
    """Validate a stack file and the domain file it names; print every problem with its
    config path."""
    settings = _load(stack_file, project)
    domain = _stack_domain(stack_file, settings)
    protection = "on" if settings.protect_stateful else "off"
    console.print(
        f"[green]ok[/green] {escape(str(stack_file))}: environment "
        f"'{escape(settings.environment)}', region {escape(settings.region)}, "
        f"protection {protection}, domain '{escape(domain.name)}'",
        highlight=False,
        soft_wrap=True,  # a long path stays on one line, as typed
    )


@config_app.command("names")
def names(
    stack_file: StackFile,
    project: Project = DEFAULT_PROJECT,
) -> None:
    """Print every physical name the stack would create."""
    settings = _load(stack_file, project)
    rows = settings.names.all_names()
    if not console.is_terminal:  # plain, tab-separated lines for scripts and pipes
        for row in rows:
            typer.echo("\t".join(row))
        return
    table = Table(title=Text(f"{settings.names.prefix} ({settings.region})"))
    for column in ("purpose", "kind", "name"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)


@config_app.command("docs")
def docs(
    root: Annotated[Path, typer.Option(help="Project root holding docs/.")] = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Fail if the files are stale.")] = False,
) -> None:
    """Regenerate docs/configuration.md, settings.schema.json and tables.md from the code."""
    for relative, text in generated_docs().items():
        path = root / relative
        if check:
            if not path.exists() or path.read_text() != text:
                fail(f"{path} is stale; run `datalake config docs`")
        else:
            path.write_text(text)
            console.print(Text(f"wrote {path}"), highlight=False)


@domain_app.command("validate")
def domain_validate(
    path: DomainFile,
    previous: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="The deployed version of the file (e.g. from `git show main:domain.yaml`): "
            "refuse removed or retyped columns and changed keys.",
        ),
    ] = None,
) -> None:
    """Validate a domain file; print every problem with its path in the file."""
    domain = command_domain(path)
    if previous is not None:
        refused = check_evolution(command_domain(previous), domain)
        if refused:
            fail(str(DomainError(refused, f"{path} (against {previous})")))
    console.print(
        Text.assemble(
            ("ok", "green"),
            f" {path}: domain {domain.name!r}, {len(domain.tables)} tables, "
            f"{len(domain.views)} views, {len(domain.marts)} marts",
        ),
        highlight=False,
        soft_wrap=True,
    )


@domain_app.command("docs")
def domain_docs(
    path: DomainFile,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write here; default: print it.")
    ] = None,
) -> None:
    """Write the markdown reference of a domain's tables, views and marts."""
    from datalake.contracts.docs import render_tables_markdown

    text = render_tables_markdown(command_domain(path))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console.print(Text(f"wrote {out}"), highlight=False)


@seed_app.command("generate")
def seed_generate(
    domain_file: DomainOption = None,
    rows: Rows = 100_000,
    files: Files = 4,
    seed: Seed = 7,
    out: Annotated[Path, typer.Option(file_okay=False, help="Output folder.")] = Path("seed"),
) -> None:
    """Write the domain's example input folder (what `datalake local run` lands)."""
    from datalake.inputs import generate_input, input_files

    domain = command_domain(domain_file)
    try:
        generated = generate_input(domain, out, rows=rows, files=files, seed=seed)
        written = input_files(domain, out)
    except InputError as error:
        fail(str(error))
    console.print(
        Text(f"wrote {generated.summary} to {out} ({len(written)} files)"),
        highlight=False,
        soft_wrap=True,
    )


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


@seed_app.command("changes")
def seed_changes(
    table: Annotated[str, typer.Option(help="A CDC table of the domain.")],
    count: Annotated[int, typer.Option(min=0, help="Changes to generate.")] = 1_000,
    seed: Annotated[int, typer.Option(help="Same seed and start, same changes.")] = 7,
    start: Annotated[
        str | None,
        typer.Option(
            help="Commit time of the first change (ISO 8601; default: now). Batch rows "
            "change at their file's arrival: start after it, or the changes are late."
        ),
    ] = None,
    domain_file: DomainOption = None,
    input_dir: Annotated[
        Path | None,
        input_option(
            "An input folder whose files of the table give the live rows the changes "
            "update and delete; default: none (the changes insert their own keys first)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write here (.gz: gzipped); default: standard output."),
    ] = None,
) -> None:
    """Write DMS-shaped change events of a CDC table (JSON lines): what DMS puts on the
    stream (inserts, updates with a before-image, deletes, in transactions)."""
    from datetime import UTC, datetime

    from datalake.changes import (
        ChangeError,
        cdc_contract,
        generate_changes,
        operation_counts,
        to_line,
    )
    from datalake.inputs import gzip_bytes, input_files

    domain = command_domain(domain_file)
    try:
        contract = cdc_contract(domain, table)
        begin = datetime.fromisoformat(start) if start else datetime.now(UTC)
        rows: Any = ()
        if input_dir is not None:
            from datalake.live_rows import existing_rows

            files = [f for f in input_files(domain, input_dir) if f.table == table]
            rows = existing_rows(contract, files)
        records = generate_changes(contract, rows, count=count, seed=seed, start=begin)
    except (ChangeError, InputError) as error:
        fail(str(error))
    except ValueError as error:  # a --start that is no ISO 8601 time
        fail(f"--start: {error}")
    if out is None and _stdout_is_terminal() and contract.pii_columns:
        fail(
            f"table {table} has PII columns ({', '.join(contract.pii_columns)}): the changes "
            "carry them in clear, so they are not printed; write them with --out FILE or "
            "redirect standard output to a file"
        )
    text = "".join(to_line(r) + "\n" for r in records)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_bytes(gzip_bytes(text.encode()) if out.name.endswith(".gz") else text.encode())
    counts = operation_counts(records)
    shown = ", ".join(f"{op}s {counts[op]:,}" for op in ("insert", "update", "delete"))
    Console(stderr=True).print(
        Text(f"{len(records)} changes of table {table} ({shown}) to {out or 'standard output'}"),
        highlight=False,
        soft_wrap=True,
    )


def main() -> None:
    """Console-script entry point; ``--debug`` shows tracebacks."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except Exception as error:
        if debug:
            raise
        console.print(error_line(error), highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
