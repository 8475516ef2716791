"""The names of a deployed lake, from its stack outputs (``pulumi stack output --json``).

Read from a saved file or by running ``pulumi stack output``; never guessed, so the operating
commands need no Pulumi import. The local lake on an emulator has no stack: its outputs derive
from the local settings (``datalake/local_outputs.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PULUMI_TIMEOUT_SECONDS = 120


class OperationsError(RuntimeError):
    """An operation that cannot be done; the message says why, in one line."""


@dataclass(frozen=True)
class LakeOutputs:
    """The stack outputs the operations need (names as ``__main__.py`` exports them)."""

    landing_bucket: str
    lake_bucket: str
    artifacts_bucket: str
    control_table_name: str
    silver_state_machine_arn: str
    gold_state_machine_arn: str
    bronze_ingestion_state_machine_arn: str
    region: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> LakeOutputs:
        """Take the known keys of a ``pulumi stack output --json`` object; others are ignored."""
        required = [f.name for f in fields(cls) if f.name != "region"]
        missing = [name for name in required if not data.get(name)]
        if missing:
            raise OperationsError(f"{source} lacks the stack outputs: {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name in [*required, "region"]:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise OperationsError(f"{source}: output {name} must be a string, not {value!r}")
            values[name] = value or None
        return cls(**values)


def load_outputs(path: Path | None, stack: str | None) -> LakeOutputs:
    """Outputs from ``path`` (``pulumi stack output --json`` saved to a file), else from Pulumi.

    Without ``path``, runs ``pulumi stack output --json [--stack S]`` in the current directory
    when the ``pulumi`` executable is on ``PATH``.
    """
    if path is not None:
        if stack is not None:
            raise OperationsError(
                "--stack selects a Pulumi stack to read outputs from; do not combine it with "
                "--outputs"
            )
        return LakeOutputs.from_mapping(_read_outputs_file(path), source=str(path))
    return LakeOutputs.from_mapping(_pulumi_outputs(stack), source=_pulumi_source(stack))


def load_output_mapping(path: Path | None, stack: str | None) -> dict[str, Any]:
    """The raw stack outputs, from ``path`` or from ``pulumi stack output --json``."""
    if path is not None:
        if stack is not None:
            raise OperationsError(
                "--stack selects a Pulumi stack to read outputs from; do not combine it with "
                "--outputs"
            )
        return dict(_read_outputs_file(path))
    return _pulumi_outputs(stack)


def _read_outputs_file(path: Path) -> Any:
    if not path.is_file():
        raise OperationsError(f"outputs file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise OperationsError(f"cannot read outputs file {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise OperationsError(f"outputs file {path} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise OperationsError(
            f"outputs file {path} must hold one JSON object (pulumi stack output --json)"
        )
    return data


def _pulumi_source(stack: str | None) -> str:
    return "pulumi stack output" + (f" --stack {stack}" if stack else "")


def _pulumi_outputs(stack: str | None) -> dict[str, Any]:
    executable = shutil.which("pulumi")
    if executable is None:
        raise OperationsError(
            "pulumi is not on PATH: pass --outputs FILE (save it with "
            "`pulumi stack output --json > outputs.json`)"
        )
    command = [executable, "stack", "output", "--json"]
    if stack:
        command += ["--stack", stack]
    source = _pulumi_source(stack)
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PULUMI_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise OperationsError(
            f"{source} did not answer within {PULUMI_TIMEOUT_SECONDS} s; pass --outputs FILE"
        ) from None
    except OSError as error:
        raise OperationsError(f"cannot run {source}: {error}") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("error: ") if lines else "no message"
        raise OperationsError(f"{source} failed (exit {result.returncode}): {reason}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise OperationsError(f"{source} did not print JSON: {error}") from None
    if not isinstance(data, dict):
        raise OperationsError(f"{source} did not print a JSON object")
    return data


# --- AWS clients -------------------------------------------------------------------------------
