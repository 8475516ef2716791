"""The ``datalake local`` commands: ``local run`` (the whole lake once, end to end) and ``local
up`` (a live lake), both on an embedded AWS emulator. Attach them with :func:`register`.

The local lake's modules live in ``workloads/``, which ``datalake/`` never imports at module
level (the import contract's one written exception is this module's lazy import of them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from datalake.cli_common import (
    DomainOption,
    Files,
    Rows,
    Seed,
    command_domain,
    console,
    fail,
    input_option,
)
from datalake.inputs import InputError
from datalake.streaming import LOCAL_RUN_CHANGES

local_app = typer.Typer(help="Run the whole lake on this machine, on an embedded AWS emulator.")
LOCAL_CHANGES = LOCAL_RUN_CHANGES

Port = Annotated[int, typer.Option(min=0, max=65535, help="Emulator port (0: any).")]


def register(app: typer.Typer) -> None:
    """Add the ``local`` group (``run``, ``up``) to ``app``."""
    app.add_typer(local_app, name="local")


def _local_modules() -> tuple[Any, Any, Any, Any]:
    """The local lake's modules (emulator, live, present, runner), imported when a ``local``
    command runs, not at start-up: workloads/ in the repository, datalake/workloads/ once
    installed from the wheel. The runner drives the workloads exactly as AWS does."""
    try:
        from workloads.local import emulator, live, present, runner
    except ModuleNotFoundError as error:
        if error.name not in ("workloads", "workloads.local"):
            raise
        from datalake.workloads.local import (  # type: ignore[import-not-found, no-redef]
            emulator,
            live,
            present,
            runner,
        )
    return emulator, live, present, runner


@local_app.command("run")
def local_run(
    domain_file: DomainOption = None,
    input_dir: Annotated[
        Path | None,
        input_option(
            "A folder of <table>/ folders holding raw files (.csv.gz, .jsonl.gz, .csv, "
            ".jsonl); default: what the domain's example generator writes."
        ),
    ] = None,
    rows: Rows = 100_000,
    files: Files = 4,
    seed: Seed = 7,
    engine: Annotated[
        str, typer.Option(help="Silver/gold engine: arrow (pyiceberg + DuckDB) or spark.")
    ] = "arrow",
    port: Port = 0,
    serve: Annotated[bool, typer.Option("--serve", help="Keep the emulator running.")] = False,
    changes: Annotated[
        int,
        typer.Option(
            min=0,
            help="DMS-shaped changes to stream over the domain's CDC tables after the input "
            "(through Kinesis on the emulator and the local delivery); 0: no stream.",
        ),
    ] = LOCAL_CHANGES,
    report_dir: Annotated[
        Path,
        typer.Option(
            "--report",
            file_okay=False,
            help="Folder the HTML report of the run's dashboards is written to (index.html).",
        ),
    ] = Path("lake-report"),
) -> None:
    """Run raw -> bronze -> silver -> gold end to end on an embedded emulator, with the
    domain's CDC tables streamed too, and write the report of its dashboards."""
    if engine not in ("arrow", "spark"):
        fail(f"--engine must be arrow or spark, not {engine!r}")
    domain = command_domain(domain_file)
    emulator, _, present, runner = _local_modules()
    try:
        with present.progress_bars(console) as bars:

            def summary_then_wait(lake: Any, finished: Any) -> None:
                bars.stop()
                present.print_summary(console, finished)
                _print_report(finished)
                present.serve_until_interrupted(console, lake)

            report = runner.run_local(
                domain=domain,
                input=input_dir,
                rows=rows,
                files=files,
                seed=seed,
                engine=engine,
                port=port,
                progress=present.RichStages(bars, engine),
                serve=summary_then_wait if serve else None,
                changes=changes,
                report_dir=report_dir,
            )
    except (emulator.EmulatorError, InputError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; the emulator was stopped and nothing was left running")
    if not serve:
        present.print_summary(console, report)
        _print_report(report)
    if report.errors:
        fail(f"{len(report.errors)} error(s) during the run (listed above)")


@local_app.command("up")
def local_up(
    domain_file: DomainOption = None,
    input_dir: Annotated[
        Path | None,
        input_option(
            "A folder of <table>/ folders holding raw files to upload once the lake is "
            "up (through S3, as a user would); default: none."
        ),
    ] = None,
    port: Port = 0,
    silver_every: Annotated[
        float | None,
        typer.Option(
            "--silver-every",
            min=0.5,
            help="Seconds between silver's looks for new bronze files (default 5; a stack's "
            "silver.schedule is hours).",
        ),
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            "--report",
            file_okay=False,
            help="Rewrite the HTML report of the dashboards here after each gold run; "
            "default: none.",
        ),
    ] = None,
) -> None:
    """Start a live lake on an embedded emulator, wired as in AWS: files copied to the
    landing bucket's raw/<table>/ flow to bronze, silver and gold; Ctrl-C stops it."""
    domain = command_domain(domain_file)
    emulator, live, _, runner = _local_modules()
    from datalake.inputs import input_files

    try:
        files = input_files(domain, input_dir) if input_dir is not None else None
        live.serve(
            console,
            runner.local_settings(),
            domain,
            files=files,
            port=port,
            silver_every=silver_every,
            report_dir=report_dir,
        )
    except (emulator.EmulatorError, InputError) as error:
        fail(str(error))


def _print_report(report: Any) -> None:
    if report.report_path is not None:
        console.print(Text(f"report: {report.report_path.resolve()}"), highlight=False)
