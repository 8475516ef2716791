"""Lambda bundles: arm64/cp312 wheels only, source packages included, deterministic, cached.

Installs the real wheels from the package index once per session (network needed).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from components import lambda_bundle
from components.code import LAMBDA_PACKAGES, pinned_requirements
from components.lambda_bundle import (
    BundleReport,
    LambdaBundleError,
    LambdaBundleSpec,
    build_lambda_bundle,
    bundle_report,
)

ROOT = Path(__file__).resolve().parents[2]
# Exactly what the BronzeZone component bundles (pinned by constraints.txt).
REQUIREMENTS = pinned_requirements(LAMBDA_PACKAGES, ROOT / "constraints.txt")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda-bundle-cache")


@pytest.fixture(scope="session")
def spec(tmp_path_factory: pytest.TempPathFactory) -> LambdaBundleSpec:
    """The repo's ``datalake`` and ``workloads`` packages, as of the start of the session.

    A snapshot (same relative paths, bytes and modes, so the same bundle) keeps the cache and
    determinism tests meaningful while someone edits the working tree during the run.
    """
    snapshot = tmp_path_factory.mktemp("sources")
    for name in ("datalake", "workloads"):
        shutil.copytree(ROOT / name, snapshot / name, ignore=shutil.ignore_patterns("__pycache__"))
    return LambdaBundleSpec(
        source_packages=(snapshot / "datalake", snapshot / "workloads"),
        requirements=REQUIREMENTS,
        python_version="3.12",
        architecture="arm64",
    )


@pytest.fixture(scope="session")
def bundle(spec: LambdaBundleSpec, cache_dir: Path) -> Path:
    """The one real build of the session (the only pip install)."""
    return build_lambda_bundle(spec, cache_dir)


@pytest.fixture(scope="session")
def report(bundle: Path) -> BundleReport:
    return bundle_report(bundle)


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the build runs pip."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pip ran: {args}")

    monkeypatch.setattr(lambda_bundle.subprocess, "run", refuse)


def test_bundle_is_named_after_its_inputs(bundle: Path, cache_dir: Path) -> None:
    assert bundle.parent == cache_dir
    assert bundle.name.startswith("lambda-bundle-") and bundle.suffix == ".zip"
    assert len(bundle.stem.removeprefix("lambda-bundle-")) == 64


def test_source_packages_are_included_without_bytecode(report: BundleReport) -> None:
    assert "datalake/settings.py" in report.names
    assert "workloads/__init__.py" in report.names
    assert not [n for n in report.names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in report.names if n.endswith("/")], "no directory entries"


def test_pydantic_core_extension_is_aarch64_cp312(report: BundleReport) -> None:
    core = [so for so in report.shared_objects if so.name.startswith("pydantic_core/")]
    assert core, f"no pydantic_core extension in {report.shared_objects}"
    for so in core:
        assert so.machine == "aarch64", so
        assert so.abi == "cpython-312", so


def test_every_wheel_is_pure_or_cp312_manylinux_aarch64(report: BundleReport) -> None:
    assert any(d.startswith("pydantic-2.14.3.") for d in report.wheel_tags)
    assert any(d.startswith("aws_lambda_powertools-3.37.0.") for d in report.wheel_tags)
    for dist, tags in report.wheel_tags.items():
        assert tags, f"{dist} has no Tag in WHEEL"
        for tag in tags:
            assert tag == "py3-none-any" or (
                "cp312" in tag and "aarch64" in tag and "manylinux" in tag
            ), f"{dist}: {tag}"


def test_nothing_from_this_machine_slipped_in(report: BundleReport) -> None:
    assert report.shared_objects
    for so in report.shared_objects:
        assert so.machine != "x86_64", so
        assert "cpython-311" not in so.name and so.abi != "cpython-311", so
        assert "x86_64" not in so.name, so


def test_runtime_provided_packages_are_not_bundled(report: BundleReport) -> None:
    top_levels = {n.split("/")[0].split("-")[0].lower() for n in report.names}
    for runtime in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"):
        assert runtime not in top_levels
    assert "six.py" not in top_levels
    assert not [n for n in report.names if n.startswith("bin/")], "no console scripts"


def test_entries_have_fixed_metadata(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.external_attr >> 16 in (0o644, 0o755)


def test_rebuild_in_a_fresh_cache_is_byte_identical(
    spec: LambdaBundleSpec, bundle: Path, cache_dir: Path, tmp_path: Path, no_pip: None
) -> None:
    # Reuse the session's installed wheels (copied, so every mtime differs) but rebuild the zip.
    fresh = tmp_path / "cache"
    for wheels in cache_dir.glob("wheels-*"):
        shutil.copytree(wheels, fresh / wheels.name)

    again = build_lambda_bundle(spec, fresh)

    assert again != bundle and again.name == bundle.name
    assert sha256(again) == sha256(bundle)


def test_cached_bundle_is_returned_as_is(
    spec: LambdaBundleSpec, bundle: Path, cache_dir: Path, no_pip: None
) -> None:
    before = bundle.stat().st_mtime_ns
    assert build_lambda_bundle(spec, cache_dir) == bundle
    assert bundle.stat().st_mtime_ns == before


def test_changing_a_source_file_changes_the_bundle(
    bundle: Path, cache_dir: Path, tmp_path: Path, no_pip: None
) -> None:
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 1\n")
    spec = LambdaBundleSpec(source_packages=(package,), requirements=REQUIREMENTS)

    first = build_lambda_bundle(spec, cache_dir)  # same wheels key: pip does not run again
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"junk")
    assert build_lambda_bundle(spec, cache_dir) == first, "bytecode does not count"

    (package / "__init__.py").write_text("VALUE = 2\n")
    second = build_lambda_bundle(spec, cache_dir)

    assert second.name != first.name
    with zipfile.ZipFile(second) as zf:
        assert zf.read("fakepkg/__init__.py") == b"VALUE = 2\n"
        assert "pydantic/__init__.py" in zf.namelist()


def test_pip_failure_is_reported_with_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_pip(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert "--only-binary=:all:" in command and "manylinux2014_x86_64" in command
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="ERROR: no wheel")

    monkeypatch.setattr(lambda_bundle.subprocess, "run", failing_pip)
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    spec = LambdaBundleSpec((package,), ("pydantic==2.14.3",), architecture="x86_64")

    with pytest.raises(LambdaBundleError, match="ERROR: no wheel"):
        build_lambda_bundle(spec, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir()), "no partial wheels dir or zip left behind"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"requirements": ("pydantic>=2",)}, "pinned"),
        ({"architecture": "arm"}, "architecture"),
        ({"python_version": "312"}, "python_version"),
    ],
)
def test_spec_rejects_bad_inputs(changes: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"source_packages": (), "requirements": (), **changes}
    with pytest.raises(ValueError, match=message):
        LambdaBundleSpec(**args)  # type: ignore[arg-type]
