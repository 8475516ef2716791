"""Hand-written bronze change batches for the silver semantics tests (shared by both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from datalake.contracts import get_contract
from workloads.bronze.ingest import bronze_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def beer_changes(*rows: tuple, source: str = "raw/beer/cdc/changes.jsonl.gz") -> pa.Table:
    """Bronze beer rows from (operation, beer_id, beer_name, beer_abv, minute[, seq])."""
    schema = bronze_schema(get_contract("beer"))
    records = []
    for line, row in enumerate(rows, start=1):
        operation, beer_id, name, abv, minute, *seq = row
        records.append(
            {
                "beer_id": beer_id,
                "brewery_id": 10,
                "beer_name": name,
                "beer_style": "IPA",
                "beer_abv": abv,
                "_operation": operation,
                "_change_ts": at(minute),
                "_change_seq": seq[0] if seq else line,
                "_source_key": source,
                "_source_line": line,
                "_control_id": "c-" + source,
                "_ingested_at": at(1000),
            }
        )
    return pa.Table.from_pylist(records, schema=schema)
