"""The streaming CDC path, defined once: the component gives these to Firehose and DMS, the
local delivery loop (``workloads/local/delivery.py``) evaluates the very same definitions.

    source database ──DMS Serverless (full-load-and-cdc, json-unformatted)──▶ Kinesis stream
      ──▶ Firehose: RecordDeAggregation (JSON) → MetadataExtraction (JQ: the table) →
          AppendDelimiterToRecord → GZIP, buffered per table
      ──▶ landing raw/<table>/cdc/YYYY/MM/DD/HH/<stream>-<n>-<time>-<uuid>.jsonl.gz
          (the same S3 notification as a batch file: controller, control table, bronze)
      ──▶ failed records: landing stream-errors/<error type>/YYYY/MM/DD/HH/ (kept, never
          dropped; ``datalake status`` counts them)

What DMS sends (one JSON object per Kinesis record)::

    {"data": {<column>: <value>, ...},
     "before-image": {<key column>: <value>},              (updates; pk-only, see below)
     "metadata": {"timestamp": "...Z", "record-type": "data" | "control",
                  "operation": "load" | "insert" | "update" | "delete" | <control operation>,
                  "partition-key-type": "primary-key", "schema-name": "...",
                  "table-name": "<table>", "transaction-id": 1139,
                  "transaction-record-id": 1, "prev-transaction-id": ...,
                  "commit-timestamp": "...Z", "stream-position": "..."}}

Bronze reads that envelope (``workloads/bronze/reader.py``); the identity and order of a change
are :data:`CHANGE_TIME_KEYS` then :data:`CHANGE_SEQUENCE_KEY`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from datalake.layout import RAW_PREFIX, STREAM_ERRORS_PREFIX

STREAM_PURPOSE = "cdc-stream"
"""``LakeNames.resource`` purpose of the Kinesis stream (``<project>-<env>-cdc-stream``)."""
DELIVERY_PURPOSE = "cdc-delivery"
"""Purpose of the Firehose delivery stream; also its role's and log group's."""
LOCAL_RUN_CHANGES = 400
"""Changes ``datalake local run`` streams by default, over all the domain's CDC tables."""
PARTITION_KEY = "table"
"""The one dynamic partitioning key: the domain table a change belongs to."""
METADATA_QUERY = '{table: .metadata["table-name"]}'
"""JQ (1.6) metadata extraction query over a DMS record: its table."""
JQ_ENGINE = "JQ-1.6"
CDC_FOLDER = "cdc"
"""Folder of streamed changes under a table's raw prefix (``raw/<table>/cdc/``)."""
_HOUR_PARTS = "!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
DELIVERY_PREFIX = (
    f"{RAW_PREFIX}!{{partitionKeyFromQuery:{PARTITION_KEY}}}/{CDC_FOLDER}/{_HOUR_PARTS}"
)
"""Firehose's S3 prefix expression (the object names follow it: ``<stream>-<version>-
<yyyy-MM-dd-HH-mm-ss>-<uuid>`` plus :data:`FILE_EXTENSION`)."""
ERROR_PREFIX = f"{STREAM_ERRORS_PREFIX}!{{firehose:error-output-type}}/{_HOUR_PARTS}"
"""Firehose's error output prefix: records it could not partition or deliver."""
PARTITIONING_FAILED = "partitioning-failed"
"""Error output type of a record whose table could not be extracted (not JSON, no table)."""
FILE_EXTENSION = ".jsonl.gz"
"""Delivered objects are gzip JSON lines: what the controller registers as ``jsonl``."""
COMPRESSION = "GZIP"
RECORD_DELIMITER = "\n"
PROCESSORS: tuple[dict[str, Any], ...] = (
    {"type": "RecordDeAggregation", "parameters": {"SubRecordType": "JSON"}},
    {
        "type": "MetadataExtraction",
        "parameters": {"MetadataExtractionQuery": METADATA_QUERY, "JsonParsingEngine": JQ_ENGINE},
    },
    {"type": "AppendDelimiterToRecord", "parameters": {}},
)
"""Firehose's processors, in order (parameters by name)."""

# The envelope's keys (DMS's names).
DATA_KEY = "data"
METADATA_KEY = "metadata"
BEFORE_IMAGE_KEY = "before-image"
RECORD_TYPE_KEY = "record-type"
TABLE_NAME_KEY = "table-name"
OPERATION_KEY = "operation"
CHANGE_TIME_KEYS = ("commit-timestamp", "timestamp")
"""The change's time: the source commit (with transaction details), else DMS's read time."""
CHANGE_SEQUENCE_KEY = "transaction-record-id"
"""The change's place in its transaction (0 when absent: a full-load row)."""
DMS_OPERATIONS: dict[str, str] = {
    "load": "insert",
    "insert": "insert",
    "i": "insert",
    "update": "update",
    "u": "update",
    "delete": "delete",
    "d": "delete",
}
"""Both vocabularies DMS writes (JSON targets and the I/U/D of file targets), lower-cased,
to the lake's operations; a full-load ``load`` row is an insert."""
DMS_OWN_TABLE = re.compile(r"^awsdms_")
"""DMS's own tables (``awsdms_apply_exceptions``...): skipped, never a domain table."""

_TIME_PARTS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_EXPRESSION = re.compile(r"!\{([a-zA-Z]+):([^}]*)\}")


class PrefixError(ValueError):
    """A prefix expression that cannot be evaluated for a record (what Firehose rejects)."""


def expand_prefix(
    template: str,
    *,
    at: datetime,
    keys: Mapping[str, str] | None = None,
    error_type: str | None = None,
) -> str:
    """Evaluate a Firehose prefix expression as Firehose does: ``!{timestamp:<format>}``
    (the record's arrival, UTC, formats of :data:`_TIME_PARTS`), ``!{partitionKeyFromQuery:k}``
    (a key the metadata query returned; missing or empty is a :class:`PrefixError`) and
    ``!{firehose:error-output-type}``."""
    parts = []
    for literal, namespace, argument in _compiled(template):
        parts.append(literal)
        if namespace == "timestamp":
            # The formats reach down to seconds: a record's second decides its text.
            parts.append(_time_text(argument, at.replace(microsecond=0)))
        elif namespace == "partitionKeyFromQuery":
            found = (keys or {}).get(argument)
            if not isinstance(found, str) or not found:
                raise PrefixError(f"partition key {argument!r} is missing or empty")
            parts.append(found)
        elif namespace == "firehose":
            if error_type is None:
                raise PrefixError("error-output-type outside the error prefix")
            parts.append(error_type)
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _time_text(code: str, second: datetime) -> str:
    return second.strftime(code)


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template as (literal text, expression namespace, argument) pieces, timestamp formats
    already translated to ``strftime`` codes: parsed once, not per record."""
    pieces: list[tuple[str, str | None, str]] = []
    position = 0
    for match in _EXPRESSION.finditer(template):
        namespace, argument = match[1], match[2]
        if namespace == "timestamp":
            if "%" in argument:
                raise PrefixError(f"unsupported timestamp format {argument!r}")
            for token, code in _TIME_PARTS.items():
                argument = argument.replace(token, code)
        elif (namespace, argument) != ("firehose", "error-output-type") and (
            namespace != "partitionKeyFromQuery"
        ):
            raise PrefixError(f"unsupported expression !{{{namespace}:{argument}}}")
        pieces.append((template[position : match.start()], namespace, argument))
        position = match.end()
    pieces.append((template[position:], None, ""))
    return tuple(pieces)


def cdc_tables(domain_tables: Iterable[Any]) -> list[str]:
    """Names of the tables that receive CDC (``cdc: true``), in domain order."""
    return [t.name for t in domain_tables if t.cdc]


def table_mappings(
    tables: Iterable[str], *, schema_name: str, source_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """DMS table mappings: include each CDC table from ``schema_name`` (its source name from
    ``source_names``, else its own) and rename it to the domain's name, so the envelope's
    ``table-name`` is the domain table."""
    rules: list[dict[str, Any]] = []
    for number, table in enumerate(tables, start=1):
        source = (source_names or {}).get(table, table)
        locator = {"schema-name": schema_name, "table-name": source}
        rules.append(
            {
                "rule-type": "selection",
                "rule-id": str(number),
                "rule-name": f"include-{table}",
                "object-locator": locator,
                "rule-action": "include",
            }
        )
        if source != table:
            rules.append(
                {
                    "rule-type": "transformation",
                    "rule-id": str(1000 + number),
                    "rule-name": f"rename-{table}",
                    "rule-target": "table",
                    "object-locator": locator,
                    "rule-action": "rename",
                    "value": table,
                }
            )
    return {"rules": rules}


KINESIS_TARGET_SETTINGS: dict[str, Any] = {
    "message_format": "json-unformatted",
    "include_transaction_details": True,
    "include_partition_value": True,
    "partition_include_schema_table": True,
    "include_control_details": True,
    "include_table_alter_operations": True,
    "include_null_and_empty": True,
}
"""The DMS Kinesis target endpoint's settings (one JSON object per line, with commit
timestamp, transaction id and record id, control records for DDL, nulls kept)."""

REPLICATION_SETTINGS: dict[str, Any] = {
    "Logging": {"EnableLogging": True},
    # Updates carry the key's before-image only: no second copy of the row's values (PII).
    "BeforeImageSettings": {
        "EnableBeforeImage": True,
        "FieldName": BEFORE_IMAGE_KEY,
        "ColumnFilter": "pk-only",
    },
}
"""DMS Serverless replication settings (task settings)."""
