"""Cross-reference checks of a domain document: what the schema alone cannot see.

Each entry was validated on its own by the models; here: keys and references between columns,
tables, views and marts, and names that would clash. Every problem is reported with its path
in the file; references to entries that failed the schema checks are skipped (already
reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from datalake.contracts.bronze import BRONZE_PARTITION_KEYS
from datalake.contracts.model import (
    CDC_ENVELOPE,
    PII_TYPES,
    Classification,
    ColumnType,
    RawFormat,
)
from datalake.contracts.silver import AUDIT_COLUMNS
from datalake.domain.errors import DomainIssue, doc_path, listing, shown
from datalake.domain.model import DomainDocument, TableDoc

NUMERIC = (ColumnType.LONG, ColumnType.DOUBLE)
RESERVED_COLUMNS: dict[str, str] = {
    **{c.name: "an audit column of silver" for c in AUDIT_COLUMNS},
    **{k: "a key of the CDC envelope" for k in CDC_ENVELOPE},
    **{k: "a partition key of bronze" for k in BRONZE_PARTITION_KEYS},
}
"""Column names the lake adds itself, which a table or view column may not take."""


@dataclass
class ViewColumn:
    """A column of a view as the checks see it: its type, classification and origin."""

    type: ColumnType
    classification: Classification
    origin: str
    """Where it comes from: ``orders`` (a table) or ``period``."""


@dataclass
class Checker:
    """Collects the problems of one document."""

    doc: DomainDocument
    indexes: dict[str, list[int]] | None = None
    unparsed: dict[str, str] = field(default_factory=dict)
    """Names of the entries that failed the schema checks -> their section."""
    issues: list[DomainIssue] = field(default_factory=list)
    tables: dict[str, TableDoc] = field(default_factory=dict)
    view_columns: dict[str, dict[str, ViewColumn] | None] = field(default_factory=dict)
    """Columns of each view; None for a view with problems (marts over it are not checked)."""
    view_periods: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Period columns of each view."""
    places: dict[str, str] = field(default_factory=dict)
    """Path of the entry holding each table, view and mart name."""

    def path(self, section: str, index: int, *rest: str | int) -> str:
        """Path in the file of entry ``index`` of ``section`` (as validated) and below."""
        original = self.indexes[section][index] if self.indexes is not None else index
        return doc_path(section, original, *rest)

    def add(self, path: str, message: str) -> None:
        """Record one problem."""
        self.issues.append(DomainIssue(path, message))

    def kinds_of(self, name: str) -> list[str]:
        """What ``name`` names: ``table``, ``view``, ``mart`` (more than one if given twice)."""
        return [
            kind
            for kind, section in (("table", "tables"), ("view", "views"), ("mart", "marts"))
            if any(e.name == name for e in getattr(self.doc, section))
        ]

    def names(self, section: str) -> list[str]:
        """Names of the entries of ``section`` (those that failed the schema checks last)."""
        parsed = [e.name for e in getattr(self.doc, section)]
        return parsed + [n for n, s in self.unparsed.items() if s == section and n not in parsed]


def domain_issues(
    doc: DomainDocument,
    *,
    indexes: dict[str, list[int]] | None = None,
    unparsed: Mapping[str, str] | None = None,
) -> list[DomainIssue]:
    """Every problem between the entries of ``doc`` (``indexes``: their places in the file).

    ``unparsed``: names of entries that failed the schema checks (-> section); references to
    them are not reported again.
    """
    from datalake.domain.checks_views import check_mart, check_view

    checker = Checker(doc, indexes, dict(unparsed or {}))
    check_names(checker)
    for index, table in enumerate(doc.tables):
        check_table(checker, index, table)
        checker.tables.setdefault(table.name, table)
    for index, view in enumerate(doc.views):
        check_view(checker, index, view)
    for index, mart in enumerate(doc.marts):
        check_mart(checker, index, mart)
    return checker.issues


def check_names(checker: Checker) -> None:
    """Tables, views and marts share one namespace."""
    for section in ("tables", "views", "marts"):
        for index, entry in enumerate(getattr(checker.doc, section)):
            path = checker.path(section, index, "name")
            first = checker.places.get(entry.name)
            if first is not None:
                checker.add(
                    path,
                    f"{entry.name!r} is already the name of {first}; tables, views and marts "
                    "need distinct names",
                )
            else:
                checker.places[entry.name] = checker.path(section, index)


def check_table(checker: Checker, index: int, table: TableDoc) -> None:
    """Columns, primary key, value rules and raw formats of one table."""

    def at(*rest: str | int) -> str:
        return checker.path("tables", index, *rest)

    seen: dict[str, int] = {}
    for position, column in enumerate(table.columns):
        where = at("columns", position)
        if column.name in seen:
            checker.add(
                f"{where}.name",
                f"{column.name!r} is given twice in {table.name} "
                f"(first at columns[{seen[column.name]}])",
            )
        seen.setdefault(column.name, position)
        if column.name in RESERVED_COLUMNS:
            checker.add(
                f"{where}.name",
                f"{column.name!r} is reserved: it is {RESERVED_COLUMNS[column.name]} "
                f"(reserved: {listing(RESERVED_COLUMNS)})",
            )
        pii = column.classification is Classification.PII
        if pii and column.pii_type is None:
            checker.add(
                f"{where}.pii_type",
                f"required for a pii column (allowed: {listing(PII_TYPES)})",
            )
        if not pii and column.pii_type is not None:
            checker.add(
                f"{where}.pii_type",
                f"only a pii column has a pii_type (classification is "
                f"{column.classification.value!r}; got {column.pii_type!r}); set classification: "
                "pii or remove pii_type",
            )
        numeric = column.type in NUMERIC
        for key in ("minimum", "maximum", "step"):
            value = getattr(column, key)
            if value is not None and not numeric:
                checker.add(
                    f"{where}.{key}",
                    f"only long and double columns take {key} ({column.name} is "
                    f"{column.type.value}; got {value:g})",
                )
        if numeric and column.type is ColumnType.LONG:
            for key in ("minimum", "maximum", "step"):
                value = getattr(column, key)
                if value is not None and not float(value).is_integer():
                    checker.add(
                        f"{where}.{key}",
                        f"a long column takes whole numbers (got {value:g})",
                    )
        low, high = column.minimum, column.maximum
        if numeric and low is not None and high is not None and low > high:
            checker.add(f"{where}.maximum", f"{high:g} is less than minimum {low:g}")
    columns = {c.name: c for c in table.columns}
    keys_seen: set[str] = set()
    for position, key in enumerate(table.primary_key):
        where = at("primary_key", position)
        if key in keys_seen:
            checker.add(where, f"{key!r} is given twice in the primary key")
        keys_seen.add(key)
        keyed = columns.get(key)
        if keyed is None:
            checker.add(
                where, f"{key!r} is not a column of {table.name} (columns: {listing(columns)})"
            )
            continue
        if keyed.nullable:
            checker.add(
                where,
                f"key column {key!r} is nullable; set nullable: false on columns[{seen[key]}]",
            )
        if keyed.classification is Classification.PII:
            checker.add(where, f"key column {key!r} is pii: it is masked before bronze")
    formats = list(table.raw_formats)
    if len(set(formats)) != len(formats):
        checker.add(
            at("raw_formats"), f"each format once (got {shown([f.value for f in formats])})"
        )
    if table.cdc and RawFormat.JSONL not in formats:
        checker.add(
            at("cdc"),
            f"a table receiving CDC needs jsonl in raw_formats (got "
            f"{shown([f.value for f in formats])}); add jsonl or set cdc: false",
        )
