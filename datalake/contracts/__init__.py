"""The table contract model: columns, keys, PII classification and raw shapes, as data.

The contracts themselves come from the domain file (:mod:`datalake.domain`).
"""

from __future__ import annotations

from datalake.contracts.model import (
    CDC_CHANGED_AT,
    CDC_ENVELOPE,
    CDC_OPERATION,
    CDC_SEQUENCE,
    PII_TYPES,
    Classification,
    Column,
    ColumnType,
    Operation,
    RawFormat,
    TableContract,
)


class UnknownTableError(KeyError):
    """A table name with no contract."""

    def __str__(self) -> str:
        return str(self.args[0])


__all__ = [
    "CDC_CHANGED_AT",
    "CDC_ENVELOPE",
    "CDC_OPERATION",
    "CDC_SEQUENCE",
    "PII_TYPES",
    "Classification",
    "Column",
    "ColumnType",
    "Operation",
    "RawFormat",
    "TableContract",
    "UnknownTableError",
]

from datalake.contracts.bronze import (  # noqa: E402
    BRONZE_PARTITION_KEYS,
    LINEAGE_COLUMNS,
    bronze_columns,
)

__all__ += ["BRONZE_PARTITION_KEYS", "LINEAGE_COLUMNS", "bronze_columns"]

from datalake.contracts.silver import (  # noqa: E402
    AUDIT_COLUMNS,
    CHANGE_SEQ,
    VIEW_AUDIT_COLUMNS,
    merges_changes,
    silver_columns,
)

__all__ += ["AUDIT_COLUMNS", "CHANGE_SEQ", "VIEW_AUDIT_COLUMNS", "merges_changes", "silver_columns"]
