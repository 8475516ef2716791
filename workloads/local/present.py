"""How the local run shows itself: live progress bars, then the summary tables."""

from __future__ import annotations

import signal
import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from datalake.naming import Bucket, Layer

from .emulator import after_stop
from .resources import LocalLake
from .runner import LocalRunReport
from .stream import StreamReport
from .summary import TOP_ROWS


class RichStages:
    """A progress bar per stage (the runner's StageProgress)."""

    def __init__(self, progress: Progress, engine: str):
        self.progress = progress
        self.engine = engine
        self.tasks: dict[str, Any] = {}

    def begin(self, summary: str) -> None:
        self.progress.console.print(
            Text(f"local run: {summary}, engine {self.engine}"), highlight=False
        )

    def start(self, stage: str, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, stage: str, amount: int = 1) -> None:
        self.progress.advance(self.tasks[stage], amount)


def progress_bars(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def print_summary(console: Console, report: LocalRunReport) -> None:
    """Rows per table per layer, quarantine, duplicates, PII, time per stage, top gold rows."""
    bronze = Table(title="Bronze (per table)")
    for column in ("table", "files", "rows in", "written", "quarantined", "skipped", "PII masked"):
        bronze.add_column(
            column, justify="right" if column not in ("table", "PII masked") else "left"
        )
    for table, counts in report.bronze.items():
        bronze.add_row(
            Text(table),
            str(counts.get("files", 0)),
            f"{counts.get('rows_in', 0):,}",
            f"{counts.get('rows_written', 0):,}",
            f"{counts.get('rows_quarantined', 0):,}",
            f"{counts.get('rows_skipped', 0):,}",
            Text(", ".join(report.masked_columns.get(table, [])) or "-"),
        )
    console.print(bronze)
    if report.stream is not None:
        print_stream(console, report.stream)
    layers = Table(title="Silver and gold (rows)")
    layers.add_column("table")
    layers.add_column("rows", justify="right")
    for name, rows in {**report.silver, **report.gold}.items():
        layers.add_row(Text(name), f"{rows:,}")
    console.print(layers)
    console.print(
        Text(
            f"duplicates skipped: {len(report.duplicates)} {report.duplicates or ''}\n"
            f"quarantine files: {len(report.quarantine_keys)} {report.quarantine_keys or ''}\n"
            f"compute targets: {dict(report.compute_targets)}\n"
            f"errors: {len(report.errors)}"
        )
    )
    for where, error in report.errors:  # file names and reasons, printed verbatim
        console.print(Text.assemble("  ", (str(where), "red"), ": ", str(error)))
    timings = Table(title="Time per stage")
    timings.add_column("stage")
    timings.add_column("seconds", justify="right")
    for stage, seconds in report.timings.items():
        timings.add_row(stage, f"{seconds:.1f}")
    timings.add_row("total", f"{sum(report.timings.values()):.1f}")
    console.print(timings)
    for mart, top_rows in report.top_rows.items():
        rows = top_rows.rows
        top = Table(title=Text(f"{mart} — top {TOP_ROWS}, {top_rows.label}"))
        for name in rows.column_names:
            top.add_column(name)
        for row in rows.to_pylist():
            top.add_row(*(Text(_cell(row[name])) for name in rows.column_names))
        console.print(top)


def print_stream(console: Console, stream: StreamReport) -> None:
    """The streamed changes per table, where every record went, and the reconciliation."""
    table = Table(title="Streamed changes (per table)")
    for column in ("table", "changes", "inserts", "updates", "deletes"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, operations in stream.operations.items():
        table.add_row(
            Text(name),
            f"{sum(operations.values()):,}",
            *(f"{operations.get(op, 0):,}" for op in ("insert", "update", "delete")),
        )
    console.print(table)
    flushes = " then ".join(str(n) for n in stream.flushes)
    errors = [o.key for o in stream.error_objects]
    removed = "n/a" if stream.duplicates_removed is None else f"{stream.duplicates_removed:,}"
    console.print(
        Text(
            f"events sent: {stream.sent:,} ({stream.changes:,} changes, {stream.redelivered:,} "
            f"redelivered, {stream.control} control record, {stream.malformed} malformed) "
            f"to {stream.stream}\n"
            f"objects delivered: {len(stream.objects)} ({flushes}), "
            f"{stream.delivered:,} records\n"
            f"records to the error prefix: {stream.errors:,} in {len(errors)} object(s) "
            f"{errors or ''}\n"
            f"control records skipped: {stream.bronze['rows_skipped']:,}\n"
            f"duplicates removed: {removed} (redelivered: {stream.redelivered:,})"
        )
    )
    for text, holds in stream.reconciliation():
        console.print(Text.assemble("reconciled: " if holds else "NOT reconciled: ", text))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


STOPPED = "the lake's dispatcher and emulator stopped"
"""Printed once both have stopped (``datalake local run --serve``)."""


def serve_until_interrupted(
    console: Console, lake: LocalLake, *, stopped: str | None = STOPPED
) -> None:
    """Print how to reach the live lake, wait for Ctrl-C, and return: the caller stops it.

    ``stopped`` is printed once the emulator serving ``lake`` has stopped, the dispatcher
    before it (``emulator.after_stop``), not when Ctrl-C is pressed; None: the caller says.
    """
    console.print(
        f"\n[bold]The lake's endpoint: {escape(lake.endpoint)}[/bold]. Explore it with the AWS "
        "CLI, pyiceberg or DuckDB:\n"
        f"  export AWS_ENDPOINT_URL={escape(lake.endpoint)}\n"
        "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        f"AWS_DEFAULT_REGION={escape(lake.settings.region)}\n"
        f"  aws s3 ls s3://{escape(lake.buckets[Bucket.LAKE])}/ --recursive | head\n"
        f"  aws dynamodb scan --table-name {escape(lake.settings.names.control_table)} "
        "--max-items 3\n"
        f"  aws glue get-tables --database-name {escape(lake.database(Layer.GOLD))}\n"
        "Press Ctrl-C to stop."
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    console.print("stopping: the stage in progress finishes first")
    if stopped is not None:
        after_stop(lake.endpoint, lambda: console.print(Text(stopped), highlight=False))
