"""``datalake local run``: the whole lake on the embedded emulator, with the real handlers.

input folder (the user's, or what the domain's example generator writes)
land raw files ──S3 event──▶ controller_handler ──▶ control record (count, SHA-256, target)
  ──dispatch on the same threshold as the state machine──▶ ingest_handler (lite) or the
    container's entry point (mass): validate, mask PII, Parquet, quarantine
stream: DMS-shaped changes of the CDC tables ──Kinesis (emulator)──▶ local delivery loop
  ──▶ raw/<table>/cdc/... objects, each through the controller and dispatch as above
silver: claim, merge into Iceberg (Glue on the emulator), the domain's views, gold records
gold:   the domain's marts for the view partitions named by the gold records
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3

from datalake.control import ControlRecord, ControlStatus
from datalake.domain import Domain, load_domain
from datalake.inputs import GeneratedInput
from datalake.naming import Bucket, Layer
from datalake.runtime import IngestTask
from datalake.settings import LakeSettings, load_settings
from datalake.stack import domain_path

from ..bronze import handlers as bronze
from ..gold.pipeline import GoldRun
from ..silver.pipeline import SilverRun, s3_bronze_reader
from .emulator import running_emulator
from .resources import LocalLake, create_local_lake
from .seed import SeedPlan, generated_plan, seed_plan
from .stream import StreamReport, stream_changes
from .summary import IcebergTables, MartTop, Tables, summarise

STAGES = ("land + control", "bronze", "stream", "silver", "gold")
"""The stages, in order ("stream" only when changes are streamed)."""
LAND, BRONZE, STREAM, SILVER, GOLD = STAGES
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
    region: str = "us-east-1", overrides: Mapping[str, Any] | None = None
) -> LakeSettings:
    """The settings of the ``local`` environment (the same model as every stack);
    ``overrides`` are ``datalake:lake`` keys, as in a stack file."""
    config = {**(overrides or {}), "region": region}
    return load_settings(config, project="datalake", environment="local")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
) -> LocalRunReport:
    """Run the lake end to end on a fresh emulator; ``serve`` is called before it stops.

    ``domain`` defaults to the settings' (``lake.domain``, relative to the working directory;
    unset: the example shipped with the library); ``input`` is an input folder
    of it (see ``datalake/inputs.py``); without one the domain's example generator writes
    ``rows`` rows in ``files`` files from ``seed``. ``settings`` default to
    :func:`local_settings`; the handlers get the environment the components would give them
    for those settings. ``changes`` > 0 streams that many generated changes over the
    domain's CDC tables after the input is ingested (``stream.py``); 0 here, so callers that
    check exact counts get the input's, while ``datalake local run`` streams
    ``stream.DEFAULT_CHANGES`` unless told ``--changes 0``. ``report_dir``: write the HTML
    report of the run's dashboards there (``report.py``; its path in ``report_path``).
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
        with running_emulator(settings.region, port) as endpoint:
            report.endpoint = endpoint
            lake = create_local_lake(settings, endpoint, domain)
            _timed(report, "seed + emulator", started)
            spark = None
            try:
                with _environment(lake.environment()):
                    _land_and_ingest(lake, plan, report, progress)
                    if changes > 0:
                        _stream(lake, plan, report, progress, changes, seed)
                    if engine == "spark":
                        from .spark import SparkLake  # starts a JVM: only when asked

                        spark = SparkLake(lake)
                    _silver(lake, report, progress, spark)
                    _gold(lake, report, progress, spark)
                    report.tables = spark or IcebergTables(lake)
                    summarise(lake, report, report.tables)
                    if report_dir is not None:
                        from .report import write_report  # plotly: only when asked

                        report.report_path = write_report(report_dir, lake, report)
                if serve is not None:  # before the emulator (and Spark) stop
                    serve(lake, report)
            finally:
                if spark is not None:
                    spark.stop()
    return report


def _timed(report: LocalRunReport, stage: str, started: float) -> None:
    report.timings[stage] = report.timings.get(stage, 0.0) + time.perf_counter() - started


def _land_and_ingest(
    lake: LocalLake, plan: SeedPlan, report: LocalRunReport, progress: StageProgress
) -> None:
    landing = lake.buckets[Bucket.LANDING]
    progress.start(LAND, len(plan.files))
    progress.start(BRONZE, len(plan.files))
    for file in plan.files:
        started = time.perf_counter()
        body = file.body()
        lake.s3.put_object(Bucket=landing, Key=file.key, Body=body)
        _timed(report, LAND, started)
        _register_and_ingest(lake, file.key, len(body), report)
        progress.advance(LAND)
        progress.advance(BRONZE)


def _register_and_ingest(
    lake: LocalLake, key: str, size: int, report: LocalRunReport, *, timed: bool = True
) -> None:
    """What a landed object goes through: its S3 event to the controller, then dispatch."""
    started = time.perf_counter()
    event = s3_event(lake.buckets[Bucket.LANDING], key, size)
    (registered,) = bronze.controller_handler(event)["registered"]
    if timed:
        _timed(report, LAND, started)
    started = time.perf_counter()
    record = lake.store.get(registered["control_id"])
    assert record is not None  # the controller just registered it
    if record.status is ControlStatus.PENDING:
        report.compute_targets[record.compute_target] += 1
        _dispatch(record)
    if timed:
        _timed(report, BRONZE, started)


def _stream(
    lake: LocalLake,
    plan: SeedPlan,
    report: LocalRunReport,
    progress: StageProgress,
    changes: int,
    seed: int,
) -> None:
    """Stream generated changes and ingest what the delivery writes: one stage, timed whole
    (generation, stream, delivery, and the delivered objects' controller and bronze)."""
    started = time.perf_counter()
    progress.start(STREAM, 1)
    report.stream = stream_changes(
        lake,
        plan,
        total=changes,
        seed=seed,
        ingest=lambda key, size: _register_and_ingest(lake, key, size, report, timed=False),
    )
    progress.advance(STREAM)
    _timed(report, STREAM, started)


def _dispatch(record: ControlRecord) -> None:
    """What the ingestion state machine does: Lambda below the threshold, Fargate above."""
    if record.compute_target == "ecs":
        with _environment(IngestTask(control_id=record.control_id).to_environment()):
            bronze.container_main()
    else:
        bronze.ingest_handler({"control_id": record.control_id})


def _silver(lake: LocalLake, report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(SILVER, 1)
    if spark is not None:
        merged = spark.silver("local-silver") or []
        found = [m.get("duplicates_skipped") for m in merged]
    else:
        result = SilverRun(
            store=lake.store,
            catalog=lake.catalog,
            namespace=lake.database(Layer.SILVER),
            read_bronze=s3_bronze_reader(lake.s3),
            lake_bucket=lake.buckets[Bucket.LAKE],
            worker_id="local-silver",
            properties=lake.properties,
            domain=lake.domain,
            cloudwatch=boto3.client("cloudwatch"),  # the emulator's (AWS_ENDPOINT_URL)
        ).run()
        found = [getattr(m, "duplicates_skipped", None) for m in result.merged.values()]
    if report.stream is not None and found and all(n is not None for n in found):
        report.stream.duplicates_removed = sum(int(n) for n in found)
    progress.advance(SILVER)
    _timed(report, SILVER, started)


def _gold(lake: LocalLake, report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(GOLD, 1)
    if spark is not None:
        spark.gold("local-gold")
    else:
        result = GoldRun(
            store=lake.store,
            catalog=lake.catalog,
            silver_namespace=lake.database(Layer.SILVER),
            gold_namespace=lake.database(Layer.GOLD),
            worker_id="local-gold",
            properties=lake.properties,
            domain=lake.domain,
        ).run()
        if result.error:
            report.errors.append(("gold", result.error))
    progress.advance(GOLD)
    _timed(report, GOLD, started)
