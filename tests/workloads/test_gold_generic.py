"""Gold is generic: the marts of any domain file, on the arrow engine, against values worked
out by hand (gold_fixtures.py: the shop domain), and a gold run driven by control records."""

from __future__ import annotations

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from datalake.control import ControlRecord, ControlStatus, control_id_for
from tests.workloads.gold_fixtures import (
    PROPERTIES,
    STORE_DAY,
    VISITS_MONTH,
    register_commit,
    register_old_partition,
    register_partition,
    sale_view_rows,
    shop_domain,
    visit_view_rows,
)
from workloads.gold.marts import run_marts
from workloads.gold.pipeline import GoldRun
from workloads.shared.tables import ensure_table

DAYS = [(2024, 3, 1), (2024, 3, 2), (2024, 3, 31)]


@pytest.fixture
def shop(tmp_path):
    domain = shop_domain(tmp_path)
    catalog = SqlCatalog("shop", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("silver")
    catalog.create_namespace("gold")
    sales = ensure_table(catalog, "silver", domain.view("sale_view").contract, PROPERTIES)
    sales.append(sale_view_rows(domain))
    visits = ensure_table(catalog, "silver", domain.view("visit_view").contract, PROPERTIES)
    visits.append(visit_view_rows(domain))
    return domain, catalog


def rows_of(catalog, name: str) -> list[dict]:
    rows = catalog.load_table(("gold", name)).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def expected_store_day(*days: int) -> list[dict]:
    rows = [row for (day, _), row in STORE_DAY.items() if day in days]
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def gold_run(lake, catalog, domain) -> GoldRun:
    return GoldRun(
        store=lake.store,
        catalog=catalog,
        silver_namespace="silver",
        gold_namespace="gold",
        worker_id="gold-test",
        properties=PROPERTIES,
        domain=domain,
    )


def test_every_measure_function_and_filter_by_hand(shop):
    domain, catalog = shop
    sales = catalog.load_table(("silver", "sale_view"))
    (result,) = run_marts(
        catalog, "gold", sales, domain.marts_of("sale_view"), DAYS, PROPERTIES, batch_id="b1"
    )
    assert (result.mart, result.view, result.partitions) == ("store_day", "sale_view", DAYS)
    assert rows_of(catalog, "store_day") == expected_store_day(1, 2, 31)
    table = catalog.load_table(("gold", "store_day"))
    assert [f.name for f in table.schema().fields] == list(
        domain.mart("store_day").contract.column_names
    )
    assert table.current_snapshot().summary["datalake.batch-id"] == "b1"


def test_measure_types_follow_the_rules(shop):
    domain, _ = shop
    types = {c.name: c.type.value for c in domain.mart("store_day").contract.columns}
    assert types == {
        "sold_year": "long",
        "sold_month": "long",
        "sold_day": "long",
        "store": "string",
        "customers": "long",
        "revenue": "double",  # sum over a double
        "units": "long",  # sum over a long
        "cheapest": "double",
        "most_units": "long",
        "first_sale": "timestamp",
        "priced_sales": "long",
        "big_sales": "long",
        "big_customers": "long",
        "regular_units": "long",
        "others": "long",
        "early_sales": "long",
    }


def test_minimum_count_and_avg_skip_empty_values(shop):
    domain, catalog = shop
    visits = catalog.load_table(("silver", "visit_view"))
    run_marts(
        catalog, "gold", visits, domain.marts_of("visit_view"), [(2024, 3), (2024, 4)], PROPERTIES
    )
    assert rows_of(catalog, "visits_month") == VISITS_MONTH


def test_only_the_given_partitions_are_replaced(shop):
    domain, catalog = shop
    sales = catalog.load_table(("silver", "sale_view"))
    marts = domain.marts_of("sale_view")
    run_marts(catalog, "gold", sales, marts, [(2024, 3, 1)], PROPERTIES)
    assert rows_of(catalog, "store_day") == expected_store_day(1)
    run_marts(catalog, "gold", sales, marts, [(2024, 3, 31), (2024, 3, 1)], PROPERTIES)
    run_marts(catalog, "gold", sales, marts, [(2024, 3, 31)], PROPERTIES)  # again: same rows
    assert rows_of(catalog, "store_day") == expected_store_day(1, 31)


def test_marts_of_two_views_are_refused_in_one_call(shop):
    domain, catalog = shop
    sales = catalog.load_table(("silver", "sale_view"))
    with pytest.raises(ValueError, match="one view"):
        run_marts(catalog, "gold", sales, domain.marts, DAYS, PROPERTIES)


def test_a_gold_run_rebuilds_the_marts_of_each_view_for_its_pending_partitions(shop, lake):
    domain, catalog = shop
    day = register_partition(
        lake.store, "sale_view", ("sold_year", "sold_month", "sold_day"), (2024, 3, 2)
    )
    month = register_partition(lake.store, "visit_view", ("visit_year", "visit_month"), (2024, 3))
    stray = register_partition(lake.store, "gone_view", ("y",), (2024,))  # not in the domain
    run = gold_run(lake, catalog, domain)
    report = run.run()
    assert report.partitions == {"sale_view": [(2024, 3, 2)], "visit_view": [(2024, 3)]}
    assert sorted(r.mart for r in report.marts) == ["store_day", "visits_month"]
    assert rows_of(catalog, "store_day") == expected_store_day(2)
    assert rows_of(catalog, "visits_month") == VISITS_MONTH
    succeeded = {r.control_id for r in lake.store.by_status("gold", ControlStatus.SUCCESS)}
    assert succeeded == {day, month}
    (failed,) = lake.store.by_status("gold", ControlStatus.ERROR)
    assert failed.control_id == stray and "gone_view" in (failed.error or "")
    assert report.error is not None and "gone_view" in report.error
    assert run.run().marts == []  # nothing pending any more


def part(domain, view: str, *period: int) -> tuple[int, ...]:
    """The partition of ``view`` a period (year, month, day) falls in: as many values as the
    view has partition columns."""
    return period[: len(domain.view(view).partition_columns)]


def test_gold_rebuilds_the_union_of_a_views_records_once_and_settles_them_all(shop, lake):
    domain, catalog = shop
    visits = domain.view("visit_view").partition_columns
    march, april = part(domain, "visit_view", 2024, 3), part(domain, "visit_view", 2024, 4)
    first = register_commit(lake.store, "visit_view", visits, [march], "snapshot-1")
    second = register_commit(lake.store, "visit_view", visits, [april, march], "snapshot-2")
    report = gold_run(lake, catalog, domain).run()
    assert report.partitions == {"visit_view": sorted({march, april})}
    assert [r.mart for r in report.marts] == ["visits_month"]  # one rebuild for both records
    assert rows_of(catalog, "visits_month") == VISITS_MONTH
    succeeded = {r.control_id for r in lake.store.by_status("gold", ControlStatus.SUCCESS)}
    assert succeeded == {first, second}
    assert report.errors == []


def test_a_gold_record_of_the_old_format_still_names_its_partition(shop, lake):
    domain, catalog = shop
    sales = domain.view("sale_view").partition_columns
    day, later = part(domain, "sale_view", 2024, 3, 2), part(domain, "sale_view", 2024, 3, 31)
    old = register_old_partition(lake.store, "sale_view", sales, day)
    assert lake.store.get(old).partitions is None  # what records in flight look like
    new = register_commit(lake.store, "sale_view", sales, [later], "snapshot-1")
    report = gold_run(lake, catalog, domain).run()
    assert report.partitions == {"sale_view": sorted({day, later})}
    assert [r.mart for r in report.marts] == ["store_day"]
    succeeded = {r.control_id for r in lake.store.by_status("gold", ControlStatus.SUCCESS)}
    assert succeeded == {old, new}


def test_gold_records_that_name_no_partitions_of_a_view_fail_with_the_reason(shop, lake):
    domain, catalog = shop
    visits = domain.view("visit_view").partition_columns
    march = part(domain, "visit_view", 2024, 3)
    good = register_commit(lake.store, "visit_view", visits, [march], "snapshot-1")
    # One value too many for the view's partition columns.
    longer = register_commit(lake.store, "visit_view", (*visits, "x"), [(*march, 1)], "s-2")
    gone = register_commit(lake.store, "gone_view", ("y",), [(2024,)])  # not in the domain
    stray = ControlRecord(
        control_id=control_id_for("gold", "test-lake", "silver/runs/r/views.json", "c"),
        layer="gold",
        table_name="visit_view",
        bucket="test-lake",
        object_key="silver/runs/r/views.json",  # names no view commit
        format="iceberg",
        checksum="c",
        partitions=[list(march)],
    )
    lake.store.register(stray)
    report = gold_run(lake, catalog, domain).run()
    assert report.partitions == {"visit_view": [march]}
    (done,) = lake.store.by_status("gold", ControlStatus.SUCCESS)
    assert done.control_id == good
    errors = {
        r.control_id: r.error or "" for r in lake.store.by_status("gold", ControlStatus.ERROR)
    }
    assert set(errors) == {longer, gone, stray.control_id}
    assert f"names partition {[*march, 1]} of visit_view" in errors[longer]
    assert f"partitioned by {', '.join(visits)}" in errors[longer]
    assert "gone_view" in errors[gone]
    assert "no view commit in silver/runs/r/views.json" in errors[stray.control_id]
    assert len(report.errors) == 3
