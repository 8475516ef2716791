"""Shared fixtures: the program run under mocks for each example stack."""

from __future__ import annotations

import pytest

from components.preview import Registered, run_program, stack_config


@pytest.fixture(scope="session")
def dev_resources() -> list[Registered]:
    """Everything ``__main__.py`` registers with ``Pulumi.dev.yaml``."""
    return run_program("dev", stack_config("dev"))


@pytest.fixture(scope="session")
def prod_resources() -> list[Registered]:
    """Everything ``__main__.py`` registers with ``Pulumi.prod.yaml``."""
    return run_program("prod", stack_config("prod"))
