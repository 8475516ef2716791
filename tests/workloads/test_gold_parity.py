"""Gold marts: the same view gives identical marts on both engines (the beer marts over
review_flat; the shop domain's marts, every measure function and filters), and the Spark job's
entry point runs a manifest written by the gold planner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from tests.workloads.gold_fixtures import (
    DOMAIN,
    MONTHLY,
    PROPERTIES,
    REVIEW_FLAT,
    STORE_DAY,
    loaded_view,
    review_flat_rows,
    sale_view_rows,
    shop_domain,
)
from tests.workloads.spark_fixtures import spark  # noqa: F401 (the session fixture)
from workloads.gold import spark_job as gold_job
from workloads.gold.handlers import manifest
from workloads.gold.marts import run_marts
from workloads.shared import spark_common
from workloads.shared.tables import spark_spec

YEARS, MONTHS = [(2010,)], [(2010, 1), (2010, 2)]
"""The fixture's partitions by year (the beer example's default) and by month."""


def normalise(rows):
    fixed = [
        {
            k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
            for k, v in r.items()
        }
        for r in rows
    ]
    return sorted(fixed, key=lambda r: tuple(str(v) for v in r.values()))


@pytest.mark.parametrize(
    ("domain", "partitions"), [(DOMAIN, YEARS), (MONTHLY, MONTHS)], ids=["by-year", "by-month"]
)
def test_marts_are_identical_on_both_engines(spark, tmp_path, domain, partitions):  # noqa: F811
    view, marts_of = domain.view("review_flat"), domain.marts_of("review_flat")
    catalog, review_flat = loaded_view(tmp_path, view, name="gp")
    run_marts(catalog, "gold", review_flat, marts_of, partitions, PROPERTIES)

    namespace = f"lake.gold_parity_{len(partitions[0])}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
    source = f"{namespace}.review_flat"
    spark_common.ensure_table(spark, source, spark_spec(view.contract, PROPERTIES))
    pq.write_table(review_flat_rows(), tmp_path / "rf.parquet")
    spark.read.parquet(str(tmp_path / "rf.parquet")).writeTo(source).append()
    marts = manifest(domain, PROPERTIES, {})["marts"]
    for mart in marts_of:
        target = f"{namespace}.{mart.name}"
        gold_job.run_mart(spark, source, target, marts[mart.name], partitions)
        expected = normalise(catalog.load_table(("gold", mart.name)).scan().to_arrow().to_pylist())
        assert normalise([r.asDict() for r in spark.table(target).collect()]) == expected, mart.name
        # And a second run changes nothing (partitions replaced, never appended to).
        gold_job.run_mart(spark, source, target, marts[mart.name], partitions)
        assert normalise([r.asDict() for r in spark.table(target).collect()]) == expected
        fields = spark.sql(f"SELECT * FROM {target}.partitions").schema["partition"].dataType
        assert fields.names == list(mart.partition_columns), mart.name


def test_the_entry_point_runs_one_mart_from_the_manifest(spark, tmp_path):  # noqa: F811
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.gold_entry")
    spark_common.ensure_table(
        spark, "lake.gold_entry.review_flat", spark_spec(REVIEW_FLAT.contract, PROPERTIES)
    )
    pq.write_table(review_flat_rows(), tmp_path / "rf.parquet")
    spark.read.parquet(str(tmp_path / "rf.parquet")).writeTo("lake.gold_entry.review_flat").append()
    body = manifest(DOMAIN, PROPERTIES, {REVIEW_FLAT.name: YEARS})
    (tmp_path / "marts.json").write_text(json.dumps(body))
    arguments = [
        "--manifest", str(tmp_path / "marts.json"),
        "--mart", "top_beers_by_rating",
        "--catalog", "lake",
        "--database", "gold_entry",
        "--source-database", "gold_entry",
    ]  # fmt: skip
    assert gold_job.main(arguments) == 0
    rows = spark.table("lake.gold_entry.top_beers_by_rating").collect()
    assert [(r.beer_id, r.total_reviews, r.avg_rating) for r in rows] == [(10, 25, 4.2)]


def test_every_measure_function_and_filter_is_identical_on_spark(spark, tmp_path):  # noqa: F811
    """The shop's store_day on Spark: the rows worked out by hand, as on the arrow engine."""
    domain = shop_domain(tmp_path)
    view = domain.view("sale_view")
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.gold_shop")
    source = "lake.gold_shop.sale_view"
    spark_common.ensure_table(spark, source, spark_spec(view.contract, PROPERTIES))
    pq.write_table(sale_view_rows(domain), tmp_path / "sales.parquet")
    spark.read.parquet(str(tmp_path / "sales.parquet")).writeTo(source).append()
    days = [(2024, 3, 1), (2024, 3, 2), (2024, 3, 31)]
    mart = manifest(domain, PROPERTIES, {view.name: days})["marts"]["store_day"]
    target = "lake.gold_shop.store_day"
    assert gold_job.run_mart(spark, source, target, mart, days) == len(STORE_DAY)
    assert normalise([r.asDict() for r in spark.table(target).collect()]) == normalise(
        STORE_DAY.values()
    )
