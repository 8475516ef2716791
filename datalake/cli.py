"""The ``datalake`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from datalake import cli_operate
from datalake.config_docs import generated_docs
from datalake.settings import LakeSettings, SettingsError
from datalake.stack_file import DEFAULT_PROJECT, load_stack_file

app = typer.Typer(help="Operate the serverless data lake.", no_args_is_help=True)
config_app = typer.Typer(help="Check stack files and generate the configuration reference.")
app.add_typer(config_app, name="config")
local_app = typer.Typer(help="Run the whole lake on this machine, on an embedded AWS emulator.")
app.add_typer(local_app, name="local")
seed_app = typer.Typer(help="Sample data: generate reviews, upload seed files.")
app.add_typer(seed_app, name="seed")
console = Console()
cli_operate.register(app, seed_app)  # seed upload, process, status, reprocess

StackFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A stack file, Pulumi.<stack>.yaml.")
]
Project = Annotated[str, typer.Option(help="Pulumi project name.")]


def _error_line(message: object) -> Text:
    """``error: <message>``, the message verbatim (never read as rich markup)."""
    return Text.assemble(("error:", "red"), " ", str(message))


def _fail(message: str) -> NoReturn:
    console.print(_error_line(message), highlight=False, soft_wrap=True)
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
        f"[green]ok[/green] {escape(str(stack_file))}: environment "
        f"'{escape(settings.environment)}', region {escape(settings.region)}, "
        f"protection {protection}",
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
                _fail(f"{path} is stale; run `datalake config docs`")
        else:
            path.write_text(text)
            console.print(Text(f"wrote {path}"), highlight=False)


@local_app.command("run")
def local_run(
    reviews: Annotated[int, typer.Option(min=1, help="Generated reviews.")] = 100_000,
    files: Annotated[int, typer.Option(min=1, max=100, help="Review files to split into.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the review generator.")] = 7,
    engine: Annotated[
        str, typer.Option(help="Silver/gold engine: arrow (pyiceberg + DuckDB) or spark.")
    ] = "arrow",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Emulator port (0: any).")] = 0,
    serve: Annotated[bool, typer.Option("--serve", help="Keep the emulator running.")] = False,
) -> None:
    """Run raw -> bronze -> silver -> gold end to end on an embedded emulator."""
    if engine not in ("arrow", "spark"):
        _fail(f"--engine must be arrow or spark, not {engine!r}")
    # The runner drives the workloads exactly as AWS does; imported here, not at start-up.
    from workloads.local.emulator import EmulatorError
    from workloads.local.present import (
        RichStages,
        print_summary,
        progress_bars,
        serve_until_interrupted,
    )
    from workloads.local.runner import LocalLake, LocalRunReport, run_local

    console.print(f"local run: {reviews:,} reviews in {files} files, engine {engine}")
    try:
        with progress_bars(console) as bars:

            def summary_then_wait(lake: LocalLake, finished: LocalRunReport) -> None:
                bars.stop()
                print_summary(console, finished)
                serve_until_interrupted(console, lake)

            report = run_local(
                reviews=reviews,
                files=files,
                seed=seed,
                engine=engine,
                port=port,
                progress=RichStages(bars),
                serve=summary_then_wait if serve else None,
            )
    except EmulatorError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted; the emulator was stopped and nothing was left running")
    if not serve:
        print_summary(console, report)
    if report.errors:
        _fail(f"{len(report.errors)} error(s) during the run (listed above)")


@seed_app.command("generate")
def seed_generate(
    reviews: Annotated[int, typer.Option(min=1, help="Reviews to generate.")] = 100_000,
    out: Annotated[Path, typer.Option(file_okay=False, help="Output folder.")] = Path("seed"),
    seed: Annotated[int, typer.Option(help="Seed (same seed, same file).")] = 7,
) -> None:
    """Write generated reviews as a gzip CSV (the batch raw shape)."""
    from datalake.reviews import write_reviews_csv

    out.mkdir(parents=True, exist_ok=True)
    path = write_reviews_csv(out / "reviews.csv.gz", reviews, seed=seed)
    console.print(Text(f"wrote {reviews:,} reviews to {path}"), highlight=False)


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
        console.print(_error_line(error), highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
