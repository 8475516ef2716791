"""What ``datalake status`` prints: tab-separated lines for scripts and pipes, rich tables on a
terminal. ``datalake/cli_operate.py`` reads the summary from the lake and calls
:func:`print_status`.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from datalake.operations import QuarantinedRows, SkippedRows, StatusSummary, StreamErrorCount
from datalake.stack_outputs import LakeOutputs

ERROR_TEXT_WIDTH = 160
"""A failure's error text in the terminal table is cut to this many characters."""


def print_status(
    console: Console,
    outputs: LakeOutputs,
    summary: StatusSummary,
    stream_errors: list[StreamErrorCount],
) -> None:
    """Print the status of the lake ``outputs`` names: plain lines unless ``console`` is a
    terminal, else the stream errors, control records, skipped, quarantined and failures tables."""
    if not console.is_terminal:
        _print_lines(summary, stream_errors)
        return
    print_stream_errors(console, outputs.landing_bucket, stream_errors)
    if not summary.counts:
        console.print(f"no control records in {outputs.control_table_name}")
        return
    counts = Table(title=f"control records ({outputs.control_table_name})")
    for column in ("layer", "table", "status"):
        counts.add_column(column, no_wrap=True)
    counts.add_column("records", justify="right")
    for count in summary.counts:
        counts.add_row(count.layer, escape(count.table), count.status, str(count.count))
    console.print(counts)
    print_skipped(console, summary.skipped)
    print_quarantined(console, summary.quarantined)
    _print_failures(console, summary)


def _print_lines(summary: StatusSummary, stream_errors: list[StreamErrorCount]) -> None:
    # Plain, tab-separated lines for scripts and pipes: one kind of row per first field.
    for count in summary.counts:
        typer.echo(f"{count.layer}\t{count.table}\t{count.status}\t{count.count}")
    for skipped in summary.skipped:
        typer.echo(f"skipped\t{skipped.table}\t{skipped.rows}")
    for quarantined in summary.quarantined:
        typer.echo(f"quarantined\t{quarantined.table}\t{quarantined.rule}\t{quarantined.rows}")
    for row in summary.errors:
        error = " ".join(row.error.split())
        typer.echo(
            f"error\t{row.control_id}\t{row.layer}\t{row.table}\t{row.key}\t"
            f"{row.updated_at.isoformat()}\t{error}"
        )
    for failed in stream_errors:
        records = "" if failed.records is None else failed.records
        typer.echo(
            f"stream-errors\t{failed.error_type}\t{failed.objects}\t{records}\t{failed.latest_key}"
        )


def _print_failures(console: Console, summary: StatusSummary) -> None:
    # The latest failures, newest first (nothing when none failed).
    if not summary.errors:
        return
    failures = Table(title=f"latest {len(summary.errors)} failures, newest first")
    for column in ("control id", "layer", "table", "key", "updated", "attempts"):
        failures.add_column(column, no_wrap=column != "key")
    failures.add_column("error")
    for row in summary.errors:
        error = " ".join(row.error.split())
        if len(error) > ERROR_TEXT_WIDTH:
            error = error[: ERROR_TEXT_WIDTH - 1] + "…"
        failures.add_row(
            row.control_id,
            row.layer,
            escape(row.table),
            escape(row.key),
            f"{row.updated_at:%Y-%m-%d %H:%M:%S}",
            f"{row.attempts}{'' if row.retryable else ' (no retry)'}",
            escape(error),
        )
    console.print(failures)


def print_stream_errors(console: Console, bucket: str, counts: list[StreamErrorCount]) -> None:
    """The error prefix's objects per error type (nothing when it is empty)."""
    if not counts:
        return
    table = Table(
        title=f"records the stream could not deliver (s3://{escape(bucket)}/stream-errors/)"
    )
    for column in ("error type", "objects", "records", "latest object"):
        table.add_column(column, no_wrap=column != "latest object")
    for failed in counts:
        records = "not readable" if failed.records is None else str(failed.records)
        table.add_row(
            escape(failed.error_type), str(failed.objects), records, escape(failed.latest_key)
        )
    console.print(table)


def print_skipped(console: Console, skipped: list[SkippedRows]) -> None:
    """Records bronze skipped per table (nothing when none was)."""
    if not skipped:
        return
    table = Table(title="records bronze skipped (DMS control records, DMS's own tables)")
    table.add_column("table", no_wrap=True)
    table.add_column("records", justify="right")
    for row in skipped:
        table.add_row(escape(row.table), str(row.rows))
    console.print(table)


def print_quarantined(console: Console, quarantined: list[QuarantinedRows]) -> None:
    """The rules with the most quarantined rows (nothing when no record carries any)."""
    if not quarantined:
        return
    table = Table(title="quarantined rows by table and rule (the most first)")
    table.add_column("table", no_wrap=True)
    table.add_column("rule")
    table.add_column("rows", justify="right")
    for row in quarantined:
        table.add_row(escape(row.table), escape(row.rule), str(row.rows))
    console.print(table)
