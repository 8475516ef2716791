"""What ``datalake local run`` shows as it goes: its progress, and the dispatcher's lines.

:class:`StageProgress` is what the runner reports to (the CLI's progress bars,
``present.py``); :class:`CountedHandlers` wraps the deployed bronze entry points so that
the bars of land + control and bronze advance as the dispatcher calls them; the
dispatcher's own lines are kept by :class:`KeptLines`, to name the last of them when the
lake does not become idle.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Protocol

from . import dispatcher as events
from .dispatcher import Dispatcher
from .invoke import Handlers
from .runner_report import BRONZE, LAND
from .seed import SeedPlan


class StageProgress(Protocol):
    """What the runner reports as it goes (the CLI draws progress bars from it)."""

    def begin(self, summary: str) -> None:
        """The input is ready: ``summary`` says what it holds (before the first stage)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, amount: int = 1) -> None: ...


class SilentProgress:
    """A :class:`StageProgress` that shows nothing (no progress asked for)."""

    def begin(self, summary: str) -> None:
        pass

    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, amount: int = 1) -> None:
        pass


class KeptLines:
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
        """Wait until the dispatcher is idle; not idle in time: the error names the last lines."""
        try:
            dispatcher.wait_until_idle(timeout, silver=silver, what=what)
        except events.NotIdleError as error:
            with self.lock:
                last = "\n  ".join(self.lines[-5:])
            if last:
                raise events.NotIdleError(f"{error}; its last lines:\n  {last}") from None
            raise


class CountedHandlers:
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
