"""A Spark job's code bundle: the entry script and the local modules it imports.

Pure build logic, no ``pulumi`` import. EMR Serverless runs the entry script (Python 3.9,
pyspark and the standard library only) with ``--py-files <layer>_job_modules.zip``; the zip
holds exactly the repository modules the entry imports, transitively:

    import spark_session                          -> spark_session.py   (flat, beside the entry)
    from workloads.silver import spark_session    -> workloads/silver/spark_session.py
    from workloads.shared.spark_common import x   -> workloads/shared/spark_common.py
                                                     (+ each package's __init__.py)
    from ..shared.view_sql import y  (in a module) -> workloads/shared/view_sql.py

Modules the entry does not import (the Lambda handlers, the pyiceberg engine) never reach EMR.
Both files are content-addressed by :attr:`SparkJobBundle.digest`.
"""

from __future__ import annotations

import ast
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from .bundle import REGULAR_FILE, cached_file, write_zip

DIGEST_MODULES_NAME = "silver_job_modules.zip"
"""The modules zip's name inside every digest (silver's and gold's) since the first bundles;
changing it would move every deployed job to a new key."""


def modules_zip_name(layer: str) -> str:
    """The uploaded modules zip of ``layer``'s job (``silver_job_modules.zip``)."""
    return f"{layer}_job_modules.zip"


@dataclass(frozen=True)
class SparkJobBundle:
    """The entry script and the zip of the local modules it imports, content-addressed."""

    entry: Path
    entry_source: bytes
    modules: dict[str, bytes]
    """Zip member name -> source: ``name.py`` (flat imports) or ``workloads/<pkg>/name.py``."""
    zip_bytes: bytes

    @property
    def digest(self) -> str:
        """SHA-256 of everything shipped: the key prefix of both objects."""
        sha = hashlib.sha256()
        for name, content in (
            (self.entry.name, self.entry_source),
            (DIGEST_MODULES_NAME, self.zip_bytes),
        ):
            sha.update(f"{name}\0{len(content)}\0".encode())
            sha.update(content)
        return sha.hexdigest()

    @property
    def entry_sha256(self) -> str:
        """SHA-256 of the entry script (the uploaded object's ``source_hash``)."""
        return hashlib.sha256(self.entry_source).hexdigest()

    @property
    def zip_sha256(self) -> str:
        """SHA-256 of the modules zip (the uploaded object's ``source_hash``)."""
        return hashlib.sha256(self.zip_bytes).hexdigest()

    def sources(self) -> dict[str, bytes]:
        """Every Python module that runs on EMR: the entry script and the zipped modules."""
        shipped = {self.entry.name: self.entry_source} if self.entry.is_file() else {}
        return {**shipped, **self.modules}

    def cached_zip(self, layer: str) -> Path:
        """The modules zip, written once under the build cache (a FileAsset needs a path)."""
        return cached_file(f"{layer}-job", self.digest, modules_zip_name(layer), self.zip_bytes)


def deterministic_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the member names and contents."""
    buffer = io.BytesIO()
    write_zip(buffer, members, file_type=REGULAR_FILE)
    return buffer.getvalue()


def build_spark_job_bundle(entry: Path, package_dir: Path | None = None) -> SparkJobBundle:
    """Bundle ``entry`` with the modules of ``package_dir`` it imports, transitively.

    Imports of sibling packages under the same top package (``workloads.shared.spark_common``
    from ``workloads/gold/spark_job.py``) are bundled too.

    A missing entry script gives an empty bundle (its author may not have landed it yet):
    the program still runs, and ``pulumi up`` fails on the missing file.
    """
    package_dir = package_dir or entry.parent
    entry_source = entry.read_bytes() if entry.is_file() else b""
    modules: dict[str, bytes] = {}
    pending: list[tuple[bytes, str]] = [(entry_source, "")]
    while pending:
        source, package = pending.pop()
        for name, path in _local_imports(source, package_dir, package).items():
            if name not in modules and path.resolve() != entry.resolve():
                modules[name] = path.read_bytes()
                pending.append((modules[name], _package_of(name)))
    return SparkJobBundle(entry, entry_source, modules, deterministic_zip(modules))


def _package_of(member: str) -> str:
    """The dotted package a zip member belongs to (``workloads/shared/x.py`` ->
    ``workloads.shared``); ``""`` for a flat module beside the entry."""
    return ".".join(member.split("/")[:-1])


def _local_imports(source: bytes, package_dir: Path, package: str = "") -> dict[str, Path]:
    """Zip member name -> file, for each module of ``package_dir`` that ``source`` imports.

    ``package`` is the importing module's package: relative imports (``from .x import y``,
    ``from ..shared import z``) resolve against it; the entry script has none."""
    found: dict[str, Path] = {}
    if not source:
        return found
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.level or node.module):
            module = _absolute(node.module, node.level, package)
            if module is None:
                continue
            dotted = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in dotted:
            found.update(_resolve_local(name, package_dir))
    return found


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` in ``package`` (``None``
    when it leaves the top package, or for a relative import in a flat module)."""
    if not level:
        return module
    parts = package.split(".") if package else []
    if level > len(parts):
        return None
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, *([module] if module else [])])


def _resolve_local(dotted: str, package_dir: Path) -> dict[str, Path]:
    """The files a dotted import names: a flat module beside the entry, or a module of a
    package under the entry's top package (with the ``__init__.py`` files on the way)."""
    parts = dotted.split(".")
    flat = package_dir / f"{parts[0]}.py"
    if len(parts) == 1 and parts[0] != "__init__" and flat.is_file():
        return {flat.name: flat}
    top = package_dir.parent
    package = top / parts[1] if len(parts) > 1 else package_dir
    if parts[0] != top.name or not (package / "__init__.py").is_file():
        return {}
    found = {f"{top.name}/__init__.py": top / "__init__.py"}
    if len(parts) > 1:
        found[f"{top.name}/{package.name}/__init__.py"] = package / "__init__.py"
    if len(parts) > 2 and (package / f"{parts[2]}.py").is_file():
        found[f"{top.name}/{package.name}/{parts[2]}.py"] = package / f"{parts[2]}.py"
    return {name: path for name, path in found.items() if path.is_file()}
