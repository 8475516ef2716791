"""Lambda handlers of the silver state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims each table's silver records, writes the run's manifests (the Spark
  job's input: table spec, bronze files, batch id) and returns what the Map iterates over;
- ``finish_handler``: after a table's Iceberg commit, marks its records success;
- ``fail_handler``: after a table's job failed for good, marks its records error with the cause;
- ``gold_records_handler``: after review_flat, one pending gold record per replaced month.

Their environment is :class:`datalake.runtime.SilverRuntime`.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from datalake.contracts import REVIEW_FLAT
from datalake.control import ControlStore
from datalake.layout import silver_run_prefix
from datalake.runtime import SilverRuntime
from workloads.shared.runs import (
    claim_records,
    control_store,
    fail_records,
    failure_message,
    finish_records,
    run_worker,
)
from workloads.shared.tables import batch_id_of, spark_spec, table_properties
from workloads.silver.pipeline import SILVER_ORDER, register_gold_record

LAYER = "silver"


def properties_of(config: SilverRuntime) -> dict[str, str]:
    """The Iceberg table properties of the silver tables (file size, snapshot retention)."""
    return table_properties(
        config.target_file_size_mb, config.snapshot_retention_days, config.min_snapshots_to_keep
    )


def plan(
    store: ControlStore,
    s3: Any,
    config: SilverRuntime,
    run_id: str,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Claim the tables' records (``only`` those named, if given) and write one manifest per
    table for the Spark job."""
    prefix = silver_run_prefix(run_id)
    properties = properties_of(config)
    tables, changes = [], []
    for contract in SILVER_ORDER:
        if only and contract.name not in only:
            continue
        records = claim_records(store, LAYER, run_worker(LAYER, run_id), table=contract.name)
        if not records:
            continue
        ids = [r.control_id for r in records]
        changes_uri = f"s3://{config.artifacts_bucket}/{prefix}{contract.name}.changes"
        manifest = {
            "table": contract.name,
            "spec": spark_spec(contract, properties),
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
            "spec": spark_spec(REVIEW_FLAT, properties),
            # review_flat joins every silver table: the job creates any that do not exist yet.
            "table_specs": [spark_spec(c, properties) for c in SILVER_ORDER],
            # The months the job replaced, for the gold records (registered from this file).
            "partitions_out": f"s3://{config.artifacts_bucket}/{prefix}review_flat.partitions",
        },
    }


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name", "input"}`` -> the run's tables and manifests (``input.tables``
    limits the run to those tables)."""
    config = SilverRuntime.from_environment()
    only = (event.get("input") or {}).get("tables")
    return plan(control_store(config), boto3.client("s3"), config, event["execution_name"], only)


def finish_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids"}`` after the table's commit -> records success."""
    store = control_store(SilverRuntime.from_environment())
    count = finish_records(store, run_worker(LAYER, event["run_id"]), event["control_ids"])
    return {"table": event["table"], "status": "success", "records": count}


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
    config = SilverRuntime.from_environment()
    ids = register_gold_records(
        control_store(config),
        boto3.client("s3"),
        config.lake_bucket,
        event["run_id"],
        event["partitions"],
    )
    return {"run_id": event["run_id"], "gold_records": len(ids)}


def fail_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids", "error": {"Error", "Cause"}}`` -> records error."""
    store = control_store(SilverRuntime.from_environment())
    message = failure_message(event.get("error"))
    count = fail_records(store, run_worker(LAYER, event["run_id"]), event["control_ids"], message)
    return {"table": event["table"], "status": "error", "records": count}
