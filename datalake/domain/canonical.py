"""The canonical domain document of a run-time domain: every default written out.

``Domain.from_document(domain.to_document())`` gives the same domain back; the digest of the
canonical JSON names the published copy (``domain/<digest>.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datalake.contracts.model import Column, TableContract
from datalake.domain.marts import Mart, Measure
from datalake.domain.views import View

if TYPE_CHECKING:
    from datalake.domain.domain import Domain


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def column_document(column: Column) -> dict[str, Any]:
    """A column entry."""
    entry: dict[str, Any] = {
        "name": column.name,
        "type": column.type.value,
        "nullable": column.nullable,
        "classification": column.classification.value,
    }
    if column.pii_type is not None:
        entry["pii_type"] = column.pii_type
    for key in ("minimum", "maximum", "step"):
        value = _number(getattr(column, key))
        if value is not None:
            entry[key] = value
    entry["description"] = column.description
    return entry


def table_document(contract: TableContract) -> dict[str, Any]:
    """A table entry."""
    return {
        "name": contract.name,
        "description": contract.description,
        "primary_key": list(contract.primary_key),
        "raw_formats": [f.value for f in contract.raw_formats],
        "cdc": contract.cdc,
        "version": contract.version,
        "columns": [column_document(c) for c in contract.columns],
    }


def view_document(view: View) -> dict[str, Any]:
    """A view entry."""
    (first_out, first_part), *_ = view.period.parts
    prefix = first_out.removesuffix(f"_{first_part}")
    return {
        "name": view.name,
        "description": view.description,
        "base": view.base,
        "columns": list(view.base_columns),
        "joins": [
            {
                "table": join.table,
                "on": dict(join.on),
                "columns": [column for column, _ in join.columns],
                "rename": {column: out for column, out in join.columns if column != out},
            }
            for join in view.joins
        ],
        "period": {
            "column": view.period.column,
            "kind": view.period.kind,
            "parts": [part for _, part in view.period.parts],
            "prefix": prefix,
            "partition_by": view.period.partition_parts[-1][1],
        },
    }


def measure_document(measure: Measure) -> dict[str, Any]:
    """A measure entry."""
    entry: dict[str, Any] = {"name": measure.name, "function": measure.function}
    if measure.column is not None:
        entry["column"] = measure.column
    found = measure.filter
    if found is not None:
        condition: dict[str, Any] = {"column": found.column, "op": found.op}
        if isinstance(found.value, tuple):
            condition["value"] = list(found.value)
        elif found.value is not None:
            condition["value"] = found.value
        entry["filter"] = condition
    entry["description"] = measure.description
    return entry


def mart_document(mart: Mart) -> dict[str, Any]:
    """A mart entry."""
    entry: dict[str, Any] = {
        "name": mart.name,
        "description": mart.description,
        "source": mart.source,
        "grain": list(mart.grain),
        "measures": [measure_document(m) for m in mart.measures],
    }
    if mart.min_count is not None:
        entry["min_count"] = mart.min_count
    entry["rank_by"] = list(mart.rank_by)
    return entry


def domain_document(domain: Domain) -> dict[str, Any]:
    """The canonical document of ``domain``."""
    return {
        "name": domain.name,
        "description": domain.description,
        "tables": [table_document(t) for t in domain.tables.values()],
        "views": [view_document(v) for v in domain.views.values()],
        "marts": [mart_document(m) for m in domain.marts],
    }
