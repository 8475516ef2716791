"""Firehose's record processors, as the local delivery loop runs them: RecordDeAggregation
(JSON) and MetadataExtraction (the shared ``METADATA_QUERY``, evaluated by the ``jq`` package).

A function returns None for a record (or a whole batch) it cannot process exactly; the loop
(``delivery.py``) then sends the record to the error prefix, or takes the per-record path.
"""

from __future__ import annotations

import json
from typing import Any

import jq

from datalake.streaming import METADATA_QUERY

_QUERY = jq.compile(METADATA_QUERY)
_SINGLE_QUERY = jq.compile(
    f'if type == "array" and length == 1 then .[0] | ({METADATA_QUERY}) '
    'else error("not one JSON value") end'
)
_DECODER = json.JSONDecoder()


def deaggregate(data: bytes) -> list[bytes] | None:
    """The JSON objects of one Kinesis record (DMS sends one; a producer may concatenate
    several), each as its original bytes; None when the record is not JSON throughout."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts: list[bytes] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position].isspace():
            position += 1
        if position == end:
            return parts or None
        try:
            _, stop = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):
            return None
        parts.append(text[position:stop].encode("utf-8"))
        position = stop


def single_object_keys(datas: list[bytes]) -> list[dict[str, str] | None] | None:
    """The metadata query's keys for records that are each exactly one JSON value, in one jq
    run; None (take the exact path) when any record is not, or the run fails.

    Each record is wrapped as ``[record]`` and must parse as an array of one element, so a
    record can neither span into its neighbour nor hold two values unnoticed."""
    if not datas:
        return []
    try:
        texts = [data.decode("utf-8") for data in datas]
    except UnicodeDecodeError:
        return None
    if any(not text.strip() for text in texts):
        return None
    try:
        found = _SINGLE_QUERY.input_text("\n".join(f"[{text}]" for text in texts)).all()
    except ValueError:
        return None
    if len(found) != len(texts):
        return None
    return [_keys(value) for value in found]


def query_keys(parts: list[bytes]) -> list[dict[str, str] | None]:
    """The metadata query's partition keys for each JSON text (None where it fails): one jq
    run over all of them, record by record only when that run fails."""
    if not parts:
        return []
    try:
        found = _QUERY.input_text(b"\n".join(parts).decode("utf-8")).all()
        if len(found) == len(parts):
            return [_keys(value) for value in found]
    except ValueError:
        pass
    out: list[dict[str, str] | None] = []
    for part in parts:
        try:
            out.append(_keys(_QUERY.input_text(part.decode("utf-8")).first()))
        except (ValueError, StopIteration):
            out.append(None)
    return out


def _keys(value: Any) -> dict[str, str] | None:
    """The query's result as partition keys: a missing or non-text value is left out, so
    :func:`expand_prefix` reports it missing."""
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if isinstance(v, str)}
