"""Both engines, same bronze inputs, same silver tables (order-insensitive).

The arrow engine (pyiceberg + DuckDB) and the Spark engine (``MERGE INTO`` on local Spark with
Iceberg) get identical batches: inserts, updates, deletes, a delete of an unknown key, changes
out of order within a batch, an insert or update deleted in the same batch, a late batch and a
replayed batch; DMS changes delivered twice in objects with different names (however batched),
an insert redelivered after its update of the same transaction, and a table created before
``change_seq``; then the views: the beer example's, and a generic one with a chained join and
its period on a lookup.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalake.contracts import TableContract
from datalake.domain import Domain
from tests.workloads.silver_fixtures import (
    BEER_DOMAIN,
    CHAIN_DOMAIN,
    CHAIN_RUNS,
    at,
    beer_changes,
    bronze,
    epoch,
    sql_catalog,
    write_domain,
)
from tests.workloads.spark_fixtures import spark  # noqa: F401 (the session fixture)
from tests.workloads.test_silver_redelivery import (
    AGAIN_KEY,
    CHANGES,
    FIRST_KEY,
    OBJECTS,
    OLD_ROW,
    SAME_TIME,
    SAME_TIME_AGAIN,
    dms_bronze,
    old_beer_table,
)
from workloads.shared.tables import (
    BATCH_PROPERTY,
    TableEvolutionError,
    batch_id_of,
    ensure_table,
    spark_spec,
    table_properties,
)
from workloads.silver import spark_job
from workloads.silver.handlers import views_plan
from workloads.silver.merge import merge_batch
from workloads.silver.views import build_view

PROPERTIES = table_properties(128, 7, 5)
BEER, BREWERY = BEER_DOMAIN.table("beer"), BEER_DOMAIN.table("brewery")
PROFILE, REVIEW = BEER_DOMAIN.table("profile"), BEER_DOMAIN.table("review")
_names = itertools.count()


@pytest.fixture
def engines(spark, tmp_path):  # noqa: F811
    """A fresh pyiceberg catalog and a fresh Spark namespace for one test."""
    catalog = sql_catalog(tmp_path, "parity")
    namespace = f"lake.parity{next(_names)}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
    return catalog, namespace, tmp_path


def run_both(spark, engines, contract: TableContract, batches: list[pa.Table]):  # noqa: F811
    catalog, namespace, tmp_path = engines
    table = ensure_table(catalog, "silver", contract, PROPERTIES)
    spec = spark_spec(contract, PROPERTIES)
    name = f"{namespace}.{contract.name}"
    spark_job.ensure_table(spark, name, spec)
    arrow_results, spark_results = [], []
    for index, batch in enumerate(batches):
        batch_id = f"batch-{contract.name}-{next(_names)}"  # unique, as control ids make them
        arrow_results.append(merge_batch(table, batch, contract, batch_id))
        path = tmp_path / f"{contract.name}-{index}.parquet"
        pq.write_table(batch, path)
        spark_results.append(spark_job.merge(spark, name, spec, spark.read.parquet(str(path))))
    return table, name, arrow_results, spark_results


def arrow_rows(table) -> list[dict]:
    table.refresh()
    return normalise(table.scan().to_arrow().to_pylist())


def spark_rows(spark, name: str) -> list[dict]:  # noqa: F811
    return normalise([row.asDict() for row in spark.table(name).collect()])


def normalise(rows: list[dict]) -> list[dict]:
    """Timestamps as aware UTC (Spark returns naive values in its UTC session), sorted."""
    out = []
    for row in rows:
        fixed = {}
        for key, value in row.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            fixed[key] = value
        out.append(fixed)
    return sorted(out, key=lambda r: tuple(str(v) for v in r.values()))


BEER_BATCHES = [
    beer_changes(*[("insert", i, f"Beer {i}", 5.0, 0) for i in range(1, 7)]),
    beer_changes(
        ("update", 1, "Beer 1 v2", 5.5, 10),
        ("update", 1, "Beer 1 stale", 5.1, 5),  # older change later in the file
        ("delete", 2, None, None, 10),
        ("update", 3, "Beer 3 v2", 6.0, 10, 2),
        ("update", 3, "Beer 3 v1b", 6.0, 10, 1),  # same time, lower sequence
        ("delete", 99, None, None, 10),  # never seen
        ("insert", 7, "Beer 7", 4.0, 10),
        ("insert", 7, "Beer 7", 4.0, 10),  # duplicate delivery
        ("insert", 8, "Beer 8", 4.0, 10),
        ("delete", 8, None, None, 11),  # inserted and deleted in one batch
        ("update", 5, "Beer 5 v2", 5.2, 10),
        ("delete", 5, None, None, 11),  # updated and deleted in one batch
    ),
    beer_changes(("update", 1, "Beer 1 late", 1.0, 2), ("update", 4, "Beer 4 v2", 7.0, 20)),
]


def test_beer_batches_give_identical_tables(spark, engines):  # noqa: F811
    table, name, arrow_results, spark_results = run_both(spark, engines, BEER, BEER_BATCHES)
    expected = arrow_rows(table)
    assert spark_rows(spark, name) == expected
    by_id = {r["beer_id"]: r for r in expected}
    assert by_id[1]["beer_name"] == "Beer 1 v2" and by_id[1]["created_at"] == at(0)
    assert by_id[2]["deleted_at"] == at(10) and by_id[2]["beer_name"] == "Beer 2"
    assert by_id[3]["beer_name"] == "Beer 3 v2"
    assert by_id[99]["deleted_at"] == at(10)
    # Deleted after a change in the same batch: that change's values, as two batches give.
    assert (by_id[8]["beer_name"], by_id[8]["created_at"]) == ("Beer 8", at(10))
    assert by_id[8]["deleted_at"] == at(11)
    assert (by_id[5]["beer_name"], by_id[5]["beer_abv"]) == ("Beer 5 v2", 5.2)
    assert by_id[5]["created_at"] == at(0) and by_id[5]["deleted_at"] == at(11)
    assert len(expected) == 9
    assert [sorted(r.keys) for r in arrow_results] == [r["keys"] for r in spark_results]


def test_a_replayed_batch_leaves_both_tables_unchanged(spark, engines):  # noqa: F811
    batches = [*BEER_BATCHES, BEER_BATCHES[1]]
    table, name, _, _ = run_both(spark, engines, BEER, batches)
    assert spark_rows(spark, name) == arrow_rows(table)
    assert len(arrow_rows(table)) == 9


def snapshots(spark, table, name: str) -> tuple[int, int]:  # noqa: F811
    """How many batches each engine committed (pyiceberg's overwrite is two snapshots, a
    delete and an append, tagged with the batch id; a Spark MERGE is one)."""
    table.refresh()
    batches = {s.summary.additional_properties.get(BATCH_PROPERTY) for s in table.snapshots()}
    (row,) = spark.sql(f"SELECT count(*) AS n FROM {name}.snapshots").collect()
    return len(batches), row["n"]


def counts(arrow_results, spark_results) -> tuple[list, list]:
    """(keys written, duplicates skipped, late ignored) per batch, per engine."""
    return (
        [(r.keys_written, r.duplicates_skipped, r.late_ignored) for r in arrow_results],
        [(len(r["keys"]), r["duplicates_skipped"], r["late_ignored"]) for r in spark_results],
    )


REDELIVERIES = {
    "the retry in its own batch": ([["load", "first"], ["again"]], [(5, 0, 0), (0, 3, 1)]),
    "in one batch": ([["load", "first", "again"]], [(5, 5, 0)]),
    "the retry first": ([["load"], ["again"], ["first"]], [(4, 0, 0), (4, 0, 0), (1, 4, 0)]),
}


@pytest.mark.parametrize("case", REDELIVERIES)
def test_redelivered_changes_give_one_delivery_on_both_engines(spark, engines, case):  # noqa: F811
    batches, expected_counts = REDELIVERIES[case]
    tables = [pa.concat_tables([OBJECTS[name] for name in batch]) for batch in batches]
    table, name, arrow_results, spark_results = run_both(spark, engines, BEER, tables)
    expected = arrow_rows(table)
    assert spark_rows(spark, name) == expected
    folder = engines[2] / "once"
    folder.mkdir()
    single = ensure_table(sql_catalog(folder), "silver", BEER, PROPERTIES)
    merge_batch(single, pa.concat_tables([OBJECTS["load"], OBJECTS["first"]]), BEER, "once")
    assert arrow_rows(single) == expected
    assert counts(arrow_results, spark_results) == (expected_counts, expected_counts)
    commits = sum(1 for c in expected_counts if c[0])  # a batch of duplicates commits nothing
    assert snapshots(spark, table, name) == (commits, commits)


def test_an_insert_redelivered_after_its_update_and_late_changes_on_both_engines(
    spark,  # noqa: F811
    engines,
):
    late = dms_bronze(
        BEER,
        [*CHANGES[:1], *CHANGES[2:3]],  # the insert of beer 5, and beer 1's update, again
        AGAIN_KEY,
    )
    batches = [dms_bronze(BEER, CHANGES[:3], FIRST_KEY), late]
    table, name, arrow_results, spark_results = run_both(spark, engines, BEER, batches)
    expected = arrow_rows(table)
    assert spark_rows(spark, name) == expected
    by_id = {r["beer_id"]: r for r in expected}
    assert (by_id[5]["beer_name"], by_id[5]["change_seq"]) == ("Beer 5", 2)
    assert (by_id[1]["beer_name"], by_id[1]["change_seq"]) == ("Beer 1 v2", 3)
    assert counts(arrow_results, spark_results) == ([(2, 0, 0), (0, 1, 1)],) * 2
    assert snapshots(spark, table, name) == (1, 1)


def sql_literal(value) -> str:
    """A value of :data:`OLD_ROW` as Spark SQL (timestamps in the session's UTC)."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    return repr(value)


def test_a_table_without_change_seq_merges_on_both_engines(spark, engines):  # noqa: F811
    catalog, namespace, _ = engines
    old_beer_table(catalog)
    spec = spark_spec(BEER, PROPERTIES)
    name = f"{namespace}.beer"
    old = {**spec, "columns": [c for c in spec["columns"] if c["name"] != "change_seq"]}
    spark_job.ensure_table(spark, name, old)
    columns = ", ".join(OLD_ROW)
    values = ", ".join(sql_literal(v) for v in OLD_ROW.values())
    spark.sql(f"INSERT INTO {name} ({columns}) VALUES ({values})")
    assert "change_seq" not in spark.table(name).columns
    table, name, arrow_results, spark_results = run_both(
        spark, engines, BEER, [SAME_TIME, SAME_TIME_AGAIN]
    )
    expected = arrow_rows(table)
    assert spark_rows(spark, name) == expected
    (row,) = expected
    assert (row["beer_name"], row["change_seq"], row["created_at"]) == ("Beer 1 v2", 7, at(0))
    assert counts(arrow_results, spark_results) == ([(1, 0, 0), (0, 1, 0)],) * 2


def test_schema_evolution_on_both_engines(spark, engines):  # noqa: F811
    import dataclasses

    from datalake.contracts import Column, ColumnType

    catalog, namespace, _ = engines
    run_both(spark, engines, BEER, BEER_BATCHES[:1])
    evolved = dataclasses.replace(
        BEER, columns=(*BEER.columns, Column("beer_ibu", ColumnType.DOUBLE)), version=2
    )
    table = ensure_table(catalog, "silver", evolved, PROPERTIES)
    spark_job.ensure_table(spark, f"{namespace}.beer", spark_spec(evolved, PROPERTIES))
    assert "beer_ibu" in table.schema().column_names
    old_rows = arrow_rows(table)
    assert len(old_rows) == 6 and all(r["beer_ibu"] is None for r in old_rows)
    assert spark_rows(spark, f"{namespace}.beer") == old_rows
    # Both refuse the same changes with the same words (retyped and rekeyed here).
    changes = {"beer_abv": {"type": ColumnType.STRING}, "brewery_id": {"nullable": False}}
    retyped = dataclasses.replace(
        evolved,
        columns=tuple(dataclasses.replace(c, **changes.get(c.name, {})) for c in evolved.columns),
        primary_key=("beer_id", "brewery_id"),
    )
    with pytest.raises(TableEvolutionError) as arrow_refusal:
        ensure_table(catalog, "silver", retyped, PROPERTIES)
    with pytest.raises(ValueError) as spark_refusal:
        spark_job.ensure_table(spark, f"{namespace}.beer", spark_spec(retyped, PROPERTIES))
    expected = (
        "column beer_abv is double in the deployed table but string in the domain; restore "
        "type double (to retype a column, add a new column and backfill it); table "
    )
    assert expected in str(arrow_refusal.value) and expected in str(spark_refusal.value)
    assert str(spark_refusal.value) == str(arrow_refusal.value).replace(
        "table silver.beer", f"table {namespace}.beer"
    )
    assert "primary key is (beer_id) in the deployed table but (beer_id, brewery_id)" in str(
        spark_refusal.value
    )


def test_review_flat_is_identical_on_both_engines(spark, engines):  # noqa: F811
    catalog, namespace, _ = engines
    review = {"brewery_id": 1, "beer_id": 10, "profile_id": 5}
    inputs = [
        (
            BREWERY,
            [{"brewery_id": 1, "brewery_name": "Abita"}, {"brewery_id": 2, "brewery_name": "Gone"}],
        ),
        (
            BEER,
            [
                {
                    "beer_id": 10,
                    "brewery_id": 1,
                    "beer_name": "Amber",
                    "beer_style": "Lager",
                    "beer_abv": 4.5,
                },
                {"beer_id": 11, "brewery_id": 2, "beer_name": "Stout", "beer_style": "Stout"},
            ],
        ),
        (PROFILE, [{"profile_id": 5, "profile_name": "ann", "email": "h", "state": "CA"}]),
        (
            REVIEW,
            [
                {**review, "review_id": 1, "review_overall": 4.0, "review_time": epoch(2010, 1)},
                {
                    "review_id": 2,
                    "brewery_id": 2,
                    "beer_id": 11,
                    "profile_id": 5,
                    "review_overall": 3.0,
                    "review_time": epoch(2010, 1, 31),
                },
                {
                    **review,
                    "review_id": 3,
                    "profile_id": 6,
                    "review_overall": 5.0,
                    "review_time": epoch(2011, 12, 31),
                },
                {**review, "review_id": 4, "review_overall": 2.0},
            ],
        ),
    ]
    results, spark_changes = {}, []
    for contract, rows in inputs:
        batch = bronze(contract, rows)
        _table, _name, arrow, spark_side = run_both(spark, engines, contract, [batch])
        results[contract.name] = arrow[0]
        spark_changes.extend(spark_side)
    # The Gone brewery is deleted: its reviews keep their rows, without its name.
    delete = bronze(BREWERY, [{"brewery_id": 2}], minute=5, operation="delete")
    _table, _name, arrow, spark_side = run_both(spark, engines, BREWERY, [delete])
    results["brewery"] = arrow[0]
    spark_changes.extend(spark_side)

    arrow_partitions, spark_partitions = build_both(
        spark, engines, BEER_DOMAIN, {t: r.keys for t, r in results.items()}, spark_changes
    )
    assert arrow_partitions == spark_partitions == {"review_flat": [(2010,), (2011,)]}  # years
    expected = arrow_rows(catalog.load_table(("silver", "review_flat")))
    assert spark_rows(spark, f"{namespace}.review_flat") == expected
    by_id = {r["review_id"]: r for r in expected}
    assert set(by_id) == {1, 2, 3}  # review 4 has no time: no month
    assert by_id[2]["brewery_name"] is None and by_id[2]["beer_name"] == "Stout"
    assert by_id[3]["profile_name"] is None  # profile 6 does not exist
    assert (by_id[3]["review_year"], by_id[3]["review_month"]) == (2011, 12)


def build_both(spark, engines, domain: Domain, changed: dict, spark_changes: list):  # noqa: F811
    """Every view of ``domain`` on both engines; the partitions each replaced, per view."""
    catalog, namespace, tmp_path = engines
    tables = {
        c.name: ensure_table(catalog, "silver", c, PROPERTIES) for c in domain.tables.values()
    }
    arrow = {}
    for view in domain.views.values():
        table = ensure_table(catalog, "silver", view.contract, PROPERTIES)
        result = build_view(view, tables, table, changed, batch_id_of([str(next(_names))]))
        arrow[view.name] = result.partitions
    plan = views_plan(domain, PROPERTIES, [], f"{tmp_path}/out-{next(_names)}-")
    replaced = spark_job.build_views(spark, namespace, plan, spark_changes)
    return arrow, {view: [tuple(p) for p in values] for view, values in replaced.items()}


def test_a_chained_view_with_a_lookup_period_is_identical_on_both_engines(spark, engines):  # noqa: F811
    catalog, namespace, tmp_path = engines
    domain = write_domain(tmp_path, CHAIN_DOMAIN)
    for minute, batches in enumerate(CHAIN_RUNS, start=1):
        changed, spark_changes = {}, []
        for table, (operation, rows) in batches.items():
            batch = bronze(domain.table(table), rows, 10 * minute, operation)
            _table, _name, arrow, spark_side = run_both(
                spark, engines, domain.table(table), [batch]
            )
            changed[table] = arrow[0].keys
            spark_changes.extend(spark_side)
        arrow_partitions, spark_partitions = build_both(
            spark, engines, domain, changed, spark_changes
        )
        assert arrow_partitions == spark_partitions, f"run {minute}"
        for view in domain.views:
            expected = arrow_rows(catalog.load_table(("silver", view)))
            assert spark_rows(spark, f"{namespace}.{view}") == expected, f"run {minute}: {view}"
    assert spark_partitions == {"line_flat": [(2024, 4), (2024, 5)], "line_signup": [(2024, 6, 1)]}
