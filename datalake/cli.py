"""The ``datalake`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from datalake.config_docs import generated_docs
from datalake.settings import LakeSettings, SettingsError
from datalake.stack_file import DEFAULT_PROJECT, load_stack_file

app = typer.Typer(help="Operate the serverless data lake.", no_args_is_help=True)
config_app = typer.Typer(help="Check stack files and generate the configuration reference.")
app.add_typer(config_app, name="config")
console = Console()

StackFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A stack file, Pulumi.<stack>.yaml.")
]
Project = Annotated[str, typer.Option(help="Pulumi project name.")]


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=1)


def _load(stack_file: Path, project: str) -> LakeSettings:
    try:
        return load_stack_file(stack_file, project=project)
    except SettingsError as error:
        _fail(str(error))


@config_app.command("validate")
def validate(
    stack_file: StackFile,
    project: Project = DEFAULT_PROJECT,
) -> None:
    """Validate a stack file; print every problem with its config path."""
    settings = _load(stack_file, project)
    protection = "on" if settings.protect_stateful else "off"
    console.print(
        f"[green]ok[/green] {stack_file}: environment '{settings.environment}', "
        f"region {settings.region}, protection {protection}"
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
    table = Table(title=f"{settings.names.prefix} ({settings.region})")
    for column in ("purpose", "kind", "name"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
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
                _fail(f"{path} is stale; run `datalake config docs`")
        else:
            path.write_text(text)
            console.print(f"wrote {path}")


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
        console.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
