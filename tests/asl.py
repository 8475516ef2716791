"""Validate Amazon States Language definitions with the ``asl-validator`` npm package.

``scripts/install`` installs it (``npm ci`` from the root ``package-lock.json``) into
``node_modules/``. Every state machine the components build goes through ``validate_asl``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


class AslValidatorMissingError(RuntimeError):
    """``node_modules/.bin/asl-validator`` is not installed."""


def validate_asl(
    definition: dict[str, Any] | str, *, check_paths: bool = True, check_arns: bool = True
) -> list[str]:
    """The errors ``asl-validator`` finds in ``definition`` (a dict or its JSON); [] if valid.

    ``check_paths``/``check_arns`` off skip the validator's JSONPath and Resource-ARN checks
    (for definitions whose ARNs are still placeholders).
    """
    if not VALIDATOR.exists():
        raise AslValidatorMissingError(f"{VALIDATOR} is missing: run scripts/install (npm ci)")
    if isinstance(definition, str):
        try:  # the validator reports unparsable JSON but still exits 0
            definition = json.loads(definition)
        except json.JSONDecodeError as error:
            return [f"not JSON: {error}"]
    if not isinstance(definition, dict):
        return [f"not a JSON object: {type(definition).__name__}"]
    flags = [] if check_paths else ["--no-path-check"]
    flags += [] if check_arns else ["--no-arn-check"]
    with tempfile.TemporaryDirectory() as folder:
        # A file, not --json-definition: a large definition could outgrow the argument list.
        path = Path(folder) / "definition.asl.json"
        path.write_text(json.dumps(definition))
        result = subprocess.run(
            [str(VALIDATOR), "--json-path", str(path), *flags],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if result.returncode == 0:
        return []
    # stderr: a "... is invalid:" header, then one "CODE: message" line per error.
    lines = [line.strip() for line in result.stderr.splitlines()]
    errors = [line for line in lines if line and not line.startswith("✕")]
    return errors or [f"asl-validator exited {result.returncode}: {result.stdout}{result.stderr}"]
