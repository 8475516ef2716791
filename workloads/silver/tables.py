"""Silver Iceberg tables as code: schema, partitioning and properties from the contracts.

``ensure_table`` creates a table or evolves it in place: a column added to a contract is added
to the table (as optional), old data files read it as null, nothing is recreated. The silver
job runs it as a pre-step, because a Glue table resource only writes metadata when created.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform, Transform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from datalake.contracts import ColumnType, TableContract, silver_columns

_TYPES = {
    ColumnType.LONG: LongType,
    ColumnType.DOUBLE: DoubleType,
    ColumnType.STRING: StringType,
    ColumnType.TIMESTAMP: TimestamptzType,
}
_TRANSFORMS: dict[str, type[Transform]] = {"day": DayTransform, "identity": IdentityTransform}


def iceberg_schema(contract: TableContract, *, audit: bool = True) -> Schema:
    """Iceberg schema of ``contract`` (field ids in column order).

    ``audit``: a silver table (one row per key, with created/updated/deleted times); gold
    marts are aggregates without them.
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
    """Create the table of ``contract`` or add the contract's new columns to it."""
    identifier = (namespace, contract.name)
    schema = iceberg_schema(contract, audit=audit)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return catalog.create_table(
            identifier,
            schema=schema,
            partition_spec=partition_spec(contract, schema),
            properties=properties,
        )
    existing = {f.name for f in table.schema().fields}
    if any(f.name not in existing for f in schema.fields):
        with table.update_schema() as update:
            for field in schema.fields:
                if field.name not in existing:
                    update.add_column(field.name, field.field_type, doc=field.doc)
        table = catalog.load_table(identifier)
    return table
