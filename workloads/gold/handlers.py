"""Lambda handlers of the gold state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims the pending gold records, writes the run's manifest (each mart's
  SQL and table spec) and returns the months to replace;
- ``finish_handler`` / ``fail_handler``: mark the run's records success or error.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from pydantic import Field

from datalake.contracts.gold import MARTS
from datalake.control import ControlStore
from workloads.environment import EnvironmentConfig
from workloads.gold.pipeline import claim_gold_records, month_of
from workloads.gold.spark_job import MONTHS, SOURCE
from workloads.silver.spec import spark_spec
from workloads.silver.tables import table_properties


class GoldRuntimeConfig(EnvironmentConfig):
    """What the gold Lambdas read from their environment (set by GoldMart)."""

    describes = "gold workload"

    control_table: str = Field(alias="CONTROL_TABLE")
    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET")
    max_attempts: int = Field(3, ge=1, alias="MAX_ATTEMPTS")
    lease_seconds: int = Field(1800, ge=60, alias="LEASE_SECONDS")
    target_file_size_mb: int = Field(128, ge=8, alias="TARGET_FILE_SIZE_MB")


def worker_of(run_id: str) -> str:
    return f"gold-run:{run_id}"


def manifest(properties: dict[str, str]) -> dict[str, Any]:
    """Every mart's SQL (with placeholders for the source table and months) and spec."""
    return {
        "marts": {
            mart.name: {
                "sql": mart.sql(SOURCE, MONTHS),
                "spec": spark_spec(mart.contract, properties, audit=False),
            }
            for mart in MARTS
        }
    }


def plan(store: ControlStore, s3: Any, config: GoldRuntimeConfig, run_id: str) -> dict[str, Any]:
    """Claim the pending gold records; write the manifest; return the months to replace."""
    records = claim_gold_records(store, worker_of(run_id))
    key = f"gold/runs/{run_id}/marts.json"
    body = manifest(table_properties(config.target_file_size_mb, 7, 5))
    s3.put_object(Bucket=config.artifacts_bucket, Key=key, Body=json.dumps(body).encode())
    return {
        "run_id": run_id,
        "months": sorted({month_of(r) for r in records}),
        "control_ids": [r.control_id for r in records],
        "manifest": f"s3://{config.artifacts_bucket}/{key}",
    }


def _store(config: GoldRuntimeConfig) -> ControlStore:
    table = boto3.resource("dynamodb").Table(config.control_table)
    return ControlStore(table, max_attempts=config.max_attempts, lease_seconds=config.lease_seconds)


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name": ...}`` -> months, control ids and the manifest."""
    config = GoldRuntimeConfig.from_env()
    return plan(_store(config), boto3.client("s3"), config, event["execution_name"])


def finish_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "control_ids"}`` after every mart committed -> records success."""
    store = _store(GoldRuntimeConfig.from_env())
    for control_id in event["control_ids"]:
        store.complete(control_id, worker_of(event["run_id"]))
    return {"status": "success", "records": len(event["control_ids"])}


def fail_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "control_ids", "error"}`` -> records error with the cause."""
    store = _store(GoldRuntimeConfig.from_env())
    error = event.get("error") or {}
    message = f"{error.get('Error', 'SparkJobFailed')}: {error.get('Cause', '')}".strip()
    for control_id in event["control_ids"]:
        store.fail(control_id, worker_of(event["run_id"]), message)
    return {"status": "error", "records": len(event["control_ids"])}
