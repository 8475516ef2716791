"""What both threads of the live lake's dispatcher share (``dispatcher.py`` draws the wiring).

:class:`DispatcherCore` holds the clients, the control stores, what the dispatcher reports
(stage timings, compute targets, failures) and calls back (``on_silver``, ``on_gold``), and
what a thread is made of: the loop it runs, the stages it times, the lines it says, and its
queues: a receive that counts a long poll as a wait for work (what
:meth:`Dispatcher.wait_idle` watches), and a failed attempt retried or given up (the
settings' ``max_attempts`` and ``retry_backoff_rate``; locally the first wait is
:data:`RETRY_SECONDS`). Its underscore methods are the dispatcher's own: the sides
(``dispatcher_bronze.py``, ``dispatcher_layers.py``) call them.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from datalake.control import ControlStore

from ..gold.pipeline import GoldReport
from ..silver.pipeline import SilverReport
from .invoke import Handlers
from .resources import LakeEvents, LocalLake

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
"""The wait after a pass that found nothing and did not wait in a long poll (an ingest retry
is due sooner than :data:`LONG_POLL_SECONDS`)."""
LONG_POLL_SECONDS = 1
"""SQS long polling of a quiet thread (``WaitTimeSeconds``, whole seconds): how long Ctrl-C
may wait for a thread to notice, never how late a message is handled."""
RETRY_SECONDS = 1.0
"""First wait before a failed handler runs again locally (the state machine's is
``ingestion.retry_interval_seconds``, 30 s by default)."""
LAND, BRONZE, SILVER, GOLD = "land + control", "bronze", "silver", "gold"
"""Stages, named as the one-shot run names them (``runner.STAGES``)."""
Say = Callable[[str], None]


class DispatcherCore:
    """The clients, stores and thread machinery both sides of the dispatcher use."""

    def __init__(
        self, lake: LocalLake, events: LakeEvents, *, say: Say, poll: float, handlers: Handlers
    ):
        self.lake, self.events, self.say = lake, events, say
        self.poll, self.handlers = poll, handlers
        ingestion = lake.settings.ingestion
        self.max_attempts, self.backoff = ingestion.max_attempts, ingestion.retry_backoff_rate
        # Clients of its own session: boto3's default session is not safe across threads.
        session = boto3.Session(region_name=lake.settings.region)
        client = lambda service: session.client(service, endpoint_url=lake.endpoint)  # noqa: E731
        self.sqs, self.streams = client("sqs"), client("dynamodbstreams")
        self.bus, self.cloudwatch = client("events"), client("cloudwatch")
        self.sfn = client("stepfunctions")
        self.store = self._store(session)  # the layers thread's
        self._bronze_store, self._idle_store = self._store(session), self._store(session)
        self.timings: defaultdict[str, float] = defaultdict(float)
        self.compute_targets: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        """Handlers that raised and were given up: (what, reason)."""
        self.on_gold: Callable[[GoldReport], None] | None = None
        self.on_silver: Callable[[SilverReport], None] | None = None
        self._stop = threading.Event()
        self._lock, self._say_lock = threading.Lock(), threading.Lock()
        self._busy: Counter[str] = Counter()
        self._waiting = {"bronze": 0, "layers": 0}
        """Per thread: the generation of the wait it is in (a long poll, the idle wait), or 0
        while it works."""
        self._generations = itertools.count(1)
        self._waited = {"bronze": False, "layers": False}

    def _store(self, session: Any) -> ControlStore:
        resource = session.resource("dynamodb", endpoint_url=self.lake.endpoint)
        return ControlStore(
            resource.Table(self.lake.settings.names.control_table),
            max_attempts=self.max_attempts,
            lease_seconds=self.lake.settings.ingestion.lease_seconds,
        )

    # -- a thread: its loop, its stages, its lines -----------------------------------------

    def _loop(self, name: str, step: Callable[[], bool]) -> None:
        while not self._stop.is_set():
            self._waited[name] = False
            try:
                worked = step()
            except Exception as error:  # the loop outlives any one failure
                log.warning("dispatcher %s pass failed", name, exc_info=True)
                self._line(f"error in the {name} loop: {type(error).__name__}: {error}")
                worked = True
                self._stop.wait(self.poll)
            if not worked and not self._waited[name]:  # a long poll was the wait
                with self._waiting_in(name):
                    self._stop.wait(self.poll)

    @contextmanager
    def _waiting_in(self, name: str) -> Iterator[None]:
        """Mark thread ``name`` as waiting for work (a new generation) for the block."""
        with self._lock:
            self._waiting[name] = next(self._generations)
        try:
            yield
        finally:
            with self._lock:
                self._waiting[name] = 0
            self._waited[name] = True

    @contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        with self._lock:
            self._busy[stage] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[stage] -= 1
                self.timings[stage] += time.perf_counter() - started

    def _line(self, text: str) -> None:
        with self._say_lock:
            self.say(text)

    # -- queues ----------------------------------------------------------------------------

    def _receive(self, queue: str, waiting: str | None = None) -> list[dict[str, Any]]:
        """Up to 10 messages; ``waiting``: the thread that long-polls for them (else none)."""
        if waiting is None:
            return self._receive_now(queue, 0)
        with self._waiting_in(waiting):
            return self._receive_now(queue, LONG_POLL_SECONDS)

    def _receive_now(self, queue: str, wait: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            AttributeNames=["ApproximateReceiveCount"],
        )
        return list(response.get("Messages", []))

    def _failed(self, what: str, reason: str, attempt: int, retry: bool = True) -> float | None:
        """Report a failed attempt; the wait before the next one, or None: given up."""
        if not retry or attempt >= self.max_attempts:
            self._line(f"error {what}: {reason}; gave up after {attempt} attempt(s)")
            self.failures.append((what, reason))
            return None
        delay = RETRY_SECONDS * self.backoff ** (attempt - 1)
        self._line(f"error {what}: {reason}; attempt {attempt} of {self.max_attempts}, "
                   f"retrying in {delay:g} s")  # fmt: skip
        return delay

    def _settle(self, queue: str, message: dict[str, Any], what: str, error: Exception) -> None:
        """A handler raised on ``message``: let it reappear after the backoff, or give up."""
        log.warning("%s failed", what, exc_info=error)
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        delay = self._failed(what, f"{type(error).__name__}: {error}", attempt)
        if delay is None:
            self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return
        self.sqs.change_message_visibility(
            QueueUrl=queue,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=math.ceil(delay),
        )
