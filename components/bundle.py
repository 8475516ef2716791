"""Deterministic zips and the build cache: how the lake packs every code bundle.

Pure build logic, no ``pulumi`` import. The Lambda bundle (``components/lambda_bundle.py``) and
the Spark job bundles (``components/spark_bundle.py``) are both written here:

    sorted member names · fixed timestamp · fixed modes · deflate level 9

so the same members give byte-identical bytes, and Pulumi sees no change (and uploads nothing)
unless the code changes. Built files live under the build cache (``DATALAKE_BUILD_CACHE``,
default ``<repository>/.build``) and are replaced atomically.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

PACKAGE_DIR = Path(__file__).resolve().parent
"""This package: ``components/`` of the repository, or ``datalake/components/`` of the wheel."""
ROOT = PACKAGE_DIR.parent
"""The directory holding ``workloads/`` beside this package: the repository, or the installed
``datalake`` package (``setup.py`` lays the wheel out so)."""
INSTALLED = not (ROOT / "datalake" / "__init__.py").is_file()
"""Whether the library runs from an installed wheel rather than from its repository."""
DATALAKE_DIR = ROOT if INSTALLED else ROOT / "datalake"
"""The ``datalake`` package's directory (bundled into the Lambda zip and the image)."""
WORKLOADS_DIR = ROOT / "workloads"
"""The ``workloads`` package's directory (bundled under its own name, ``workloads/``)."""
NESTED_DIRS = ("components", "workloads", "examples") if INSTALLED else ()
"""Directories under the installed ``datalake`` package that are not its code: never bundled as
part of ``datalake/``."""
PROJECT_FILES_DIR = PACKAGE_DIR / "project_files" if INSTALLED else ROOT
"""Where ``constraints.txt`` and ``.dockerignore`` are: the repository, or the copies the wheel
carries."""
CONSTRAINTS = PROJECT_FILES_DIR / "constraints.txt"
"""The pinned versions of every dependency (the Lambda bundle's and the image's pins)."""

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSLEVEL = 9
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
REGULAR_FILE = stat.S_IFREG
"""The file-type bits a Spark modules zip records with each member's mode."""

Member = bytes | Path
"""A member's content, or the file it is read from as it is written (a bundle can be large)."""


def build_cache() -> Path:
    """Where built bundles are kept between program runs: ``DATALAKE_BUILD_CACHE``, else
    ``.build`` in the repository (or, from a wheel, in the Pulumi project's directory)."""
    default = Path.cwd() / ".build" if INSTALLED else ROOT / ".build"
    return Path(os.environ.get("DATALAKE_BUILD_CACHE", default))


def is_executable(path: Path) -> bool:
    """Whether the owner may execute ``path`` (kept as 0755 in a bundle)."""
    return bool(path.stat().st_mode & stat.S_IXUSR)


def write_zip(stream: IO[bytes], members: Mapping[str, Member], *, file_type: int) -> None:
    """Write ``members`` to ``stream`` as a deterministic zip.

    ``file_type`` is or-ed into each member's mode: the Lambda bundle has always recorded the
    permission bits only (``0``), the Spark modules zip a regular file (:data:`REGULAR_FILE`);
    changing either would change the bytes, and so the deployed code, of every stack.
    """
    with zipfile.ZipFile(stream, "w") as archive:
        for name in sorted(members):
            member = members[name]
            executable = isinstance(member, Path) and is_executable(member)
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so external_attr carries the mode on any host
            info.external_attr = (file_type | (EXECUTABLE_MODE if executable else FILE_MODE)) << 16
            archive.writestr(
                info,
                member.read_bytes() if isinstance(member, Path) else member,
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=ZIP_COMPRESSLEVEL,
            )


def write_zip_file(target: Path, members: Mapping[str, Member], *, file_type: int) -> None:
    """:func:`write_zip` to ``target``, atomically: a reader never sees half a zip."""
    fd, staging = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".zip", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            write_zip(raw, members, file_type=file_type)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def cached_file(kind: str, digest: str, file_name: str, content: bytes) -> Path:
    """``content`` written once under ``<build cache>/<kind>/<digest>/<file_name>``.

    A Pulumi ``FileAsset`` needs a path; the digest in the path keeps bundles apart.
    """
    path = build_cache() / kind / digest / file_name
    if not path.is_file() or path.read_bytes() != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(content)
        temporary.replace(path)
    return path


def staged_tree(kind: str, files: Mapping[str, Path]) -> Path:
    """A directory holding ``files`` (relative name -> source), written once under
    ``<build cache>/<kind>/<digest>/`` and replaced atomically; the digest covers names and
    contents. The Fargate image's build context, when the library runs from a wheel."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256(files[name].read_bytes()).digest())
    target = build_cache() / kind / digest.hexdigest()[:32]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, source in files.items():
            destination = staging / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # else another run staged the same tree first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
