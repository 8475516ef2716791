"""Operating a deployed lake: seed data, start and follow runs, inspect and repair records.

The same functions work against real AWS and against any endpoint that speaks the AWS APIs
(moto's server, an emulator): the caller builds the boto3 clients (:class:`Aws`) and passes
them in. The names of the deployed resources come from the stack outputs
(``datalake/stack_outputs.py``), never from guessing, so the code needs no Pulumi import.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from datalake.control import ControlRecord, ControlStatus, ControlStore, utc_now
from datalake.domain import Domain, DomainError, load_domain
from datalake.inputs import InputError, input_files
from datalake.layout import STREAM_ERRORS_PREFIX
from datalake.naming import Layer
from datalake.settings import SettingsError
from datalake.stack import domain_path
from datalake.stack_file import load_stack_file
from datalake.stack_outputs import LakeOutputs, OperationsError

PROCESSING_LAYERS = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
"""Step Functions execution statuses that end a wait (``RUNNING``, ``PENDING_REDRIVE`` do not)."""


class Aws:
    """boto3 clients and resources for one region and (optionally) one endpoint.

    ``endpoint_url`` points every client at an emulator (moto's server, LocalStack...); without
    it boto3 resolves endpoints as usual (including ``AWS_ENDPOINT_URL``).
    """

    def __init__(self, region: str | None = None, endpoint_url: str | None = None):
        self.session = boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def resource(self, service: str) -> Any:
        return self.session.resource(service, endpoint_url=self.endpoint_url)

    def control_store(self, outputs: LakeOutputs) -> ControlStore:
        return ControlStore(self.resource("dynamodb").Table(outputs.control_table_name))


# --- the domain ------------------------------------------------------------------------------


def operated_domain(domain_file: Path | None = None, stack_file: Path | None = None) -> Domain:
    """The domain of the lake being operated: ``domain_file``; else the one the stack file
    names (``datalake:lake.domain``, relative to the stack file's folder); else the example
    shipped with the library. Raises :class:`OperationsError` with the domain file's problems."""
    try:
        if domain_file is None and stack_file is not None:
            settings = load_stack_file(stack_file)
            domain_file = domain_path(settings.domain, stack_file.resolve().parent)
        return load_domain(domain_file or domain_path(None, "."))
    except (DomainError, SettingsError) as error:
        raise OperationsError(str(error)) from None


# --- seed data ---------------------------------------------------------------------------------


def upload_input(s3: Any, landing_bucket: str, domain: Domain, folder: Path) -> list[str]:
    """Upload an input folder's raw files to ``raw/<table>/...``, in landing order (batch files
    first, then changes; ``datalake/inputs.py``). Returns the keys, in upload order.

    Gzip files upload as they are; plain ``.csv``/``.jsonl`` files are gzipped (no timestamp:
    the same file gives the same bytes, so uploading it again is registered as a duplicate).
    """
    try:
        files = input_files(domain, folder)
    except InputError as error:
        raise OperationsError(str(error)) from None
    for file in files:
        if file.path.name.endswith(".gz"):
            s3.upload_file(str(file.path), landing_bucket, file.key)
        else:
            s3.put_object(Bucket=landing_bucket, Key=file.key, Body=file.body())
    return [file.key for file in files]


# --- processing runs ---------------------------------------------------------------------------


def known_tables(layer: str, domain: Domain) -> tuple[str, ...]:
    """Tables a run of ``layer`` can be limited to: the domain's tables (silver; their views
    follow) or its marts (gold)."""
    if layer == Layer.SILVER:
        return tuple(domain.tables)
    if layer == Layer.GOLD:
        return tuple(mart.name for mart in domain.marts)
    raise OperationsError(f"runs are started for silver or gold, not {layer}")


def parse_tables(layer: str, text: str | None, domain: Domain) -> list[str] | None:
    """``"a,b, a"`` -> ``["a", "b"]``, checked against :func:`known_tables` of ``domain``."""
    if text is None:
        return None
    tables = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not tables:
        raise OperationsError("--tables is empty; omit it to process every table")
    known = known_tables(layer, domain)
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise OperationsError(
            f"unknown {layer} table(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return tables


def execution_name(purpose: str = "cli") -> str:
    """Unique, sortable, says who started it: ``cli-20260301T120000Z-1a2b3c4d``.

    Runs use their execution name as run id (``silver/runs/<name>/``), so it shows up there too.
    """
    return f"{purpose}-{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start_processing(
    sfn: Any,
    state_machine_arn: str,
    *,
    tables: Sequence[str] | None = None,
    name: str | None = None,
) -> str:
    """Start a run; input ``{"tables": [...]}`` when given, else ``{}``. Returns its ARN."""
    payload: dict[str, Any] = {"tables": list(tables)} if tables else {}
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or execution_name(),
        input=json.dumps(payload),
    )
    return str(response["executionArn"])


def wait_for(sfn: Any, execution_arn: str, poll_seconds: float, timeout_seconds: float) -> str:
    """Poll until the execution ends; return its final status (``SUCCEEDED``, ``FAILED``...).

    Raises :class:`OperationsError` when it is still running after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
        if status in FINAL_STATUSES:
            return status
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OperationsError(
                f"execution {execution_arn} is still {status} after {timeout_seconds:g} s"
            )
        time.sleep(min(poll_seconds, remaining))


def execution_failure(sfn: Any, execution_arn: str) -> str:
    """``error: cause`` of a finished execution that did not succeed (one line)."""
    description = sfn.describe_execution(executionArn=execution_arn)
    parts = [str(description[k]) for k in ("error", "cause") if description.get(k)]
    return " ".join(": ".join(parts).split()) or "no error reported"


# --- control records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    layer: str
    table: str
    status: str
    count: int


@dataclass(frozen=True)
class ErrorRow:
    control_id: str
    layer: str
    table: str
    key: str
    attempts: int
    retryable: bool
    error: str
    updated_at: datetime


@dataclass(frozen=True)
class SkippedRows:
    table: str
    rows: int
    """Records bronze skipped in the table's ingested objects: DMS control records and rows
    of DMS's own tables (``awsdms_*``), no rows of the table."""


@dataclass(frozen=True)
class QuarantinedRows:
    table: str
    rule: str
    """A quarantine reason without its value (``workloads/bronze/reasons.py``), or ``other``."""
    rows: int
    """Rows quarantined under the rule in the table's ingested objects (a row that broke two
    rules counts under both)."""


STATUS_RULES = 10
"""Rules ``datalake status`` lists: those with the most quarantined rows."""


@dataclass(frozen=True)
class StatusSummary:
    counts: list[StatusCount]
    """Per (layer, table, status), non-zero only; layers in data-flow order, then by table."""
    errors: list[ErrorRow]
    """The most recent records in error, newest first."""
    skipped: list[SkippedRows] = field(default_factory=list)
    """Per table with any, by table: records bronze skipped (successful records)."""
    quarantined: list[QuarantinedRows] = field(default_factory=list)
    """The :data:`STATUS_RULES` (table, rule) with the most rows quarantined, most first
    (successful bronze records that carry their rules)."""


def status_summary(store: ControlStore, *, errors: int = 10) -> StatusSummary:
    """Count every layer's records by table and status; keep the last ``errors`` failures."""
    counts: Counter[tuple[str, str, str]] = Counter()
    skipped: Counter[str] = Counter()
    quarantined: Counter[tuple[str, str]] = Counter()
    failed: list[ControlRecord] = []
    for layer in PROCESSING_LAYERS:
        for status in ControlStatus:
            for record in store.by_status(layer.value, status):
                counts[(layer.value, record.table_name, status.value)] += 1
                if status is ControlStatus.ERROR:
                    failed.append(record)
                elif status is ControlStatus.SUCCESS:
                    skipped[record.table_name] += record.rows_skipped or 0
                    for rule, count in record.quarantine_rules.items():
                        quarantined[(record.table_name, rule)] += count
    layer_order = {layer.value: i for i, layer in enumerate(PROCESSING_LAYERS)}
    status_order = {status.value: i for i, status in enumerate(ControlStatus)}
    rows = [
        StatusCount(layer, table, status, count)
        for (layer, table, status), count in sorted(
            counts.items(),
            key=lambda item: (layer_order[item[0][0]], item[0][1], status_order[item[0][2]]),
        )
    ]
    failed.sort(key=lambda r: r.updated_at, reverse=True)
    return StatusSummary(
        counts=rows,
        errors=[
            ErrorRow(
                control_id=r.control_id,
                layer=r.layer,
                table=r.table_name,
                key=r.object_key,
                attempts=r.attempts,
                retryable=r.retryable,
                error=r.error or "",
                updated_at=r.updated_at,
            )
            for r in failed[: max(errors, 0)]
        ],
        skipped=[SkippedRows(table, n) for table, n in sorted(skipped.items()) if n],
        quarantined=[
            QuarantinedRows(table, rule, n)
            for (table, rule), n in sorted(
                quarantined.items(), key=lambda item: (-item[1], item[0])
            )[:STATUS_RULES]
        ],
    )


@dataclass(frozen=True)
class StreamErrorCount:
    """What the delivery stream wrote under one error type of ``stream-errors/``."""

    error_type: str
    objects: int
    records: int | None
    """Failed records in them; None when these credentials may list the objects but not read
    them (outside the lake's roles: they hold raw records)."""
    latest_key: str
    latest_at: datetime


def stream_error_counts(s3: Any, landing_bucket: str) -> list[StreamErrorCount]:
    """Objects and records per error type under the landing bucket's ``stream-errors/``
    (records Firehose could not partition or write), error types by name. Only lines are
    counted: a record's content is never returned."""
    found: dict[str, list[dict[str, Any]]] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=landing_bucket, Prefix=STREAM_ERRORS_PREFIX
    )
    for page in pages:
        for item in page.get("Contents", []):
            error_type = item["Key"][len(STREAM_ERRORS_PREFIX) :].split("/", 1)[0]
            found.setdefault(error_type, []).append(item)
    readable = True
    counts = []
    for error_type, items in sorted(found.items()):
        records: int | None = 0
        for item in items:
            lines = _record_lines(s3, landing_bucket, item["Key"]) if readable else None
            if lines is None:
                readable, records = False, None
                break
            records = (records or 0) + lines
        latest = max(items, key=lambda i: (i["LastModified"], i["Key"]))
        counts.append(
            StreamErrorCount(error_type, len(items), records, latest["Key"], latest["LastModified"])
        )
    return counts


def _record_lines(s3: Any, bucket: str, key: str) -> int | None:
    """Non-empty lines of an error object (gzip or not); None when it may not be read."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
            return None
        raise
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return sum(1 for line in body.splitlines() if line.strip())


def reprocess(store: ControlStore, control_id: str) -> ControlRecord:
    """Put a failed record back to ``pending`` with its attempts reset, for another try.

    An operator's override, outside the workers' transitions (:meth:`ControlStore.requeue`:
    conditional on the record still being in error; clears the error, claim and lease and
    marks it retryable). Silver and gold runs claim pending records on their next run; a
    bronze record needs its ingestion started (:func:`start_ingestion`), since only new
    records trigger it.
    """
    current = store.get(control_id)
    if current is None:
        raise OperationsError(f"control record {control_id} does not exist")
    if current.status is not ControlStatus.ERROR:
        raise OperationsError(
            f"control record {control_id} is {current.status.value}, not error: "
            "only failed records can be reprocessed"
        )
    if current.layer == Layer.BRONZE and current.record_count is None:
        raise OperationsError(
            f"control record {control_id}: the controller could not read {current.object_key} "
            f"({current.error}); fix the file and upload it again (a new object is a new record)"
        )
    requeued = store.requeue(control_id, current=current)
    if requeued is None:
        latest = store.get(control_id)
        now = latest.status.value if latest else "deleted"
        raise OperationsError(
            f"control record {control_id} changed while reprocessing it: it is now {now}"
        )
    return requeued


def start_ingestion(sfn: Any, state_machine_arn: str, record: ControlRecord) -> str:
    """Start bronze ingestion of one record, with the input the control-table pipe sends."""
    payload = {"control_id": record.control_id, "record_count": record.record_count or 0}
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution_name("reprocess"),
        input=json.dumps(payload),
    )
    return str(response["executionArn"])
