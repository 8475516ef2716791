"""Amazon States Language, from small typed builders.

A state machine is a :class:`StateMachine` of named states; each state is a frozen dataclass
whose ``to_asl()`` renders the JSON AWS expects. Values read from the state's input are
:class:`JsonPath`; inside ``parameters``, ``payload`` and ``result_selector`` they render as the
``"<key>.$"`` form, so no definition spells that suffix by hand::

    StateMachine(
        start_at="Ingest",
        states={"Ingest": lambda_invoke(arn, {"control_id": JsonPath("$.control_id")}, end=True)},
    ).to_json()

``result_path=DISCARD`` renders ``"ResultPath": null`` (keep the input, drop the result), which
differs from leaving the field out (the result replaces the input).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
ECS_RUN_TASK_SYNC: Final = "arn:aws:states:::ecs:runTask.sync"
EMR_SERVERLESS_START_JOB_RUN_SYNC: Final = "arn:aws:states:::emr-serverless:startJobRun.sync"
EVENTS_PUT_EVENTS: Final = "arn:aws:states:::events:putEvents"
DYNAMODB_UPDATE_ITEM: Final = "arn:aws:states:::dynamodb:updateItem"
ALL_ERRORS: Final = "States.ALL"


class _Discard:
    """The ``null`` of ``ResultPath``: keep the state's input, drop the task's result."""

    def __repr__(self) -> str:
        return "DISCARD"


DISCARD: Final = _Discard()
"""``"ResultPath": null``."""


@dataclass(frozen=True)
class JsonPath:
    """A value taken from the state's input or context (``$.table``, ``$$.Execution.Name``),
    or an intrinsic function (``States.Format('x-{}', $.table)``)."""

    expression: str


def _literal(text: str) -> str:
    escaped = "".join(f"\\{c}" if c in "'{}\\" else c for c in text)
    return f"'{escaped}'"


def states_array(items: Sequence[str | JsonPath]) -> JsonPath:
    """``States.Array(...)`` of literals and paths (a JSON array cannot mix the two)."""
    rendered = (i.expression if isinstance(i, JsonPath) else _literal(i) for i in items)
    return JsonPath(f"States.Array({', '.join(rendered)})")


def render(value: Any) -> Any:
    """A payload with :class:`JsonPath` values, in ASL form (``"key.$": "<path>"``)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, JsonPath):
                out[f"{key}.$"] = item.expression
            else:
                out[key] = render(item)
        return out
    if isinstance(value, list | tuple):
        return [render(v) for v in value]
    if isinstance(value, JsonPath):
        raise TypeError(f"{value.expression}: a JSONPath must be the value of a named field")
    return value


@dataclass(frozen=True)
class Retry:
    """A retrier: which errors, how often, with what backoff."""

    errors: tuple[str, ...]
    max_attempts: int
    interval_seconds: int | None = None
    backoff_rate: float | None = None
    jitter: bool = False

    def to_asl(self) -> dict[str, Any]:
        """The retrier as ASL."""
        out: dict[str, Any] = {"ErrorEquals": list(self.errors)}
        if self.interval_seconds is not None:
            out["IntervalSeconds"] = self.interval_seconds
        if self.backoff_rate is not None:
            out["BackoffRate"] = self.backoff_rate
        out["MaxAttempts"] = self.max_attempts
        if self.jitter:
            out["JitterStrategy"] = "FULL"
        return out


def never_retry(errors: Sequence[str]) -> Retry:
    """Errors that retrying would only repeat."""
    return Retry(tuple(errors), max_attempts=0)


@dataclass(frozen=True)
class Catch:
    """A catcher: on ``errors``, store the error at ``result_path`` and go to ``next``."""

    next: str
    errors: tuple[str, ...] = (ALL_ERRORS,)
    result_path: str | _Discard | None = None

    def to_asl(self) -> dict[str, Any]:
        """The catcher as ASL."""
        out: dict[str, Any] = {"ErrorEquals": list(self.errors)}
        _result_path(out, self.result_path)
        out["Next"] = self.next
        return out


def _result_path(out: dict[str, Any], result_path: str | _Discard | None) -> None:
    if result_path is DISCARD:
        out["ResultPath"] = None
    elif result_path is not None:
        out["ResultPath"] = result_path


def _transition(out: dict[str, Any], next_state: str | None, end: bool) -> None:
    if (next_state is None) == (not end):
        raise ValueError("a state has exactly one of next= and end=True")
    if next_state is not None:
        out["Next"] = next_state
    else:
        out["End"] = True


@dataclass(frozen=True)
class Task:
    """A ``Task`` state calling a service integration."""

    resource: str
    parameters: Mapping[str, Any] | None = None
    result_selector: Mapping[str, Any] | None = None
    result_path: str | _Discard | None = None
    retry: Sequence[Retry] = ()
    catch: Sequence[Catch] = ()
    next: str | None = None
    end: bool = False

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        out: dict[str, Any] = {"Type": "Task", "Resource": self.resource}
        if self.parameters is not None:
            out["Parameters"] = render(self.parameters)
        if self.result_selector is not None:
            out["ResultSelector"] = render(self.result_selector)
        _result_path(out, self.result_path)
        if self.retry:
            out["Retry"] = [r.to_asl() for r in self.retry]
        if self.catch:
            out["Catch"] = [c.to_asl() for c in self.catch]
        _transition(out, self.next, self.end)
        return out


LAMBDA_TRANSIENT_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
)
"""Lambda errors worth retrying: the service's, not the function's."""
LAMBDA_RETRY: Final = Retry(
    LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval_seconds=2, backoff_rate=2.0, jitter=True
)


def lambda_invoke(
    function_arn: str,
    payload: Mapping[str, Any],
    *,
    result_selector: Mapping[str, Any] | None = None,
    result_path: str | _Discard | None = None,
    retry: Sequence[Retry] = (LAMBDA_RETRY,),
    catch: Sequence[Catch] = (),
    next: str | None = None,
    end: bool = False,
) -> Task:
    """Invoke a Lambda synchronously with ``payload`` (retrying the service's own errors)."""
    return Task(
        LAMBDA_INVOKE,
        parameters={"FunctionName": function_arn, "Payload": payload},
        result_selector=result_selector,
        result_path=result_path,
        retry=retry,
        catch=catch,
        next=next,
        end=end,
    )


@dataclass(frozen=True)
class ChoiceRule:
    """``variable <comparison> value`` leads to ``next`` (``IsPresent``, ``NumericEquals``...)."""

    variable: str
    comparison: str
    value: Any
    next: str

    def to_asl(self) -> dict[str, Any]:
        """The rule as ASL."""
        return {"Variable": self.variable, self.comparison: self.value, "Next": self.next}


@dataclass(frozen=True)
class Choice:
    """A ``Choice`` state: the first matching rule wins, else ``default``."""

    rules: Sequence[ChoiceRule]
    default: str

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        return {
            "Type": "Choice",
            "Choices": [r.to_asl() for r in self.rules],
            "Default": self.default,
        }


@dataclass(frozen=True)
class Pass:
    """A ``Pass`` state, optionally shaping its output with ``parameters``."""

    parameters: Mapping[str, Any] | None = None
    result_path: str | _Discard | None = None
    next: str | None = None
    end: bool = False

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        out: dict[str, Any] = {"Type": "Pass"}
        if self.parameters is not None:
            out["Parameters"] = render(self.parameters)
        _result_path(out, self.result_path)
        _transition(out, self.next, self.end)
        return out


@dataclass(frozen=True)
class Succeed:
    """A ``Succeed`` state."""

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        return {"Type": "Succeed"}


@dataclass(frozen=True)
class Fail:
    """A ``Fail`` state with its error name and cause (or where the input holds them)."""

    error: str = ""
    cause: str = ""
    error_path: str = ""
    """``ErrorPath``: the error name is read from the input (instead of ``error``)."""
    cause_path: str = ""
    """``CausePath``: the cause is read from the input (instead of ``cause``)."""

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        out: dict[str, Any] = {"Type": "Fail"}
        if self.error_path:
            out["ErrorPath"] = self.error_path
        else:
            out["Error"] = self.error
        if self.cause_path:
            out["CausePath"] = self.cause_path
        else:
            out["Cause"] = self.cause
        return out


@dataclass(frozen=True)
class Map:
    """An inline ``Map`` state: ``processor`` runs once per item of ``items_path``."""

    items_path: str
    item_selector: Mapping[str, Any]
    processor: StateMachine
    max_concurrency: int
    result_path: str | _Discard | None = None
    next: str | None = None
    end: bool = False
    result_selector: Mapping[str, Any] | None = None
    """Shapes the array of every item's output (``"$"``) before ``result_path`` places it."""

    def to_asl(self) -> dict[str, Any]:
        """The state as ASL."""
        out: dict[str, Any] = {
            "Type": "Map",
            "ItemsPath": self.items_path,
            "ItemSelector": render(self.item_selector),
            "MaxConcurrency": self.max_concurrency,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **self.processor.to_asl()},
        }
        if self.result_selector is not None:
            out["ResultSelector"] = render(self.result_selector)
        _result_path(out, self.result_path)
        _transition(out, self.next, self.end)
        return out


@dataclass(frozen=True)
class StateMachine:
    """A whole definition (or a Map's processor when ``comment`` is empty)."""

    start_at: str
    states: Mapping[str, Task | Choice | Pass | Succeed | Fail | Map]
    comment: str = ""

    def __post_init__(self) -> None:
        if self.start_at not in self.states:
            raise ValueError(f"start_at {self.start_at!r} is not a state")
        targets = {self.start_at}
        for state in self.states.values():
            targets.update(_targets(state))
        unknown = sorted(t for t in targets if t not in self.states)
        if unknown:
            raise ValueError(f"transitions to unknown states: {', '.join(unknown)}")

    def to_asl(self) -> dict[str, Any]:
        """The definition as a JSON-ready dict."""
        out: dict[str, Any] = {}
        if self.comment:
            out["Comment"] = self.comment
        out["StartAt"] = self.start_at
        out["States"] = {name: state.to_asl() for name, state in self.states.items()}
        return out

    def to_json(self, partition: str = "aws") -> str:
        """The definition as the JSON string a ``aws.sfn.StateMachine`` takes, its service
        integrations (``arn:aws:states:::...``) in ``partition``."""
        return json.dumps(in_partition(self.to_asl(), partition), indent=2)


def in_partition(definition: dict[str, Any], partition: str) -> dict[str, Any]:
    """``definition`` with every Task's integration ARN in ``partition`` (GovCloud, China)."""
    if partition == "aws":
        return definition
    states: dict[str, Any] = {}
    for name, state in definition["States"].items():
        state = dict(state)
        if state.get("Resource", "").startswith("arn:aws:"):
            state["Resource"] = f"arn:{partition}:" + state["Resource"].removeprefix("arn:aws:")
        if "ItemProcessor" in state:
            state["ItemProcessor"] = in_partition(state["ItemProcessor"], partition)
        states[name] = state
    return {**definition, "States": states}


def _targets(state: Task | Choice | Pass | Succeed | Fail | Map) -> list[str]:
    if isinstance(state, Choice):
        return [state.default, *(r.next for r in state.rules)]
    out = [c.next for c in getattr(state, "catch", ())]
    next_state = getattr(state, "next", None)
    return [*out, next_state] if next_state else out


LAMBDA_SERVICE_ERRORS: Final = LAMBDA_TRANSIENT_ERRORS[:4]
"""The Lambda errors the silver and gold machines retry: :data:`LAMBDA_TRANSIENT_ERRORS`
without the client timeout."""
LAMBDA_SERVICE_RETRY: Final = Retry(
    LAMBDA_SERVICE_ERRORS, max_attempts=3, interval_seconds=2, backoff_rate=2.0, jitter=True
)
