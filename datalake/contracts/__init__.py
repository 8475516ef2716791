"""Table contracts of the lake's domain, as data."""

from __future__ import annotations

from datalake.contracts.beer import BEER, BREWERY, PROFILE, REVIEW
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

CONTRACTS: dict[str, TableContract] = {c.name: c for c in (BREWERY, BEER, PROFILE, REVIEW)}


class UnknownTableError(KeyError):
    """A table name with no contract."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_contract(name: str) -> TableContract:
    """The contract of table ``name``; the error lists the known tables."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise UnknownTableError(
            f"unknown table {name!r}; known tables: {', '.join(sorted(CONTRACTS))}"
        ) from None


__all__ = [
    "BEER",
    "BREWERY",
    "CDC_CHANGED_AT",
    "CDC_ENVELOPE",
    "CDC_OPERATION",
    "CDC_SEQUENCE",
    "CONTRACTS",
    "PII_TYPES",
    "PROFILE",
    "REVIEW",
    "Classification",
    "Column",
    "ColumnType",
    "Operation",
    "RawFormat",
    "TableContract",
    "UnknownTableError",
    "get_contract",
]

from datalake.contracts.bronze import (  # noqa: E402
    BRONZE_PARTITION_KEYS,
    LINEAGE_COLUMNS,
    bronze_columns,
)

__all__ += ["BRONZE_PARTITION_KEYS", "LINEAGE_COLUMNS", "bronze_columns"]

from datalake.contracts.silver import (  # noqa: E402
    AUDIT_COLUMNS,
    REVIEW_FLAT,
    silver_columns,
)

__all__ += ["AUDIT_COLUMNS", "REVIEW_FLAT", "silver_columns"]
