"""The dispatcher's layers thread (``dispatcher.py`` draws the wiring): the silver schedule,
the silver and gold starts.

The schedule looks for claimable silver records every ``silver_every`` seconds, but only
after the bronze thread saw a silver record change on the control table's stream (a lease that
may have expired is looked for once, ``lease_seconds`` after the last change), or on demand.
A silver run that merged something puts ``SilverPipelineSucceeded`` on the lake bus, whose
rule ``gold-after-silver`` delivers it to the gold-starts queue; one gold run serves every
start received. Executions of the state machines are settled through
``dispatcher_executions.py``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from typing import Any

from datalake.control import ControlStore

from ..silver.pipeline import SilverReport
from .dispatcher_core import GOLD, SILVER, DispatcherCore
from .dispatcher_executions import answer, failed_result, gold_result, silver_result, tables_refused
from .invoke import claimable, gold_run, silver_run, succeeded_entry
from .live_lines import merged_lines, refreshed_line

log = logging.getLogger(__name__)
SILVER_EVERY_SECONDS = 5.0
"""How often a live local lake looks for silver work (the stack's ``silver.schedule`` is
hours; seconds on a laptop)."""


class LayerSide:
    """One pass of the layers thread at a time (:meth:`step`), on ``core``'s clients."""

    def __init__(self, core: DispatcherCore, store: ControlStore, silver_every: float):
        self.core, self.store, self.silver_every = core, store, silver_every
        self._asked = threading.Event()
        self._runs = itertools.count(1)
        self._next_silver = 0.0
        self._lease = float(core.lake.settings.ingestion.lease_seconds)
        self._silver_changed = False
        """The stream showed a silver record change since the schedule last looked."""
        self._silver_recheck = math.inf
        """When the schedule looks again anyway: a running record's lease may have expired."""

    def start(self) -> None:
        """The schedule's first tick is ``silver_every`` from now."""
        self._next_silver = time.monotonic() + self.silver_every

    def silver_changed(self) -> None:
        """The bronze thread saw a silver record change on the stream: the next tick looks,
        and looks again once a lease taken now may have expired."""
        with self.core._lock:
            self._silver_changed = True
            self._silver_recheck = time.monotonic() + self._lease + 1.0

    def request_silver(self) -> None:
        """Run silver at the next pass rather than at the next tick (see
        :meth:`Dispatcher.request_silver`): the message wakes the thread from its long poll."""
        self._asked.set()
        self.core.sqs.send_message(
            QueueUrl=self.core.events.silver_queue, MessageBody=json.dumps({"trigger": "request"})
        )

    def step(self) -> bool:
        """Gold starts, the schedule's tick, then (when neither worked) a long poll of the
        silver starts: gold after silver and the next tick are not kept waiting by it."""
        worked = self._gold_pass()
        worked |= self._silver_tick()
        if worked or self.core._stop.is_set():
            return worked
        return self._silver_starts()

    def _silver_tick(self) -> bool:
        now = time.monotonic()
        if self.core._stop.is_set() or (now < self._next_silver and not self._asked.is_set()):
            return False
        self._next_silver = now + self.silver_every
        asked = self._asked.is_set()
        self._asked.clear()
        with self.core._lock:
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
        core = self.core
        core._line(f"silver run {run_id}: merging the pending bronze files")
        try:
            with core._stage(SILVER):
                report = silver_run(core.lake, self.store, run_id, core.cloudwatch)
        except Exception as error:  # the run failed as a whole (control table, catalog)
            log.warning("silver run %s failed", run_id, exc_info=True)
            reason = f"{type(error).__name__}: {error}"
            core._line(f"error silver run {run_id}: {reason}")
            core.failures.append((f"silver run {run_id}", reason))
            return error
        for line in merged_lines(report, run_id):
            core._line(line)
        if report.merged:  # the views ran and registered gold records: gold may start
            entry = succeeded_entry(core.lake, core.events, run_id, report)
            if core.bus.put_events(Entries=[entry]).get("FailedEntryCount"):
                core._line(f"error silver run {run_id}: its success event was not accepted")
        if core.on_silver is not None:  # after the event: a caller's error never keeps gold
            core.on_silver(report)
        return report

    def _silver_starts(self) -> bool:
        """Long-poll the silver-starts queue: run each execution of the silver state machine;
        a request (:meth:`request_silver`) only wakes the thread for the tick."""
        core = self.core
        messages = core._receive(core.events.silver_queue, "layers")
        for message in messages:
            if core._stop.is_set():
                break  # left in the queue: the emulator stops too
            body = json.loads(message["Body"])
            if body.get("trigger") == "execution":
                self._silver_execution(body)
            core.sqs.delete_message(
                QueueUrl=core.events.silver_queue, ReceiptHandle=message["ReceiptHandle"]
            )
        return bool(messages)

    def _silver_execution(self, start: dict[str, Any]) -> None:
        """Run silver for one execution (its name is the run id, as in AWS) and settle it."""
        name = str(start["execution_name"])
        tables = (start.get("input") or {}).get("tables")
        if tables:  # reject rather than merge more than was asked for
            result = tables_refused(tables)
        else:
            result = silver_result(self.core, name, self._silver(name))
        answer(self.core, "silver", name, start["task_token"], result)

    def _gold_pass(self) -> bool:
        core, queue = self.core, self.core.events.gold_queue
        messages = core._receive(queue)
        if not messages or core._stop.is_set():
            return bool(messages)
        starts = [json.loads(message["Body"]) for message in messages]
        run_id = next(  # an execution's name when one asked, as in AWS
            (s["execution_name"] for s in starts if s.get("trigger") == "execution"),
            f"local-{next(self._runs)}",
        )
        try:
            with core._stage(GOLD):
                report = gold_run(core.lake, self.store, run_id)
        except Exception as error:  # noqa: BLE001 retried through the queue
            for message, start in zip(messages, starts, strict=True):
                if start.get("trigger") == "execution":  # its execution fails with it
                    failed = failed_result(type(error).__name__, str(error))
                    answer(core, "gold", start["execution_name"], start["task_token"], failed)
                    core.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                else:
                    core._settle(queue, message, f"gold run {run_id}", error)
            return True
        for message in messages:  # one run served every start received
            core.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        core._line(refreshed_line(report, run_id))
        if report.error:
            core.failures.append((f"gold run {run_id}", report.error))
        for start in starts:
            if start.get("trigger") == "execution":
                answer(core, "gold", start["execution_name"], start["task_token"],
                       gold_result(report, run_id))  # fmt: skip
        if report.marts and core.on_gold is not None:
            core.on_gold(report)
        return True
