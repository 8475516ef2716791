"""Lambda handlers of the silver state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims each table's silver records, writes the run's manifests (the Spark
  job's input: table spec, bronze files, batch id) and the views plan (every view's spec and
  table spec, the change lists, where to write the replaced partitions), and returns what the
  Map iterates over;
- ``finish_handler``: after a table's Iceberg commit, marks its records success;
- ``fail_handler``: after a table's job failed for good, marks its records error with the cause;
- ``gold_records_handler``: after the views, one pending gold record per view, naming the
  partitions the job replaced.

Their environment is :class:`datalake.runtime.SilverRuntime`; the tables and views come from
the domain it names (``load_domain_uri(runtime.domain_uri)``).

Metrics (``workloads/shared/metrics.py``, one ``PutMetricData`` per invocation, never failing
the handler): finish and fail publish what the arrow engine's ``SilverRun`` publishes per table,
as far as a Lambda knows it. Finish: the table's files (control ids) as ``success`` and its
changes read (``Rows``, outcome ``in``: the sum of the records' ``record_count``, the bronze
rows the job read; also stored as each record's ``rows_in``, as ``SilverRun`` does). Fail: the
files as ``error``. The keys written and the changes skipped (duplicates, late) are counted
inside the Spark job (its stdout and the table's ``.changes`` output), not handed to the
Lambda: the Spark path publishes no ``Rows`` ``written`` or ``skipped``.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from datalake.control import ControlStatus, ControlStore
from datalake.domain import Domain, load_domain_uri
from datalake.layout import silver_run_prefix
from datalake.runtime import SilverRuntime

from ..shared.metrics import MetricBatch
from ..shared.runs import (
    claim_records,
    control_store,
    fail_records,
    failure_message,
    finish_records,
    run_worker,
)
from ..shared.tables import batch_id_of, spark_spec, table_properties
from .pipeline import register_view_commit

LAYER = "silver"


def properties_of(config: SilverRuntime) -> dict[str, str]:
    """The Iceberg table properties of the silver tables (file size, snapshot retention)."""
    return table_properties(
        config.target_file_size_mb, config.snapshot_retention_days, config.min_snapshots_to_keep
    )


def views_plan(
    domain: Domain, properties: dict[str, str], changes: list[str], prefix: str | None
) -> dict[str, Any]:
    """The Spark job's ``--mode view`` input: every table's spec (the job creates any missing),
    the change lists of the run's tables, and per view (in domain order) its spec, its table's
    spec and the URI (``<prefix><view>.partitions``; None without a prefix) to write the
    replaced partitions to."""
    return {
        "table_specs": [spark_spec(c, properties) for c in domain.tables.values()],
        "changes": changes,
        "views": [
            {
                "view": view.name,
                "spec": view.spec(),
                "table": spark_spec(view.contract, properties),
                "partition_columns": list(view.partition_columns),
                "partitions_out": None if prefix is None else f"{prefix}{view.name}.partitions",
            }
            for view in domain.views.values()
        ],
    }


def plan(
    store: ControlStore,
    s3: Any,
    config: SilverRuntime,
    run_id: str,
    domain: Domain,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Claim the tables' records (``only`` those named, if given), write one manifest per
    table and the views plan for the Spark job."""
    prefix = silver_run_prefix(run_id)
    base = f"s3://{config.artifacts_bucket}/"
    properties = properties_of(config)
    tables, changes = [], []
    for contract in domain.tables.values():
        if only and contract.name not in only:
            continue
        records = claim_records(store, LAYER, run_worker(LAYER, run_id), table=contract.name)
        if not records:
            continue
        ids = [r.control_id for r in records]
        changes_uri = f"{base}{prefix}{contract.name}.changes"
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
        tables.append({"table": contract.name, "manifest": f"{base}{key}", "control_ids": ids})
        changes.append(changes_uri)
    views = views_plan(domain, properties, changes, f"{base}{prefix}")
    key = f"{prefix}views.json"
    if tables:  # the machine stops before the views when nothing was claimed
        s3.put_object(Bucket=config.artifacts_bucket, Key=key, Body=json.dumps(views).encode())
    return {
        "run_id": run_id,
        "tables": tables,
        "views": {
            "plan": f"{base}{key}",
            # What the gold-records Lambda reads after the job (the specs stay in the file).
            "outputs": [
                {k: view[k] for k in ("view", "partition_columns", "partitions_out")}
                for view in views["views"]
            ],
        },
    }


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name", "input"}`` -> the run's tables and manifests (``input.tables``
    limits the run to those tables)."""
    config = SilverRuntime.from_environment()
    only = (event.get("input") or {}).get("tables")
    domain = load_domain_uri(config.domain_uri)
    return plan(
        control_store(config), boto3.client("s3"), config, event["execution_name"], domain, only
    )


def changes_read(store: ControlStore, control_ids: list[str]) -> dict[str, int] | None:
    """The bronze rows of each record (its ``record_count``), by control id; None when one
    is unknown (no count is made up)."""
    counts = {}
    for control_id in control_ids:
        record = store.get(control_id)
        if record is None or record.record_count is None:
            return None
        counts[control_id] = record.record_count
    return counts


def finish_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids"}`` after the table's commit -> records success
    with their rows in; publishes the table's files and rows in (see the module docstring)."""
    config = SilverRuntime.from_environment()
    store = control_store(config)
    ids = event["control_ids"]
    rows_in = changes_read(store, ids)
    count = finish_records(store, run_worker(LAYER, event["run_id"]), ids, rows_in=rows_in)
    metrics = MetricBatch(config.metric_namespace)
    metrics.files(LAYER, ControlStatus.SUCCESS, event["table"], count)
    if rows_in is not None:
        metrics.rows(LAYER, rows_in=sum(rows_in.values()))
    metrics.publish(boto3.client("cloudwatch"))
    return {"table": event["table"], "status": "success", "records": count}


def read_partitions(s3: Any, uri: str) -> set[tuple[int, ...]]:
    """The partitions the Spark job wrote as JSON text under ``uri`` (a folder of part files;
    none when the job wrote nothing there)."""
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    partitions: set[tuple[int, ...]] = set()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    partitions |= {tuple(int(v) for v in row) for row in json.loads(line)}
    return partitions


def register_gold_records(
    store: ControlStore, s3: Any, lake_bucket: str, run_id: str, outputs: list[dict[str, Any]]
) -> list[str]:
    """One pending gold control record per view the Spark job changed, naming the partitions
    it replaced (``register_view_commit``; the run names the commit, so a retry of the Lambda
    registers nothing new).

    ``outputs``: the plan's ``views.outputs`` (view, partition columns, partitions URI).
    """
    ids = []
    for output in outputs:
        ids += register_view_commit(
            store,
            lake_bucket,
            output["view"],
            output["partition_columns"],
            f"run-{run_id}",
            read_partitions(s3, output["partitions_out"]),
        )
    return ids


def gold_records_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "views": [{"view", "partition_columns", "partitions_out"}]}`` after the
    views -> pending gold records."""
    config = SilverRuntime.from_environment()
    ids = register_gold_records(
        control_store(config),
        boto3.client("s3"),
        config.lake_bucket,
        event["run_id"],
        event["views"],
    )
    return {"run_id": event["run_id"], "gold_records": len(ids)}


def fail_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run_id", "table", "control_ids", "error": {"Error", "Cause"}}`` -> records error;
    publishes the table's files as ``error``."""
    config = SilverRuntime.from_environment()
    store = control_store(config)
    message = failure_message(event.get("error"))
    count = fail_records(store, run_worker(LAYER, event["run_id"]), event["control_ids"], message)
    metrics = MetricBatch(config.metric_namespace)
    metrics.files(LAYER, ControlStatus.ERROR, event["table"], count)
    metrics.publish(boto3.client("cloudwatch"))
    return {"table": event["table"], "status": "error", "records": count}
