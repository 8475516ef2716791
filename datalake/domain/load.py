"""Reads a domain file: YAML (or JSON) -> schema checks -> cross-reference checks -> Domain.

Every problem is collected before anything is built, so one ``DomainError`` lists them all,
each with its path in the file (``marts[2].measures[0].column``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from datalake.domain.build import build_domain
from datalake.domain.checks import domain_issues
from datalake.domain.domain import Domain
from datalake.domain.errors import DomainError, DomainIssue
from datalake.domain.model import DomainDocument
from datalake.domain.pydantic_issues import (
    issue_from_pydantic,
    issue_order,
    unique_issues,
    valid_parts,
)

DOMAIN_VARIABLE = "DATALAKE_DOMAIN"
"""Environment variable the workloads read the domain's URI from (a path, or s3://...)."""
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""``datalake/``: the repository's top-level package, or the installed one."""


def default_domain_path() -> Path:
    """The default example domain: ``examples/beer/domain.yaml`` of the repository, or the
    wheel's copy (``datalake/examples/beer/domain.yaml``, laid out by setup.py)."""
    relative = Path("examples/beer/domain.yaml")
    in_repository = PACKAGE_ROOT.parent / relative
    return in_repository if in_repository.exists() else PACKAGE_ROOT / relative


class _Loader(yaml.SafeLoader):
    """Safe YAML, read as YAML 1.2 reads it: only true/false are booleans (``on``, ``yes``
    and ``no`` stay strings), dates stay strings, and a key given twice is an error."""


_DROPPED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_domain_text(text: str, source: str = "<domain>") -> Any:
    """The parsed YAML (or JSON) document; syntax errors name the file, line and column."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = error.problem or str(error)
        raise DomainError([DomainIssue(where, f"invalid YAML: {problem}")], source) from None
    except yaml.YAMLError as error:
        raise DomainError([DomainIssue(source, f"invalid YAML: {error}")], source) from None


def domain_from_document(document: Any, source: Path | None = None) -> Domain:
    """Validate a parsed domain document and build the domain (``DomainError`` if invalid)."""
    shown = str(source) if source is not None else None
    if document is None:
        raise DomainError(
            [DomainIssue("", "the domain file is empty; expected a mapping with name and tables")],
            shown,
        )
    if not isinstance(document, Mapping):
        raise DomainError(
            [
                DomainIssue(
                    "",
                    f"the top level must be a mapping with keys name, description, tables, "
                    f"views, marts (got {type(document).__name__})",
                )
            ],
            shown,
        )
    issues: list[DomainIssue] = []
    try:
        parsed = DomainDocument.model_validate(document)
        indexes: dict[str, list[int]] | None = None
        unparsed: dict[str, str] = {}
    except ValidationError as error:
        issues.extend(unique_issues([issue_from_pydantic(e) for e in error.errors()]))
        parsed, found, unparsed = valid_parts(document, error)
        indexes = found
    issues.extend(domain_issues(parsed, indexes=indexes, unparsed=unparsed))
    if issues:
        raise DomainError(sorted(issues, key=issue_order), shown)
    return build_domain(parsed, source)


def load_domain(path: str | Path) -> Domain:
    """Load and validate a domain file (YAML or JSON); ``DomainError`` lists every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise DomainError(
            [DomainIssue(str(path), f"cannot read the domain file: {error.strerror}")], str(path)
        ) from None
    return domain_from_document(parse_domain_text(text, str(path)), source=path)


def load_domain_uri(uri: str) -> Domain:
    """The domain at ``uri``: a file path, or ``s3://bucket/key``; cached per process.

    A file is read again when it changes (cached by path, size and modification time); an S3
    object is read once (the lake publishes it under its digest: ``domain/<digest>.json``).
    """
    if uri.startswith("s3://"):
        return _load_s3(uri)
    path = Path(uri.removeprefix("file://")).resolve()
    try:
        stat = path.stat()
    except OSError:
        return load_domain(path)  # reports the file it cannot read
    return _load_file(path, stat.st_mtime_ns, stat.st_size)


def clear_domain_cache() -> None:
    """Forget every domain ``load_domain_uri`` read."""
    _load_file.cache_clear()
    _load_s3.cache_clear()


@lru_cache(maxsize=16)
def _load_file(path: Path, mtime_ns: int, size: int) -> Domain:
    return load_domain(path)


@lru_cache(maxsize=8)
def _load_s3(uri: str) -> Domain:
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    document = json.loads(body) if key.endswith(".json") else parse_domain_text(body, uri)
    return domain_from_document(document)
