"""``datalake local run --engine spark``: silver and gold with local Spark, same control flow.

Spark cannot reach the emulator's Glue catalog without the AWS SDK jars (which only Maven
serves), so its Iceberg tables live in a local Hadoop catalog under the run's temporary
folder; bronze files are read from the emulator's S3 (downloaded first), and the control
records move exactly as on the arrow path. The Spark code is the EMR Serverless jobs': the
silver job's merge and view mode (every view of the domain), the gold job per mart.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from datalake.naming import Bucket

from ..gold import spark_job as gold_job
from ..gold.handlers import manifest
from ..gold.pipeline import pending_partitions
from ..shared.runs import claim_records, fail_records, finish_records
from ..shared.spark_common import ensure_table
from ..shared.tables import spark_spec
from ..silver import spark_job as silver_job
from ..silver.handlers import views_plan
from ..silver.pipeline import register_view_commit
from ..silver.spark_session import local_iceberg_session
from .resources import LocalLake

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

    def silver(self, worker: str) -> list[dict[str, Any]]:
        """Merge every table's pending records, then the domain's views and the gold records;
        returns each table's merge result (the Spark job's)."""
        lake, changes = self.lake, []
        for contract in lake.domain.tables.values():
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
        plan = views_plan(lake.domain, lake.properties, [], "")
        for view in plan["views"]:
            view["partitions_out"] = None  # the partitions come back here, not through S3
        replaced = silver_job.build_views(self.spark, SILVER, plan, changes)
        for view, partitions in replaced.items():
            if not partitions:
                continue
            register_view_commit(
                lake.store,
                lake.buckets[Bucket.LAKE],
                view,
                lake.domain.view(view).partition_columns,
                self._commit(f"{SILVER}.{view}"),
                partitions,
            )
        return changes

    def _commit(self, table: str) -> str:
        """What names the view rebuild's gold records: the table's last snapshot (a table
        without one, which the rebuild left empty, gets a name of its own)."""
        rows = self.spark.sql(
            f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1"
        ).collect()
        return f"snapshot-{rows[0].snapshot_id}" if rows else f"unsaved-{uuid.uuid4().hex}"

    def gold(self, worker: str) -> None:
        """Rebuild every mart of each view for the partitions its pending records name."""
        lake = self.lake
        pending = pending_partitions(lake.domain, claim_records(lake.store, "gold", worker))
        for control_id, reason in sorted(pending.unknown.items()):
            fail_records(lake.store, worker, [control_id], reason)
        marts = manifest(lake.domain, lake.properties, pending.partitions)["marts"]
        for mart in lake.domain.marts:  # every mart's table exists, even with nothing to do
            ensure_table(self.spark, f"{GOLD}.{mart.name}", marts[mart.name]["spec"])
        for view, partitions in pending.partitions.items():
            for mart in lake.domain.marts_of(view):
                gold_job.run_mart(
                    self.spark,
                    f"{SILVER}.{view}",
                    f"{GOLD}.{mart.name}",
                    marts[mart.name],
                    partitions,
                )
            finish_records(lake.store, worker, pending.control_ids[view])

    def table(
        self,
        layer: str,
        name: str,
        where: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """A table's rows as Arrow (for the summary)."""
        frame = self.spark.table(f"{CATALOG}.{layer}.{name}")
        if where:
            frame = frame.where(where)
        if columns:
            frame = frame.select(*columns)
        rows = [{k: _utc(v) for k, v in row.asDict().items()} for row in frame.collect()]
        if not rows:  # no values to infer types from: the columns, untyped
            return pa.table({c: pa.nulls(0) for c in frame.columns})
        return pa.Table.from_pylist(rows)

    def count(self, layer: str, name: str) -> int:
        return int(self.spark.table(f"{CATALOG}.{layer}.{name}").count())

    def stop(self) -> None:
        self.spark.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _utc(value: Any) -> Any:
    """A timestamp as UTC (PySpark collects them as naive local times); other values as they
    are."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    return value
