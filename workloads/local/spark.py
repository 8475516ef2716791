"""``datalake local run --engine spark``: silver and gold with local Spark, same control flow.

Spark cannot reach the emulator's Glue catalog without the AWS SDK jars (which only Maven
serves), so its Iceberg tables live in a local Hadoop catalog under the run's temporary
folder; bronze files are read from the emulator's S3 (downloaded first), and the control
records move exactly as on the arrow path. The Spark code is the EMR Serverless job's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from datalake.contracts import REVIEW_FLAT
from datalake.contracts.gold import MARTS
from datalake.naming import Bucket
from workloads.gold import spark_job as gold_job
from workloads.gold.handlers import manifest
from workloads.gold.pipeline import month_of
from workloads.local.resources import LocalLake
from workloads.shared.runs import claim_records, finish_records
from workloads.shared.spark_common import ensure_table
from workloads.shared.tables import spark_spec
from workloads.silver import spark_job as silver_job
from workloads.silver.pipeline import SILVER_ORDER, register_gold_record
from workloads.silver.spark_session import local_iceberg_session

CATALOG = "local"
SILVER, GOLD = f"{CATALOG}.silver", f"{CATALOG}.gold"


class SparkLake:
    """A local Spark session with the run's Iceberg warehouse."""

    def __init__(self, lake: LocalLake):
        self.lake = lake
        self.folder = Path(tempfile.mkdtemp(prefix="datalake-spark-"))
        self.spark = local_iceberg_session(str(self.folder / "warehouse"), catalog=CATALOG)
        self.spark.sparkContext.setLogLevel("ERROR")
        for namespace in (SILVER, GOLD):
            self.spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")

    def silver(self, worker: str) -> None:
        """Merge every table's pending records, then review_flat and the gold records."""
        lake, changes = self.lake, []
        for contract in SILVER_ORDER:
            records = claim_records(lake.store, "silver", worker, table=contract.name)
            if not records:
                continue
            paths = []
            for index, record in enumerate(records):
                path = self.folder / f"{contract.name}-{index}.parquet"
                body = lake.s3.get_object(Bucket=record.bucket, Key=record.object_key)["Body"]
                path.write_bytes(body.read())
                paths.append(str(path))
            spec = spark_spec(contract, lake.properties)
            name = f"{SILVER}.{contract.name}"
            ensure_table(self.spark, name, spec)
            frame = self.spark.read.option("mergeSchema", "true").parquet(*paths)
            changes.append(silver_job.merge(self.spark, name, spec, frame))
            rows_in = {r.control_id: r.record_count or 0 for r in records}
            finish_records(lake.store, worker, list(rows_in), rows_in=rows_in)  # after the commit
        for contract in SILVER_ORDER:
            ensure_table(
                self.spark, f"{SILVER}.{contract.name}", spark_spec(contract, lake.properties)
            )
        partitions = silver_job.changed_partitions(self.spark, SILVER, changes)
        silver_job.review_flat(
            self.spark, SILVER, spark_spec(REVIEW_FLAT, lake.properties), partitions
        )
        for year, month in sorted(partitions):
            register_gold_record(
                lake.store, lake.buckets[Bucket.LAKE], year, month, f"spark:{year}-{month:02d}"
            )

    def gold(self, worker: str) -> None:
        records = claim_records(self.lake.store, "gold", worker)
        months = sorted({month_of(r) for r in records})
        marts = manifest(self.lake.properties)["marts"]
        for mart in MARTS:
            gold_job.run_mart(
                self.spark, f"{SILVER}.review_flat", f"{GOLD}.{mart.name}", marts[mart.name], months
            )
        finish_records(self.lake.store, worker, [r.control_id for r in records])

    def table(self, layer: str, name: str, where: str | None = None) -> pa.Table:
        """A table's rows as Arrow (for the summary)."""
        frame = self.spark.table(f"{CATALOG}.{layer}.{name}")
        if where:
            frame = frame.where(where)
        rows: list[Any] = [row.asDict() for row in frame.collect()]
        return pa.Table.from_pylist(rows) if rows else pa.table({})

    def count(self, layer: str, name: str) -> int:
        return self.spark.table(f"{CATALOG}.{layer}.{name}").count()

    def stop(self) -> None:
        self.spark.stop()
