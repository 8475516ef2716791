"""Lambda handlers of the gold state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims the pending gold records, writes the run's manifest (each mart's
  SQL and table spec) and returns the months to replace;
- ``finish_handler`` / ``fail_handler``: mark the run's records success or error.

Their environment is :class:`datalake.runtime.GoldRuntime`.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from datalake.contracts.gold import MARTS
from datalake.control import ControlStore
from datalake.layout import gold_manifest_key
from datalake.runtime import GoldRuntime
from workloads.gold.pipeline import month_of
from workloads.gold.spark_job import MONTHS, SOURCE
from workloads.shared.runs import (
    claim_records,
    control_store,
    fail_records,
    failure_message,
    finish_records,
    run_worker,
)
from workloads.shared.tables import spark_spec, table_properties

LAYER = "gold"
SNAPSHOT_RETENTION_DAYS, MIN_SNAPSHOTS_TO_KEEP = 7, 5
"""Marts are replaced whole months at a time: the Iceberg defaults keep enough history."""


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


def plan(store: ControlStore, s3: Any, config: GoldRuntime, run_id: str) -> dict[str, Any]:
    """Claim the pending gold records; write the manifest; return the months to replace."""
    records = claim_records(store, LAYER, run_worker(LAYER, run_id))
    key = gold_manifest_key(run_id)
    properties = table_properties(
        config.target_file_size_mb, SNAPSHOT_RETENTION_DAYS, MIN_SNAPSHOTS_TO_KEEP
    )
    body = manifest(properties)
    s3.put_object(Bucket=config.artifacts_bucket, Key=key, Body=json.dumps(body).encode())
    return {
        "run_id": run_id,
        "months": sorted({month_of(r) for r in records}),
        "control_ids": [r.control_id for r in records],
        "manifest": f"s3://{config.artifacts_bucket}/{key}",
    }


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name": ...}`` -> months, control ids and the manifest."""
    config = GoldRuntime.from_environment()
    return plan(control_store(config), boto3.client("s3"), config, event["execution_name"])


def finish_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "control_ids"}`` after every mart committed -> records success."""
    store = control_store(GoldRuntime.from_environment())
    count = finish_records(store, run_worker(LAYER, event["run_id"]), event["control_ids"])
    return {"status": "success", "records": count}


def fail_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "control_ids", "error"}`` -> records error with the cause."""
    store = control_store(GoldRuntime.from_environment())
    message = failure_message(event.get("error"))
    count = fail_records(store, run_worker(LAYER, event["run_id"]), event["control_ids"], message)
    return {"status": "error", "records": count}
