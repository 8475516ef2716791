"""Where objects live in the lake: prefixes and deterministic object keys.

    landing:  raw/<table>/[any/sub/path/]<name>.csv.gz | <name>.jsonl.gz
    lake:     bronze/<table>/year=YYYY/month=MM/day=DD/<name>-<id>.parquet
              quarantine/<table>/year=YYYY/month=MM/day=DD/<name>-<id>.jsonl.gz

Bronze and quarantine keys derive from the raw object's control record (its id and arrival
date), so a retry overwrites the same keys instead of writing a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datalake.contracts import RawFormat, get_contract

RAW_PREFIX = "raw/"
BRONZE_PREFIX = "bronze/"
QUARANTINE_PREFIX = "quarantine/"
RAW_SUFFIXES: dict[str, RawFormat] = {
    ".csv.gz": RawFormat.CSV,
    ".jsonl.gz": RawFormat.JSONL,
    ".json.gz": RawFormat.JSONL,
}
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


def parse_raw_key(key: str) -> RawObject:
    """Parse a landing key; raise :class:`RawKeyError` saying what is wrong."""
    if not key.startswith(RAW_PREFIX):
        raise RawKeyError(f"{key}: outside {RAW_PREFIX}<table>/; only raw/ keys are ingested")
    parts = key[len(RAW_PREFIX) :].split("/")
    if len(parts) < 2 or not parts[0] or not parts[-1]:
        raise RawKeyError(f"{key}: expected {RAW_PREFIX}<table>/<file>")
    table, name = parts[0], parts[-1]
    try:
        get_contract(table)
    except KeyError as error:
        raise RawKeyError(f"{key}: {error}") from None
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
