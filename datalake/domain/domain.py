"""The lake's domain at run time: its tables, views and marts, as built from a domain file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datalake.contracts import UnknownTableError
from datalake.contracts.model import TableContract
from datalake.domain.marts import Mart
from datalake.domain.views import View


@dataclass(frozen=True, eq=True)
class Domain:
    """Tables, views and marts of one lake; build it with ``load_domain`` or ``from_document``."""

    name: str
    description: str
    tables: Mapping[str, TableContract]
    """Table contracts by name, in file order."""
    views: Mapping[str, View]
    """Views by name, in file order."""
    marts: tuple[Mart, ...]
    source: Path | None = None
    """The file it was loaded from (None when built from a document or read from S3)."""

    def __hash__(self) -> int:
        return hash(self.digest)

    def table(self, name: str) -> TableContract:
        """The contract of table ``name``; the error lists the known tables."""
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownTableError(
                f"unknown table {name!r} in domain {self.name}; known tables: "
                f"{', '.join(sorted(self.tables))}"
            ) from None

    def view(self, name: str) -> View:
        """The view called ``name``; the error lists the known views."""
        try:
            return self.views[name]
        except KeyError:
            raise UnknownTableError(
                f"unknown view {name!r} in domain {self.name}; known views: "
                f"{', '.join(sorted(self.views)) or 'none'}"
            ) from None

    def mart(self, name: str) -> Mart:
        """The mart called ``name``; the error lists the known marts."""
        for mart in self.marts:
            if mart.name == name:
                return mart
        raise UnknownTableError(
            f"unknown mart {name!r} in domain {self.name}; known marts: "
            f"{', '.join(sorted(m.name for m in self.marts)) or 'none'}"
        )

    def marts_of(self, view: str) -> tuple[Mart, ...]:
        """The marts over ``view``, in file order."""
        return tuple(m for m in self.marts if m.source == view)

    def views_of(self, table: str) -> tuple[View, ...]:
        """The views reading ``table`` (as base or lookup), in file order."""
        return tuple(v for v in self.views.values() if table in v.tables)

    def silver_contracts(self) -> tuple[TableContract, ...]:
        """Every silver table's contract: the tables, then each view's."""
        return (*self.tables.values(), *(v.contract for v in self.views.values()))

    def gold_contracts(self) -> tuple[TableContract, ...]:
        """Every mart's contract."""
        return tuple(m.contract for m in self.marts)

    def to_document(self) -> dict[str, Any]:
        """The canonical, JSON-able domain document (``from_document`` reads it back)."""
        from datalake.domain.canonical import domain_document

        return domain_document(self)

    @classmethod
    def from_document(cls, document: Any, source: Path | None = None) -> Domain:
        """Validate a domain document (parsed YAML or JSON) and build the domain.

        Raises ``DomainError`` listing every problem.
        """
        from datalake.domain.load import domain_from_document

        return domain_from_document(document, source=source)

    def canonical_json(self) -> str:
        """The canonical document as compact JSON with sorted keys."""
        return json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        """First 16 hex characters of the SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]
