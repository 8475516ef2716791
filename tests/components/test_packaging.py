"""The library installs as one package, ``datalake`` (``datalake.components``,
``datalake.workloads``): its modules import their siblings relatively, and the bundles find
their files in either layout (``tests/components/test_consumer_project.py`` runs the wheel)."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

from components import bundle
from components.ingest_task import image_context
from components.lambda_bundle import _source_files
from components.spark_bundle import build_spark_job_bundle

ROOT = Path(__file__).resolve().parents[2]
SPARK_ENTRIES = {"spark_job.py"}
"""Run as ``__main__`` on EMR, beside a zip holding ``workloads/``: absolute imports there."""


def absolute_self_imports(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.name in SPARK_ENTRIES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name == package or name.startswith(f"{package}."):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


@pytest.mark.parametrize("package", ["components", "workloads"])
def test_the_installed_packages_import_their_siblings_relatively(package):
    """``from components.x import y`` would not import from the wheel, where the package is
    ``datalake.components``; ``from .x import y`` imports in both layouts."""
    assert absolute_self_imports(package) == []


def test_in_the_repository_the_bundles_read_the_source_tree():
    assert not bundle.INSTALLED
    assert (bundle.DATALAKE_DIR, bundle.WORKLOADS_DIR) == (ROOT / "datalake", ROOT / "workloads")
    assert bundle.CONSTRAINTS == ROOT / "constraints.txt"
    assert bundle.NESTED_DIRS == ()
    assert image_context() == ROOT


def test_the_lambda_bundle_leaves_out_the_directories_it_is_told_to(tmp_path):
    package = tmp_path / "datalake"
    for name in ("__init__.py", "domain/__init__.py", "components/x.py", "examples/b/d.yaml"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("")
    excluded = (package / "components", package / "examples")
    names = sorted(name for name, _ in _source_files((package,), excluded))
    assert names == ["datalake/__init__.py", "datalake/domain/__init__.py"]


def test_a_staged_tree_is_content_addressed_and_written_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAKE_BUILD_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "a.txt"
    source.write_text("one")
    first = bundle.staged_tree("context", {"x/a.txt": source, "b.txt": source})
    assert (first / "x" / "a.txt").read_text() == "one" and (first / "b.txt").is_file()
    assert bundle.staged_tree("context", {"b.txt": source, "x/a.txt": source}) == first
    source.write_text("two")
    second = bundle.staged_tree("context", {"x/a.txt": source, "b.txt": source})
    assert second != first and (second / "x" / "a.txt").read_text() == "two"


def test_the_spark_bundle_follows_relative_imports_of_the_modules_it_ships(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAKE_BUILD_CACHE", str(tmp_path / "cache"))
    top = tmp_path / "workloads"
    files = {
        "__init__.py": "",
        "silver/__init__.py": "",
        "silver/spark_job.py": "from workloads.shared.spark_common import run\n",
        "shared/__init__.py": "",
        "shared/spark_common.py": "from .view_sql import render\nfrom ..silver import helpers\n",
        "shared/view_sql.py": "from . import quoting\n",
        "shared/quoting.py": "",
        "silver/helpers.py": "",
        "shared/unused.py": "",
    }
    for name, text in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text)
    shipped = build_spark_job_bundle(top / "silver" / "spark_job.py")
    assert sorted(shipped.modules) == [
        "workloads/__init__.py",
        "workloads/shared/__init__.py",
        "workloads/shared/quoting.py",
        "workloads/shared/spark_common.py",
        "workloads/shared/view_sql.py",
        "workloads/silver/__init__.py",
        "workloads/silver/helpers.py",
    ]
    with zipfile.ZipFile(shipped.cached_zip("silver")) as archive:
        assert sorted(archive.namelist()) == sorted(shipped.modules)
