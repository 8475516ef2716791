"""Hand-written bronze change batches for the silver semantics tests (shared by both engines)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog

from datalake.contracts import TableContract
from datalake.domain import Domain, default_domain_path, load_domain
from datalake.streaming import (
    CHANGE_SEQUENCE_KEY,
    CHANGE_TIME_KEYS,
    DELIVERY_PREFIX,
    DMS_OPERATIONS,
    FILE_EXTENSION,
    expand_prefix,
)
from workloads.bronze.ingest import bronze_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BEER_DOMAIN = load_domain(default_domain_path())


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def epoch(year: int, month: int, day: int = 15) -> int:
    """Epoch seconds of noon UTC of a day (the middle of nowhere near a boundary)."""
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


def sql_catalog(folder: Path, name: str = "test") -> SqlCatalog:
    """A fresh local Iceberg catalog with a ``silver`` namespace."""
    catalog = SqlCatalog(name, uri=f"sqlite:///{folder}/{name}.db", warehouse=f"file://{folder}")
    catalog.create_namespace("silver")
    return catalog


def write_domain(folder: Path, text: str, name: str = "domain.yaml") -> Domain:
    """Write a domain file (dedented) and load it."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return load_domain(path)


def beer_changes(*rows: tuple, source: str = "raw/beer/cdc/changes.jsonl.gz") -> pa.Table:
    """Bronze beer rows from (operation, beer_id, beer_name, beer_abv, minute[, seq])."""
    schema = bronze_schema(BEER_DOMAIN.table("beer"))
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


def bronze(
    contract: TableContract, rows: list[dict], minute: int = 0, operation: str = "insert"
) -> pa.Table:
    """Bronze rows of any table: the given columns (others null), one operation, one time."""
    lineage = {
        "_operation": operation,
        "_change_ts": at(minute),
        "_source_key": f"raw/{contract.name}/x-{minute}.jsonl.gz",
        "_control_id": "c",
        "_ingested_at": at(1000),
    }
    return pa.Table.from_pylist(
        [
            {
                **{c: row.get(c) for c in contract.column_names},
                **lineage,
                "_change_seq": i,
                "_source_line": i,
            }
            for i, row in enumerate(rows, start=2)
        ],
        schema=bronze_schema(contract),
    )


def dms_record(
    table: str,
    operation: str,
    data: dict,
    minute: float,
    transaction: int | None = None,
    record: int | None = None,
    before: dict | None = None,
) -> dict:
    """A DMS Kinesis record (json-unformatted, transaction details on) as DMS sends it: a
    change committed at ``minute`` as record ``record`` of ``transaction``; without a
    transaction, a full-load row (DMS's read time only)."""
    metadata = {
        "timestamp": _iso(at(minute) + timedelta(milliseconds=3)),  # DMS read it just after
        "record-type": "data",
        "operation": operation,
        "partition-key-type": "primary-key",
        "schema-name": "public",
        "table-name": table,
    }
    if transaction is not None:
        position = f"00000002/7C00{transaction:04X}"  # the WAL position of the commit
        metadata |= {
            "transaction-id": transaction,
            "transaction-record-id": record,
            "prev-transaction-id": transaction - 1,
            "prev-transaction-record-id": 1,
            "commit-timestamp": _iso(at(minute)),
            "stream-position": f"{position}.{record}.{position}",
        }
    envelope = {"data": data, "metadata": metadata}
    if before is not None:
        envelope["before-image"] = before
    return envelope


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def delivered_key(table: str, minute: float, name: str) -> str:
    """Where Firehose writes a delivered object (``DELIVERY_PREFIX``, its object name)."""
    prefix = expand_prefix(DELIVERY_PREFIX, at=at(minute), keys={"table": table})
    stamp = at(minute).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{prefix}lake-dev-cdc-delivery-1-{stamp}-{name}{FILE_EXTENSION}"


def dms_bronze(contract: TableContract, records: list[dict], source: str) -> pa.Table:
    """The bronze rows of one delivered object of DMS records, with the lineage bronze gives
    them: the operation (both DMS vocabularies), the commit time (else the read time), the
    record's place in its transaction (else 0), the object and the line."""
    rows = []
    for line, envelope in enumerate(records, start=1):
        metadata = envelope["metadata"]
        moment = next(metadata[k] for k in CHANGE_TIME_KEYS if metadata.get(k))
        rows.append(
            {
                **{c: envelope["data"].get(c) for c in contract.column_names},
                "_operation": DMS_OPERATIONS[metadata["operation"].lower()],
                "_change_ts": datetime.fromisoformat(moment.replace("Z", "+00:00")),
                "_change_seq": metadata.get(CHANGE_SEQUENCE_KEY) or 0,
                "_source_key": source,
                "_source_line": line,
                "_control_id": "c-" + source,
                "_ingested_at": at(1000),
            }
        )
    return pa.Table.from_pylist(rows, schema=bronze_schema(contract))


CHAIN_DOMAIN = """\
    name: chain-test
    description: Lines of orders of customers, for the silver view tests.
    tables:
      - name: customers
        description: Customers.
        primary_key: [customer_id]
        columns:
          - {name: customer_id, type: long, nullable: false}
          - {name: customer_name, type: string}
          - {name: signed_up_at, type: timestamp}
          - {name: email, type: string, classification: pii, pii_type: EMAIL}
      - name: orders
        description: Orders of customers.
        primary_key: [order_id]
        columns:
          - {name: order_id, type: long, nullable: false}
          - {name: customer_id, type: long}
          - {name: ordered_at, type: long, description: Epoch seconds.}
      - name: lines
        description: Lines of orders.
        primary_key: [line_id]
        columns:
          - {name: line_id, type: long, nullable: false}
          - {name: order_id, type: long}
          - {name: amount, type: double}
    views:
      - name: line_flat
        description: Each line with its order's time and its customer's name (a chained join).
        base: lines
        joins:
          - {table: orders, on: {order_id: order_id}, columns: [customer_id, ordered_at]}
          - {table: customers, on: {customer_id: customer_id}, columns: [customer_name]}
        period:
          column: ordered_at
          kind: epoch_seconds
          parts: [year, month]
          prefix: order
          partition_by: month  # partitions as fine as the period: the tests track months
      - name: line_signup
        description: Each line by its customer's sign-up day (the period of a chained lookup).
        base: lines
        columns: [line_id, order_id]
        joins:
          - {table: orders, on: {order_id: order_id}, columns: [customer_id]}
          - {table: customers, on: {customer_id: customer_id}, columns: [signed_up_at]}
        period:
          {column: signed_up_at, kind: timestamp, parts: [year, month, day], prefix: signup,
           partition_by: day}
    marts: []
"""


def stamp(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def _customer(customer_id: int, name: str | None, signed: datetime | None) -> dict:
    return {"customer_id": customer_id, "customer_name": name, "signed_up_at": signed}


def _order(order_id: int, customer_id: int, ordered: int | None) -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "ordered_at": ordered}


def _line(line_id: int, order_id: int, amount: float) -> dict:
    return {"line_id": line_id, "order_id": order_id, "amount": amount}


LINES = [(1, 1, 10.0), (2, 1, 20.0), (3, 2, 5.0), (4, 3, 7.0), (5, 9, 1.0)]
CHAIN_RUNS: list[dict[str, tuple[str, list[dict]]]] = [
    {  # 1: the initial load (order 3 has no time, order 9 does not exist)
        "customers": (
            "insert",
            [_customer(1, "Ann", stamp(2024, 1, 10)), _customer(2, "Bob", stamp(2024, 2, 20))],
        ),
        "orders": (
            "insert",
            [_order(1, 1, epoch(2024, 3)), _order(2, 2, epoch(2024, 4)), _order(3, 1, None)],
        ),
        "lines": (
            "insert",
            [_line(i, order, amount) for i, order, amount in LINES],
        ),
    },
    {  # 2: order 1 moves from March to May (a lookup's time); line 5 now belongs to order 2
        "orders": ("update", [_order(1, 1, epoch(2024, 5))]),
        "lines": ("update", [_line(5, 2, 1.5)]),
    },
    {  # 3: order 2 now references customer 1 (a lookup's key reference)
        "orders": ("update", [_order(2, 1, epoch(2024, 4))]),
    },
    {  # 4: customer 1 renamed and signed up later (found through its orders: a chained join)
        "customers": ("update", [_customer(1, "Ann B", stamp(2024, 6, 1))]),
    },
    {  # 5: customer 1 deleted: its lines keep their order's month, but lose the sign-up day
        "customers": ("delete", [_customer(1, None, None)]),
    },
]
"""Bronze batches per run; the expected partitions and rows are in the tests, by hand."""
