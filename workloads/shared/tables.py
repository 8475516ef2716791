"""The lake's Iceberg tables as code, for both engines: from a contract to a pyiceberg table,
or to the spec the Spark jobs receive.

``ensure_table`` creates a table or evolves it in place: a column added to a contract is added
to the table (as optional), old data files read it as null, nothing is recreated. A removed
column, a changed type, a changed primary key, partitioning or view period is refused with what
to do (they are kept in the table properties ``datalake.primary-key``, ``datalake.partitioning``
and, on a view, ``datalake.period``). The silver and gold runs call it first, because a
Glue table resource only writes metadata when created.
Silver tables carry audit columns (``audit=True``; the domain's tables also ``change_seq``, which
an older table gets like any new column, views not: ``silver_columns``); gold marts are
aggregates without them.

The Spark jobs run on EMR Serverless' Python 3.9 with only pyspark, so they cannot import the
contracts; the planners hand them :func:`spark_spec` (in the run's manifest) instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysFalse, And, BooleanExpression, EqualTo, In, Or
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform, Transform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from datalake.contracts import ColumnType, TableContract, silver_columns
from datalake.domain import evolution_issues

from .spark_common import (
    PARTITIONING_PROPERTY,
    PERIOD_PROPERTY,
    PRIMARY_KEY_PROPERTY,
    partitioning_issues,
    partitioning_text,
    period_issues,
)
from .view_sql import partition_terms

BATCH_PROPERTY = "datalake.batch-id"
"""Snapshot property naming the batch of control records a commit applied (replays skip it)."""
SPARK_TYPES = {"long": "bigint", "double": "double", "string": "string", "timestamp": "timestamp"}
_TYPES = {
    ColumnType.LONG: LongType,
    ColumnType.DOUBLE: DoubleType,
    ColumnType.STRING: StringType,
    ColumnType.TIMESTAMP: TimestamptzType,
}
_TRANSFORMS: dict[str, type[Transform]] = {"day": DayTransform, "identity": IdentityTransform}
_LOGICAL = {"long": "long", "double": "double", "string": "string", "timestamptz": "timestamp"}
"""Iceberg type -> the domain's type name (for evolution checks and their messages)."""


class TableEvolutionError(ValueError):
    """A table cannot be evolved in place to its contract (removed/retyped column, new key)."""


def batch_id_of(control_ids: Iterable[str]) -> str:
    """Deterministic id of a batch: the same control records give the same id."""
    return hashlib.sha256("\n".join(sorted(control_ids)).encode()).hexdigest()[:32]


def iceberg_schema(contract: TableContract, *, audit: bool = True) -> Schema:
    """Iceberg schema of ``contract`` (field ids in column order).

    ``audit``: a silver table (one row per key, with created/updated/deleted times and, for
    a table of the domain, the applied change's ``change_seq``); gold marts are aggregates
    without them.
    """
    columns = silver_columns(contract) if audit else contract.columns
    fields = [
        NestedField(i, c.name, _TYPES[c.type](), required=not c.nullable, doc=c.description or None)
        for i, c in enumerate(columns, start=1)
    ]
    identifiers = [f.field_id for f in fields if audit and f.name in contract.primary_key]
    return Schema(*fields, identifier_field_ids=identifiers)


def partition_spec(contract: TableContract, schema: Schema) -> PartitionSpec:
    """Partitioning from the contract (silver tables: day of updated_at)."""
    fields = []
    for index, (transform, source) in enumerate(contract.silver_partitioning):
        name = source if transform == "identity" else f"{source}_{transform}"
        fields.append(
            PartitionField(
                source_id=schema.find_field(source).field_id,
                field_id=1000 + index,
                transform=_TRANSFORMS[transform](),
                name=name,
            )
        )
    return PartitionSpec(*fields)


def table_properties(
    target_file_size_mb: int, retention_days: int, min_snapshots: int
) -> dict[str, str]:
    """Format v2, zstd Parquet, target file size and snapshot retention (from settings)."""
    return {
        "format-version": "2",
        "write.format.default": "parquet",
        "write.parquet.compression-codec": "zstd",
        "write.target-file-size-bytes": str(target_file_size_mb * 2**20),
        "history.expire.max-snapshot-age-ms": str(retention_days * 24 * 3600 * 1000),
        "history.expire.min-snapshots-to-keep": str(min_snapshots),
    }


def ensure_table(
    catalog: Catalog,
    namespace: str,
    contract: TableContract,
    properties: dict[str, Any],
    *,
    audit: bool = True,
) -> Table:
    """Create the table of ``contract`` or add the contract's new columns to it.

    Raises :class:`TableEvolutionError` (naming the table, the column and what to do) for a
    column the contract dropped, a changed type, primary key or partitioning.
    """
    identifier = (namespace, contract.name)
    schema = iceberg_schema(contract, audit=audit)
    key = ",".join(contract.primary_key)
    layout = partitioning_text(contract.silver_partitioning)
    period = ",".join(contract.period)
    recorded = {PRIMARY_KEY_PROPERTY: key, PARTITIONING_PROPERTY: layout}
    if period:  # a view: its period may be finer than its partitioning
        recorded[PERIOD_PROPERTY] = period
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return catalog.create_table(
            identifier,
            schema=schema,
            partition_spec=partition_spec(contract, schema),
            properties={**properties, **recorded},
        )
    name, stored_key = f"{namespace}.{contract.name}", table.properties.get(PRIMARY_KEY_PROPERTY)
    issues = evolution_issues(
        name,
        [(f.name, _logical(f.field_type), not f.required) for f in table.schema().fields],
        None if stored_key is None else [k for k in stored_key.split(",") if k],
        # Silver holds every non-key column as optional (tombstones): a column the domain
        # declares required is added as optional too, like any other.
        replace(contract, columns=silver_columns(contract)) if audit else contract,
    ) + partitioning_issues(name, table.properties.get(PARTITIONING_PROPERTY), layout)
    if period:
        issues += period_issues(name, table.properties.get(PERIOD_PROPERTY), period)
    if issues:
        raise TableEvolutionError("; ".join(issues))
    existing = {f.name for f in table.schema().fields}
    added = [f for f in schema.fields if f.name not in existing]
    missing = {k: v for k, v in recorded.items() if k not in table.properties}
    if added or missing:
        with table.transaction() as transaction:
            if missing:  # created before they were recorded: adopt the contract's
                transaction.set_properties(missing)
            if added:
                with transaction.update_schema() as update:
                    for field in added:
                        update.add_column(field.name, field.field_type, doc=field.doc)
        table = catalog.load_table(identifier)
    return table


def _logical(field_type: Any) -> str:
    return _LOGICAL.get(str(field_type), str(field_type))


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows in the table's column order and types (new columns of the table read as null)."""
    columns = []
    for target in schema:
        if target.name in rows.column_names:
            columns.append(rows.column(target.name).cast(target.type))
        else:
            columns.append(pa.nulls(rows.num_rows, target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def partition_filter(
    columns: Sequence[str], values: Iterable[Sequence[int]], parts: Sequence[str] = ()
) -> BooleanExpression:
    """Iceberg filter of the given partitions (identity columns): the list conditions of
    :func:`~workloads.shared.view_sql.partition_terms`, the same the SQL selects them with.

    pyiceberg evaluates filters per data file; one term per partition (a full history of
    months is 180 of them) made planning take minutes: partitions sharing all but the last
    value share one term (``year = 2024 AND month IN (1, 2, 3)``), and with the period
    ``parts`` (``year``, ``month``, ``day``) a complete group is one value of the level above
    (a whole history of months: ``year IN (...)``).
    """
    terms: list[BooleanExpression] = []
    for pairs, column, lasts in partition_terms(columns, values, parts):
        term: BooleanExpression = (
            In(term=column, literals=lasts)
            if len(lasts) > 1
            else EqualTo(term=column, value=lasts[0])
        )
        for name, value in reversed(pairs):
            term = And(EqualTo(term=name, value=value), term)
        terms.append(term)
    return any_of(terms) if terms else AlwaysFalse()


def any_of(terms: list[BooleanExpression]) -> BooleanExpression:
    """The disjunction of one or more filter terms."""
    return terms[0] if len(terms) == 1 else Or(*terms)


def spark_spec(
    contract: TableContract, properties: dict[str, str], *, audit: bool = True
) -> dict[str, Any]:
    """JSON-ready description of the table of ``contract`` for the Spark jobs (``audit``:
    silver's created/updated/deleted columns)."""
    columns = silver_columns(contract) if audit else contract.columns
    return {
        "table": contract.name,
        "primary_key": list(contract.primary_key),
        "source_columns": [c.name for c in contract.columns],
        "columns": [
            {"name": c.name, "type": SPARK_TYPES[c.type.value], "nullable": c.nullable}
            for c in columns
        ],
        "partitioning": [list(p) for p in contract.silver_partitioning],
        "period": list(contract.period),
        "properties": properties,
    }
