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

Two threads, as AWS runs them side by side: *bronze* (queue, stream, ingest retries;
``dispatcher_bronze.py``) and *layers* (silver schedule, silver and gold starts;
``dispatcher_layers.py``, which settles executions through ``dispatcher_executions.py``). A
quiet thread waits in a long poll of its queue (``LONG_POLL_SECONDS``; moto answers as soon as
a message arrives), so an idle lake makes about two requests a second per thread and still
reacts at once. The schedule looks for claimable silver records only after the control
table's stream showed a silver record change (a lease that may have expired is looked for
once, ``lease_seconds`` after the last change): nothing else makes one claimable.
A handler that raises is logged and retried as AWS would (the settings' ``max_attempts`` and
``retry_backoff_rate``; locally the first wait is ``RETRY_SECONDS``), then given up; nothing
stops the loop but :meth:`Dispatcher.stop`. One line per event goes to ``say``: reasons as the
control records hold them (value-free), never a row's values. What both threads share (clients,
loop, stages, lines, queues) is ``dispatcher_core.py``; this module wires them and tells when
the lake is idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from datalake.control import ControlStatus

from ..gold.pipeline import GoldReport
from ..silver.pipeline import SilverReport
from .dispatcher_bronze import BronzeSide
from .dispatcher_core import (
    BRONZE,
    GOLD,
    LAND,
    LONG_POLL_SECONDS,
    POLL_SECONDS,
    RETRY_SECONDS,
    SILVER,
    DispatcherCore,
    Say,
)
from .dispatcher_layers import SILVER_EVERY_SECONDS, LayerSide
from .emulator import EmulatorError
from .invoke import Handlers, claimable
from .resources import LakeEvents, LocalLake

__all__ = [  # the dispatcher's public names, wherever in its modules they are defined
    "BRONZE",
    "GOLD",
    "LAND",
    "LONG_POLL_SECONDS",
    "POLL_SECONDS",
    "RETRY_SECONDS",
    "SILVER",
    "SILVER_EVERY_SECONDS",
    "STOP_SECONDS",
    "Dispatcher",
    "NotIdleError",
    "Say",
]
STOP_SECONDS = 60.0
"""How long :meth:`Dispatcher.stop` waits for a running stage to finish."""
PENDING_KEYS = 5
"""Object keys :meth:`Dispatcher.pending` names at most (the rest are counted)."""


class NotIdleError(EmulatorError):
    """The live lake did not become idle in time (the message names what is pending)."""


class Dispatcher(DispatcherCore):
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
        super().__init__(lake, events, say=say, poll=poll, handlers=handlers or Handlers())
        self.on_gold, self.on_silver = on_gold, on_silver
        self._layers = LayerSide(self, self.store, silver_every)
        self._bronze = BronzeSide(self, self._bronze_store, self._layers.silver_changed)
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Read the stream from now on (LATEST, as the pipe starts) and start both threads."""
        self._bronze.start()
        self._layers.start()
        for name, step in (("bronze", self._bronze.step), ("layers", self._layers.step)):
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
        self._layers.request_silver()

    # -- idle: nothing in flight -----------------------------------------------------------

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
            if self._bronze.retries:
                found.append(f"{len(self._bronze.retries)} ingest retry(ies) waiting")
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
            if +self._busy or self._bronze.retries:
                return False
        names = ["ApproximateNumberOf" + n for n in ("Messages", "MessagesNotVisible")]
        for queue in (self.events.raw_queue, self.events.silver_queue, self.events.gold_queue):
            found = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)
            if any(int(v) for v in found["Attributes"].values()):
                return False
        return not (silver and claimable(self._idle_store, "silver"))
