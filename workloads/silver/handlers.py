"""Lambda handlers of the silver state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims each table's silver records, writes the run's manifests (the Spark
  job's input: table spec, bronze files, batch id) and returns what the Map iterates over;
- ``finish_handler``: after a table's Iceberg commit, marks its records success;
- ``fail_handler``: after a table's job failed for good, marks its records error with the cause.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from pydantic import Field

from datalake.contracts import REVIEW_FLAT
from datalake.control import ControlStore
from workloads.environment import EnvironmentConfig
from workloads.silver.merge import batch_id_of
from workloads.silver.pipeline import SILVER_ORDER, claim_table_records, register_gold_record
from workloads.silver.spec import spark_spec
from workloads.silver.tables import table_properties


class SilverRuntimeConfig(EnvironmentConfig):
    """What the silver Lambdas read from their environment (set by SilverPipeline)."""

    describes = "silver workload"

    control_table: str = Field(alias="CONTROL_TABLE")
    lake_bucket: str = Field(alias="LAKE_BUCKET")
    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET")
    silver_database: str = Field(alias="SILVER_DATABASE")
    max_attempts: int = Field(3, ge=1, alias="MAX_ATTEMPTS")
    lease_seconds: int = Field(1800, ge=60, alias="LEASE_SECONDS")
    target_file_size_mb: int = Field(128, ge=8, alias="TARGET_FILE_SIZE_MB")
    snapshot_retention_days: int = Field(7, ge=1, alias="SNAPSHOT_RETENTION_DAYS")
    min_snapshots_to_keep: int = Field(5, ge=1, alias="MIN_SNAPSHOTS_TO_KEEP")

    @property
    def properties(self) -> dict[str, str]:
        return table_properties(
            self.target_file_size_mb, self.snapshot_retention_days, self.min_snapshots_to_keep
        )


def worker_of(run_id: str) -> str:
    """The claim holder of one run: its plan, finish and fail steps act as one worker."""
    return f"silver-run:{run_id}"


def plan(
    store: ControlStore,
    s3: Any,
    config: SilverRuntimeConfig,
    run_id: str,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Claim the tables' records (``only`` those named, if given) and write one manifest per
    table for the Spark job."""
    prefix = f"silver/runs/{run_id}/"
    tables, changes = [], []
    for contract in SILVER_ORDER:
        if only and contract.name not in only:
            continue
        records = claim_table_records(store, contract.name, worker_of(run_id))
        if not records:
            continue
        ids = [r.control_id for r in records]
        changes_uri = f"s3://{config.artifacts_bucket}/{prefix}{contract.name}.changes"
        manifest = {
            "table": contract.name,
            "spec": spark_spec(contract, config.properties),
            "files": [f"s3://{r.bucket}/{r.object_key}" for r in records],
            "control_ids": ids,
            "batch_id": batch_id_of(ids),
            "changes_out": changes_uri,
        }
        key = f"{prefix}{contract.name}.json"
        s3.put_object(Bucket=config.artifacts_bucket, Key=key, Body=json.dumps(manifest).encode())
        tables.append(
            {
                "table": contract.name,
                "manifest": f"s3://{config.artifacts_bucket}/{key}",
                "control_ids": ids,
            }
        )
        changes.append(changes_uri)
    return {
        "run_id": run_id,
        "tables": tables,
        "review_flat": {
            "changes": changes,
            "spec": spark_spec(REVIEW_FLAT, config.properties),
            # review_flat joins every silver table: the job creates any that do not exist yet.
            "table_specs": [spark_spec(c, config.properties) for c in SILVER_ORDER],
            # The months the job replaced, for the gold records (registered from this file).
            "partitions_out": f"s3://{config.artifacts_bucket}/{prefix}review_flat.partitions",
        },
    }


def _store(config: SilverRuntimeConfig) -> ControlStore:
    table = boto3.resource("dynamodb").Table(config.control_table)
    return ControlStore(table, max_attempts=config.max_attempts, lease_seconds=config.lease_seconds)


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name", "input"}`` -> the run's tables and manifests (``input.tables``
    limits the run to those tables)."""
    config = SilverRuntimeConfig.from_env()
    only = (event.get("input") or {}).get("tables")
    return plan(_store(config), boto3.client("s3"), config, event["execution_name"], only)


def finish_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids"}`` after the table's commit -> records success."""
    store = _store(SilverRuntimeConfig.from_env())
    for control_id in event["control_ids"]:
        store.complete(control_id, worker_of(event["run_id"]))
    return {"table": event["table"], "status": "success", "records": len(event["control_ids"])}


def register_gold_records(
    store: ControlStore, s3: Any, lake_bucket: str, run_id: str, partitions_uri: str
) -> list[str]:
    """One pending gold control record per review_flat month the Spark job replaced.

    The job writes the months as JSON text under ``partitions_uri`` (Spark writes a folder of
    part files).
    """
    bucket, prefix = partitions_uri.removeprefix("s3://").split("/", 1)
    months: set[tuple[int, int]] = set()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    months |= {(int(y), int(m)) for y, m in json.loads(line)}
    return [
        register_gold_record(store, lake_bucket, year, month, f"{run_id}:{year}-{month:02d}")
        for year, month in sorted(months)
    ]


def gold_records_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "partitions": "s3://..."}`` after review_flat -> pending gold records."""
    config = SilverRuntimeConfig.from_env()
    ids = register_gold_records(
        _store(config), boto3.client("s3"), config.lake_bucket, event["run_id"], event["partitions"]
    )
    return {"run_id": event["run_id"], "gold_records": len(ids)}


def fail_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids", "error": {"Error", "Cause"}}`` -> records error."""
    store = _store(SilverRuntimeConfig.from_env())
    error = event.get("error") or {}
    message = f"{error.get('Error', 'SparkJobFailed')}: {error.get('Cause', '')}".strip()
    for control_id in event["control_ids"]:
        store.fail(control_id, worker_of(event["run_id"]), message)
    return {"table": event["table"], "status": "error", "records": len(event["control_ids"])}
