"""DMS-shaped change events for a CDC table of the domain: what DMS would put on the stream.

:func:`generate_changes` plays the source database: transactions of one to three changes
(inserts of new keys, updates and deletes of live keys) with DMS's envelope and transaction
details (``datalake/streaming.py`` describes it), values valid for the table's contract::

    {"data": {<every column>}, "metadata": {"operation": "insert", ...}}       insert
    {"data": {<every column>}, "before-image": {<key>}, "metadata": {...}}     update
    {"data": {<key only>}, "metadata": {"operation": "delete", ...}}           delete

It is pure and deterministic: the same contract, existing rows, ``seed`` and ``start`` give the
same events (the values depend on ``seed`` only, the times on ``start`` too). Commit
timestamps increase from ``start``; give a start after the batch files' arrival, or every
change is late against the batch rows. ``datalake/live_rows.py`` reads the live rows of a
table from input files: the keys the changes update and delete, and the values new rows
borrow (foreign keys, categories; never a PII value).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from datalake.change_values import draw_value, timestamp_text, valid_value
from datalake.contracts import Column, ColumnType, TableContract
from datalake.live_rows import json_rows
from datalake.streaming import (
    BEFORE_IMAGE_KEY,
    CHANGE_SEQUENCE_KEY,
    DATA_KEY,
    METADATA_KEY,
    OPERATION_KEY,
    RECORD_TYPE_KEY,
    TABLE_NAME_KEY,
    cdc_tables,
)

if TYPE_CHECKING:
    from datalake.domain import Domain

DEFAULT_MIX = (0.15, 0.75, 0.10)
"""Shares of inserts (new keys), updates and deletes (of live keys)."""
SCHEMA_NAME = "public"
PARTITION_KEY_MAX = 256
"""Kinesis' longest partition key."""
TRANSACTION_SIZES = (1, 1, 1, 2, 2, 3)
"""Changes per transaction, drawn uniformly: mostly single-row transactions."""
SAME_KEY_SHARE = 0.3
"""Of the updates: the share that changes a recently changed key again (hot rows)."""
BORROWED_SHARE = 0.8
"""Of the values of a non-PII column: the share borrowed from existing rows (categories,
foreign keys, plausible numbers); the rest are drawn from the column's type and bounds."""
OBSERVED_ROWS = 1_000
"""Rows of the existing table whose values new rows and updates borrow."""
_FIRST_TRANSACTION = 1_000
_DMS_TYPES = {"long": "INT8", "double": "REAL8", "string": "STRING", "timestamp": "DATETIME"}


class ChangeError(ValueError):
    """Changes that cannot be generated (an unknown or non-CDC table, a bad mix)."""


def cdc_contract(domain: Domain, table: str) -> TableContract:
    """The contract of ``table`` if it receives CDC; else :class:`ChangeError` naming them."""
    allowed = cdc_tables(domain.tables.values())
    listed = ", ".join(allowed) or "none"
    if table not in domain.tables:
        raise ChangeError(
            f"unknown table {table!r} in domain {domain.name!r}; its CDC tables: {listed}"
        )
    if table not in allowed:
        raise ChangeError(
            f"table {table!r} of domain {domain.name!r} receives no CDC (cdc: false); "
            f"its CDC tables: {listed}"
        )
    return domain.tables[table]


def generate_changes(
    contract: TableContract,
    existing: Any = (),
    *,
    count: int,
    seed: int,
    start: datetime,
    mix: Sequence[float] = DEFAULT_MIX,
    full_load: bool = False,
    schema_name: str = SCHEMA_NAME,
) -> list[dict[str, Any]]:
    """``count`` DMS change records of ``contract``'s table on ``existing`` rows.

    ``existing`` is the table's live rows: an Arrow table, a sequence of row mappings, or a
    sequence of keys (a tuple per key for a composite key). ``mix`` weighs inserts, updates
    and deletes; with no live key left a change is an insert. ``full_load`` first sends the
    existing rows as ``load`` records (no transaction, no commit timestamp), as DMS's full load
    does; they are not part of ``count``.
    """
    if count < 0:
        raise ChangeError(f"count must not be negative, not {count}")
    weights = [float(w) for w in mix]
    if len(weights) != 3 or any(w < 0 or not math.isfinite(w) for w in weights) or not sum(weights):
        raise ChangeError(f"mix must be 3 non-negative weights (insert, update, delete), not {mix}")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    rng = random.Random(f"{seed}:{contract.name}")
    generator = _Generator(contract, rng, schema_name)
    limit = None if full_load else OBSERVED_ROWS
    rows, next_key = json_rows(contract, existing, rng, limit=limit)
    generator.load(rows, next_key)
    records: list[dict[str, Any]] = []
    clock = start
    if full_load:
        for row in rows:
            clock += timedelta(microseconds=rng.randint(5, 50))
            records.append(generator.envelope("load", dict(row), None, clock, None))
    records.extend(generator.changes(count, weights, clock))
    return records


def control_record(
    contract: TableContract,
    *,
    at: datetime,
    operation: str = "create-table",
    schema_name: str = SCHEMA_NAME,
) -> dict[str, Any]:
    """A DMS control record (here: the table's definition, as DMS sends on a DDL change)."""
    columns = {
        c.name: {"type": _DMS_TYPES[c.type.value], "nullable": c.nullable} for c in contract.columns
    }
    return {
        "control": {"table-def": {"columns": columns, "primary-key": list(contract.primary_key)}},
        METADATA_KEY: {
            "timestamp": timestamp_text(at),
            RECORD_TYPE_KEY: "control",
            OPERATION_KEY: operation,
            "partition-key-type": "task-id",
            "schema-name": schema_name,
            TABLE_NAME_KEY: contract.name,
        },
    }


def partition_key(record: Mapping[str, Any], contract: TableContract) -> str:
    """The Kinesis partition key DMS gives a record: ``<schema>.<table>.<primary key>``
    (``PartitionIncludeSchemaTable``); a control record's is ``<schema>.<table>``."""
    metadata = record.get(METADATA_KEY) or {}
    parts = [str(metadata.get("schema-name", SCHEMA_NAME)), contract.name]
    data = record.get(DATA_KEY)
    if isinstance(data, Mapping):
        parts += [str(data.get(k)) for k in contract.primary_key]
    return ".".join(parts)[:PARTITION_KEY_MAX]


def to_line(record: Mapping[str, Any]) -> str:
    """A record as DMS writes it: compact JSON, one line (``json-unformatted``)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def operation_counts(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Records per DMS operation (``insert``, ``update``, ``delete``, ``load``...)."""
    return Counter(str(r.get(METADATA_KEY, {}).get(OPERATION_KEY)) for r in records)


class _Generator:
    """The state of one table while changes are drawn: live keys, their rows, the clock."""

    def __init__(self, contract: TableContract, rng: random.Random, schema_name: str):
        self.contract, self.rng, self.schema = contract, rng, schema_name
        self.keys: list[Any] = []
        self.rows: dict[Any, dict[str, Any]] = {}
        self.index: dict[Any, int] = {}
        self.recent: list[Any] = []
        self.observed: dict[str, list[Any]] = {}
        self.ranges: dict[str, tuple[float, float]] = {}
        self.nullish: set[str] = set()
        """Columns some existing rows leave empty, or all with no rows: a draw may be empty."""
        self.next_key: Any = None
        self.serial = 0
        self.transaction = _FIRST_TRANSACTION + rng.randrange(1_000_000)
        self.lsn = rng.randrange(1 << 32, 1 << 40)
        self.previous: tuple[int, int] | None = None
        self.values = [c for c in contract.columns if c.name not in contract.primary_key]

    def load(self, rows: list[dict[str, Any]], next_key: Any) -> None:
        for row in rows:
            self._add(self._key(row), row)
        self.next_key = next_key
        sample = rows[:OBSERVED_ROWS]
        for column in self.values:
            seen = [row.get(column.name) for row in sample]
            if not sample or any(v is None for v in seen):
                self.nullish.add(column.name)  # empty in some rows (or no rows to tell)
            if column.is_pii:
                continue  # a person's value is never copied onto another row
            values = self.observed[column.name] = [v for v in seen if valid_value(column, v)]
            numbers = [v for v in values if isinstance(v, int | float)]
            if numbers:
                self.ranges[column.name] = (min(numbers), max(numbers))

    def changes(self, count: int, weights: list[float], clock: datetime) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < count:
            size = min(self.rng.choice(TRANSACTION_SIZES), count - len(out))
            clock += timedelta(microseconds=self.rng.randint(1_000, 200_000))
            self.transaction += self.rng.randint(1, 3)
            inserted: Any = None
            for number in range(1, size + 1):
                operation = self._operation(weights)
                if operation == "update" and inserted is not None and self.rng.random() < 0.3:
                    key = inserted  # the same transaction inserts a row, then updates it
                else:
                    key = None
                data, before, key = self._change(operation, key)
                inserted = key if operation == "insert" else inserted
                out.append(self.envelope(operation, data, before, clock, number))
        return out

    def _operation(self, weights: list[float]) -> str:
        if not self.keys:
            return "insert"
        return self.rng.choices(("insert", "update", "delete"), weights)[0]

    def _change(self, operation: str, key: Any) -> tuple[dict[str, Any], Any, Any]:
        contract = self.contract
        if operation == "insert":
            key = self._new_key()
            row = {**self._key_columns(key), **{c.name: self._value(c) for c in self.values}}
            self._add(key, row)
            return dict(row), None, key
        if key is None or key not in self.rows:
            key = self._pick()
        old = self.rows[key]
        self._touch(key)
        before = {k: old[k] for k in contract.primary_key}
        if operation == "delete":
            self._remove(key)
            return dict(before), None, key
        row = dict(old)
        for column in self.rng.sample(self.values, min(len(self.values), self.rng.randint(1, 2))):
            row[column.name] = self._value(column, differing=old.get(column.name))
        # An update carries the whole row (a column it does not know is drawn anew).
        for column in self.values:
            if column.name not in row:
                row[column.name] = self._value(column)
        self.rows[key] = row
        return dict(row), before, key

    def envelope(
        self,
        operation: str,
        data: dict[str, Any],
        before: dict[str, Any] | None,
        commit: datetime,
        number: int | None,
    ) -> dict[str, Any]:
        """The DMS record; ``number`` is the place in the transaction (None: a full load)."""
        read = commit + timedelta(microseconds=self.rng.randint(500, 5_000))
        metadata: dict[str, Any] = {
            "timestamp": timestamp_text(read if number is not None else commit),
            RECORD_TYPE_KEY: "data",
            OPERATION_KEY: operation,
            "partition-key-type": "primary-key",
            "schema-name": self.schema,
            TABLE_NAME_KEY: self.contract.name,
        }
        if number is not None:
            commit_lsn = self.lsn
            self.lsn += self.rng.randint(40, 400)
            metadata["transaction-id"] = self.transaction
            metadata[CHANGE_SEQUENCE_KEY] = number
            if self.previous is not None:
                metadata["prev-transaction-id"], metadata["prev-transaction-record-id"] = (
                    self.previous
                )
            metadata["commit-timestamp"] = timestamp_text(commit)
            metadata["stream-position"] = f"{_lsn(commit_lsn)}.{number}.{_lsn(self.lsn)}"
            self.previous = (self.transaction, number)
        record: dict[str, Any] = {DATA_KEY: data}
        if before is not None:
            record[BEFORE_IMAGE_KEY] = before
        record[METADATA_KEY] = metadata
        return record

    # --- keys and values ------------------------------------------------------------------

    def _key(self, row: Mapping[str, Any]) -> Any:
        values = tuple(row[k] for k in self.contract.primary_key)
        return values[0] if len(values) == 1 else values

    def _key_columns(self, key: Any) -> dict[str, Any]:
        values = key if isinstance(key, tuple) else (key,)
        return dict(zip(self.contract.primary_key, values, strict=True))

    def _add(self, key: Any, row: dict[str, Any]) -> None:
        if key in self.rows:
            self.rows[key] = row
            return
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.rows[key] = row

    def _remove(self, key: Any) -> None:
        position = self.index.pop(key)
        last = self.keys.pop()
        if last != key:  # the last key takes the removed one's place
            self.keys[position] = last
            self.index[last] = position
        del self.rows[key]
        self.recent = [k for k in self.recent if k != key]

    def _touch(self, key: Any) -> None:
        self.recent = [*[k for k in self.recent if k != key], key][-16:]

    def _pick(self) -> Any:
        if self.recent and self.rng.random() < SAME_KEY_SHARE:
            return self.rng.choice(self.recent)
        return self.keys[self.rng.randrange(len(self.keys))]

    def _new_key(self) -> Any:
        """A key no row has: past the largest number of the first key column, or a fresh
        string; the other key columns borrow existing values."""
        contract = self.contract
        first = contract.column(contract.primary_key[0])
        while True:
            self.serial += 1
            if first.type in (ColumnType.LONG, ColumnType.DOUBLE):
                base = self.next_key if self.next_key is not None else 1
                value: Any = int(base) + self.serial - 1
                value = float(value) if first.type is ColumnType.DOUBLE else value
            elif first.type is ColumnType.TIMESTAMP:
                offset = timedelta(microseconds=self.rng.getrandbits(50))
                value = timestamp_text(datetime(2000, 1, 1, tzinfo=UTC) + offset)
            else:
                value = f"{contract.name}-{self.rng.getrandbits(48):012x}"
            others = [self._value(contract.column(k)) for k in contract.primary_key[1:]]
            key = (value, *others) if others else value
            if key not in self.rows:
                return key

    def _value(self, column: Column, differing: Any = None) -> Any:
        """A value valid for ``column``: borrowed from existing rows (:data:`BORROWED_SHARE`
        of the time, when there are some), else drawn from its type and bounds; unlike
        ``differing`` if it can."""
        for _ in range(8):
            observed = self.observed.get(column.name)
            if observed and self.rng.random() < BORROWED_SHARE:
                value = self.rng.choice(observed)
            else:
                nulls = column.name in self.nullish
                value = draw_value(column, self.rng, self.ranges.get(column.name), nulls)
            if value != differing or differing is None:
                return value
        return value


def _lsn(value: int) -> str:
    return f"{value >> 32:08X}/{value & 0xFFFFFFFF:08X}"
