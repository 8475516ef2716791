"""Entry points: the controller and lite-ingest Lambda handlers, and the ECS task's main.

These are the exact functions the ``BronzeZone`` component deploys:
``workloads.bronze.handlers.controller_handler``, ``workloads.bronze.handlers.ingest_handler``
and ``python -m workloads.bronze`` in the container. Their environment is
:class:`datalake.runtime.BronzeRuntime` (and :class:`~datalake.runtime.PiiRuntime` for the
ingest workers, :class:`~datalake.runtime.IngestTask` for the container); the domain comes from
the runtime's ``DATALAKE_DOMAIN`` (read once per container).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities.data_classes import S3Event

from datalake.domain import load_domain_uri
from datalake.runtime import BronzeRuntime, IngestTask, PiiRuntime, RuntimeConfigError

from ..pii.masker import PiiMasker
from ..pii.runtime import build_masker
from ..shared.metrics import MetricBatch
from ..shared.runs import control_store
from .controller import register_object
from .runtime import use_lean_memory_pool
from .worker import IngestWorker

logging.getLogger().setLevel(logging.INFO)
use_lean_memory_pool()  # once per Lambda container / ECS task, before any batch is read


def controller_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """S3 ``ObjectCreated`` notification -> one control record per object."""
    if "Records" not in event:  # s3:TestEvent, sent when the notification is configured
        return {"registered": []}
    config = BronzeRuntime.from_environment()
    store, s3 = control_store(config), boto3.client("s3")
    domain = load_domain_uri(config.domain_uri)
    registered, metrics = [], MetricBatch(config.metric_namespace)
    for record in S3Event(event).records:
        if not record.event_name.startswith("ObjectCreated"):
            continue
        control = register_object(
            store,
            s3,
            bucket=record.s3.bucket.name,
            # Keys arrive URL-encoded; powertools decodes only S3Event.object_key (first record).
            key=unquote_plus(record.s3.get_object.key),
            arrived=_event_time(record.event_time),
            mass_threshold_records=config.mass_threshold_records,
            domain=domain,
        )
        if control.attempts == 0:  # registered now, not a redelivered event's existing record
            metrics.file(control)
        registered.append(
            {
                "control_id": control.control_id,
                "key": control.object_key,
                "status": control.status.value,
                "compute_target": control.compute_target,
                "record_count": control.record_count,
            }
        )
    if registered:  # one request for the event's objects
        metrics.publish(boto3.client("cloudwatch"))
    return {"registered": registered}


def _event_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@functools.lru_cache(maxsize=4)
def _masker(pii_settings: str) -> PiiMasker:
    """One masker per warm Lambda container or task: the HMAC key is read from Secrets
    Manager once, and PII verdicts stay in memory between files."""
    pii = PiiRuntime.model_validate_json(pii_settings)
    return build_masker(
        pii,
        s3=boto3.client("s3"),
        secrets=boto3.client("secretsmanager"),
        comprehend=boto3.client("comprehend") if pii.comprehend_enabled else None,
    )


def _worker(config: BronzeRuntime, worker_id: str) -> IngestWorker:
    s3 = boto3.client("s3")
    masker = _masker(PiiRuntime.from_environment().model_dump_json())
    return IngestWorker(
        store=control_store(config),
        s3=s3,
        cloudwatch=boto3.client("cloudwatch"),
        lake_bucket=config.lake_bucket,
        masker=masker,
        worker_id=worker_id,
        domain=load_domain_uri(config.domain_uri),
        metric_namespace=config.metric_namespace,
    )


def ingest_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"control_id": ...}`` from the state machine -> ingest on Lambda ("lite")."""
    config = BronzeRuntime.from_environment()
    worker_id = f"lambda:{getattr(context, 'aws_request_id', uuid.uuid4().hex)}"
    done = _worker(config, worker_id).run(event["control_id"])
    if done is None:
        return {"control_id": event["control_id"], "status": "skipped"}
    return {
        "control_id": done.control_id,
        "status": done.status.value,
        "rows_in": done.rows_in,
        "rows_written": done.rows_written,
        "rows_quarantined": done.rows_quarantined,
        "rows_skipped": done.rows_skipped,
    }


def container_main() -> int:
    """ECS Fargate task ("mass"): ``CONTROL_ID`` is set by the state machine's override."""
    try:
        task = IngestTask.from_environment()
    except RuntimeConfigError as error:
        print(f"error: CONTROL_ID is not set ({error})", file=sys.stderr)
        return 2
    config = BronzeRuntime.from_environment()
    worker_id = f"ecs:{os.environ.get('HOSTNAME', uuid.uuid4().hex)}"
    done = _worker(config, worker_id).run(task.control_id)
    print(f"{task.control_id}: {'skipped' if done is None else done.status.value}")
    return 0
