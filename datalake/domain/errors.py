"""Problems of a domain file: each names its path in the file, all reported at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DomainIssue:
    """One problem of a domain file: where (``tables[1].columns[3].type``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DomainError(ValueError):
    """Every problem of one domain file, reported at once."""

    def __init__(self, issues: Iterable[DomainIssue], source: str | None = None):
        self.issues = list(issues)
        self.source = source
        where = f" {source}" if source else ""
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"invalid domain file{where} ({len(self.issues)} problem(s)):\n{lines}")


def doc_path(*parts: str | int) -> str:
    """``tables[1].columns[3].type`` from location parts."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def shown(value: Any) -> str:
    """A value as the user wrote it: strings quoted, lists comma-separated."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return repr(value)


def listing(names: Iterable[str]) -> str:
    """``a, b, c`` (or ``none``)."""
    names = list(names)
    return ", ".join(names) if names else "none"
