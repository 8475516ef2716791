"""Gold marts: the same review_flat gives identical marts on both engines, and the Spark job's
entry point runs a manifest written by the gold planner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog

from datalake.contracts import REVIEW_FLAT
from datalake.contracts.gold import MARTS
from tests.workloads.gold_fixtures import review_flat_rows
from tests.workloads.spark_fixtures import spark  # noqa: F401 (the session fixture)
from workloads.gold import spark_job as gold_job
from workloads.gold.handlers import manifest
from workloads.gold.marts import run_marts
from workloads.shared import spark_common
from workloads.shared.tables import ensure_table, spark_spec, table_properties

PROPERTIES = table_properties(128, 7, 5)
MONTHS = [(2010, 1), (2010, 2)]


def normalise(rows):
    fixed = [
        {
            k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
            for k, v in r.items()
        }
        for r in rows
    ]
    return sorted(fixed, key=lambda r: tuple(str(v) for v in r.values()))


def test_marts_are_identical_on_both_engines(spark, tmp_path):  # noqa: F811
    catalog = SqlCatalog("gp", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("silver")
    catalog.create_namespace("gold")
    review_flat = ensure_table(catalog, "silver", REVIEW_FLAT, PROPERTIES)
    review_flat.append(review_flat_rows())
    run_marts(catalog, "gold", review_flat, MONTHS, PROPERTIES)

    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.gold_parity")
    source = "lake.gold_parity.review_flat"
    spark_common.ensure_table(spark, source, spark_spec(REVIEW_FLAT, PROPERTIES))
    pq.write_table(review_flat_rows(), tmp_path / "rf.parquet")
    spark.read.parquet(str(tmp_path / "rf.parquet")).writeTo(source).append()
    marts = manifest(PROPERTIES)["marts"]
    for mart in MARTS:
        target = f"lake.gold_parity.{mart.name}"
        gold_job.run_mart(spark, source, target, marts[mart.name], MONTHS)
        expected = normalise(catalog.load_table(("gold", mart.name)).scan().to_arrow().to_pylist())
        assert normalise([r.asDict() for r in spark.table(target).collect()]) == expected, mart.name
        # And a second run changes nothing (partitions replaced, never appended to).
        gold_job.run_mart(spark, source, target, marts[mart.name], MONTHS)
        assert normalise([r.asDict() for r in spark.table(target).collect()]) == expected


def test_the_entry_point_runs_one_mart_from_the_manifest(spark, tmp_path):  # noqa: F811
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.gold_entry")
    spark_common.ensure_table(
        spark, "lake.gold_entry.review_flat", spark_spec(REVIEW_FLAT, PROPERTIES)
    )
    pq.write_table(review_flat_rows(), tmp_path / "rf.parquet")
    spark.read.parquet(str(tmp_path / "rf.parquet")).writeTo("lake.gold_entry.review_flat").append()
    (tmp_path / "marts.json").write_text(json.dumps(manifest(PROPERTIES)))
    arguments = [
        "--manifest", str(tmp_path / "marts.json"),
        "--mart", "top_beers_by_rating",
        "--months", json.dumps(MONTHS),
        "--catalog", "lake",
        "--database", "gold_entry",
        "--source-database", "gold_entry",
    ]  # fmt: skip
    assert gold_job.main(arguments) == 0
    rows = spark.table("lake.gold_entry.top_beers_by_rating").collect()
    assert [(r.beer_id, r.total_reviews, r.avg_rating) for r in rows] == [(10, 25, 4.2)]
