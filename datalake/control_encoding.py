"""How a control record's status is written to DynamoDB: one encoding for every writer.

The statuses and their allowed transitions, the ``<layer>#<status>`` key of the by-layer-status
index, and the update expression of a status change. ``ControlStore`` writes through it, and
so does the ingestion state machine, whose ``dynamodb:updateItem`` task (marking a record
failed when its worker could not) is :func:`failure_update_parameters`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ControlStatus(StrEnum):
    """Lifecycle of a control record."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    DUPLICATE = "duplicate"


ALLOWED_TRANSITIONS: dict[ControlStatus, frozenset[ControlStatus]] = {
    ControlStatus.PENDING: frozenset({ControlStatus.RUNNING}),
    ControlStatus.RUNNING: frozenset(
        {ControlStatus.SUCCESS, ControlStatus.ERROR, ControlStatus.RUNNING}
    ),
    ControlStatus.ERROR: frozenset({ControlStatus.RUNNING}),
    ControlStatus.SUCCESS: frozenset(),
    ControlStatus.DUPLICATE: frozenset(),
}
"""``running -> running`` is a re-claim after the lease of a crashed worker expired."""


def can_transition(current: ControlStatus, new: ControlStatus) -> bool:
    """Whether a record may move from ``current`` to ``new``."""
    return new in ALLOWED_TRANSITIONS[current]


def layer_status_of(layer: str, status: ControlStatus) -> str:
    """Partition key of the (layer, status) index: ``<layer>#<status>``."""
    return f"{layer}#{status.value}"


def status_change(layer: str, status: ControlStatus, now: str) -> dict[str, Any]:
    """What every status change writes: the status, its index key and the time."""
    return {
        "status": status.value,
        "layer_status": layer_status_of(layer, status),
        "updated_at": now,
    }


def failure_values(error: str, *, retryable: bool) -> dict[str, Any]:
    """What a failure writes besides the status change (``None``: the attribute is removed)."""
    return {"error": error, "lease_expires_at": None, "retryable": retryable}


def update_expression(
    values: dict[str, Any],
    placeholders: dict[str, str] | None = None,
    *,
    increment: str | None = None,
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``SET``/``REMOVE`` expression, names and values of an update (``None`` removes;
    ``increment`` names a counter to add one to).

    An attribute's name placeholder is ``#<name>`` unless ``placeholders`` gives another.
    """
    placeholders = placeholders or {}
    placeholder = {k: placeholders.get(k, f"#{k}") for k in values}
    names = {placeholder[k]: k for k in values}
    sets = {k: v for k, v in values.items() if v is not None}
    removes = [k for k, v in values.items() if v is None]
    attribute_values = {f":{k}": v for k, v in sets.items()}
    assignments = [f"{placeholder[k]} = :{k}" for k in sets]
    if increment:
        names[f"#{increment}"] = increment
        assignments.append(f"#{increment} = if_not_exists(#{increment}, :zero) + :one")
        attribute_values.update({":zero": 0, ":one": 1})
    expression = "SET " + ", ".join(assignments)
    if removes:
        expression += " REMOVE " + ", ".join(placeholder[k] for k in removes)
    return expression, names, attribute_values


class StateValue(str):
    """A value a Step Functions task fills in at run time (``$.field``, an intrinsic)."""


def failure_update_parameters(table_name: str, *, layer: str = "bronze") -> dict[str, Any]:
    """The ``dynamodb:updateItem`` parameters a state machine uses to mark a record failed.

    The same attributes and encoding as :meth:`ControlStore.fail` (status, ``layer_status``,
    error, time, retryable, lease removed), for what the worker could not record itself
    (timeouts, killed tasks). The state input holds ``control_id``, and ``failure`` (the
    caught error); only unfinished records (pending, running) change.
    """
    status_placeholders = {"status": "#s"}
    values = {
        **status_change(layer, ControlStatus.ERROR, StateValue("$$.State.EnteredTime")),
        **failure_values(StateValue("States.JsonToString($.failure)"), retryable=True),
    }
    expression, names, attribute_values = update_expression(values, status_placeholders)
    attribute_values.update(
        {":pending": ControlStatus.PENDING.value, ":running": ControlStatus.RUNNING.value}
    )
    return {
        "TableName": table_name,
        "Key": {"control_id": {"S.$": "$.control_id"}},
        "UpdateExpression": expression,
        "ConditionExpression": "#s IN (:pending, :running)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {k: _typed(v) for k, v in attribute_values.items()},
    }


def _typed(value: Any) -> dict[str, Any]:
    """A value in DynamoDB's JSON (as a Step Functions SDK task passes it)."""
    if isinstance(value, StateValue):
        return {"S.$": str(value)}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}
