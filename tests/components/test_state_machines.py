"""Every state machine the program declares is valid Amazon States Language, as the
``asl-validator`` package (the AWS schema) reads it, in the dev and the prod stack."""

from __future__ import annotations

import pytest

from tests.asl import validate_asl
from tests.components.inventory import Inventory


@pytest.mark.parametrize("stack", ["dev_resources", "prod_resources"])
def test_every_state_machine_definition_is_valid_asl(stack, request):
    definitions = Inventory(request.getfixturevalue(stack)).definitions()
    assert len(definitions) >= 4, sorted(definitions)
    errors = {name: validate_asl(d) for name, d in definitions.items()}
    assert {name: e for name, e in errors.items() if e} == {}


def test_the_validator_rejects_a_transition_to_a_missing_state():
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}
    assert validate_asl(broken)
