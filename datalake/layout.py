"""Where objects live in the lake: every S3 prefix and deterministic object key.

    landing:    raw/<table>/[any/sub/path/]<name>.csv.gz | <name>.jsonl.gz
                raw/<table>/cdc/YYYY/MM/DD/HH/<name>.jsonl.gz          (streamed changes)
                stream-errors/<error type>/YYYY/MM/DD/HH/<name>        (records Firehose
                could not deliver; raw records: sealed like raw/)
    lake:       bronze/<table>/year=YYYY/month=MM/day=DD/<name>-<id>.parquet
                quarantine/<table>/year=YYYY/month=MM/day=DD/<name>-<id>.jsonl.gz
                silver/<table>/...   gold/<mart>/...   (Iceberg: the tables own their files)
                pii-verdicts/<table>/v<version>/<columns>.json
    artifacts:  silver/jobs/<sha256>/...   gold/jobs/<sha256>/...     (Spark job bundles)
                silver/runs/<run_id>/<table>.json|.changes, views.json, <view>.partitions
                gold/runs/<run_id>/marts.json                          (run manifests)
    observer:   access-logs/<bucket purpose>/...   athena-results/...
                emr-logs/silver/...   emr-logs/gold/...

Bronze and quarantine keys derive from the raw object's control record (its id and arrival
date), so a retry overwrites the same keys instead of writing a second copy. Components,
workloads and the CLI take these names from here; nothing else spells a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from datalake.contracts.model import RawFormat

RAW_PREFIX = "raw/"
STREAM_ERRORS_PREFIX = "stream-errors/"
"""Landing bucket: records the delivery stream could not partition or write."""
BRONZE_PREFIX = "bronze/"
QUARANTINE_PREFIX = "quarantine/"
SILVER_PREFIX = "silver/"
GOLD_PREFIX = "gold/"
PII_VERDICT_PREFIX = "pii-verdicts/"
DOMAIN_PREFIX = "domain/"
"""Artifacts bucket: the published domain documents, ``domain/<digest>.json``."""
"""Lake bucket: Comprehend/pattern verdicts per table version and column set."""
SILVER_JOBS_PREFIX = f"{SILVER_PREFIX}jobs/"
SILVER_RUNS_PREFIX = f"{SILVER_PREFIX}runs/"
GOLD_JOBS_PREFIX = f"{GOLD_PREFIX}jobs/"
GOLD_RUNS_PREFIX = f"{GOLD_PREFIX}runs/"
"""Artifacts bucket: Spark job bundles (by digest) and each run's manifests."""
ACCESS_LOGS_PREFIX = "access-logs/"
ATHENA_RESULTS_PREFIX = "athena-results/"
EMR_LOGS_PREFIX = "emr-logs/"
SILVER_EMR_LOGS_PREFIX = f"{EMR_LOGS_PREFIX}silver/"
GOLD_EMR_LOGS_PREFIX = f"{EMR_LOGS_PREFIX}gold/"
"""Observer bucket: server access logs, Athena query results, Spark event logs."""
LAYER_PREFIXES: dict[str, str] = {
    "raw": RAW_PREFIX,
    "bronze": BRONZE_PREFIX,
    "silver": SILVER_PREFIX,
    "gold": GOLD_PREFIX,
    "quarantine": QUARANTINE_PREFIX,
}
"""Prefix of each layer's data (raw in the landing bucket, the others in the lake bucket)."""
RAW_SUFFIXES: dict[str, RawFormat] = {
    ".csv.gz": RawFormat.CSV,
    ".jsonl.gz": RawFormat.JSONL,
    ".json.gz": RawFormat.JSONL,
}
_NAME = r"[a-z][a-z0-9_]*"
_VIEW_PARTITION = re.compile(rf"{SILVER_PREFIX}({_NAME})/((?:{_NAME}=\d+/)*{_NAME}=\d+)")
_VIEW_COMMIT = re.compile(rf"{SILVER_PREFIX}({_NAME})/commit=([^/]+)")
ID_IN_NAME = 12
"""Characters of the control id in bronze/quarantine names (keeps same-named files apart)."""


class RawKeyError(ValueError):
    """A landing key that is not ``raw/<known table>/...<name>.<csv|jsonl>.gz``."""


@dataclass(frozen=True)
class RawObject:
    """What a raw key says: table, file name stem and format."""

    key: str
    table: str
    source_name: str
    format: RawFormat


def parse_raw_key(key: str, tables: Collection[str] | None = None) -> RawObject:
    """Parse a landing key; raise :class:`RawKeyError` saying what is wrong.

    ``tables``: the domain's table names (a key naming another table is an error); None
    checks the shape only.
    """
    if not key.startswith(RAW_PREFIX):
        raise RawKeyError(f"{key}: outside {RAW_PREFIX}<table>/; only raw/ keys are ingested")
    parts = key[len(RAW_PREFIX) :].split("/")
    if len(parts) < 2 or not parts[0] or not parts[-1]:
        raise RawKeyError(f"{key}: expected {RAW_PREFIX}<table>/<file>")
    table, name = parts[0], parts[-1]
    if tables is not None and table not in tables:
        known = ", ".join(sorted(tables)) or "none"
        raise RawKeyError(f"{key}: unknown table {table!r}; known tables: {known}")
    for suffix, raw_format in RAW_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return RawObject(key, table, name[: -len(suffix)], raw_format)
    raise RawKeyError(f"{key}: unsupported file type; expected one of {', '.join(RAW_SUFFIXES)}")


def _partition(arrived: datetime) -> str:
    return f"year={arrived:%Y}/month={arrived:%m}/day={arrived:%d}"


def bronze_key(table: str, source_name: str, control_id: str, arrived: datetime) -> str:
    """Key of the one Parquet file written for a raw object."""
    name = f"{source_name}-{control_id[:ID_IN_NAME]}.parquet"
    return f"{BRONZE_PREFIX}{table}/{_partition(arrived)}/{name}"


def quarantine_key(table: str, source_name: str, control_id: str, arrived: datetime) -> str:
    """Key of the quarantined rows of a raw object (JSON lines, gzip)."""
    name = f"{source_name}-{control_id[:ID_IN_NAME]}.jsonl.gz"
    return f"{QUARANTINE_PREFIX}{table}/{_partition(arrived)}/{name}"


def layer_prefix(layer: str) -> str:
    """The prefix of a layer's data (a Glue database's location, a lifecycle rule's filter)."""
    return LAYER_PREFIXES[layer]


def raw_key(table: str, name: str) -> str:
    """Landing key of a raw file ``name`` (``<stem>.csv.gz`` or ``.jsonl.gz``) of ``table``."""
    return f"{RAW_PREFIX}{table}/{name}"


def access_logs_prefix(bucket_purpose: str) -> str:
    """Observer prefix of one bucket's server access logs."""
    return f"{ACCESS_LOGS_PREFIX}{bucket_purpose}/"


def silver_run_prefix(run_id: str) -> str:
    """Artifacts prefix of one silver run's manifests, change lists and partitions."""
    return f"{SILVER_RUNS_PREFIX}{run_id}/"


def gold_manifest_key(run_id: str) -> str:
    """Artifacts key of one gold run's manifest (every mart's SQL and spec)."""
    return f"{GOLD_RUNS_PREFIX}{run_id}/marts.json"


def view_commit_key(view: str, commit: str) -> str:
    """Object key a gold control record names: one commit of a view's Iceberg table.

    ``silver/<view>/commit=<commit>``; ``commit`` is what identifies the commit where the
    record is registered (the view's Iceberg snapshot id, or the silver run that wrote it), so
    registering the same commit again names the same key. The partitions it replaced are in the
    record (``ControlRecord.partitions``), not in the key.
    """
    if not commit or "/" in commit:
        raise ValueError(f"commit {commit!r} of view {view}: expected a non-empty name without /")
    return f"{SILVER_PREFIX}{view}/commit={commit}"


def view_commit_of(key: str) -> str | None:
    """The view a :func:`view_commit_key` names, or ``None``."""
    match = _VIEW_COMMIT.fullmatch(key)
    return None if match is None else match[1]


def view_partition_key(view: str, columns: Sequence[str], values: Sequence[int]) -> str:
    """Object key of a gold control record of one partition of a view (the format before a
    record named every partition of a view commit; gold still reads such records).

    ``silver/<view>/<column>=<value>/...``, values zero-padded to two digits
    (``silver/orders_flat/order_year=2024/order_month=03``).
    """
    if not columns or len(columns) != len(values):
        raise ValueError(f"partition {tuple(values)} does not match columns {tuple(columns)}")
    parts = "/".join(f"{c}={int(v):02d}" for c, v in zip(columns, values, strict=True))
    return f"{SILVER_PREFIX}{view}/{parts}"


def view_partition_of(key: str) -> tuple[str, tuple[int, ...]] | None:
    """The (view, partition values) a :func:`view_partition_key` names, or ``None``."""
    match = _VIEW_PARTITION.fullmatch(key)
    if match is None:
        return None
    values = tuple(int(part.split("=", 1)[1]) for part in match[2].split("/"))
    return match[1], values


def domain_key(digest: str) -> str:
    """Artifacts key of the domain document with ``digest`` (content-addressed: a changed
    domain is a new object, and the workloads move to it with their ``DATALAKE_DOMAIN``)."""
    return f"{DOMAIN_PREFIX}{digest}.json"
