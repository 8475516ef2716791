"""The import contract in ``pyproject.toml`` (``[tool.importlinter]``) holds, and it can fail.

The contract is the architecture: ``datalake/`` and ``workloads/`` never import Pulumi or
``components/``, and ``datalake/`` never imports ``workloads/`` (one written exception).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports_executable() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail(
            "lint-imports is not installed: run scripts/install (import-linter is a dev dep)"
        )
    return found


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the project at ``project``, its packages importable from there."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [_lint_imports_executable(), "--no-logo", "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _importlinter_config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["importlinter"]
    return config


def test_the_import_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    if result.returncode != 0:
        pytest.fail(f"import contract broken:\n{result.stdout}{result.stderr}", pytrace=False)
    assert "0 broken" in result.stdout


def test_every_installed_pulumi_package_is_forbidden_below_components() -> None:
    # A new Pulumi provider SDK must join the contract, or it could be imported unnoticed.
    installed = {name for name in packages_distributions() if name.startswith("pulumi")}
    contract = next(c for c in _importlinter_config()["contracts"] if c["id"] == "no-pulumi")
    assert installed <= set(contract["forbidden_modules"])


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _kept_tree(root: Path) -> Path:
    """A small project under the project's own contracts that keeps them all."""
    config = _importlinter_config()
    _write(root / "pyproject.toml", _as_toml(config))
    for package in config["root_packages"]:
        _write(root / package / "__init__.py")
    _write(root / "components" / "storage.py", "import pulumi\nfrom workloads import job\n")
    _write(root / "workloads" / "job.py", "from datalake import naming\n")
    _write(root / "workloads" / "local" / "__init__.py")
    _write(root / "workloads" / "local" / "runner.py")
    _write(root / "datalake" / "naming.py")
    # The written exception: the CLI's lazy import of the local runner.
    _write(
        root / "datalake" / "cli_local.py", "def run():\n    from workloads.local import runner\n"
    )
    return root


def test_a_tree_that_keeps_the_contract_passes(tmp_path: Path) -> None:
    result = lint_imports(_kept_tree(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken", "line"),
    [
        (
            "datalake/tags.py",
            "import pulumi_aws\n",
            "datalake and workloads never import Pulumi",
            "datalake.tags -> pulumi_aws",
        ),
        (
            "workloads/handler.py",
            "from components import storage\n",
            "datalake and workloads never import components",
            "workloads.handler -> components.storage",
        ),
        (
            "datalake/cli_local.py",
            "def run():\n    from workloads.local import runner\n\n\n"
            "def other():\n    from workloads import job\n",
            "datalake never imports workloads",
            "datalake.cli_local -> workloads.job",
        ),
    ],
)
def test_the_contract_reports_a_violation(
    tmp_path: Path, module: str, source: str, broken: str, line: str
) -> None:
    _write(_kept_tree(tmp_path) / module, source)

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken} BROKEN" in result.stdout
    assert line in result.stdout


def _as_toml(config: dict[str, Any]) -> str:
    """``[tool.importlinter]`` as TOML (the subset the contract uses: strings, bools, lists)."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {value(v)}" for key, v in config.items() if key != "contracts"]
    for contract in config["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {value(v)}" for key, v in contract.items()]
    return "\n".join(lines) + "\n"
