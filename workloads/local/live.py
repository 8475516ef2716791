"""``datalake local up``: a live lake on the emulator, wired by the same events as in AWS.

    start the emulator ─▶ create the lake (settings, names, domain) ─▶ wire its events
    (``resources.wire_events``) ─▶ start the dispatcher (``dispatcher.py``) ─▶ preload the
    input folder through S3, as a user would ─▶ print the endpoint and the AWS_* variables,
    then one line per event ─▶ Ctrl-C: stop the dispatcher (after the stage in progress),
    then the emulator

:func:`live_lake` is the part both modes can share: the one-shot run would be "enter,
land, ``wait_idle``, summarise, leave".
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from datalake.domain import Domain
from datalake.inputs import InputFile
from datalake.naming import Bucket
from datalake.settings import LakeSettings

from .dispatcher import POLL_SECONDS, SILVER_EVERY_SECONDS, STOP_SECONDS, Dispatcher, Say
from .emulator import running_emulator
from .invoke import Handlers, scoped_environment
from .resources import LocalLake, create_local_lake, create_state_machines, wire_events


@contextmanager
def live_lake(
    settings: LakeSettings,
    domain: Domain,
    *,
    port: int = 0,
    say: Say = print,
    silver_every: float = SILVER_EVERY_SECONDS,
    poll: float = POLL_SECONDS,
    handlers: Handlers | None = None,
    state_machines: bool = False,
) -> Iterator[tuple[LocalLake, Dispatcher]]:
    """A running emulator with the lake created, wired and dispatched; stopped on exit.

    The handlers' environment (``lake.environment()``) is set in ``os.environ`` meanwhile;
    ``handlers``: the bronze entry points (default: the deployed ones); ``state_machines``:
    create the silver and gold state machines, whose executions the dispatcher runs
    (``datalake process --endpoint-url``).
    """
    with running_emulator(settings.region, port) as endpoint:
        lake = create_local_lake(settings, endpoint, domain)
        events = wire_events(lake)
        if state_machines:
            create_state_machines(lake, events)
        with scoped_environment(lake.environment()):
            dispatcher = Dispatcher(
                lake, events, say=say, silver_every=silver_every, poll=poll, handlers=handlers
            )
            dispatcher.start()
            try:
                yield lake, dispatcher
            finally:
                if not dispatcher.stop(STOP_SECONDS):
                    say(f"a stage was still running after {STOP_SECONDS:g} s; stopping anyway")


def land(lake: LocalLake, files: Iterable[InputFile]) -> int:
    """Upload raw files to the landing bucket (S3 notifies the dispatcher); the count."""
    count = 0
    for file in files:
        lake.s3.put_object(Bucket=lake.buckets[Bucket.LANDING], Key=file.key, Body=file.body())
        count += 1
    return count


def write_live_report(directory: Path, lake: LocalLake, dispatcher: Dispatcher) -> Path:
    """The dashboards' HTML report of the lake as it is now (the one-shot run's report)."""
    from .report import write_report  # plotly: only when asked
    from .runner import LocalRunReport
    from .summary import IcebergTables, summarise

    report = LocalRunReport(
        endpoint=lake.endpoint,
        timings=dict(dispatcher.timings),
        compute_targets=Counter(dispatcher.compute_targets),
        input_summary="live lake",
    )
    report.tables = IcebergTables(lake)
    summarise(lake, report, report.tables)
    return write_report(directory, lake, report)


def console_lines(console: Console) -> Say:
    """Live lines with the time of day, printed verbatim (never read as markup)."""

    def say(line: str) -> None:
        console.print(Text(f"{time.strftime('%H:%M:%S')} {line}"), highlight=False, soft_wrap=True)

    return say


def serve(
    console: Console,
    settings: LakeSettings,
    domain: Domain,
    *,
    files: list[InputFile] | None = None,
    port: int = 0,
    silver_every: float | None = None,
    report_dir: Path | None = None,
) -> None:
    """``datalake local up``: run the live lake until Ctrl-C."""
    from .present import serve_until_interrupted

    say = console_lines(console)
    every = SILVER_EVERY_SECONDS if silver_every is None else silver_every
    try:
        with live_lake(
            settings, domain, port=port, say=say, silver_every=every, state_machines=True
        ) as live:
            lake, dispatcher = live
            if report_dir is not None:
                dispatcher.on_gold = lambda _: _report(report_dir, lake, dispatcher, say)
            _banner(console, lake, every)
            if files:
                say(f"preloading {land(lake, files)} file(s) through S3")
            serve_until_interrupted(console, lake, stopped=None)  # said below, once stopped
    except KeyboardInterrupt:  # before the wait began (creating the lake, preloading)
        say("interrupted; stopping")
    say("the lake and its emulator are stopped")


def _report(directory: Path, lake: LocalLake, dispatcher: Dispatcher, say: Say) -> Any:
    try:
        path = write_live_report(directory, lake, dispatcher)
    except Exception as error:  # noqa: BLE001 a report is a view: the lake goes on
        say(f"error writing the report: {type(error).__name__}: {error}")
        return None
    say(f"report: {path.resolve()}")
    return path


def _banner(console: Console, lake: LocalLake, every: float) -> None:
    landing = lake.buckets[Bucket.LANDING]
    tables = ", ".join(lake.domain.tables)
    first = next(iter(lake.domain.tables))
    console.print(
        Text(
            f"The lake is live: domain {lake.domain.name} ({tables}).\n"
            f"Copy raw files to s3://{landing}/raw/<table>/ (.csv.gz, .jsonl.gz, .json.gz), "
            f"e.g.\n  aws s3 cp {first}.csv.gz s3://{landing}/raw/{first}/\n"
            f"Silver looks for new bronze files every {every:g} s; gold runs after each "
            "silver run that merged something. One line per event follows."
        ),
        highlight=False,
        soft_wrap=True,
    )
