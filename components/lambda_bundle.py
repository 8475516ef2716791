"""Deterministic, cached zip bundles of Python code + wheels for AWS Lambda.

Pure build logic, no ``pulumi`` import: a component wraps the returned path in
``pulumi.FileArchive``. The bundle holds the given source packages plus the requirements'
wheels, installed for the Lambda's Python version and architecture (never this machine's):

    lambda-bundle-<sha256>.zip
      ├─ datalake/ workloads/ ...       source packages, each under its own name
      └─ pydantic/ pydantic_core/ ...   wheel contents at the root

Same inputs give a byte-identical zip (written by ``components/bundle.py``, like the Spark job
bundles), so Pulumi sees no change (and uploads nothing) unless the code or the pins change.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .bundle import is_executable, write_zip_file

# Bump when the bundling logic changes, so cached zips and wheel dirs built by older code
# are not reused.
FORMAT_VERSION = "1"

PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}
"""Wheel platforms the Lambda runtime accepts: its Amazon Linux 2023 base has glibc 2.34, so
manylinux_2_28 wheels (DuckDB ships only those) run as well as manylinux2014 ones."""

# The Lambda Python runtime ships these; bundled copies would only shadow the runtime's
# (possibly newer, AWS-patched) versions and add megabytes.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)

EXCLUDED_DIRS = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")

# Pins only: the cache key is the requirement text, so a range would serve stale wheels.
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]*\])?==[A-Za-z0-9.+!_-]+$")
PYTHON_VERSION = re.compile(r"^3\.\d+$")
SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")
SO_ABI = re.compile(r"\.(cpython-\d+|abi3)[.-]")
ELF_MACHINES = {183: "aarch64", 62: "x86_64"}


class LambdaBundleError(RuntimeError):
    """The bundle could not be built (pip failed, bad input, clashing paths)."""


@dataclass(frozen=True)
class LambdaBundleSpec:
    """What goes into a Lambda bundle."""

    source_packages: tuple[Path, ...]
    requirements: tuple[str, ...]
    python_version: str = "3.12"
    architecture: str = "arm64"
    excluded_dirs: tuple[Path, ...] = ()
    """Directories inside a source package that are not bundled (the installed wheel keeps
    ``components/``, ``workloads/`` and ``examples/`` under ``datalake/``)."""

    def __post_init__(self) -> None:
        if self.architecture not in PLATFORMS:
            raise ValueError(f"architecture must be one of {sorted(PLATFORMS)}")
        if not PYTHON_VERSION.match(self.python_version):
            raise ValueError(f"python_version must look like '3.12', got {self.python_version!r}")
        unpinned = [r for r in self.requirements if not PINNED.match(r)]
        if unpinned:
            raise ValueError(f"requirements must be pinned as 'name==version': {unpinned}")


@dataclass(frozen=True)
class SharedObject:
    """A compiled extension in a bundle."""

    name: str
    machine: str  # "aarch64", "x86_64", "not-elf" or "unknown(<e_machine>)"
    abi: str | None  # "cpython-312", "abi3", or None when the file name carries no ABI


@dataclass(frozen=True)
class BundleReport:
    """What a bundle contains, for tests and diagnostics."""

    wheel_tags: dict[str, tuple[str, ...]]  # "<dist>-<version>.dist-info" -> WHEEL Tag values
    shared_objects: tuple[SharedObject, ...]
    names: tuple[str, ...]
    size: int


def build_lambda_bundle(spec: LambdaBundleSpec, cache_dir: Path) -> Path:
    """Build (or reuse from ``cache_dir``) the bundle zip for ``spec`` and return its path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels_key = _wheels_key(spec)
    sources = sorted(_source_files(spec.source_packages, spec.excluded_dirs))

    digest = hashlib.sha256(f"bundle:{FORMAT_VERSION}:{wheels_key}\n".encode())
    for arcname, path in sources:
        line = [arcname, is_executable(path), hashlib.sha256(path.read_bytes()).hexdigest()]
        digest.update(json.dumps(line).encode() + b"\n")
    target = cache_dir / f"lambda-bundle-{digest.hexdigest()}.zip"
    if target.exists():
        return target

    # Only now install: a cached zip must not need the network.
    wheels_dir = _installed_wheels(spec, cache_dir, wheels_key)
    entries = dict(sources)
    for arcname, path in _walk(wheels_dir, prefix=""):
        if arcname in entries:
            raise LambdaBundleError(f"{arcname} is both in a source package and in a wheel")
        entries[arcname] = path
    # Permission bits only, as every bundle so far: the bytes, so the deployed code, stay put.
    write_zip_file(target, dict(entries), file_type=0)
    return target


def bundle_report(zip_path: Path) -> BundleReport:
    """Wheel tags per distribution and the machine/ABI of every shared object in a bundle."""
    wheel_tags: dict[str, tuple[str, ...]] = {}
    shared: list[SharedObject] = []
    with zipfile.ZipFile(zip_path) as zf:
        names = tuple(zf.namelist())
        for name in names:
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "WHEEL":
                fields = [line.partition(":") for line in zf.read(name).decode().splitlines()]
                wheel_tags[parts[0]] = tuple(v.strip() for k, _, v in fields if k == "Tag")
            elif SHARED_OBJECT.search(name):
                with zf.open(name) as member:
                    header = member.read(20)
                abi = SO_ABI.search(parts[-1])
                shared.append(SharedObject(name, _elf_machine(header), abi and abi.group(1)))
    return BundleReport(wheel_tags, tuple(shared), names, zip_path.stat().st_size)


def _elf_machine(header: bytes) -> str:
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return "not-elf"
    # EI_DATA (byte 5) says the header's byte order: 1 little, 2 big endian.
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return ELF_MACHINES.get(machine, f"unknown({machine})")


def _wheels_key(spec: LambdaBundleSpec) -> str:
    # Order of requirements does not change what pip resolves, so it does not split the cache.
    key = [FORMAT_VERSION, sorted(spec.requirements), spec.python_version, spec.architecture]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def _installed_wheels(spec: LambdaBundleSpec, cache_dir: Path, key: str) -> Path:
    """Directory with the requirements installed for Lambda, built once per wheels key."""
    final = cache_dir / f"wheels-{key}"
    if final.is_dir():
        return final
    staging = Path(tempfile.mkdtemp(prefix=".wheels-", dir=cache_dir))
    try:
        if spec.requirements:
            _pip_install(spec, staging)
        _remove_runtime_provided(staging)
        # pip writes console scripts here with this machine's interpreter in the shebang:
        # useless on Lambda and different on every machine.
        shutil.rmtree(staging / "bin", ignore_errors=True)
        try:
            os.replace(staging, final)
        except OSError:
            # Another build renamed its copy into place first; same key, same content.
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _pip_install(spec: LambdaBundleSpec, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        *(flag for platform in PLATFORMS[spec.architecture] for flag in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        spec.python_version,
        # Binary-only is what lets pip resolve dependencies for a foreign platform, and it
        # keeps sdists (built for this machine) out.
        "--only-binary=:all:",
        "--no-compile",
        "--target",
        str(target),
        "--disable-pip-version-check",
        "--quiet",
        *spec.requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LambdaBundleError(
            f"pip could not install {list(spec.requirements)} for Python {spec.python_version} "
            f"on {'/'.join(PLATFORMS[spec.architecture])} (exit {result.returncode}):\n"
            f"{result.stderr.strip()}"
        )


def _remove_runtime_provided(target: Path) -> None:
    """Delete distributions the Lambda runtime already provides, using their RECORD."""
    for dist_info in sorted(target.glob("*.dist-info")):
        name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if re.sub(r"[-_.]+", "-", name).lower() not in RUNTIME_PROVIDED:
            continue
        record = dist_info / "RECORD"
        rows = list(csv.reader(record.read_text().splitlines())) if record.is_file() else []
        top_dirs: set[Path] = set()
        for row in rows:
            relative = row[0] if row else ""
            # "../../bin/..." are scripts (bin/ goes as a whole); never leave the target.
            if not relative or relative.startswith(("..", "/")):
                continue
            (target / relative).unlink(missing_ok=True)
            top_dirs.add(target / Path(relative).parts[0])
        shutil.rmtree(dist_info, ignore_errors=True)
        for top in top_dirs:
            _remove_empty_dirs(top)


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    # Deepest first, so a directory holding only empty directories goes too.
    for dirpath in sorted((d for d, _, _ in os.walk(root)), key=len, reverse=True):
        path = Path(dirpath)
        if path.name in EXCLUDED_DIRS:
            shutil.rmtree(path)
        elif not any(path.iterdir()):
            path.rmdir()


def _source_files(
    packages: tuple[Path, ...], excluded: tuple[Path, ...] = ()
) -> Iterator[tuple[str, Path]]:
    seen: set[str] = set()
    for package in packages:
        if not package.is_dir():
            raise LambdaBundleError(f"source package {package} is not a directory")
        if package.name in seen:
            raise LambdaBundleError(f"two source packages are named {package.name!r}")
        seen.add(package.name)
        yield from _walk(package, prefix=f"{package.name}/", excluded=excluded)


def _walk(root: Path, prefix: str, excluded: tuple[Path, ...] = ()) -> Iterator[tuple[str, Path]]:
    """Regular files under ``root`` as (zip name, path), without bytecode caches or the
    ``excluded`` directories."""
    skipped = {path.resolve() for path in excluded}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames[:] = [
            d for d in dirnames if d not in EXCLUDED_DIRS and (base / d).resolve() not in skipped
        ]
        for filename in filenames:
            path = base / filename
            if filename.endswith(EXCLUDED_SUFFIXES) or not path.is_file():
                continue
            yield prefix + path.relative_to(root).as_posix(), path
