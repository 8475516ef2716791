"""The silver Lambdas (plan, finish, fail) on moto; the Spark job's entry point on local Spark."""

from __future__ import annotations

import json

import pytest

from datalake.control import ControlStatus
from datalake.domain import default_domain_path
from datalake.runtime import SilverRuntime
from examples.beer.generate import generate_reviews
from tests.workloads.conftest import LAKE, gz
from tests.workloads.silver_fixtures import BEER_DOMAIN
from tests.workloads.spark_fixtures import spark  # noqa: F401 (the session fixture)
from workloads.shared.runs import run_worker
from workloads.silver import handlers, spark_job
from workloads.silver.handlers import plan as plan_run

ARTIFACTS = "test-artifacts"


@pytest.fixture
def config(lake) -> SilverRuntime:
    lake.s3.create_bucket(Bucket=ARTIFACTS)
    return SilverRuntime.from_environment(
        {
            "CONTROL_TABLE": lake.store.table.name,
            "LAKE_BUCKET": LAKE,
            "ARTIFACTS_BUCKET": ARTIFACTS,
            "MAX_ATTEMPTS": "3",
            "LEASE_SECONDS": "600",
            "DATALAKE_DOMAIN": str(default_domain_path()),
        }
    )


def plan(store, s3, config, run_id, only=None):
    return plan_run(store, s3, config, run_id, BEER_DOMAIN, only)


def read_json(lake, key: str) -> dict:
    return json.loads(lake.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())


def ingest(lake, key: str, text: str) -> None:
    record = lake.register(key, gz(text))
    assert lake.worker().run(record.control_id).status is ControlStatus.SUCCESS


def test_plan_claims_records_and_writes_one_manifest_per_table(lake, config):
    ingest(
        lake, "raw/beer/a.csv.gz", "beer_id,brewery_id,beer_name,beer_style,beer_abv\n1,2,A,IPA,5\n"
    )
    ingest(
        lake, "raw/beer/b.csv.gz", "beer_id,brewery_id,beer_name,beer_style,beer_abv\n2,2,B,IPA,5\n"
    )
    ingest(lake, "raw/brewery/w.csv.gz", "brewery_id,brewery_name\n2,W\n")
    result = plan(lake.store, lake.s3, config, "run-1")
    assert [t["table"] for t in result["tables"]] == ["brewery", "beer"]  # dimensions in order
    beer = result["tables"][1]
    assert beer["manifest"] == f"s3://{ARTIFACTS}/silver/runs/run-1/beer.json"
    manifest = json.loads(
        lake.s3.get_object(Bucket=ARTIFACTS, Key="silver/runs/run-1/beer.json")["Body"].read()
    )
    assert manifest["spec"]["primary_key"] == ["beer_id"]
    assert len(manifest["files"]) == 2 and all(
        f.startswith(f"s3://{LAKE}/bronze/beer/") for f in manifest["files"]
    )
    assert sorted(manifest["control_ids"]) == sorted(beer["control_ids"])
    views = read_json(lake, "silver/runs/run-1/views.json")
    assert result["views"]["plan"] == f"s3://{ARTIFACTS}/silver/runs/run-1/views.json"
    assert views["changes"] == [
        f"s3://{ARTIFACTS}/silver/runs/run-1/brewery.changes",
        f"s3://{ARTIFACTS}/silver/runs/run-1/beer.changes",
    ]
    assert [s["table"] for s in views["table_specs"]] == list(BEER_DOMAIN.tables)
    (view,) = views["views"]
    assert view["spec"] == BEER_DOMAIN.view("review_flat").spec()
    assert view["table"]["partitioning"] == [["identity", "review_year"]]  # partition_by: year
    assert view["table"]["period"] == ["review_year", "review_month"]
    assert result["views"]["outputs"] == [
        {
            "view": "review_flat",
            "partition_columns": ["review_year"],
            "partitions_out": f"s3://{ARTIFACTS}/silver/runs/run-1/review_flat.partitions",
        }
    ]
    running = list(lake.store.by_status("silver", ControlStatus.RUNNING))
    assert len(running) == 3 and {r.claimed_by for r in running} == {run_worker("silver", "run-1")}
    assert plan(lake.store, lake.s3, config, "run-2")["tables"] == []  # nothing left to claim


def test_plan_can_be_limited_to_some_tables(lake, config):
    ingest(
        lake, "raw/beer/a.csv.gz", "beer_id,brewery_id,beer_name,beer_style,beer_abv\n1,2,A,IPA,5\n"
    )
    ingest(lake, "raw/brewery/w.csv.gz", "brewery_id,brewery_name\n2,W\n")
    only_beer = plan(lake.store, lake.s3, config, "run-1", only=["beer"])
    assert [t["table"] for t in only_beer["tables"]] == ["beer"]
    assert [t["table"] for t in plan(lake.store, lake.s3, config, "run-2")["tables"]] == ["brewery"]


def test_finish_and_fail_mark_the_records_of_one_table(lake, config, monkeypatch):
    ingest(
        lake, "raw/beer/a.csv.gz", "beer_id,brewery_id,beer_name,beer_style,beer_abv\n1,2,A,IPA,5\n"
    )
    ingest(lake, "raw/brewery/w.csv.gz", "brewery_id,brewery_name\n2,W\n")
    result = plan(lake.store, lake.s3, config, "run-1")
    for name, value in config.to_environment().items():
        monkeypatch.setenv(name, value)
    brewery, beer = result["tables"]
    handlers.finish_handler({"run_id": "run-1", **brewery})
    handlers.fail_handler(
        {"run_id": "run-1", **beer, "error": {"Error": "EMRServerless.JobFailed", "Cause": "OOM"}}
    )
    (done,) = lake.store.by_status("silver", ControlStatus.SUCCESS)
    (failed,) = lake.store.by_status("silver", ControlStatus.ERROR)
    assert done.table_name == "brewery" and failed.table_name == "beer"
    assert failed.error == "EMRServerless.JobFailed: OOM"


def test_spark_job_entry_point_merges_a_manifest(spark, lake, config, tmp_path):  # noqa: F811
    reviews = generate_reviews(50, seed=4)
    import io

    import pyarrow.csv as pacsv

    out = io.BytesIO()
    pacsv.write_csv(reviews, out)
    ingest(lake, "raw/review/r.csv.gz", out.getvalue().decode())
    result = plan(lake.store, lake.s3, config, "run-1")
    assert [t["table"] for t in result["tables"]] == ["review"]
    manifest = json.loads(
        lake.s3.get_object(Bucket=ARTIFACTS, Key="silver/runs/run-1/review.json")["Body"].read()
    )
    # Local Spark cannot read moto's S3: hand it the same manifest with local copies.
    local_files = []
    for index, uri in enumerate(manifest["files"]):
        path = tmp_path / f"bronze-{index}.parquet"
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        path.write_bytes(lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        local_files.append(str(path))
    manifest.update(files=local_files, changes_out=str(tmp_path / "review.changes"))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    common = ["--catalog", "lake", "--database", "entry"]
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.entry")
    assert (
        spark_job.main(["--mode", "merge", "--manifest", str(tmp_path / "manifest.json"), *common])
        == 0
    )
    assert spark.table("lake.entry.review").count() == 50
    views = read_json(lake, "silver/runs/run-1/views.json")
    views["changes"] = [str(tmp_path / "review.changes"), str(tmp_path / "missing.changes")]
    views["views"][0]["partitions_out"] = str(tmp_path / "parts")
    (tmp_path / "views.json").write_text(json.dumps(views))
    assert spark_job.main(["--mode", "view", "--plan", str(tmp_path / "views.json"), *common]) == 0
    assert spark.table("lake.entry.review_flat").count() == 50
    written = json.loads(spark.read.text(str(tmp_path / "parts")).collect()[0].value)
    # The Lambda after the job turns that file into pending gold records.
    for index, part in enumerate(sorted((tmp_path / "parts").glob("part-*"))):
        lake.s3.put_object(
            Bucket=ARTIFACTS, Key=f"silver/runs/run-1/parts/{index}", Body=part.read_bytes()
        )
    outputs = [
        {
            **result["views"]["outputs"][0],
            "partitions_out": f"s3://{ARTIFACTS}/silver/runs/run-1/parts",
        }
    ]
    ids = handlers.register_gold_records(lake.store, lake.s3, LAKE, "run-1", outputs)
    (pending,) = lake.store.by_status("gold", ControlStatus.PENDING)  # one for the view
    assert ids == [pending.control_id]
    assert pending.partitions == sorted(written) and len(written) > 1
    assert pending.object_key == "silver/review_flat/commit=run-run-1"
    # The Lambda retried: the run names the commit, so nothing new is registered.
    assert handlers.register_gold_records(lake.store, lake.s3, LAKE, "run-1", outputs) == ids
    assert len(list(lake.store.by_status("gold", ControlStatus.PENDING))) == 1
    assert (
        len(written)
        == spark.table("lake.entry.review_flat")
        .select("review_year")  # the partitions: years (partition_by)
        .distinct()
        .count()
    )
    assert (
        spark_job.main(
            [
                "--mode",
                "maintenance",
                "--min-snapshots-to-keep",
                "1",
                "--snapshot-retention-days",
                "1",
                *common,
            ]
        )
        == 0
    )
