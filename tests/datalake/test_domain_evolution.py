"""Evolving a domain: nullable columns are added in place; the rest is refused, with advice."""

from __future__ import annotations

from dataclasses import replace

from datalake.contracts import Column, ColumnType, TableContract
from datalake.domain import (
    check_evolution,
    check_table_evolution,
    default_domain_path,
    evolution_issues,
    load_domain,
)
from datalake.domain.domain import Domain

ORDERS = TableContract(
    "orders",
    (
        Column("order_id", ColumnType.LONG, nullable=False),
        Column("amount", ColumnType.DOUBLE),
        Column("note", ColumnType.STRING),
    ),
    ("order_id",),
)


def _with(*columns: Column, key: tuple[str, ...] = ("order_id",)) -> TableContract:
    return replace(ORDERS, columns=columns, primary_key=key)


def test_adding_a_nullable_column_is_fine():
    evolved = _with(*ORDERS.columns, Column("coupon", ColumnType.STRING))
    assert check_table_evolution(ORDERS, evolved) == []


def test_adding_a_required_column_is_refused():
    evolved = _with(*ORDERS.columns, Column("coupon", ColumnType.STRING, nullable=False))
    assert check_table_evolution(ORDERS, evolved) == [
        "table orders: new column coupon is not nullable; add it as nullable (rows written "
        "before have no value for it)"
    ]


def test_removing_a_column_is_refused():
    evolved = _with(*ORDERS.columns[:2])
    assert check_table_evolution(ORDERS, evolved) == [
        "table orders: column note (string) is in the deployed table but no longer in the "
        "domain; restore it (to drop a column, create a new table and backfill it)"
    ]


def test_retyping_a_column_is_refused():
    evolved = _with(ORDERS.columns[0], Column("amount", ColumnType.STRING), ORDERS.columns[2])
    assert check_table_evolution(ORDERS, evolved) == [
        "table orders: column amount is double in the deployed table but string in the "
        "domain; restore type double (to retype a column, add a new column and backfill it)"
    ]


def test_changing_the_primary_key_is_refused():
    evolved = _with(
        ORDERS.columns[0],
        ORDERS.columns[1],
        Column("note", ColumnType.STRING, nullable=False),
        key=("order_id", "note"),
    )
    assert check_table_evolution(ORDERS, evolved) == [
        "table orders: primary key is (order_id) in the deployed table but (order_id, note) "
        "in the domain; restore it (to re-key a table, create a new table and backfill it)"
    ]


def test_deployed_columns_from_iceberg_ignore_the_lake_columns_and_accept_aliases():
    existing = [
        ("order_id", "long", False),
        ("amount", "double", True),
        ("note", "string", True),
        ("created_at", "timestamptz", True),
        ("updated_at", "timestamp", True),
        ("deleted_at", "timestamp", True),
        ("_ingested_at", "timestamp", False),
    ]
    assert evolution_issues("orders", existing, ("order_id",), ORDERS) == []
    assert evolution_issues("orders", [("order_id", "bigint", False)], None, ORDERS) == []


def test_check_evolution_compares_two_domains_at_their_paths():
    beer = load_domain(default_domain_path())
    review = beer.table("review")
    shortened = replace(review, columns=review.columns[:-1])
    tables = {**beer.tables, "review": shortened}
    assert check_evolution(beer, beer) == []
    changed = Domain(beer.name, beer.description, tables, {}, (), None)
    (issue,) = check_evolution(beer, changed)
    assert issue.path == "tables[3]"
    assert issue.message.startswith("table review: column review_time (long) is in the deployed")
    grown = replace(review, columns=(*review.columns, Column("flag", ColumnType.STRING)))
    assert (
        check_evolution(beer, Domain(beer.name, "", {**beer.tables, "review": grown}, {}, ())) == []
    )


def test_repartitioning_or_reperiodising_a_view_is_refused_on_the_view_and_its_marts():
    beer = load_domain(default_domain_path())
    document = beer.to_document()
    assert document["views"][0]["period"]["partition_by"] == "year"
    document["views"][0]["period"]["partition_by"] = "month"
    monthly = Domain.from_document(document)
    issues = check_evolution(beer, monthly)
    assert [i.path for i in issues] == ["views[0]", *(f"marts[{i}]" for i in range(5))]
    assert issues[0].message == (
        "table review_flat: partitioning is (identity:review_year) in the deployed table but "
        "(identity:review_year,identity:review_month) in the domain; restore the view's period "
        "parts and partition_by (to repartition a view and its marts, create a new view and "
        "backfill it)"
    )
    document["views"][0]["period"].update(parts=["year", "month", "day"], partition_by="year")
    daily = Domain.from_document(document)
    (view, *marts) = check_evolution(beer, daily)
    assert view.path == "views[0]" and view.message == (
        "table review_flat: period is (review_year, review_month) in the deployed table but "
        "(review_year, review_month, review_day) in the domain; restore the period parts (to "
        "change a view's period, create a new view and backfill it)"
    )
    assert all("primary key" in m.message for m in marts)  # the marts' key is the period
