"""The workloads' entry points, called locally as AWS calls them.

Bronze: the controller Lambda's handler, the lite ingest Lambda's handler and the Fargate
task's main (its ``CONTROL_ID`` set as the state machine's override sets it), for the stream
records the pipe's filter passes. Silver and gold:
one run of the arrow engine as one execution of their state machines (worker
``<layer>-run:<run id>``), and silver's ``PublishSucceeded`` on the lake bus.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from datalake.control import ControlStatus, ControlStore, utc_now
from datalake.naming import Bucket, Layer
from datalake.runtime import IngestTask

from ..bronze import handlers as bronze
from ..gold.pipeline import GoldReport, GoldRun
from ..shared.runs import run_worker
from ..silver.pipeline import SilverReport, SilverRun, s3_bronze_reader
from .resources import SILVER_EVENT_SOURCE, SILVER_SUCCEEDED, LakeEvents, LocalLake

PIPE_FILTER: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"layer": {"S": ["bronze"]}, "status": {"S": ["pending"]}}},
}
"""The bronze pipe's filter (``components.bronze_dispatch.pipe_filter``; a test compares)."""


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """An EventBridge-style pattern of exact values: every key present, a value listed."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True


class ControlStreamPipe:
    """The bronze pipe's source: the control table's stream from LATEST, filtered."""

    def __init__(self, streams: Any, stream_arn: str, batch_size: int = 100):
        self.streams, self.arn, self.batch_size = streams, stream_arn, batch_size
        self.iterator: str | None = None
        self.behind = False
        """The last read returned records: there may be more."""
        self.silver_changed = False
        """A read passed a silver record (new, claimed, finished, requeued) since the
        reader last cleared this: silver records may be claimable."""

    def start(self) -> None:
        """From now on, as the pipe starts (``starting_position: LATEST``)."""
        description = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=self.arn,
            ShardId=description["Shards"][0]["ShardId"],
            ShardIteratorType="LATEST",
        )["ShardIterator"]

    def read(self) -> list[tuple[str, int]]:
        """(control id, record count) of the next records that pass :data:`PIPE_FILTER`."""
        response = self.streams.get_records(ShardIterator=self.iterator, Limit=self.batch_size)
        self.iterator = response["NextShardIterator"]
        records = response.get("Records", [])
        self.behind = bool(records)
        self.silver_changed |= any(
            r.get("dynamodb", {}).get("NewImage", {}).get("layer", {}).get("S") == "silver"
            for r in records
        )
        passed = [r["dynamodb"]["NewImage"] for r in records if matches(PIPE_FILTER, r)]
        return [
            (image["control_id"]["S"], int(image.get("record_count", {}).get("N", "0")))
            for image in passed
        ]


def claimable(store: ControlStore, layer: str) -> bool:
    """Whether a run of ``layer`` would claim a record now (what ``claim_records`` takes)."""
    if next(store.by_status(layer, ControlStatus.PENDING), None) is not None:
        return True
    left = lambda r: r.attempts < store.max_attempts  # noqa: E731
    if any(r.retryable and left(r) for r in store.by_status(layer, ControlStatus.ERROR)):
        return True
    now = utc_now()  # a running record whose worker died (its lease expired)
    return any(
        r.lease_expires_at is not None and r.lease_expires_at < now and left(r)
        for r in store.by_status(layer, ControlStatus.RUNNING)
    )


@contextmanager
def scoped_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (what a Lambda or task is given), then restore it."""
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


def mass_ingest(control_id: str) -> Any:
    """The Fargate task: ``python -m workloads.bronze`` with the record's ``CONTROL_ID``."""
    with scoped_environment(IngestTask(control_id=control_id).to_environment()):
        return bronze.container_main()


@dataclass
class Handlers:
    """What the dispatcher calls for bronze (the deployed entry points; tests wrap them)."""

    controller: Callable[[dict[str, Any]], Any] = bronze.controller_handler
    lite: Callable[[dict[str, Any]], Any] = bronze.ingest_handler
    mass: Callable[[str], Any] = mass_ingest


def silver_run(lake: LocalLake, store: ControlStore, run_id: str, cloudwatch: Any) -> SilverReport:
    """One silver pipeline execution: claim, merge per table, views, gold records, metrics."""
    return SilverRun(
        store=store,
        catalog=lake.catalog,
        namespace=lake.database(Layer.SILVER),
        read_bronze=s3_bronze_reader(lake.s3),
        lake_bucket=lake.buckets[Bucket.LAKE],
        worker_id=run_worker("silver", run_id),
        properties=lake.properties,
        domain=lake.domain,
        cloudwatch=cloudwatch,
    ).run()


def succeeded_entry(
    lake: LocalLake, events: LakeEvents, run_id: str, report: SilverReport
) -> dict[str, Any]:
    """The PutEvents entry of the pipeline's ``PublishSucceeded`` (its detail's keys)."""
    detail = {
        "run_id": run_id,
        "database": lake.database(Layer.SILVER),
        "tables": [
            {"table": t, "status": "error" if t in report.retried else "success"}
            for t in report.merged
        ]
        + [{"table": t, "status": "error"} for t in report.failed],
        "views": [{"view": v, "partitions": len(r.partitions)} for v, r in report.views.items()],
    }
    return {
        "EventBusName": events.event_bus,
        "Source": SILVER_EVENT_SOURCE,
        "DetailType": SILVER_SUCCEEDED,
        "Detail": json.dumps(detail),
    }


def gold_run(lake: LocalLake, store: ControlStore, run_id: str) -> GoldReport:
    """One gold execution: the marts of every view partition the pending gold records name."""
    return GoldRun(
        store=store,
        catalog=lake.catalog,
        silver_namespace=lake.database(Layer.SILVER),
        gold_namespace=lake.database(Layer.GOLD),
        worker_id=run_worker("gold", run_id),
        properties=lake.properties,
        domain=lake.domain,
    ).run()
