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

Here: the run and its steps, each timed into the report (``_timed``, which the benchmark
wraps); the report and the stages' names are ``runner_report.py``, the progress shown as it
goes (and the dispatcher's lines kept) ``runner_progress.py``.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datalake.domain import Domain, load_domain
from datalake.local_outputs import LOCAL_REGION
from datalake.local_outputs import local_settings as settings_of_the_local_lake
from datalake.naming import Bucket
from datalake.settings import LakeSettings
from datalake.stack import domain_path

from ..silver.pipeline import SilverReport
from .dispatcher import Dispatcher
from .live import live_lake
from .resources import LocalLake
from .runner_progress import CountedHandlers, KeptLines, SilentProgress, StageProgress
from .runner_report import BRONZE, GOLD, LAND, SILVER, STAGES, STREAM, LocalRunReport
from .seed import SeedPlan, generated_plan, seed_plan
from .stream import stream_changes
from .summary import IcebergTables, summarise

__all__ = [  # the runner's public names, wherever in its modules they are defined
    "IDLE_SECONDS",
    "POLL_SECONDS",
    "STAGES",
    "LocalRunReport",
    "StageProgress",
    "local_settings",
    "run_local",
    "s3_event",
]

IDLE_SECONDS = 600.0
"""The longest each wait for the lake to become idle may take before the run fails (naming
what is still pending): bronze after landing and streaming, then silver and gold."""
POLL_SECONDS = 0.1
"""The dispatcher's wait after a pass that found nothing (the live lake's is longer)."""
# Replacing a month that has no rows yet deletes nothing: expected on a first run.
warnings.filterwarnings("ignore", message="Delete operation did not match any records")


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
    progress = progress or SilentProgress()
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
        counted = CountedHandlers(progress, plan)
        lines = KeptLines()
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
    lines: KeptLines,
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
