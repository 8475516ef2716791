"""``datalake local run``: the live lake of ``datalake local up``, started, fed, drained, stopped.

The one-shot run goes through the same event path as the live lake (``live.py``,
``dispatcher.py``), so it tests the live wiring too:

input folder (the user's, or what the domain's example generator writes)
start the live lake (emulator, the lake, its notifications, queues, stream and gold rule)
land raw files through S3 ──notification──▶ raw-objects queue ──▶ controller_handler
  ──▶ control record (count, SHA-256, target) ──control table stream──▶ ingest_handler (lite)
    or the container's entry point (mass), on the state machine's threshold: validate, mask
    PII, Parquet, quarantine
stream: DMS-shaped changes of the CDC tables ──Kinesis (emulator)──▶ local delivery loop
  ──▶ raw/<table>/cdc/... objects: notified like any landed file, the same path as above
wait until bronze is idle, then one silver run on demand (the schedule never fires here):
  claim, merge into Iceberg (Glue on the emulator), the domain's views, gold records
  ──SilverPipelineSucceeded on the lake bus──▶ rule ──▶ gold-starts queue ──▶ GoldRun
wait until idle, summarise, stop the dispatcher, then the emulator

With ``--engine spark`` bronze goes the same way; the dispatcher is then stopped and silver
and gold are SparkLake's direct calls (the dispatcher runs the arrow engine's SilverRun and
GoldRun only), so with ``--serve`` that lake no longer reacts to new files.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from datalake.domain import Domain, load_domain
from datalake.inputs import GeneratedInput
from datalake.local_outputs import LOCAL_REGION
from datalake.local_outputs import local_settings as settings_of_the_local_lake
from datalake.naming import Bucket
from datalake.settings import LakeSettings
from datalake.stack import domain_path

from ..silver.pipeline import SilverReport
from . import dispatcher as events
from .dispatcher import Dispatcher
from .invoke import Handlers
from .live import live_lake
from .resources import LocalLake
from .seed import SeedPlan, generated_plan, seed_plan
from .stream import StreamReport, stream_changes
from .summary import IcebergTables, MartTop, Tables, summarise

STAGES = ("land + control", "bronze", "stream", "silver", "gold")
"""The stages, in order ("stream" only when changes are streamed)."""
LAND, BRONZE, STREAM, SILVER, GOLD = STAGES
assert (LAND, BRONZE, SILVER, GOLD) == (events.LAND, events.BRONZE, events.SILVER, events.GOLD)
IDLE_SECONDS = 600.0
"""The longest each wait for the lake to become idle may take before the run fails (naming
what is still pending): bronze after landing and streaming, then silver and gold."""
POLL_SECONDS = 0.1
"""The dispatcher's wait after a pass that found nothing (the live lake's is longer)."""
# Replacing a month that has no rows yet deletes nothing: expected on a first run.
warnings.filterwarnings("ignore", message="Delete operation did not match any records")


class StageProgress(Protocol):
    """What the runner reports as it goes (the CLI draws progress bars from it)."""

    def begin(self, summary: str) -> None:
        """The input is ready: ``summary`` says what it holds (before the first stage)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, amount: int = 1) -> None: ...


class _Silent:
    def begin(self, summary: str) -> None:
        pass

    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, amount: int = 1) -> None:
        pass


@dataclass
class LocalRunReport:
    """Everything the summary shows."""

    endpoint: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    bronze: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    quarantine_keys: list[str] = field(default_factory=list)
    masked_columns: dict[str, list[str]] = field(default_factory=dict)
    compute_targets: Counter = field(default_factory=Counter)
    silver: dict[str, int] = field(default_factory=dict)
    """Rows of every table and view of the domain."""
    gold: dict[str, int] = field(default_factory=dict)
    """Rows of every mart."""
    top_rows: dict[str, MartTop] = field(default_factory=dict)
    """Per mart: its top rows (by its rank_by) in the busiest period of its view."""
    input_summary: str = ""
    generated: GeneratedInput | None = None
    """What the example generator wrote (None for a user's input folder)."""
    tables: Tables | None = field(default=None, repr=False)
    """Reads the run's silver and gold tables, whichever the engine (until the run returns)."""
    stream: StreamReport | None = None
    """The streamed changes and where each record went (None: nothing streamed)."""
    report_path: Path | None = None
    """The HTML report written (``report.py``; None: none asked for)."""


def local_settings(
    region: str = LOCAL_REGION, overrides: Mapping[str, Any] | None = None
) -> LakeSettings:
    """The settings of the ``local`` environment (``datalake/local_outputs.py``: the names
    the operating commands find the local lake by)."""
    return settings_of_the_local_lake(region, overrides)


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    """The notification S3 sends for a new object (what the controller Lambda receives)."""
    from urllib.parse import quote_plus

    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": now,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size},
                },
            }
        ]
    }


def run_local(
    *,
    domain: Domain | None = None,
    input: Path | None = None,
    rows: int = 100_000,
    files: int = 4,
    seed: int = 7,
    engine: str = "arrow",
    port: int = 0,
    progress: StageProgress | None = None,
    serve: Callable[[LocalLake, LocalRunReport], None] | None = None,
    settings: LakeSettings | None = None,
    changes: int = 0,
    report_dir: Path | None = None,
    idle_timeout: float = IDLE_SECONDS,
) -> LocalRunReport:
    """Run the lake end to end on a fresh live lake; ``serve`` is called before it stops.

    ``domain`` defaults to the settings' (``lake.domain``, relative to the working directory;
    unset: the example shipped with the library); ``input`` is an input folder
    of it (see ``datalake/inputs.py``); without one the domain's example generator writes
    ``rows`` rows in ``files`` files from ``seed``. ``settings`` default to
    :func:`local_settings`; the handlers get the environment the components would give them
    for those settings. ``changes`` > 0 streams that many generated changes over the
    domain's CDC tables after the input is landed (``stream.py``); 0 here, so callers that
    check exact counts get the input's, while ``datalake local run`` streams
    ``stream.DEFAULT_CHANGES`` unless told ``--changes 0``. ``report_dir``: write the HTML
    report of the run's dashboards there (``report.py``; its path in ``report_path``).
    Each wait for the lake to become idle is bounded by ``idle_timeout`` seconds
    (:class:`~workloads.local.dispatcher.NotIdleError`, naming what is pending).
    """
    if engine not in ("arrow", "spark"):
        raise ValueError(f"unknown engine {engine!r}; allowed: arrow, spark")
    progress = progress or _Silent()
    started = time.perf_counter()
    settings = settings or local_settings()
    domain = domain or load_domain(domain_path(settings.domain, Path.cwd()))
    report = LocalRunReport()
    with tempfile.TemporaryDirectory(prefix="datalake-input-") as workdir:
        if input is not None:
            plan = seed_plan(domain, input)
        else:
            plan = generated_plan(domain, Path(workdir), rows=rows, files=files, seed=seed)
        report.input_summary, report.generated = plan.summary, plan.generated
        progress.begin(f"{plan.summary} ({domain.name})")
        counted = _CountedHandlers(progress, plan)
        lines = _Lines()
        # Silver only on demand (math.inf: the schedule never fires): one run, one commit each.
        options: dict[str, Any] = {"say": lines, "poll": POLL_SECONDS, "silver_every": math.inf}
        with live_lake(settings, domain, port=port, handlers=counted.handlers, **options) as (
            lake,
            dispatcher,
        ):
            report.endpoint = lake.endpoint
            _timed(report, "seed + emulator", started)
            spark = None
            try:
                _land(lake, plan, report, progress)
                if changes > 0:
                    _stream(lake, plan, report, progress, changes, seed)
                lines.wait(dispatcher, idle_timeout, silver=False, what="bronze")
                counted.finish()
                _dispatched(report, dispatcher, LAND, BRONZE)
                report.compute_targets.update(dispatcher.compute_targets)
                if engine == "spark":
                    from .spark import SparkLake  # starts a JVM: only when asked

                    # Bronze is done and Spark's silver and gold are direct calls: the
                    # dispatcher has nothing left to do (and the JVM's launch fails while its
                    # threads poll the emulator; it starts once they have stopped).
                    dispatcher.stop()
                    spark = SparkLake(lake)
                    _spark_silver(report, progress, spark)
                    _spark_gold(report, progress, spark)
                else:
                    _layers(report, progress, dispatcher, lines, idle_timeout)
                _failures(report, dispatcher, gold=True)  # where the direct call put them
                report.tables = spark or IcebergTables(lake)
                summarise(lake, report, report.tables)
                _failures(report, dispatcher, gold=False)  # beside the records' own: once
                if report_dir is not None:
                    from .report import write_report  # plotly: only when asked

                    report.report_path = write_report(report_dir, lake, report)
                if serve is not None:  # before the dispatcher, Spark and the emulator stop
                    serve(lake, report)
            finally:
                if spark is not None:
                    spark.stop()
    return report


def _timed(report: LocalRunReport, stage: str, started: float) -> None:
    report.timings[stage] = report.timings.get(stage, 0.0) + time.perf_counter() - started


def _dispatched(report: LocalRunReport, dispatcher: Dispatcher, *stages: str) -> None:
    """Add the time the dispatcher spent in ``stages`` (through :func:`_timed`, which the
    benchmark wraps to tell the stages' requests apart)."""
    for stage in stages:
        _timed(report, stage, time.perf_counter() - dispatcher.timings.get(stage, 0.0))


class _Lines:
    """The dispatcher's live lines, kept (the progress bars show the run): the last ones
    go into the error when the lake does not become idle."""

    KEPT = 20

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock:
            self.lines = [*self.lines[-(self.KEPT - 1) :], line]

    def wait(self, dispatcher: Dispatcher, timeout: float, *, silver: bool, what: str) -> None:
        try:
            dispatcher.wait_until_idle(timeout, silver=silver, what=what)
        except events.NotIdleError as error:
            with self.lock:
                last = "\n  ".join(self.lines[-5:])
            if last:
                raise events.NotIdleError(f"{error}; its last lines:\n  {last}") from None
            raise


class _CountedHandlers:
    """The deployed bronze entry points, advancing the progress bars as the events arrive:
    land + control per input file registered, bronze per input file ingested (or not to
    be: a duplicate, an error). The stream's objects have the stream's bar."""

    def __init__(self, progress: StageProgress, plan: SeedPlan):
        self.progress, self.total = progress, len(plan.files)
        self.keys = {file.key for file in plan.files}
        self.ids: set[str] = set()
        self.done: Counter[str] = Counter()
        self.lock = threading.Lock()
        base = Handlers()

        def controller(event: dict[str, Any]) -> Any:
            result = base.controller(event)
            for registered in result.get("registered", []):
                if registered["key"] not in self.keys:
                    continue
                self._advance(LAND)
                if registered["status"] == "pending":
                    with self.lock:
                        self.ids.add(registered["control_id"])
                else:
                    self._advance(BRONZE)
            return result

        def lite(event: dict[str, Any]) -> Any:
            result = base.lite(event)
            self._ingested(event["control_id"])
            return result

        def mass(control_id: str) -> Any:
            result = base.mass(control_id)
            self._ingested(control_id)
            return result

        self.handlers = Handlers(controller=controller, lite=lite, mass=mass)

    def _ingested(self, control_id: str) -> None:
        with self.lock:
            if control_id not in self.ids:
                return
            self.ids.discard(control_id)
        self._advance(BRONZE)

    def _advance(self, stage: str) -> None:
        with self.lock:
            if self.done[stage] >= self.total:
                return
            self.done[stage] += 1
        self.progress.advance(stage)

    def finish(self) -> None:
        """Bronze is idle: fill what a failed handler left unadvanced."""
        for stage in (LAND, BRONZE):
            with self.lock:
                left, self.done[stage] = self.total - self.done[stage], self.total
            if left > 0:
                self.progress.advance(stage, left)


def _land(lake: LocalLake, plan: SeedPlan, report: LocalRunReport, progress: StageProgress) -> None:
    """Upload the input files to the landing bucket, as a user would: S3 notifies the
    dispatcher of each (its controller and ingest are timed by the dispatcher)."""
    progress.start(LAND, len(plan.files))
    progress.start(BRONZE, len(plan.files))
    started = time.perf_counter()
    landing = lake.buckets[Bucket.LANDING]
    for file in plan.files:
        lake.s3.put_object(Bucket=landing, Key=file.key, Body=file.body())
    _timed(report, LAND, started)
    report.timings.setdefault(BRONZE, 0.0)  # the stages in their order (the dispatcher's later)


def _stream(
    lake: LocalLake,
    plan: SeedPlan,
    report: LocalRunReport,
    progress: StageProgress,
    changes: int,
    seed: int,
) -> None:
    """Stream generated changes: generation, stream and delivery, timed whole. The delivered
    objects land under raw/: S3 notifies the dispatcher, as of any landed file (their
    controller and ingest count towards land + control and bronze)."""
    started = time.perf_counter()
    progress.start(STREAM, 1)
    report.stream = stream_changes(
        lake, plan, total=changes, seed=seed, ingest=lambda key, size: None
    )
    progress.advance(STREAM)
    _timed(report, STREAM, started)


def _layers(
    report: LocalRunReport,
    progress: StageProgress,
    dispatcher: Dispatcher,
    lines: _Lines,
    timeout: float,
) -> None:
    """One silver run on demand; gold starts on its success event; wait until both are done."""
    progress.start(SILVER, 1)
    progress.start(GOLD, 1)
    found: list[int | None] = []
    shown: set[str] = set()

    def advance(stage: str) -> None:  # once per bar, whatever the runs
        if stage not in shown:
            shown.add(stage)
            progress.advance(stage)

    def merged(silver: SilverReport) -> None:
        found.extend(getattr(m, "duplicates_skipped", None) for m in silver.merged.values())
        advance(SILVER)

    dispatcher.on_silver = merged
    dispatcher.on_gold = lambda _: advance(GOLD)
    dispatcher.request_silver()
    lines.wait(dispatcher, timeout, silver=True, what="silver and gold")
    dispatcher.on_silver = dispatcher.on_gold = None
    advance(SILVER)  # nothing to merge, or no mart refreshed: done all the same
    advance(GOLD)
    counts = [int(n) for n in found if n is not None]
    if report.stream is not None and found and len(counts) == len(found):
        report.stream.duplicates_removed = sum(counts)
    _dispatched(report, dispatcher, SILVER, GOLD)


def _spark_silver(report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(SILVER, 1)
    merged = spark.silver("local-silver") or []
    found = [m.get("duplicates_skipped") for m in merged]
    if report.stream is not None and found and all(n is not None for n in found):
        report.stream.duplicates_removed = sum(int(n) for n in found)
    progress.advance(SILVER)
    _timed(report, SILVER, started)


def _spark_gold(report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(GOLD, 1)
    spark.gold("local-gold")
    progress.advance(GOLD)
    _timed(report, GOLD, started)


def _failures(report: LocalRunReport, dispatcher: Dispatcher, *, gold: bool) -> None:
    """Handlers and runs the dispatcher gave up on, as errors of the run: the gold runs'
    (``gold``, as the direct call reported them) or the others; each once, so an ingest
    given up on is not listed again beside its control record's error."""
    for what, reason in dispatcher.failures:
        if what.startswith("gold run ") is not gold:
            continue
        error = ("gold", reason) if gold else (what, reason)
        if error not in report.errors:
            report.errors.append(error)
