"""A domain's input folder, in landing order, and an example domain's generator.

An input folder holds the raw files of a domain's tables, the shape a user gives with
``datalake local run --input DIR`` (and ``datalake seed upload --input DIR``)::

    DIR/<table>/[any/sub/path/]<name>.csv.gz      batch: gzip CSV with a header row
    DIR/<table>/[any/sub/path/]<name>.jsonl.gz    CDC: gzip JSON lines
    (plain .csv and .jsonl too: gzipped on the way, so they land as <name>.csv.gz ...)

:func:`input_files` lists them in the order they land: the batch files of every table first,
tables in domain order, then the change files in name order (ties in domain table order), so
the changes apply to the loaded rows. Each lands at ``raw/<table>/<path in the folder>``.

**Example generators.** An example folder may hold ``generate.py`` beside its ``domain.yaml``::

    def generate(out: Path, *, rows: int, files: int, seed: int) -> GeneratedInput

It writes an input folder into ``out`` (deterministic for its arguments) and returns a
:class:`GeneratedInput` saying what the run should then show. It may accept ``first_id``
(first generated key, to add rows to an earlier upload). :func:`generate_input` loads it by
file path, so no module of the library names an example's tables.
"""

from __future__ import annotations

import gzip
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datalake.contracts import RawFormat
from datalake.layout import RAW_SUFFIXES, raw_key

if TYPE_CHECKING:
    from datalake.domain import Domain

GENERATOR_FILE = "generate.py"
"""An example's generator, beside its domain file."""
IGNORED_NAMES = ("README", "LICENSE")
"""Top-level files of an input folder that are documentation, not data (any extension)."""
INPUT_SUFFIXES: dict[str, RawFormat] = {
    **RAW_SUFFIXES,
    **{suffix.removesuffix(".gz"): raw_format for suffix, raw_format in RAW_SUFFIXES.items()},
}
"""Accepted file endings: the landing layer's gzip ones and their plain forms."""


class InputError(ValueError):
    """An input folder or a generator that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class InputFile:
    """One raw file of an input folder and the landing key it gets."""

    table: str
    path: Path
    key: str
    """``raw/<table>/<path in the table's folder>`` (``.gz`` appended to a plain file)."""
    format: RawFormat

    def body(self) -> bytes:
        """The bytes to land: the file as it is, or gzipped when it is plain."""
        data = self.path.read_bytes()
        return data if self.path.name.endswith(".gz") else gzip_bytes(data)


@dataclass
class GeneratedInput:
    """What a generator wrote, and what the run should show for it."""

    folder: Path
    """The input folder it wrote."""
    summary: str
    """One line for the run's header, e.g. ``100,000 reviews in 4 files``."""
    malformed_lines: int = 0
    """Lines bronze must quarantine."""
    duplicate_files: int = 0
    """Files delivered twice (the second copy is a duplicate)."""


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with no timestamp: the same data gives the same bytes (a re-upload is a duplicate)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def part_sizes(rows: int, files: int) -> list[int]:
    """``rows`` split into ``files`` parts as even as possible (the first ones larger)."""
    if files < 1:
        raise InputError(f"files must be at least 1, not {files}")
    if rows < files:
        raise InputError(f"cannot split {rows} rows into {files} non-empty files")
    base, extra = divmod(rows, files)
    return [base + (1 if index < extra else 0) for index in range(files)]


def _input_format(path: Path) -> tuple[str, RawFormat] | None:
    """(landing file name, format) of a raw file, or None for another file type."""
    for suffix, raw_format in INPUT_SUFFIXES.items():
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return (path.name if suffix.endswith(".gz") else f"{path.name}.gz"), raw_format
    return None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name != "__pycache__"


def _table_folders(domain: Domain, folder: Path) -> list[Path]:
    """The folder's table folders; every other entry is an error (documentation aside)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; --input takes a folder of <table>/ folders")
    entries = sorted(p for p in folder.iterdir() if _visible(p))
    stray = [p.name for p in entries if p.is_file() and not p.name.startswith(IGNORED_NAMES)]
    if stray:
        raise InputError(
            f"{folder}: files outside a table folder: {', '.join(stray)}; put each file in "
            f"the folder of its table ({folder}/<table>/<file>)"
        )
    folders = [p for p in entries if p.is_dir()]
    unknown = [p.name for p in folders if p.name not in domain.tables]
    if unknown or not folders:
        raise InputError(
            f"{folder}: folder(s) {', '.join(unknown) or '(none)'} name no table of domain "
            f"{domain.name!r} (folders: {', '.join(p.name for p in folders) or '(none)'}; "
            f"tables: {', '.join(domain.tables)})"
        )
    return folders


def input_files(domain: Domain, folder: Path) -> list[InputFile]:
    """The raw files of ``folder`` in landing order; :class:`InputError` naming every problem."""
    order = {name: index for index, name in enumerate(domain.tables)}
    found: list[InputFile] = []
    problems: list[str] = []
    for table_folder in _table_folders(domain, folder):
        table = table_folder.name
        accepted = domain.table(table).raw_formats
        for path in sorted(p for p in table_folder.rglob("*") if p.is_file()):
            relative = path.relative_to(table_folder)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            shape = _input_format(path)
            if shape is None:
                problems.append(f"{path}: not a raw file (accepted: {', '.join(INPUT_SUFFIXES)})")
                continue
            name, raw_format = shape
            if raw_format not in accepted:
                problems.append(
                    f"{path}: table {table} accepts {', '.join(f.value for f in accepted)} "
                    f"files, not {raw_format.value}"
                )
                continue
            found.append(
                InputFile(
                    table, path, raw_key(table, (relative.parent / name).as_posix()), raw_format
                )
            )
    if problems:
        raise InputError("; ".join(problems))
    if not found:
        raise InputError(f"{folder}: no raw files (accepted: {', '.join(INPUT_SUFFIXES)})")

    def landing_order(file: InputFile) -> tuple[Any, ...]:
        name = file.key.rsplit("/", 1)[-1]
        stem = next(name[: -len(s)] for s in RAW_SUFFIXES if name.endswith(s))
        if file.format is RawFormat.CSV:
            return (0, order[file.table], file.key)
        return (1, stem, order[file.table], file.key)

    return sorted(found, key=landing_order)


def generator_path(domain: Domain) -> Path | None:
    """The domain's generator (``generate.py`` beside its file), if it has one."""
    if domain.source is None:
        return None
    path = Path(domain.source).parent / GENERATOR_FILE
    return path if path.is_file() else None


def load_generator(domain: Domain) -> Callable[..., GeneratedInput]:
    """The ``generate`` function of the domain's example generator, loaded by file path."""
    path = generator_path(domain)
    if path is None:
        where = Path(domain.source).parent if domain.source else "its folder"
        raise InputError(
            f"domain {domain.name!r} has no generator ({GENERATOR_FILE} in {where}); "
            "give an input folder (--input DIR)"
        )
    name = f"_datalake_generator_{sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"{path}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses in it look their module up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    generate = getattr(module, "generate", None)
    if not callable(generate):
        raise InputError(f"{path}: defines no function generate(out, *, rows, files, seed)")
    return generate


def generate_input(
    domain: Domain, out: Path, *, rows: int, files: int, seed: int, first_id: int = 1
) -> GeneratedInput:
    """Run the domain's generator into ``out`` (created); ``first_id`` only when it takes one."""
    generate = load_generator(domain)
    options: dict[str, int] = {"rows": rows, "files": files, "seed": seed}
    if first_id != 1:
        if "first_id" not in inspect.signature(generate).parameters:
            raise InputError(f"the generator of domain {domain.name!r} takes no first_id")
        options["first_id"] = first_id
    out.mkdir(parents=True, exist_ok=True)
    generated = generate(out, **options)
    if not isinstance(generated, GeneratedInput):
        raise InputError(
            f"{generator_path(domain)}: generate() returned {type(generated).__name__}, "
            "not a GeneratedInput"
        )
    return generated
