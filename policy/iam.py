"""IAM policy documents read the way the rules need: statements, action and resource matching.

Deliberately small: Allow statements, ``Action``/``NotAction``, ``Resource`` with ``*`` and
``?`` wildcards, and the few condition keys the rules can evaluate. Anything else counts as
"not granted", so a rule errs on the side of reporting.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policy.model import as_list

ACCOUNT_LEVEL_S3_ACTIONS = frozenset(
    {
        "s3:listallmybuckets",
        "s3:getaccountpublicaccessblock",
        "s3:putaccountpublicaccessblock",
        "s3:listaccesspoints",
        "s3:listjobs",
        "s3:createjob",
        "s3:liststoragelensconfigurations",
    }
)
"""S3 actions that only take ``Resource: *`` (they act on the account, not on a bucket)."""


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document, its fields as lists."""

    sid: str
    effect: str
    actions: list[str]
    not_actions: list[str]
    resources: list[str]
    not_resources: list[str]
    condition: Mapping[str, Mapping[str, Any]]
    principal: Any

    @property
    def allows(self) -> bool:
        """True for an ``Allow`` statement."""
        return self.effect == "Allow"

    def matches_action(self, action: str) -> bool:
        """Whether the statement's action part covers ``action`` (case-insensitive)."""
        if self.not_actions:
            return not any(_wildcard(p, action) for p in self.not_actions)
        return any(_wildcard(p, action) for p in self.actions)

    def matches_resource(self, arn: str) -> bool:
        """Whether the statement's resource part covers ``arn``."""
        if self.not_resources:
            return not any(fnmatch.fnmatchcase(arn, p) for p in self.not_resources)
        return any(fnmatch.fnmatchcase(arn, p) for p in self.resources)


def document(value: Any) -> dict[str, Any]:
    """A policy document from its JSON text (or an already parsed dict); ``{}`` when unset."""
    if value is None or value == "":
        return {}
    parsed = json.loads(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, dict) else {}


def statements(doc: Mapping[str, Any]) -> list[Statement]:
    """The statements of a policy document."""
    out = []
    for index, raw in enumerate(as_list(doc.get("Statement"))):
        out.append(
            Statement(
                sid=str(raw.get("Sid") or f"#{index}"),
                effect=str(raw.get("Effect", "")),
                actions=[str(a) for a in as_list(raw.get("Action"))],
                not_actions=[str(a) for a in as_list(raw.get("NotAction"))],
                resources=[str(r) for r in as_list(raw.get("Resource"))],
                not_resources=[str(r) for r in as_list(raw.get("NotResource"))],
                condition=raw.get("Condition") or {},
                principal=raw.get("Principal"),
            )
        )
    return out


def grants(
    docs: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether some Allow statement of ``docs`` grants ``action`` on ``resource`` with the
    request context ``context``, and no Deny statement without conditions refuses it."""
    context = context or {}
    allowed = False
    for doc in docs:
        for statement in statements(doc):
            if not (statement.matches_action(action) and statement.matches_resource(resource)):
                continue
            if statement.allows and conditions_hold(statement.condition, context):
                allowed = True
            if statement.effect == "Deny" and not statement.condition:
                return False
    return allowed


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Evaluate the string/ARN equality and ``Like`` operators over ``context``; any other
    operator, or a key absent from the context, does not hold."""
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            actual = _context_value(context, key)
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            values = [str(v) for v in as_list(expected)]
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in values
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            else:
                return False
            if not ok:
                return False
    return True


def _context_value(context: Mapping[str, str], key: str) -> str | None:
    lowered = {k.lower(): v for k, v in context.items()}
    return lowered.get(key.lower())


def _wildcard(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def is_bucket_action(pattern: str) -> bool:
    """Whether an action pattern can name an S3 action on a bucket or object (``*``,
    ``s3:*``, ``s3:Get*``...), i.e. anything but the account-level S3 actions."""
    lowered = pattern.lower()
    if not (lowered == "*" or lowered.startswith("s3:") or lowered.startswith("s3*")):
        return False
    return lowered not in ACCOUNT_LEVEL_S3_ACTIONS
