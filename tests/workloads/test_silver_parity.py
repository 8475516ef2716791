"""Both engines, same bronze inputs, same silver tables (order-insensitive).

The arrow engine (pyiceberg + DuckDB) and the Spark engine (``MERGE INTO`` on local Spark with
Iceberg) get identical batches: inserts, updates, deletes, a delete of an unknown key, changes
out of order within a batch, a late batch and a replayed batch; then review_flat.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from datalake.contracts import BEER, BREWERY, PROFILE, REVIEW, REVIEW_FLAT, TableContract
from tests.workloads.silver_fixtures import at, beer_changes
from tests.workloads.spark_fixtures import spark  # noqa: F401 (the session fixture)
from workloads.bronze.ingest import bronze_schema
from workloads.shared.tables import batch_id_of, ensure_table, spark_spec, table_properties
from workloads.silver import spark_job
from workloads.silver.merge import merge_batch
from workloads.silver.review_flat import affected_partitions, rebuild

PROPERTIES = table_properties(128, 7, 5)
_names = itertools.count()


@pytest.fixture
def engines(spark, tmp_path):  # noqa: F811
    """A fresh pyiceberg catalog and a fresh Spark namespace for one test."""
    catalog = SqlCatalog("parity", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("silver")
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
    assert len(expected) == 8
    assert [sorted(r.keys) for r in arrow_results] == [r["keys"] for r in spark_results]


def test_a_replayed_batch_leaves_both_tables_unchanged(spark, engines):  # noqa: F811
    batches = [*BEER_BATCHES, BEER_BATCHES[1]]
    table, name, _, _ = run_both(spark, engines, BEER, batches)
    assert spark_rows(spark, name) == arrow_rows(table)
    assert len(arrow_rows(table)) == 8


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


def bronze(contract: TableContract, rows: list[dict], minute: int = 0) -> pa.Table:
    lineage = {
        "_operation": "insert",
        "_change_ts": at(minute),
        "_source_key": f"raw/{contract.name}/x.csv.gz",
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


def epoch(year: int, month: int, day: int = 15) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


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
    delete = bronze(BREWERY, [{"brewery_id": 2}], minute=5).set_column(
        2, "_operation", pa.array(["delete"])
    )
    _table, _name, arrow, spark_side = run_both(spark, engines, BREWERY, [delete])
    results["brewery"] = arrow[0]
    spark_changes.extend(spark_side)

    tables = {
        c.name: ensure_table(catalog, "silver", c, PROPERTIES)
        for c in (BREWERY, BEER, PROFILE, REVIEW, REVIEW_FLAT)
    }
    partitions = affected_partitions(results, tables["review"])
    rebuild(
        tables["review_flat"],
        reviews=tables["review"],
        beers=tables["beer"],
        breweries=tables["brewery"],
        profiles=tables["profile"],
        partitions=partitions,
        batch_id=batch_id_of(["x"]),
    )
    spark_partitions = spark_job.changed_partitions(spark, namespace, spark_changes)
    assert spark_partitions == partitions == {(2010, 1), (2011, 12)}
    spark_job.review_flat(spark, namespace, spark_spec(REVIEW_FLAT, PROPERTIES), spark_partitions)
    expected = arrow_rows(tables["review_flat"])
    assert spark_rows(spark, f"{namespace}.review_flat") == expected
    by_id = {r["review_id"]: r for r in expected}
    assert set(by_id) == {1, 2, 3}  # review 4 has no time: no month
    assert by_id[2]["brewery_name"] is None and by_id[2]["beer_name"] == "Stout"
    assert by_id[3]["profile_name"] is None  # profile 6 does not exist
    assert (by_id[3]["review_year"], by_id[3]["review_month"]) == (2011, 12)
