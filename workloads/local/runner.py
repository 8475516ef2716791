"""``datalake local run``: the whole lake on the embedded emulator, with the real handlers.

land raw files ──S3 event──▶ controller_handler ──▶ control record (count, SHA-256, target)
  ──dispatch on the same threshold as the state machine──▶ ingest_handler (lite) or the
    container's entry point (mass): validate, mask PII, Parquet, quarantine
silver: claim, merge into Iceberg (Glue on the emulator), review_flat, gold records
gold:   the five marts for the months named by the gold records
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from datalake.contracts.gold import MARTS
from datalake.control import ControlRecord, ControlStatus
from datalake.layout import QUARANTINE_PREFIX
from datalake.naming import Bucket, Layer
from datalake.runtime import IngestTask
from datalake.settings import LakeSettings, load_settings
from workloads.bronze import handlers as bronze
from workloads.gold.pipeline import GoldRun
from workloads.local.emulator import running_emulator
from workloads.local.resources import LocalLake, create_local_lake
from workloads.local.seed import SeedPlan, seed_plan
from workloads.silver.pipeline import SilverRun, s3_bronze_reader

STAGES = ("land + control", "bronze", "silver", "gold")
# Replacing a month that has no rows yet deletes nothing: expected on a first run.
warnings.filterwarnings("ignore", message="Delete operation did not match any records")


class StageProgress(Protocol):
    """What the runner reports as it goes (the CLI draws progress bars from it)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, amount: int = 1) -> None: ...


class _Silent:
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
    gold: dict[str, int] = field(default_factory=dict)
    top_rows: dict[str, pa.Table] = field(default_factory=dict)
    gold_month: tuple[int, int] | None = None
    reviews: pa.Table | None = None


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
    reviews: int,
    files: int,
    seed: int,
    engine: str = "arrow",
    port: int = 0,
    progress: StageProgress | None = None,
    serve: Callable[[LocalLake, LocalRunReport], None] | None = None,
    settings: LakeSettings | None = None,
) -> LocalRunReport:
    """Run the lake end to end on a fresh emulator; ``serve`` is called before it stops.

    ``settings`` default to :func:`local_settings`; the handlers get the environment the
    components would give them for those settings.
    """
    if engine not in ("arrow", "spark"):
        raise ValueError(f"unknown engine {engine!r}; allowed: arrow, spark")
    progress = progress or _Silent()
    started = time.perf_counter()
    settings = settings or local_settings()
    report = LocalRunReport()
    plan = seed_plan(reviews, files, seed)
    report.reviews = plan.reviews
    with running_emulator(settings.region, port) as endpoint:
        report.endpoint = endpoint
        lake = create_local_lake(settings, endpoint)
        _timed(report, "seed + emulator", started)
        with _environment(lake.environment()):
            _land_and_ingest(lake, plan, report, progress)
            spark = None
            if engine == "spark":
                from workloads.local.spark import SparkLake  # starts a JVM: only when asked

                spark = SparkLake(lake)
            try:
                _silver(lake, report, progress, spark)
                _gold(lake, report, progress, spark)
                _summarise(lake, report, spark or _IcebergTables(lake))
            finally:
                if spark is not None:
                    spark.stop()
        if serve is not None:  # before the emulator stops
            serve(lake, report)
    return report


def _timed(report: LocalRunReport, stage: str, started: float) -> None:
    report.timings[stage] = report.timings.get(stage, 0.0) + time.perf_counter() - started


def _land_and_ingest(
    lake: LocalLake, plan: SeedPlan, report: LocalRunReport, progress: StageProgress
) -> None:
    landing = lake.buckets[Bucket.LANDING]
    progress.start(STAGES[0], len(plan.files))
    progress.start(STAGES[1], len(plan.files))
    for file in plan.files:
        started = time.perf_counter()
        lake.s3.put_object(Bucket=landing, Key=file.key, Body=file.body)
        (registered,) = bronze.controller_handler(s3_event(landing, file.key, len(file.body)))[
            "registered"
        ]
        _timed(report, STAGES[0], started)
        progress.advance(STAGES[0])
        started = time.perf_counter()
        record = lake.store.get(registered["control_id"])
        assert record is not None  # the controller just registered it
        if record.status is ControlStatus.PENDING:
            report.compute_targets[record.compute_target] += 1
            _dispatch(record)
        _timed(report, STAGES[1], started)
        progress.advance(STAGES[1])


def _dispatch(record: ControlRecord) -> None:
    """What the ingestion state machine does: Lambda below the threshold, Fargate above."""
    if record.compute_target == "ecs":
        with _environment(IngestTask(control_id=record.control_id).to_environment()):
            bronze.container_main()
    else:
        bronze.ingest_handler({"control_id": record.control_id})


def _silver(lake: LocalLake, report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(STAGES[2], 1)
    if spark is not None:
        spark.silver("local-silver")
    else:
        SilverRun(
            store=lake.store,
            catalog=lake.catalog,
            namespace=lake.database(Layer.SILVER),
            read_bronze=s3_bronze_reader(lake.s3),
            lake_bucket=lake.buckets[Bucket.LAKE],
            worker_id="local-silver",
            properties=lake.properties,
        ).run()
    progress.advance(STAGES[2])
    _timed(report, STAGES[2], started)


def _gold(lake: LocalLake, report: LocalRunReport, progress: StageProgress, spark: Any) -> None:
    started = time.perf_counter()
    progress.start(STAGES[3], 1)
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
        ).run()
        if result.error:
            report.errors.append(("gold", result.error))
    progress.advance(STAGES[3])
    _timed(report, STAGES[3], started)


class _IcebergTables:
    """Reads the run's silver and gold tables from the emulator's Glue catalog."""

    def __init__(self, lake: LocalLake):
        self.lake = lake

    def table(self, layer: str, name: str, where: str | None = None) -> pa.Table:
        database = self.lake.database(Layer(layer))
        scan = self.lake.catalog.load_table((database, name))
        return (scan.scan(row_filter=where) if where else scan.scan()).to_arrow()

    def count(self, layer: str, name: str) -> int:
        return self.table(layer, name).num_rows


def _summarise(lake: LocalLake, report: LocalRunReport, tables: Any) -> None:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: Counter())
    for status in ControlStatus:
        for record in lake.store.by_status("bronze", status):
            table = counts[record.table_name]
            table["files"] += 1
            if status is ControlStatus.DUPLICATE:
                report.duplicates.append(record.object_key)
            elif status is ControlStatus.ERROR:
                report.errors.append((record.object_key, record.error or ""))
            for name in ("rows_in", "rows_written", "rows_quarantined"):
                table[name] += getattr(record, name) or 0
            if record.masked_columns:
                report.masked_columns[record.table_name] = record.masked_columns
    report.bronze = {t: dict(c) for t, c in sorted(counts.items())}
    for status in (ControlStatus.ERROR,):
        for layer in ("silver", "gold"):
            for record in lake.store.by_status(layer, status):
                report.errors.append((record.object_key, record.error or ""))
    pages = lake.s3.get_paginator("list_objects_v2").paginate(
        Bucket=lake.buckets[Bucket.LAKE], Prefix=QUARANTINE_PREFIX
    )
    report.quarantine_keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    for name in ("brewery", "beer", "profile", "review", "review_flat"):
        report.silver[name] = tables.count("silver", name)
    volumes: Counter = Counter()
    for mart in MARTS:
        rows = tables.table("gold", mart.name)
        report.gold[mart.name] = rows.num_rows
        if mart.name == "state_by_review_volume":
            for row in rows.select(["review_year", "review_month", "total_reviews"]).to_pylist():
                volumes[(row["review_year"], row["review_month"])] += row["total_reviews"]
    if not volumes:
        return
    busiest = max(volumes, key=lambda month: (volumes[month], month))
    report.gold_month = busiest
    for mart in MARTS:
        rows = tables.table(
            "gold", mart.name, f"review_year = {busiest[0]} and review_month = {busiest[1]}"
        )
        if rows.num_rows == 0:
            report.top_rows[mart.name] = rows
            continue
        ordering = [(c, "descending") for c in mart.rank_by]
        report.top_rows[mart.name] = rows.sort_by(ordering).slice(0, 10)
