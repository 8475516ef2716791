"""Small views with hand-checkable marts, shared by the gold tests of both engines.

The beer example's review_flat:

Month 2010-01: beer 10 has exactly 25 live reviews (one more is soft-deleted), beer 11 has
exactly 24; review 200 is at 2010-01-31 23:59:59 UTC (January, not February).
Month 2010-02: three reviews of beer 12.

A tiny shop domain (a YAML string, loaded from a file): two views, one by day (timestamp) and
one by month (epoch seconds), each partitioned by its finest part (``partition_by``), marts
using count, count distinct, sum, avg, min and max, with filters; the expected rows are worked
out by hand beside the data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from datalake.control import ControlRecord, ControlStore, control_id_for
from datalake.domain import (
    Domain,
    View,
    default_domain_path,
    load_domain,
    parse_domain_text,
)
from datalake.domain.load import domain_from_document
from datalake.layout import view_partition_key
from workloads.shared.tables import ensure_table, iceberg_schema, table_properties
from workloads.silver.pipeline import register_view_commit

DOMAIN = load_domain(default_domain_path())
"""The beer example's domain: the marts and the view under test."""
REVIEW_FLAT = DOMAIN.view("review_flat")
MARTS = DOMAIN.marts_of(REVIEW_FLAT.name)


def partitioned_by(part: str) -> Domain:
    """The beer example with review_flat and its marts partitioned by ``part`` instead."""
    text = default_domain_path().read_text()
    assert text.count("partition_by: year") == 1
    return domain_from_document(
        parse_domain_text(text.replace("partition_by: year", f"partition_by: {part}"))
    )


MONTHLY = partitioned_by("month")
"""The beer example partitioned by month (as every period column partitioned before the
option): for the tests of month-level selection and replacement."""
MONTHLY_FLAT = MONTHLY.view("review_flat")
MONTHLY_MARTS = MONTHLY.marts_of(MONTHLY_FLAT.name)

T = datetime(2026, 3, 1, tzinfo=UTC)
BEERS = {
    10: ("Amber", "Lager", 1, "Abita"),
    11: ("Stout", "Stout", 2, "Guinness"),
    12: ("Pils", "Pilsner", 1, "Abita"),
}
PROFILES = {5: ("ann", "CA"), 6: ("bob", "NY"), 7: ("cy", "CA")}


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


def row(
    review_id: int,
    beer_id: int,
    profile_id: int,
    overall: float | None,
    when: int,
    deleted: bool = False,
) -> dict:
    name, style, brewery_id, brewery = BEERS[beer_id]
    profile_name, state = PROFILES[profile_id]
    moment = datetime.fromtimestamp(when, tz=UTC)
    return {
        "review_id": review_id,
        "brewery_id": brewery_id,
        "beer_id": beer_id,
        "profile_id": profile_id,
        "review_overall": overall,
        "review_aroma": None,
        "review_appearance": None,
        "review_palate": None,
        "review_taste": None,
        "review_time": when,
        "beer_name": name,
        "beer_style": style,
        "beer_abv": None,
        "brewery_name": brewery,
        "profile_name": profile_name,
        "state": state,
        "review_year": moment.year,
        "review_month": moment.month,
        "created_at": T,
        "updated_at": T,
        "deleted_at": T if deleted else None,
    }


PROPERTIES = table_properties(128, 7, 5)
"""Table properties of the tests' Iceberg tables."""


def loaded_view(
    folder: Path, view: View, rows: pa.Table | None = None, name: str = "g"
) -> tuple[SqlCatalog, Table]:
    """A local catalog (namespaces silver and gold) holding ``view``'s silver table with
    ``rows`` appended (default: :func:`review_flat_rows`); the catalog and the table."""
    catalog = SqlCatalog(name, uri=f"sqlite:///{folder}/c.db", warehouse=f"file://{folder}")
    catalog.create_namespace("silver")
    catalog.create_namespace("gold")
    table = ensure_table(catalog, "silver", view.contract, PROPERTIES)
    table.append(review_flat_rows() if rows is None else rows)
    return catalog, table


def review_flat_rows() -> pa.Table:
    rows = []
    # Beer 10: 25 live reviews in January (scores 4.0 x 20, 5.0 x 5 -> avg 4.2), by ann and bob.
    for i in range(25):
        rows.append(
            row(
                100 + i,
                10,
                5 if i % 2 else 6,
                4.0 if i < 20 else 5.0,
                epoch(2010, 1, 1 + i % 28, 12),
            )
        )
    rows.append(row(130, 10, 5, 1.0, epoch(2010, 1, 15), deleted=True))  # soft-deleted: excluded
    # Beer 11: 24 reviews in January (avg 3.0), one of them at the last second of the month.
    for i in range(23):
        rows.append(row(150 + i, 11, 7, 3.0, epoch(2010, 1, 2, 8)))
    rows.append(row(200, 11, 7, 3.0, epoch(2010, 1, 31, 23, 59, 59)))
    # February: beer 12, three reviews, one without a score.
    rows.append(row(300, 12, 6, 2.0, epoch(2010, 2, 1, 0, 0, 0)))
    rows.append(row(301, 12, 6, 4.0, epoch(2010, 2, 10)))
    rows.append(row(302, 12, 5, None, epoch(2010, 2, 11)))
    return pa.Table.from_pylist(rows, schema=iceberg_schema(REVIEW_FLAT.contract).as_arrow())


# --- a tiny domain that shares nothing with beer: every measure function, filters, two views --

SHOP_DOMAIN = """
name: shop
description: A tiny shop for the generic gold tests.
tables:
  - name: sale
    description: Sales.
    primary_key: [sale_id]
    columns:
      - {name: sale_id, type: long, nullable: false}
      - {name: store, type: string}
      - {name: customer_id, type: long}
      - {name: amount, type: double}
      - {name: quantity, type: long}
      - {name: sold_at, type: timestamp}
  - name: visit
    description: Store visits.
    primary_key: [visit_id]
    columns:
      - {name: visit_id, type: long, nullable: false}
      - {name: store, type: string}
      - {name: visited_at, type: long}
      - {name: minutes, type: double}
views:
  - name: sale_view
    description: Sales by day.
    base: sale
    period:
      {column: sold_at, kind: timestamp, parts: [year, month, day], prefix: sold,
       partition_by: day}
  - name: visit_view
    description: Visits by month.
    base: visit
    period:
      {column: visited_at, kind: epoch_seconds, parts: [year, month], prefix: visit,
       partition_by: month}
marts:
  - name: store_day
    description: Sales per store and day.
    source: sale_view
    grain: [store]
    measures:
      - {name: customers, function: count_distinct, column: customer_id}
      - {name: revenue, function: sum, column: amount}
      - {name: units, function: sum, column: quantity}
      - {name: cheapest, function: min, column: amount}
      - {name: most_units, function: max, column: quantity}
      - {name: first_sale, function: min, column: sold_at}
      - {name: priced_sales, function: count, filter: {column: amount, op: not_null}}
      - {name: big_sales, function: count, filter: {column: amount, op: ">=", value: 10}}
      - name: big_customers
        function: count_distinct
        column: customer_id
        filter: {column: amount, op: ">=", value: 10}
      - name: regular_units
        function: sum
        column: quantity
        filter: {column: customer_id, op: in, value: [1, 2]}
      - {name: others, function: count, filter: {column: store, op: "!=", value: "o'hare"}}
      - name: early_sales
        function: count
        filter: {column: sold_at, op: "<", value: "2024-03-01T10:00:00Z"}
    rank_by: [revenue, units]
  - name: visits_month
    description: Visits per store and month; stores with at least 2 visits.
    source: visit_view
    grain: [store]
    measures:
      - {name: visits, function: count}
      - {name: avg_minutes, function: avg, column: minutes}
    min_count: 2
    rank_by: [visits]
"""


def shop_domain(folder: Path) -> Domain:
    """The shop domain, loaded from a file as a user's would be."""
    path = folder / "shop.yaml"
    path.write_text(SHOP_DOMAIN)
    return load_domain(path)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sale(
    sale_id: int,
    store: str,
    customer_id: int,
    amount: float | None,
    quantity: int,
    sold_at: datetime,
    deleted: bool = False,
) -> dict:
    return {
        "sale_id": sale_id,
        "store": store,
        "customer_id": customer_id,
        "amount": amount,
        "quantity": quantity,
        "sold_at": sold_at,
        "sold_year": sold_at.year,
        "sold_month": sold_at.month,
        "sold_day": sold_at.day,
        "created_at": T,
        "updated_at": T,
        "deleted_at": T if deleted else None,
    }


def sale_view_rows(domain: Domain) -> pa.Table:
    """2024-03-01: north s1-s3, s6 (s5 deleted), south s4; 03-02: south s7, s8, o'hare s10;
    03-31: north s9."""
    rows = [
        sale(1, "north", 1, 12.5, 2, at(2024, 3, 1, 9)),
        sale(2, "north", 2, 5.0, 1, at(2024, 3, 1, 10)),
        sale(3, "north", 1, 20.0, 3, at(2024, 3, 1, 8, 30)),
        sale(4, "south", 3, 7.25, 4, at(2024, 3, 1, 11)),
        sale(5, "north", 2, 100.0, 9, at(2024, 3, 1, 12), deleted=True),
        sale(6, "north", 4, None, 5, at(2024, 3, 1, 13)),
        sale(7, "south", 3, 30.0, 1, at(2024, 3, 2, 0, 0, 0)),
        sale(8, "south", 5, 1.0, 2, at(2024, 3, 2, 23, 59, 59)),
        sale(9, "north", 1, 3.0, 1, at(2024, 3, 31, 18)),
        sale(10, "o'hare", 6, 4.0, 1, at(2024, 3, 2, 12)),
    ]
    schema = iceberg_schema(domain.view("sale_view").contract).as_arrow()
    return pa.Table.from_pylist(rows, schema=schema)


def visit(visit_id: int, store: str, when: datetime, minutes: float | None) -> dict:
    return {
        "visit_id": visit_id,
        "store": store,
        "visited_at": int(when.timestamp()),
        "minutes": minutes,
        "visit_year": when.year,
        "visit_month": when.month,
        "created_at": T,
        "updated_at": T,
        "deleted_at": None,
    }


def visit_view_rows(domain: Domain) -> pa.Table:
    """March: north v1, v2, v5 (no minutes), south v3 alone; April: north v4 alone."""
    rows = [
        visit(1, "north", at(2024, 3, 5), 10.0),
        visit(2, "north", at(2024, 3, 20), 20.0),
        visit(3, "south", at(2024, 3, 7), 5.0),
        visit(4, "north", at(2024, 4, 1), 8.0),
        visit(5, "north", at(2024, 3, 31, 23, 59, 59), None),
    ]
    schema = iceberg_schema(domain.view("visit_view").contract).as_arrow()
    return pa.Table.from_pylist(rows, schema=schema)


def store_day(day: int, store: str, *measures: object) -> dict:
    """One expected store_day row: (2024, 3, day), the store, the measures in declared order."""
    names = (
        "customers",
        "revenue",
        "units",
        "cheapest",
        "most_units",
        "first_sale",
        "priced_sales",
        "big_sales",
        "big_customers",
        "regular_units",
        "others",
        "early_sales",
    )
    return {
        "sold_year": 2024,
        "sold_month": 3,
        "sold_day": day,
        "store": store,
        **dict(zip(names, measures, strict=True)),
    }


STORE_DAY = {
    # north, March 1st: s1 (c1 12.5 x2, 9:00), s2 (c2 5.0 x1, 10:00), s3 (c1 20.0 x3, 8:30),
    # s6 (c4 no amount x5, 13:00); s5 is deleted. Customers c1, c2, c4; revenue 12.5 + 5 + 20;
    # units 2 + 1 + 3 + 5; big sales (>= 10) s1 and s3, both by c1; customers 1 and 2 bought
    # 2 + 1 + 3 units; all four are not o'hare's; s1 and s3 are before 10:00.
    (1, "north"): store_day(
        1, "north", 3, 37.5, 11, 5.0, 5, at(2024, 3, 1, 8, 30), 3, 2, 1, 6, 4, 2
    ),
    # south, March 1st: s4 only (11:00); customer 3 is not a regular: no unit passes the filter.
    (1, "south"): store_day(
        1, "south", 1, 7.25, 4, 7.25, 4, at(2024, 3, 1, 11), 1, 0, 0, None, 1, 0
    ),
    # south, March 2nd: s7 (c3 30.0 x1) at midnight and s8 (c5 1.0 x2) at the last second.
    (2, "south"): store_day(2, "south", 2, 31.0, 3, 1.0, 2, at(2024, 3, 2), 2, 1, 1, None, 2, 0),
    # o'hare (a quote in a filter value), March 2nd: s10 (c6 4.0 x1); "others" counts none.
    (2, "o'hare"): store_day(
        2, "o'hare", 1, 4.0, 1, 4.0, 1, at(2024, 3, 2, 12), 1, 0, 0, None, 0, 0
    ),
    # north, March 31st: s9 (c1 3.0 x1).
    (31, "north"): store_day(31, "north", 1, 3.0, 1, 3.0, 1, at(2024, 3, 31, 18), 1, 0, 0, 1, 1, 0),
}
VISITS_MONTH = [
    # March, north: v1, v2, v5 (no minutes: counted, not in the mean) -> 3 visits, (10 + 20) / 2.
    {"visit_year": 2024, "visit_month": 3, "store": "north", "visits": 3, "avg_minutes": 15.0},
]  # south has one visit in March, north one in April: below min_count 2


def register_commit(
    store: ControlStore,
    view: str,
    columns: tuple[str, ...],
    partitions: list[tuple[int, ...]],
    commit: str = "snap",
    bucket: str = "test-lake",
) -> str:
    """Register the pending gold record of one commit of a view, as silver does."""
    (control_id,) = register_view_commit(store, bucket, view, columns, commit, partitions)
    return control_id


def register_partition(
    store: ControlStore,
    view: str,
    columns: tuple[str, ...],
    values: tuple[int, ...],
    checksum: str = "snap",
    bucket: str = "test-lake",
) -> str:
    """Register the pending gold record of a commit of a view that replaced one partition."""
    return register_commit(store, view, columns, [values], checksum, bucket)


def register_old_partition(
    store: ControlStore,
    view: str,
    columns: tuple[str, ...],
    values: tuple[int, ...],
    checksum: str = "snap",
    bucket: str = "test-lake",
) -> str:
    """A gold record as silver registered them before records listed their partitions: one
    partition, named by the key alone (records in flight across an upgrade)."""
    key = view_partition_key(view, columns, values)
    record = ControlRecord(
        control_id=control_id_for("gold", bucket, key, checksum),
        layer="gold",
        table_name=view,
        bucket=bucket,
        object_key=key,
        format="iceberg",
        checksum=checksum,
    )
    return store.register(record).control_id
