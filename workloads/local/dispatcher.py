"""The live lake's one event path: the local stand-in for what AWS calls on each event.

    raw-objects queue (the landing bucket's S3 notifications) ──▶ controller_handler
    control table stream, records the pipe's filter passes (new pending bronze records)
        ──record_count vs ingestion.mass_threshold_records──▶ ingest_handler (lite)
                                                            └─▶ container_main (mass)
    every ``silver_every`` seconds, when silver records may be claimed ──▶ SilverRun
    silver-starts queue (an execution of the silver state machine: its input, its task
        token) ──▶ SilverRun ──▶ SendTaskSuccess (the execution succeeds or fails with it)
        ──merged something──▶ PutEvents SilverPipelineSucceeded on the lake bus
    gold-starts queue (the rule gold-after-silver delivers the event there; the gold state
        machine its executions) ──▶ GoldRun (one for every start received) ──▶ SendTaskSuccess

Two threads, as AWS runs them side by side: *bronze* (queue, stream, ingest retries) and
*layers* (silver schedule, silver and gold starts). A quiet thread waits in a long poll of
its queue (``LONG_POLL_SECONDS``; moto answers as soon as a message arrives), so an idle lake
makes about two requests a second per thread and still reacts at once. The schedule looks for
claimable silver records only after the control table's stream showed a silver record change
(a lease that may have expired is looked for once, ``lease_seconds`` after the last change):
nothing else makes one claimable.
A handler that raises is logged and retried as AWS would (the settings' ``max_attempts`` and
``retry_backoff_rate``; locally the first wait is ``RETRY_SECONDS``), then given up; nothing
stops the loop but :meth:`Dispatcher.stop`. One line per event goes to ``say``: reasons as the
control records hold them (value-free), never a row's values.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from datalake.control import ControlStatus, ControlStore
from datalake.errors import NOT_RETRYABLE

from ..gold.pipeline import GoldReport
from ..silver.pipeline import SilverReport
from .emulator import EmulatorError
from .invoke import ControlStreamPipe, Handlers, claimable, gold_run, silver_run, succeeded_entry
from .live_lines import ingested_lines, merged_lines, refreshed_line, registered_line
from .resources import (
    EXECUTION_FAILED,
    GOLD_MART_FAILED,
    LakeEvents,
    LocalLake,
)

log = logging.getLogger(__name__)
SILVER_EVERY_SECONDS = 5.0
"""How often a live local lake looks for silver work (the stack's ``silver.schedule`` is
hours; seconds on a laptop)."""
POLL_SECONDS = 0.5
"""The wait after a pass that found nothing and did not wait in a long poll (an ingest retry
is due sooner than :data:`LONG_POLL_SECONDS`)."""
LONG_POLL_SECONDS = 1
"""SQS long polling of a quiet thread (``WaitTimeSeconds``, whole seconds): how long Ctrl-C
may wait for a thread to notice, never how late a message is handled."""
RETRY_SECONDS = 1.0
"""First wait before a failed handler runs again locally (the state machine's is
``ingestion.retry_interval_seconds``, 30 s by default)."""
STOP_SECONDS = 60.0
"""How long :meth:`Dispatcher.stop` waits for a running stage to finish."""
LAND, BRONZE, SILVER, GOLD = "land + control", "bronze", "silver", "gold"
"""Stages, named as the one-shot run names them (``runner.STAGES``)."""
Say = Callable[[str], None]
PENDING_KEYS = 5
"""Object keys :meth:`Dispatcher.pending` names at most (the rest are counted)."""


class NotIdleError(EmulatorError):
    """The live lake did not become idle in time (the message names what is pending)."""


@dataclass(order=True)
class _Retry:
    due: float
    order: int
    control_id: str = field(compare=False)
    record_count: int = field(compare=False)
    attempt: int = field(compare=False)


class Dispatcher:
    """Consumes the live lake's events until stopped; :meth:`wait_idle` says when it is done.

    The handlers read the lake's environment (``lake.environment()``) from ``os.environ``:
    the caller sets it for as long as the dispatcher runs.
    """

    def __init__(
        self,
        lake: LocalLake,
        events: LakeEvents,
        *,
        say: Say = print,
        silver_every: float = SILVER_EVERY_SECONDS,
        poll: float = POLL_SECONDS,
        handlers: Handlers | None = None,
        on_gold: Callable[[GoldReport], None] | None = None,
        on_silver: Callable[[SilverReport], None] | None = None,
    ):
        self.lake, self.events, self.say = lake, events, say
        self.silver_every, self.poll = silver_every, poll
        self.handlers = handlers or Handlers()
        self.on_gold, self.on_silver = on_gold, on_silver
        ingestion = lake.settings.ingestion
        self.max_attempts, self.backoff = ingestion.max_attempts, ingestion.retry_backoff_rate
        self.threshold = ingestion.mass_threshold_records
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
        self._stop, self._silver_now = threading.Event(), threading.Event()
        self._lock, self._say_lock = threading.Lock(), threading.Lock()
        self._busy: Counter[str] = Counter()
        self._retries: list[_Retry] = []
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._pipe = ControlStreamPipe(self.streams, events.control_stream)
        self._runs = itertools.count(1)
        self._next_silver = 0.0
        self._lease = float(lake.settings.ingestion.lease_seconds)
        self._silver_changed = False
        """The stream showed a silver record change since the schedule last looked."""
        self._silver_recheck = math.inf
        """When the schedule looks again anyway: a running record's lease may have expired."""
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

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Read the stream from now on (LATEST, as the pipe starts) and start both threads."""
        self._pipe.start()
        self._next_silver = time.monotonic() + self.silver_every
        for name, step in (("bronze", self._bronze_pass), ("layers", self._layers_pass)):
            thread = threading.Thread(
                target=self._loop, args=(name, step), name=f"dispatcher-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop after the stage in progress; False if a thread is still running at ``timeout``."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def request_silver(self) -> None:
        """Run silver at the next pass (on demand) rather than at the next tick, when silver
        records may be claimed; a message on the silver-starts queue wakes the layers thread
        from its long poll (and keeps :meth:`wait_idle` from passing before it ran)."""
        self._silver_now.set()
        self.sqs.send_message(
            QueueUrl=self.events.silver_queue, MessageBody=json.dumps({"trigger": "request"})
        )

    def wait_idle(self, timeout: float, *, silver: bool = True) -> bool:
        """True once nothing is in flight: the queues empty, no retry due, no stage running,
        no claimable silver record (unless ``silver`` is False: bronze and gold only), seen
        while each thread waited for work, in the same wait before and after; False at
        ``timeout``. A waiting thread holds nothing: what it would do next is in a queue, a
        retry or a record, which the check sees."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                before = dict(self._waiting)
            if not all(before.values()):
                self._stop.wait(0.02)
                continue
            if not self._quiet(silver):
                self._stop.wait(0.2)
                continue
            with self._lock:
                if self._waiting == before:
                    return True
        return False

    def wait_until_idle(self, timeout: float, *, silver: bool = True, what: str = "") -> None:
        """:meth:`wait_idle`, or :class:`NotIdleError` naming what is still pending."""
        if self.wait_idle(timeout, silver=silver):
            return
        during = f" ({what})" if what else ""
        if self._stop.is_set():
            raise NotIdleError(f"the local lake stopped before it was idle{during}")
        pending = "; ".join(self.pending(silver)) or "nothing visible any more"
        raise NotIdleError(
            f"the local lake did not become idle within {timeout:g} s{during}; "
            f"still pending: {pending}"
        )

    def pending(self, silver: bool = True) -> list[str]:
        """What keeps the lake from being idle, in words: stages running, retries waiting,
        messages in the queues, bronze files not ingested yet, silver records to merge."""
        found: list[str] = []
        with self._lock:
            found += [f"{stage} running" for stage, n in self._busy.items() if n > 0]
            if self._retries:
                found.append(f"{len(self._retries)} ingest retry(ies) waiting")
        names = ["ApproximateNumberOf" + n for n in ("Messages", "MessagesNotVisible")]
        for label, queue in (("raw-objects", self.events.raw_queue),
                             ("silver-starts", self.events.silver_queue),
                             ("gold-starts", self.events.gold_queue)):  # fmt: skip
            attributes = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)
            count = sum(int(v) for v in attributes["Attributes"].values())
            if count:
                found.append(f"{count} message(s) in the {label} queue")
        for status in (ControlStatus.PENDING, ControlStatus.RUNNING):
            keys = [r.object_key for r in self._idle_store.by_status("bronze", status)]
            if keys:
                shown = ", ".join(keys[:PENDING_KEYS])
                more = f" and {len(keys) - PENDING_KEYS} more" if len(keys) > PENDING_KEYS else ""
                found.append(f"bronze {status.value}: {shown}{more}")
        if silver and claimable(self._idle_store, "silver"):
            found.append("silver records to merge")
        return found

    def _quiet(self, silver: bool) -> bool:
        with self._lock:
            if +self._busy or self._retries:
                return False
        names = ["ApproximateNumberOf" + n for n in ("Messages", "MessagesNotVisible")]
        for queue in (self.events.raw_queue, self.events.silver_queue, self.events.gold_queue):
            found = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)
            if any(int(v) for v in found["Attributes"].values()):
                return False
        return not (silver and claimable(self._idle_store, "silver"))

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

    # -- bronze: S3 notifications, the control stream, ingest ------------------------------

    def _bronze_pass(self) -> bool:
        """Each notification's controller, then the ingestions its records start, before the
        next notification: a file is ingested before a later one registers, so a later copy
        of its content is a duplicate (the controller compares with files already ingested),
        as when files arrive a few at a time in AWS."""
        with self._lock:  # a retry due before a long poll would end: no long poll
            due = self._retries[0].due - time.monotonic() if self._retries else math.inf
        messages = self._receive(
            self.events.raw_queue, "bronze" if due > LONG_POLL_SECONDS else None
        )
        started = False
        for message in messages:
            if self._stop.is_set():
                break  # left in the queue
            try:
                self._controller(json.loads(message["Body"]))
            except Exception as error:  # noqa: BLE001 retried through the queue
                self._settle(self.events.raw_queue, message, "controller", error)
                continue
            self.sqs.delete_message(
                QueueUrl=self.events.raw_queue, ReceiptHandle=message["ReceiptHandle"]
            )
            started |= self._read_stream()
        started |= self._read_stream()
        retried = self._due_retries()
        return bool(messages) or started or retried

    def _controller(self, event: dict[str, Any]) -> None:
        if "Records" not in event:  # s3:TestEvent, sent when the notification is configured
            return
        with self._stage(LAND):
            result = self.handlers.controller(event)
        for registered in result["registered"]:
            record = self._bronze_store.get(registered["control_id"])
            if record is not None:
                self._line(registered_line(record, self._bronze_store))

    def _read_stream(self) -> bool:
        """Start an ingestion per record the pipe passes, in stream order."""
        started = False
        while not self._stop.is_set():
            batch = self._pipe.read()
            if self._pipe.silver_changed:  # for the schedule (the layers thread)
                self._pipe.silver_changed = False
                with self._lock:
                    self._silver_changed = True
                    self._silver_recheck = time.monotonic() + self._lease + 1.0
            for control_id, record_count in batch:
                if self._stop.is_set():
                    break  # the emulator stops too: nothing is kept
                self._ingest(control_id, record_count, attempt=1)
            started |= bool(batch)
            if not self._pipe.behind:
                break
        return started

    def _due_retries(self) -> bool:
        ran = False
        while not self._stop.is_set():
            with self._lock:
                if not self._retries or self._retries[0].due > time.monotonic():
                    return ran
                retry = heapq.heappop(self._retries)
            self._ingest(retry.control_id, retry.record_count, attempt=retry.attempt)
            ran = True
        return ran

    def _ingest(self, control_id: str, record_count: int, *, attempt: int) -> None:
        """The ingestion state machine: ChooseCompute, then Retry (never the not-retryable)."""
        mass = record_count >= self.threshold
        if attempt == 1:
            self.compute_targets["ecs" if mass else "lambda"] += 1
        try:
            with self._stage(BRONZE):
                if mass:
                    self.handlers.mass(control_id)
                else:
                    self.handlers.lite({"control_id": control_id})
        except Exception as error:  # retried below, as the state machine would
            log.warning("ingest of %s failed", control_id, exc_info=error)
            record = self._bronze_store.get(control_id)
            what = record.object_key if record is not None else control_id
            reason = (record.error if record is not None else None) or (
                f"{type(error).__name__}: {error}"
            )
            delay = self._failed(what, reason, attempt, not isinstance(error, NOT_RETRYABLE))
            if delay is None:
                return
            with self._lock:
                heapq.heappush(
                    self._retries,
                    _Retry(time.monotonic() + delay, next(self._order), control_id,
                           record_count, attempt + 1),
                )  # fmt: skip
            return
        record = self._bronze_store.get(control_id)
        if record is not None:
            for line in ingested_lines(record):
                self._line(line)

    # -- layers: the silver schedule, the silver and gold starts -------------------------

    def _layers_pass(self) -> bool:
        """Gold starts, the schedule's tick, then (when neither worked) a long poll of the
        silver starts: gold after silver and the next tick are not kept waiting by it."""
        worked = self._gold_pass()
        worked |= self._silver_tick()
        if worked or self._stop.is_set():
            return worked
        return self._silver_starts()

    def _silver_tick(self) -> bool:
        now = time.monotonic()
        if self._stop.is_set() or (now < self._next_silver and not self._silver_now.is_set()):
            return False
        self._next_silver = now + self.silver_every
        asked = self._silver_now.is_set()
        self._silver_now.clear()
        with self._lock:
            changed, self._silver_changed = self._silver_changed, False
            recheck = now >= self._silver_recheck
            if recheck:
                self._silver_recheck = math.inf
        # No silver record changed since the last look: none became claimable (no query).
        if not (asked or changed or recheck) or not claimable(self.store, "silver"):
            return False
        self._silver(f"local-{next(self._runs)}")
        return True

    def _silver(self, run_id: str) -> SilverReport | Exception:
        """One silver run, its lines and (when it merged something) its success event; the
        report, or the error that failed the run as a whole."""
        self._line(f"silver run {run_id}: merging the pending bronze files")
        try:
            with self._stage(SILVER):
                report = silver_run(self.lake, self.store, run_id, self.cloudwatch)
        except Exception as error:  # the run failed as a whole (views)
            log.warning("silver run %s failed", run_id, exc_info=True)
            reason = f"{type(error).__name__}: {error}"
            self._line(f"error silver run {run_id}: {reason}")
            self.failures.append((f"silver run {run_id}", reason))
            return error
        for line in merged_lines(report, run_id):
            self._line(line)
        if report.merged:  # the views ran and registered gold records: gold may start
            entry = succeeded_entry(self.lake, self.events, run_id, report)
            if self.bus.put_events(Entries=[entry]).get("FailedEntryCount"):
                self._line(f"error silver run {run_id}: its success event was not accepted")
        if self.on_silver is not None:  # after the event: a caller's error never keeps gold
            self.on_silver(report)
        return report

    def _silver_starts(self) -> bool:
        """Long-poll the silver-starts queue: run each execution of the silver state machine;
        a request (:meth:`request_silver`) only wakes the thread for the tick."""
        messages = self._receive(self.events.silver_queue, "layers")
        for message in messages:
            if self._stop.is_set():
                break  # left in the queue: the emulator stops too
            body = json.loads(message["Body"])
            if body.get("trigger") == "execution":
                self._silver_execution(body)
            self.sqs.delete_message(
                QueueUrl=self.events.silver_queue, ReceiptHandle=message["ReceiptHandle"]
            )
        return bool(messages)

    def _silver_execution(self, start: dict[str, Any]) -> None:
        """Run silver for one execution (its name is the run id, as in AWS) and settle it."""
        name = str(start["execution_name"])
        tables = (start.get("input") or {}).get("tables")
        if tables:  # reject rather than merge more than was asked for
            result = _failed_result(
                "TablesNotSupportedLocally",
                f"a local silver run merges every table with pending records (the arrow "
                f"engine's run takes no selection), not only {', '.join(map(str, tables))}: "
                "start it without --tables",
            )
        else:
            outcome = self._silver(name)
            if isinstance(outcome, Exception):
                result = _failed_result(type(outcome).__name__, str(outcome))
            else:
                entry = succeeded_entry(self.lake, self.events, name, outcome)
                result = {"status": "SUCCEEDED", **json.loads(entry["Detail"])}
        self._answer("silver", name, start["task_token"], result)

    def _answer(self, layer: str, name: str, token: str, result: dict[str, Any]) -> None:
        """SendTaskSuccess with ``result``: the execution's definition succeeds it, or fails
        it with the result's error and cause (``resources.local_machine_definition``)."""
        self.sfn.send_task_success(taskToken=token, output=json.dumps(result))
        if result["status"] == EXECUTION_FAILED:
            reason = f"{result['error']}: {result['cause']}"
            self._line(f"execution {name} of {layer} FAILED: {reason}")
            self.failures.append((f"{layer} execution {name}", reason))
        else:
            self._line(f"execution {name} of {layer} SUCCEEDED")

    def _gold_pass(self) -> bool:
        messages = self._receive(self.events.gold_queue)
        if not messages or self._stop.is_set():
            return bool(messages)
        starts = [json.loads(message["Body"]) for message in messages]
        run_id = next(  # an execution's name when one asked, as in AWS
            (s["execution_name"] for s in starts if s.get("trigger") == "execution"),
            f"local-{next(self._runs)}",
        )
        try:
            with self._stage(GOLD):
                report = gold_run(self.lake, self.store, run_id)
        except Exception as error:  # noqa: BLE001 retried through the queue
            for message, start in zip(messages, starts, strict=True):
                if start.get("trigger") == "execution":  # its execution fails with it
                    failed = _failed_result(type(error).__name__, str(error))
                    self._answer("gold", start["execution_name"], start["task_token"], failed)
                    self.sqs.delete_message(
                        QueueUrl=self.events.gold_queue, ReceiptHandle=message["ReceiptHandle"]
                    )
                else:
                    self._settle(self.events.gold_queue, message, f"gold run {run_id}", error)
            return True
        for message in messages:  # one run served every start received
            self.sqs.delete_message(
                QueueUrl=self.events.gold_queue, ReceiptHandle=message["ReceiptHandle"]
            )
        self._line(refreshed_line(report, run_id))
        if report.error:
            self.failures.append((f"gold run {run_id}", report.error))
        for start in starts:
            if start.get("trigger") == "execution":
                self._answer("gold", start["execution_name"], start["task_token"],
                             _gold_result(report, run_id))  # fmt: skip
        if report.marts and self.on_gold is not None:
            self.on_gold(report)
        return True


def _failed_result(error: str, cause: str) -> dict[str, Any]:
    """A task result that fails its execution with ``error`` and ``cause``."""
    return {"status": EXECUTION_FAILED, "error": error, "cause": cause}


def _gold_result(report: GoldReport, run_id: str) -> dict[str, Any]:
    """A gold execution's result: the rows per mart rebuilt, or the failure of a mart (the
    deployed machine's ``GoldMartFailed``)."""
    if report.error is not None:
        return _failed_result(GOLD_MART_FAILED, report.error)
    rows: Counter[str] = Counter()
    for result in report.marts:
        rows[result.mart] += result.rows
    return {"status": "SUCCEEDED", "run_id": run_id, "marts": dict(rows)}
