"""End to end on the AWS emulator: raw -> bronze -> silver -> gold, all in the Glue catalog.

Every AWS call goes to moto's server (S3, DynamoDB, Glue): the controller, the ingest workers,
pyiceberg's Glue catalog and S3 file IO, with the arrow engine.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import duckdb
import pyarrow.csv as pacsv
import pytest
from moto.server import ThreadedMotoServer

from datalake.control import ControlStatus, ControlStore
from datalake.control_table import create_control_table
from examples.beer.generate import generate_reviews, sample_file
from tests.workloads.conftest import ARRIVED, gz
from tests.workloads.silver_fixtures import BEER_DOMAIN
from workloads.bronze.controller import register_object
from workloads.bronze.masking import RedactDeclaredPii
from workloads.bronze.worker import IngestWorker
from workloads.gold.pipeline import GoldRun
from workloads.shared.tables import table_properties
from workloads.silver.catalogs import glue_catalog
from workloads.silver.pipeline import SilverRun, s3_bronze_reader

REGION = "us-east-1"
MARTS = BEER_DOMAIN.marts


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_raw_to_silver_in_glue(endpoint, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    for bucket in ("e2e-landing", "e2e-lake"):
        s3.create_bucket(Bucket=bucket)
    glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION)
    glue.create_database(
        DatabaseInput={"Name": "e2e_silver", "LocationUri": "s3://e2e-lake/silver/"}
    )
    glue.create_database(DatabaseInput={"Name": "e2e_gold", "LocationUri": "s3://e2e-lake/gold/"})
    dynamodb = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION)
    store = ControlStore(create_control_table(dynamodb, "e2e-control"))
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint, region_name=REGION)
    worker = IngestWorker(
        store, s3, cloudwatch, "e2e-lake", RedactDeclaredPii(), "w1", domain=BEER_DOMAIN
    )

    reviews = generate_reviews(1_000, seed=21)
    out = io.BytesIO()
    pacsv.write_csv(reviews, out)
    files = {
        f"raw/{t}/{t}.csv.gz": sample_file(t).read_bytes() for t in ("brewery", "beer", "profile")
    }
    files["raw/review/reviews.csv.gz"] = gz(out.getvalue())
    for key, body in files.items():
        s3.put_object(Bucket="e2e-landing", Key=key, Body=body)
        record = register_object(
            store,
            s3,
            bucket="e2e-landing",
            key=key,
            arrived=ARRIVED,
            mass_threshold_records=10**9,
            domain=BEER_DOMAIN,
        )
        assert worker.run(record.control_id).status is ControlStatus.SUCCESS

    report = SilverRun(
        store=store,
        catalog=glue_catalog(REGION, endpoint=endpoint),
        namespace="e2e_silver",
        read_bronze=s3_bronze_reader(s3),
        lake_bucket="e2e-lake",
        worker_id="silver-1",
        properties=table_properties(128, 7, 5),
        domain=BEER_DOMAIN,
    ).run()

    assert report.failed == {}
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="e2e_silver")["TableList"]}
    assert set(tables) == {"brewery", "beer", "profile", "review", "review_flat"}
    assert tables["review"]["Parameters"]["table_type"] == "ICEBERG"
    assert tables["review"]["StorageDescriptor"]["Location"].startswith("s3://e2e-lake/silver/")
    catalog = glue_catalog(REGION, endpoint=endpoint)
    assert catalog.load_table(("e2e_silver", "review_flat")).scan().to_arrow().num_rows == 1_000
    assert catalog.load_table(("e2e_silver", "beer")).scan().to_arrow().num_rows == 66_055
    assert len(list(store.by_status("silver", ControlStatus.SUCCESS))) == 4
    assert len(list(store.by_status("gold", ControlStatus.PENDING))) == len(report.gold_records) > 0

    gold = GoldRun(
        store=store,
        catalog=catalog,
        silver_namespace="e2e_silver",
        gold_namespace="e2e_gold",
        worker_id="gold-1",
        properties=table_properties(128, 7, 5),
        domain=BEER_DOMAIN,
    ).run()
    assert gold.error is None and len(gold.marts) == len(MARTS)
    assert list(store.by_status("gold", ControlStatus.PENDING)) == []
    gold_tables = {t["Name"] for t in glue.get_tables(DatabaseName="e2e_gold")["TableList"]}
    assert gold_tables == {m.name for m in MARTS}

    # Independent check: reviews per (month, state) straight from the generated input.
    profiles = pacsv.read_csv(sample_file("profile"))  # noqa: F841 (DuckDB reads it by name)
    expected = duckdb.sql(
        """
        SELECT year(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS y,
               month(to_timestamp(r.review_time) AT TIME ZONE 'UTC') AS m,
               p.state, count(*) AS n
        FROM reviews r LEFT JOIN profiles p USING (profile_id)
        GROUP BY ALL
        """
    ).fetchall()
    mart = catalog.load_table(("e2e_gold", "state_by_review_volume")).scan().to_arrow()
    got = {
        (r["review_year"], r["review_month"], r["state"]): r["total_reviews"]
        for r in mart.to_pylist()
    }
    assert got == {(y, m, state): n for y, m, state, n in expected}
