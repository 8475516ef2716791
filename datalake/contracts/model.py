"""The contract model: a table's columns, keys, PII classification and raw shapes, as data.

One definition drives bronze validation, Glue table columns, silver Iceberg schemas and docs.
Adding a nullable column is backwards compatible: raw files without it still validate (the
column is null), so existing data never breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ColumnType(StrEnum):
    """Logical column types, each with one Arrow, Iceberg and Glue/Athena spelling."""

    LONG = "long"
    DOUBLE = "double"
    STRING = "string"
    TIMESTAMP = "timestamp"

    @property
    def glue(self) -> str:
        """Glue / Athena (Hive DDL) type."""
        return {"long": "bigint", "double": "double", "string": "string", "timestamp": "timestamp"}[
            self.value
        ]

    @property
    def arrow(self) -> Any:
        """The ``pyarrow.DataType`` (imported lazily: the Pulumi program does not need it)."""
        import pyarrow as pa

        return {
            "long": pa.int64(),
            "double": pa.float64(),
            "string": pa.string(),
            "timestamp": pa.timestamp("us", tz="UTC"),
        }[self.value]

    @property
    def iceberg(self) -> str:
        """Iceberg primitive type name (timestamps are UTC-adjusted)."""
        return {"long": "long", "double": "double", "string": "string", "timestamp": "timestamptz"}[
            self.value
        ]


class Classification(StrEnum):
    """Data classification; Lake Formation LF-Tag values use the same words."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PII = "pii"


PII_TYPES: tuple[str, ...] = (
    "EMAIL",
    "PHONE",
    "CREDIT_DEBIT_NUMBER",
    "SSN",
    "IP_ADDRESS",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "NAME",
    "ADDRESS",
    "USERNAME",
    "DATE_TIME",
    "URL",
    "OTHER",
)
"""PII entity types (Amazon Comprehend's names); strategies may be chosen per type."""


class RawFormat(StrEnum):
    """Shapes accepted under ``raw/<table>/``."""

    CSV = "csv"
    """Batch: gzip CSV with a header row, RFC 4180 quoting; every row is an insert."""
    JSONL = "jsonl"
    """CDC: gzip JSON lines, one change per line: the row's columns plus ``operation``, or
    what DMS sends (a ``data``/``metadata`` envelope)."""


class Operation(StrEnum):
    """Change operations carried by CDC lines (batch rows are inserts)."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


# The CDC envelope: keys a JSON line may carry besides the table's columns.
CDC_OPERATION = "operation"
CDC_CHANGED_AT = "changed_at"
"""Optional ISO-8601 time of the change at the source; defaults to the file's arrival."""
CDC_SEQUENCE = "sequence"
"""Optional integer order of changes at the source; defaults to the line number."""
CDC_ENVELOPE = (CDC_OPERATION, CDC_CHANGED_AT, CDC_SEQUENCE)
"""Keys of the home-grown flat CDC line besides the table's columns."""

# What AWS DMS sends instead: ``{"data": {...}, "before-image": {...}, "metadata": {...}}``
# (``datalake.streaming`` names the envelope's keys). Bronze maps it onto the same three: the
# operation (``datalake.streaming.DMS_OPERATIONS``), the commit timestamp (else DMS's
# ``timestamp``) as ``changed_at``, the transaction record id (else 0) as ``sequence``.
DMS_CONTROL_KEY = "control"
"""Top-level key of a control record's details (DDL), instead of ``data``."""
DMS_DATA_RECORD = "data"
"""``record-type`` of a change of a row."""
DMS_CONTROL_RECORD = "control"
"""``record-type`` of a control record (DDL, task events): skipped and counted, never a row."""
DMS_RECORD_TYPES = (DMS_DATA_RECORD, DMS_CONTROL_RECORD)
DMS_SEQUENCE_DEFAULT = 0
"""``sequence`` of a change without a transaction record id (a full-load row)."""


@dataclass(frozen=True)
class Column:
    """One column of a table contract."""

    name: str
    type: ColumnType
    nullable: bool = True
    classification: Classification = Classification.INTERNAL
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    """Values must be a multiple of ``step`` (e.g. scores in 0.5 steps)."""
    pii_type: str | None = None
    """Entity type of a declared PII column (one of ``PII_TYPES``)."""

    @property
    def is_pii(self) -> bool:
        """Declared personal data: always masked before it reaches bronze."""
        return self.classification is Classification.PII


@dataclass(frozen=True)
class TableContract:
    """A table of the domain: columns, primary key and accepted raw shapes."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    description: str = ""
    raw_formats: tuple[RawFormat, ...] = (RawFormat.CSV, RawFormat.JSONL)
    silver_partitioning: tuple[tuple[str, str], ...] = (("day", "updated_at"),)
    """Iceberg partition fields of the silver table as (transform, source column)."""
    version: int = 1
    """Bumped when columns change; caches keyed by schema (PII verdicts) use it."""
    metadata: dict[str, str] = field(default_factory=dict)
    cdc: bool = True
    """Receives CDC changes (JSON lines under ``raw/<table>/``; streaming CDC may feed it)."""
    period: tuple[str, ...] = ()
    """A view's period columns (its marts' grain), recorded on its table like the key and the
    partitioning, since they may be finer than the partitioning: changing them is refused."""

    def __post_init__(self) -> None:
        for column in self.columns:
            if column.pii_type is not None and column.pii_type not in PII_TYPES:
                raise ValueError(f"contract {self.name}: unknown pii_type {column.pii_type}")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"contract {self.name}: duplicate column names")
        missing = [k for k in self.primary_key if k not in names]
        if missing:
            raise ValueError(f"contract {self.name}: primary key {missing} not among columns")
        for key in self.primary_key:
            if self.column(key).nullable:
                raise ValueError(f"contract {self.name}: primary key column {key} is nullable")

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns every row must carry (not nullable)."""
        return tuple(c.name for c in self.columns if not c.nullable)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        """Columns declared PII."""
        return tuple(c.name for c in self.columns if c.is_pii)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"contract {self.name} has no column {name!r}")
