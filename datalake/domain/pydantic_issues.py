"""Schema problems of a domain file, from pydantic's errors, in the file's own terms.

Also keeps the entries that did validate, so the cross-reference checks still run on them and
one run reports every problem.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from datalake.domain.errors import DomainIssue, doc_path, listing
from datalake.domain.model import MODELS, DomainDocument
from datalake.model_paths import model_at, model_in

NAME_RULE = "lowercase letters, digits and _, starting with a letter, at most 63 characters"
DOMAIN_NAME_RULE = "lowercase letters, digits and -, starting with a letter, at most 63 characters"


def _walk(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The part of ``loc`` that names keys of the file (a union's alternatives dropped)."""
    model: type[BaseModel] | None = DomainDocument
    kept: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            kept.append(part)
        elif model is not None and part in model.model_fields:
            kept.append(part)
            model = model_in(model.model_fields[part].annotation)
        elif model is not None or part not in _TAGS:
            kept.append(part)  # an unknown key of a model, or a key of a mapping
            if model is not None:
                break
        else:
            break
    return tuple(kept)


_TAGS = frozenset({"int", "float", "str", "bool", "list[union[int,float,str]]"})


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    model = model_at(DomainDocument, loc)
    return list(model.model_fields) if model is not None else []


def _expected(ctx: Mapping[str, Any] | None) -> str:
    text = str((ctx or {}).get("expected", ""))
    return text.replace("'", "").replace(" or ", ", ")


def issue_from_pydantic(error: Mapping[str, Any]) -> DomainIssue:
    """One pydantic error as a domain issue: path, reason, value and what is allowed."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    ctx = error.get("ctx")
    if kind == "extra_forbidden":
        where = doc_path(*loc)
        allowed = listing(_allowed_keys(loc[:-1]))
        return DomainIssue(where, f"unknown key (allowed keys here: {allowed})")
    kept = _walk(loc)
    where = doc_path(*kept)
    if kind == "missing":
        return DomainIssue(where, "required key missing")
    if kind in ("enum", "literal_error"):
        return DomainIssue(where, f"{value!r} is not allowed (allowed: {_expected(ctx)})")
    if kind == "string_pattern_mismatch":
        rule = DOMAIN_NAME_RULE if kept == ("name",) else NAME_RULE
        return DomainIssue(where, f"{value!r} is not a valid name ({rule})")
    if kind == "too_short":
        return DomainIssue(where, "must not be empty")
    if kind == "value_error":
        return DomainIssue(where, str(error["msg"]).removeprefix("Value error, "))
    if len(kept) < len(loc) and kept and kept[-1] == "value":
        return DomainIssue(where, f"must be a number, a string or a list of them (got {value!r})")
    reasons = {
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "int_from_float": "must be an integer",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "string_type": "must be a string",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
    }
    if kind in reasons:
        reason = reasons[kind]
        if kind in ("model_type", "model_attributes_type"):
            reason += f" with keys {listing(_allowed_keys(kept))}"
        return DomainIssue(where, f"{reason} (got {value!r})")
    if kind in ("greater_than", "greater_than_equal"):
        bound = (ctx or {}).get("gt", (ctx or {}).get("ge"))
        symbol = ">" if kind == "greater_than" else ">="
        return DomainIssue(where, f"must be {symbol} {bound} (got {value!r})")
    return DomainIssue(where, f"{error['msg']} (got {value!r})")


def unique_issues(issues: list[DomainIssue]) -> list[DomainIssue]:
    """``issues`` without repeats (a union reports once per alternative), in order."""
    return list(dict.fromkeys(issues))


def _without_unknown_keys(item: Any, errors: list[tuple[str, tuple[Any, ...]]]) -> Any | None:
    """``item`` without the unknown keys its errors (type, loc) name; None if others."""
    if any(kind != "extra_forbidden" for kind, _ in errors):
        return None
    repaired = copy.deepcopy(item)
    for _, loc in errors:
        holder = repaired
        *parents, key = loc
        for part in parents:
            holder = holder[part]
        holder.pop(key, None)
    return repaired


def valid_parts(
    document: Mapping[str, Any], error: ValidationError
) -> tuple[DomainDocument, dict[str, list[int]], dict[str, str]]:
    """The entries that validate on their own, their indexes in the file, names of the others.

    An entry whose only problems are unknown keys is kept without them. The cross-reference
    checks run on these, and skip references to the entries that failed (their problems are
    already reported); ``unparsed`` maps the names of those to their section.
    """
    errors = error.errors()
    bad_top = {e["loc"][0] for e in errors if len(e["loc"]) == 1}
    indexes: dict[str, list[int]] = {}
    entries: dict[str, list[Any]] = {}
    unparsed: dict[str, str] = {}
    for section, model in MODELS.items():
        items = document.get(section)
        indexes[section], entries[section] = [], []
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            mine = [
                (e["type"], tuple(e["loc"][2:]))
                for e in errors
                if tuple(e["loc"][:2]) == (section, index) and len(e["loc"]) > 2
            ]
            candidate = _without_unknown_keys(item, mine) if mine else item
            try:
                entries[section].append(model.model_validate(candidate))
                indexes[section].append(index)
            except ValidationError:
                if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    unparsed.setdefault(item["name"], section)
    name = document.get("name")
    description = document.get("description")
    parsed = DomainDocument.model_construct(
        name=name if isinstance(name, str) and "name" not in bad_top else "domain",
        description=description if isinstance(description, str) else "",
        tables=entries["tables"],
        views=entries["views"],
        marts=entries["marts"],
    )
    return parsed, indexes, unparsed


_SECTIONS = ("name", "description", "tables", "views", "marts")


def issue_order(issue: DomainIssue) -> tuple[Any, ...]:
    """Sort key: issues in the order of the file's sections and entries."""
    parts = re.findall(r"[^.\[\]]+", issue.path)
    head = parts[0] if parts else ""
    rank = _SECTIONS.index(head) if head in _SECTIONS else len(_SECTIONS)
    return (rank, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts[1:]))
