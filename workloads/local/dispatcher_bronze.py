"""The dispatcher's bronze thread (``dispatcher.py`` draws the wiring): S3 notifications,
the control table's stream, ingest and its retries.

Each raw-objects message runs the controller; the stream's records that the pipe's filter
passes start an ingestion, lite or mass on ``ingestion.mass_threshold_records`` (the ingestion
state machine's ``ChooseCompute``). A failed ingest is started again after the backoff, as the
state machine's ``Retry`` would (never a not-retryable error); a silver record change on the
stream is handed to the layers thread's schedule.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datalake.control import ControlStore
from datalake.errors import NOT_RETRYABLE

from .dispatcher_core import BRONZE, LAND, LONG_POLL_SECONDS, DispatcherCore
from .invoke import ControlStreamPipe
from .live_lines import ingested_lines, registered_line

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Retry:
    due: float
    order: int
    control_id: str = field(compare=False)
    record_count: int = field(compare=False)
    attempt: int = field(compare=False)


class BronzeSide:
    """One pass of the bronze thread at a time (:meth:`step`), on ``core``'s clients."""

    def __init__(
        self, core: DispatcherCore, store: ControlStore, silver_changed: Callable[[], None]
    ):
        self.core, self.store, self.silver_changed = core, store, silver_changed
        self.threshold = core.lake.settings.ingestion.mass_threshold_records
        self.retries: list[_Retry] = []
        """Ingestions to start again, soonest first (under ``core._lock``)."""
        self._order = itertools.count()
        self._pipe = ControlStreamPipe(core.streams, core.events.control_stream)

    def start(self) -> None:
        """Read the stream from now on (LATEST, as the pipe starts)."""
        self._pipe.start()

    def step(self) -> bool:
        """Each notification's controller, then the ingestions its records start, before the
        next notification: a file is ingested before a later one registers, so a later copy
        of its content is a duplicate (the controller compares with files already ingested),
        as when files arrive a few at a time in AWS."""
        core = self.core
        with core._lock:  # a retry due before a long poll would end: no long poll
            due = self.retries[0].due - time.monotonic() if self.retries else math.inf
        messages = core._receive(
            core.events.raw_queue, "bronze" if due > LONG_POLL_SECONDS else None
        )
        started = False
        for message in messages:
            if core._stop.is_set():
                break  # left in the queue
            try:
                self._controller(json.loads(message["Body"]))
            except Exception as error:  # noqa: BLE001 retried through the queue
                core._settle(core.events.raw_queue, message, "controller", error)
                continue
            core.sqs.delete_message(
                QueueUrl=core.events.raw_queue, ReceiptHandle=message["ReceiptHandle"]
            )
            started |= self._read_stream()
        started |= self._read_stream()
        retried = self._due_retries()
        return bool(messages) or started or retried

    def _controller(self, event: dict[str, Any]) -> None:
        if "Records" not in event:  # s3:TestEvent, sent when the notification is configured
            return
        with self.core._stage(LAND):
            result = self.core.handlers.controller(event)
        for registered in result["registered"]:
            record = self.store.get(registered["control_id"])
            if record is not None:
                self.core._line(registered_line(record, self.store))

    def _read_stream(self) -> bool:
        """Start an ingestion per record the pipe passes, in stream order."""
        started = False
        while not self.core._stop.is_set():
            batch = self._pipe.read()
            if self._pipe.silver_changed:  # for the schedule (the layers thread)
                self._pipe.silver_changed = False
                self.silver_changed()
            for control_id, record_count in batch:
                if self.core._stop.is_set():
                    break  # the emulator stops too: nothing is kept
                self._ingest(control_id, record_count, attempt=1)
            started |= bool(batch)
            if not self._pipe.behind:
                break
        return started

    def _due_retries(self) -> bool:
        ran = False
        while not self.core._stop.is_set():
            with self.core._lock:
                if not self.retries or self.retries[0].due > time.monotonic():
                    return ran
                retry = heapq.heappop(self.retries)
            self._ingest(retry.control_id, retry.record_count, attempt=retry.attempt)
            ran = True
        return ran

    def _ingest(self, control_id: str, record_count: int, *, attempt: int) -> None:
        """The ingestion state machine: ChooseCompute, then Retry (never the not-retryable)."""
        core = self.core
        mass = record_count >= self.threshold
        if attempt == 1:
            core.compute_targets["ecs" if mass else "lambda"] += 1
        try:
            with core._stage(BRONZE):
                if mass:
                    core.handlers.mass(control_id)
                else:
                    core.handlers.lite({"control_id": control_id})
        except Exception as error:  # retried below, as the state machine would
            log.warning("ingest of %s failed", control_id, exc_info=error)
            record = self.store.get(control_id)
            what = record.object_key if record is not None else control_id
            reason = (record.error if record is not None else None) or (
                f"{type(error).__name__}: {error}"
            )
            delay = core._failed(what, reason, attempt, not isinstance(error, NOT_RETRYABLE))
            if delay is None:
                return
            with core._lock:
                heapq.heappush(
                    self.retries,
                    _Retry(time.monotonic() + delay, next(self._order), control_id,
                           record_count, attempt + 1),
                )  # fmt: skip
            return
        record = self.store.get(control_id)
        if record is not None:
            for line in ingested_lines(record):
                core._line(line)
