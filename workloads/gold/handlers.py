"""Lambda handlers of the gold state machine (AWS path, Spark on EMR Serverless).

- ``plan_handler``: claims the pending gold records, writes the run's manifest (each mart's
  source view, period columns, SQL and table spec; the partitions of each view to replace)
  and returns the marts to build: every mart of each view with pending partitions;
- ``finish_handler`` / ``fail_handler``: mark the run's records success or error.

Their environment is :class:`datalake.runtime.GoldRuntime`; the marts come from the domain
it names (``load_domain_uri(runtime.domain_uri)``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import boto3

from datalake.control import ControlStore
from datalake.domain import Domain, load_domain_uri
from datalake.layout import gold_manifest_key
from datalake.runtime import GoldRuntime

from ..shared.runs import (
    claim_records,
    control_store,
    fail_records,
    failure_message,
    finish_records,
    run_worker,
)
from ..shared.tables import spark_spec, table_properties
from .pipeline import LAYER, pending_partitions
from .spark_job import PARTITIONS, SOURCE

SNAPSHOT_RETENTION_DAYS, MIN_SNAPSHOTS_TO_KEEP = 7, 5
"""Marts are replaced whole periods at a time: the Iceberg defaults keep enough history."""


def manifest(
    domain: Domain,
    properties: dict[str, str],
    partitions: Mapping[str, Sequence[Sequence[int]]],
) -> dict[str, Any]:
    """The run's manifest for the Spark job: every mart's source view, period and partition
    columns, SQL (with placeholders for the source table and the partition condition) and
    table spec, and the partitions of each view to replace (a view absent has none)."""
    return {
        "marts": {
            mart.name: {
                "source": mart.source,
                "period": list(mart.period),
                "partition_columns": list(mart.partition_columns),
                "sql": mart.sql(SOURCE, PARTITIONS),
                "spec": spark_spec(mart.contract, properties, audit=False),
            }
            for mart in domain.marts
        },
        "partitions": {view: [list(p) for p in values] for view, values in partitions.items()},
    }


def plan(
    store: ControlStore, s3: Any, config: GoldRuntime, run_id: str, domain: Domain
) -> dict[str, Any]:
    """Claim the pending gold records; write the manifest; return the marts to build.

    ``marts`` names, view by view (sorted), every mart of each view with pending partitions
    (the partitions are in the manifest, which the state machine's payload limit never sees).
    Records of a view without marts succeed at once; records naming no view of the domain are
    marked error. ``control_ids`` are the records the run settles.
    """
    worker = run_worker(LAYER, run_id)
    pending = pending_partitions(domain, claim_records(store, LAYER, worker))
    for control_id, reason in sorted(pending.unknown.items()):
        fail_records(store, worker, [control_id], reason)
    marts: list[str] = []
    control_ids: list[str] = []
    for view in pending.partitions:
        if not domain.marts_of(view):  # nothing reads this view: nothing to rebuild
            finish_records(store, worker, pending.control_ids[view])
            continue
        marts += [mart.name for mart in domain.marts_of(view)]
        control_ids += pending.control_ids[view]
    key = gold_manifest_key(run_id)
    properties = table_properties(
        config.target_file_size_mb, SNAPSHOT_RETENTION_DAYS, MIN_SNAPSHOTS_TO_KEEP
    )
    body = json.dumps(manifest(domain, properties, pending.partitions)).encode()
    s3.put_object(Bucket=config.artifacts_bucket, Key=key, Body=body)
    return {
        "run_id": run_id,
        "marts": marts,
        "control_ids": control_ids,
        "manifest": f"s3://{config.artifacts_bucket}/{key}",
    }


def plan_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"execution_name": ...}`` -> the marts to build, control ids and the manifest."""
    config = GoldRuntime.from_environment()
    domain = load_domain_uri(config.domain_uri)
    return plan(control_store(config), boto3.client("s3"), config, event["execution_name"], domain)


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
