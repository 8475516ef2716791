"""``tests.asl.validate_asl`` accepts a valid state machine and names what is wrong in others."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.asl import validate_asl

LAMBDA = "arn:aws:lambda:eu-west-1:123456789012:function:ingest"

# The shapes the lake's state machines use: a retried, caught Lambda task, a Choice, a Map.
VALID: dict[str, Any] = {
    "Comment": "ingest each file, fail the run if any file failed",
    "StartAt": "Files",
    "States": {
        "Files": {
            "Type": "Map",
            "ItemsPath": "$.files",
            "MaxConcurrency": 4,
            "ItemProcessor": {
                "StartAt": "Ingest",
                "States": {
                    "Ingest": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": LAMBDA, "Payload.$": "$"},
                        "ResultSelector": {"ok.$": "$.Payload.ok"},
                        "Retry": [
                            {
                                "ErrorEquals": ["Lambda.TooManyRequestsException"],
                                "IntervalSeconds": 2,
                                "MaxAttempts": 3,
                                "BackoffRate": 2.0,
                            }
                        ],
                        "Catch": [
                            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Bad"}
                        ],
                        "End": True,
                    },
                    "Bad": {"Type": "Pass", "Result": {"ok": False}, "End": True},
                },
            },
            "ResultPath": "$.results",
            "Next": "AllOk",
        },
        "AllOk": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.results[0].ok", "BooleanEquals": False, "Next": "Failed"}],
            "Default": "Done",
        },
        "Failed": {"Type": "Fail", "Error": "IngestFailed", "Cause": "a file failed"},
        "Done": {"Type": "Succeed"},
    },
}


def _broken(change: Any) -> dict[str, Any]:
    definition = copy.deepcopy(VALID)
    change(definition["States"])
    return definition


def test_a_valid_definition_has_no_errors() -> None:
    assert validate_asl(VALID) == []


def test_the_json_text_of_a_definition_is_validated_too() -> None:
    assert validate_asl(json.dumps(VALID)) == []


def test_a_transition_to_a_missing_state_is_reported() -> None:
    errors = validate_asl(_broken(lambda states: states["AllOk"].update(Default="Finished")))

    assert any("MISSING_TRANSITION_TARGET" in e and "Finished" in e for e in errors), errors


def test_a_state_with_neither_next_nor_end_is_reported() -> None:
    errors = validate_asl(_broken(lambda states: states["Files"].pop("Next")))

    assert 'TERMINAL_STATE_WITH_NEXT: State "Files" MUST contain exactly one of "End", "Next"' in (
        errors
    )


def test_an_unknown_state_type_is_reported() -> None:
    errors = validate_asl(_broken(lambda states: states["Done"].update(Type="Finish")))

    assert any(e.startswith("SCHEMA_VALIDATION_FAILED: /States/Done/Type") for e in errors), errors


def test_a_malformed_json_path_is_reported() -> None:
    errors = validate_asl(_broken(lambda states: states["Files"].update(ItemsPath="files[")))

    assert any("/States/Files/ItemsPath is invalid" in e for e in errors), errors


def test_text_that_is_not_json_is_an_error() -> None:
    # asl-validator itself exits 0 on unparsable input: the helper must not pass it.
    (error,) = validate_asl("{not json")

    assert error.startswith("not JSON:")
