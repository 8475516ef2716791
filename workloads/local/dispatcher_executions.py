"""Executions of the local silver and gold state machines (``dispatcher.py`` draws the
wiring): the task result of a run, and the SendTaskSuccess that settles its execution.

A local machine has one task: it sends the execution's input and task token to the layer's
queue and waits (``resources.local_machine_definition``). Its definition succeeds the
execution with the result, or fails it with the result's ``error`` and ``cause`` when its
``status`` is :data:`~workloads.local.resources.EXECUTION_FAILED`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..gold.pipeline import GoldReport
from ..silver.pipeline import SilverReport
from .dispatcher_core import DispatcherCore
from .invoke import succeeded_entry
from .resources import EXECUTION_FAILED, GOLD_MART_FAILED


def failed_result(error: str, cause: str) -> dict[str, Any]:
    """A task result that fails its execution with ``error`` and ``cause``."""
    return {"status": EXECUTION_FAILED, "error": error, "cause": cause}


def tables_refused(tables: list[Any]) -> dict[str, Any]:
    """A silver execution that names tables: refused rather than merge more than was asked
    for."""
    return failed_result(
        "TablesNotSupportedLocally",
        f"a local silver run merges every table with pending records (the arrow "
        f"engine's run takes no selection), not only {', '.join(map(str, tables))}: "
        "start it without --tables",
    )


def silver_result(core: DispatcherCore, run_id: str, outcome: SilverReport | Exception) -> dict:
    """A silver execution's result: the detail of its success event, or the run's error."""
    if isinstance(outcome, Exception):
        return failed_result(type(outcome).__name__, str(outcome))
    entry = succeeded_entry(core.lake, core.events, run_id, outcome)
    return {"status": "SUCCEEDED", **json.loads(entry["Detail"])}


def gold_result(report: GoldReport, run_id: str) -> dict[str, Any]:
    """A gold execution's result: the rows per mart rebuilt, or the failure of a mart (the
    deployed machine's ``GoldMartFailed``)."""
    if report.error is not None:
        return failed_result(GOLD_MART_FAILED, report.error)
    rows: Counter[str] = Counter()
    for result in report.marts:
        rows[result.mart] += result.rows
    return {"status": "SUCCEEDED", "run_id": run_id, "marts": dict(rows)}


def answer(core: DispatcherCore, layer: str, name: str, token: str, result: dict[str, Any]) -> None:
    """SendTaskSuccess with ``result``, and its line (a failure is one of ``core.failures``)."""
    core.sfn.send_task_success(taskToken=token, output=json.dumps(result))
    if result["status"] == EXECUTION_FAILED:
        reason = f"{result['error']}: {result['cause']}"
        core._line(f"execution {name} of {layer} FAILED: {reason}")
        core.failures.append((f"{layer} execution {name}", reason))
    else:
        core._line(f"execution {name} of {layer} SUCCEEDED")
