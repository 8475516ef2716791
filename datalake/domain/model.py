"""The domain file's schema: pydantic models of its tables, views and marts.

These models check each entry on its own (names, closed lists, bounds, unknown keys);
``datalake.domain.checks`` checks the references between entries. The JSON Schema and
``docs/domain.md`` are generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

from datalake.contracts.model import PII_TYPES, Classification, ColumnType, RawFormat

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
DOMAIN_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
"""A table, view, mart, column or measure name: lowercase letters, digits and ``_``."""

PeriodKind = Literal["epoch_seconds", "timestamp"]
PeriodPart = Literal["year", "month", "day"]
MeasureFunction = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
FilterOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]
Scalar = StrictInt | StrictFloat | str
PERIOD_PARTS: tuple[PeriodPart, ...] = ("year", "month", "day")
PERIOD_KIND_TYPES: dict[str, ColumnType] = {
    "epoch_seconds": ColumnType.LONG,
    "timestamp": ColumnType.TIMESTAMP,
}


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ColumnDoc(_Document):
    """One column of a table."""

    name: Name = Field(description="Column name, unique in its table.")
    type: ColumnType = Field(description="Logical type (Glue, Iceberg and Arrow follow from it).")
    nullable: StrictBool = Field(True, description="Whether rows may leave it empty.")
    classification: Classification = Field(
        Classification.INTERNAL,
        description="`public`, `internal` or `pii` (masked before bronze; hidden from consumers).",
    )
    pii_type: str | None = Field(
        None,
        description="Entity type of a `pii` column (required for and only for `pii`).",
        json_schema_extra={"enum": [*PII_TYPES, None]},
    )
    minimum: float | None = Field(None, description="Smallest allowed value (numeric types).")
    maximum: float | None = Field(None, description="Largest allowed value (numeric types).")
    step: float | None = Field(
        None, gt=0, description="Values must be a multiple of it (numeric types)."
    )
    description: str = Field("", description="What the column holds.")

    @field_validator("pii_type")
    @classmethod
    def _known_pii_type(cls, value: str | None) -> str | None:
        if value is not None and value not in PII_TYPES:
            raise ValueError(f"{value!r} is not a PII type (allowed: {', '.join(PII_TYPES)})")
        return value


class TableDoc(_Document):
    """A table: raw files land under `raw/<name>/`, then bronze and silver hold it."""

    name: Name = Field(description="Table name, unique among tables, views and marts.")
    description: str = Field("", description="What one row is.")
    primary_key: list[Name] = Field(
        min_length=1, description="Key columns (not nullable); silver keeps one row per key."
    )
    raw_formats: list[RawFormat] = Field(
        default_factory=lambda: [RawFormat.CSV, RawFormat.JSONL],
        min_length=1,
        description="Accepted raw shapes: `csv` (batch gzip CSV), `jsonl` (CDC JSON lines).",
    )
    cdc: StrictBool = Field(
        True, description="Whether the table receives CDC changes (needs `jsonl` in raw_formats)."
    )
    version: int = Field(1, ge=1, description="Contract version; bump it when the columns change.")
    columns: list[ColumnDoc] = Field(min_length=1, description="Columns, in file order.")


class JoinDoc(_Document):
    """A lookup joined to a view: LEFT JOIN of the table's live rows (not soft-deleted)."""

    table: Name = Field(description="The table looked up.")
    on: dict[str, str] = Field(
        min_length=1,
        description="`{view column: column of this table}`: the view column is a base column or "
        "an earlier join's output; the table's columns must be its primary key; same types.",
    )
    columns: list[Name] | None = Field(
        None,
        description="Columns of the table to add; default: every column but the key and PII "
        "columns. A PII column listed here is carried masked.",
    )
    rename: dict[str, Name] = Field(
        default_factory=dict, description="`{column: output name}`, to avoid clashes."
    )


class PeriodDoc(_Document):
    """A view's period: its marts' grain; its parts up to `partition_by` partition the lot."""

    column: Name = Field(description="A column of the view holding the time (UTC).")
    kind: PeriodKind = Field(
        description="`epoch_seconds` (a `long` column) or `timestamp` (a `timestamp` column)."
    )
    parts: list[PeriodPart] = Field(
        min_length=1, description="Derived parts, in order: a subset of `year`, `month`, `day`."
    )
    prefix: Name | None = Field(
        None, description="Output columns are `<prefix>_<part>`; default: the column's name."
    )
    partition_by: PeriodPart | None = Field(
        None,
        description="One of `parts`: the view's Iceberg table and every mart over it are "
        "partitioned by the period columns up to and including it (the unit silver replaces "
        "and gold recomputes); default: the first part (see Partitioning).",
    )


class ViewDoc(_Document):
    """A view: a base table with lookups joined and a period derived, kept in silver."""

    name: Name = Field(description="View name, unique among tables, views and marts.")
    description: str = Field("", description="What one row is.")
    base: Name = Field(description="The base table: one view row per live or deleted base row.")
    columns: list[Name] | None = Field(
        None,
        description="Base columns kept (must include the base's primary key); default: every "
        "column but PII ones. A PII column listed here is carried masked.",
    )
    joins: list[JoinDoc] = Field(default_factory=list, description="Lookups, joined in order.")
    period: PeriodDoc = Field(description="The time column and the period columns derived from it.")


class FilterDoc(_Document):
    """Which view rows a measure aggregates."""

    column: Name = Field(description="A column of the source view.")
    op: FilterOp = Field(description="Comparison.")
    value: Scalar | list[Scalar] | None = Field(
        None,
        description="A value of the column's type; a list for `in`/`not_in`; none for "
        "`is_null`/`not_null`. Timestamps as ISO-8601 strings.",
    )


class MeasureDoc(_Document):
    """An aggregate of a mart."""

    name: Name = Field(description="Output column, unique in the mart.")
    function: MeasureFunction = Field(description="Aggregate function.")
    column: Name | None = Field(
        None,
        description="Aggregated column of the view (numeric for `sum`/`avg`); required except "
        "for `count`, which counts rows without it.",
    )
    filter: FilterDoc | None = Field(None, description="Aggregate only the rows matching it.")
    description: str = Field("", description="What the measure means.")


class MartDoc(_Document):
    """A mart in gold: per period of its source view, the measures for each grain."""

    name: Name = Field(description="Mart name, unique among tables, views and marts.")
    description: str = Field("", description="What one row is.")
    source: Name = Field(description="The view it aggregates (live rows only).")
    grain: list[Name] = Field(
        default_factory=list,
        description="Group-by columns of the view, besides the period columns (always there).",
    )
    measures: list[MeasureDoc] = Field(min_length=1, description="Aggregates, in output order.")
    min_count: int | None = Field(
        None, ge=1, description="Keep only groups with at least this many rows."
    )
    rank_by: list[Name] = Field(
        default_factory=list,
        description="Measures that rank the mart (descending) in named queries and dashboards.",
    )


class DomainDocument(_Document):
    """A domain file: the lake's tables, the views joined from them and the marts over those."""

    name: str = Field(
        pattern=DOMAIN_NAME_PATTERN, description="Domain name: lowercase letters, digits and `-`."
    )
    description: str = Field("", description="What the domain is about.")
    tables: list[TableDoc] = Field(min_length=1, description="Tables, in order.")
    views: list[ViewDoc] = Field(default_factory=list, description="Views, in order.")
    marts: list[MartDoc] = Field(default_factory=list, description="Marts, in order.")


MODELS: dict[str, type[BaseModel]] = {
    "tables": TableDoc,
    "views": ViewDoc,
    "marts": MartDoc,
}
"""The model of each entry of a top-level list."""
