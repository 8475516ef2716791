"""One claim / finish / fail path for the control records of a silver or gold run.

A run (one state machine execution, or one local run) acts as one worker, ``<layer>-run:<id>``:
it claims the layer's pending records (plus retryable failures and records whose worker died;
the store decides which may be taken), and after its commit marks them success, or after a
failure marks them error with the cause. Bronze workers claim one record each (``IngestWorker``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from datalake.control import ControlRecord, ControlStatus, ControlStore
from datalake.runtime import ControlRuntime

CLAIMABLE = (ControlStatus.PENDING, ControlStatus.RUNNING, ControlStatus.ERROR)
"""Statuses a run looks at; ``ControlStore.claim`` decides which records it may take."""
DEFAULT_FAILURE = "SparkJobFailed"


def control_store(runtime: ControlRuntime, dynamodb: Any | None = None) -> ControlStore:
    """The control store a workload's runtime names, with its claim policy."""
    if dynamodb is None:
        import boto3

        dynamodb = boto3.resource("dynamodb")
    return ControlStore(
        dynamodb.Table(runtime.control_table),
        max_attempts=runtime.max_attempts,
        lease_seconds=runtime.lease_seconds,
    )


def run_worker(layer: str, run_id: str) -> str:
    """The claim holder of one run: its plan, finish and fail steps act as one worker."""
    return f"{layer}-run:{run_id}"


def claim_records(
    store: ControlStore, layer: str, worker: str, *, table: str | None = None
) -> list[ControlRecord]:
    """Claim the layer's records (of ``table`` only, if given) for ``worker``."""
    claimed = []
    for status in CLAIMABLE:
        for record in store.by_status(layer, status):
            if table is not None and record.table_name != table:
                continue
            held = store.claim(record.control_id, worker)
            if held is not None:
                claimed.append(held)
    return claimed


def finish_records(
    store: ControlStore,
    worker: str,
    control_ids: Iterable[str],
    *,
    rows_in: Mapping[str, int] | None = None,
) -> int:
    """Mark the run's records success (after its commit); ``rows_in`` by control id."""
    count = 0
    for control_id in control_ids:
        counts = {} if rows_in is None else {"rows_in": rows_in[control_id]}
        store.complete(control_id, worker, **counts)
        count += 1
    return count


def fail_records(store: ControlStore, worker: str, control_ids: Iterable[str], message: str) -> int:
    """Mark the run's records error with ``message`` (retryable: the next run claims them)."""
    count = 0
    for control_id in control_ids:
        store.fail(control_id, worker, message)
        count += 1
    return count


def failure_message(error: Mapping[str, Any] | None) -> str:
    """``Error: Cause`` of a Step Functions ``Catch`` result (``{"Error", "Cause"}``)."""
    error = error or {}
    return f"{error.get('Error', DEFAULT_FAILURE)}: {error.get('Cause', '')}".strip()
