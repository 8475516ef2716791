"""The vectorised path of JSON lines: a block parsed whole by ``pyarrow.json``, taken only when
the result is provably what the exact path (``jsonl.py``) makes of the same lines.

Why a taken block is exact:

- **Values.** The explicit schema gives each column the type the exact path casts its text to
  (long: int64, double: float64, string and timestamp: string) and refuses unexpected keys.
  Arrow then rejects the block on any key the shape does not allow, a value of another JSON
  type (a string in a long column, a number in a string column, true, an object...), a
  fraction or an integer beyond 64 bits in a long column, a repeated key, invalid JSON. The
  numbers it accepts have the value the exact path's text casts to (a test checks Arrow's
  conversion against Python's); validation casts a typed column to its own type, a no-op.
- **Lines.** Every line must start with ``{`` and end with ``}`` (a ``\\r`` may follow), and
  the block must give one row per line: no blank line, no object over two lines, no two
  objects on one line; row *i* is line *i*. Arrow does not check UTF-8, so a block that is
  not ASCII is decoded once to check it (both on the reading thread:
  :attr:`~workloads.bronze.blocks.Block.one_object_per_line`).
- **Envelope.** Every DMS record must be a data record of this table with a ``data`` object
  and a known operation, or be skipped (a control record, a DMS table); anything else (a
  problem to quarantine, a flat line among DMS ones) sends the block to the exact path.
- **Rules.** A fast batch with any row failing validation is read again by the exact path
  (the ingest does it), so quarantined rows and their reasons are always the exact path's.

Anything refused goes to the exact path whole: correct always, fast when the data is clean.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from datalake.contracts import CDC_CHANGED_AT, CDC_ENVELOPE, CDC_OPERATION, CDC_SEQUENCE
from datalake.contracts.model import (
    DMS_CONTROL_RECORD,
    DMS_DATA_RECORD,
    DMS_SEQUENCE_DEFAULT,
    ColumnType,
    TableContract,
)
from datalake.streaming import (
    BEFORE_IMAGE_KEY,
    CHANGE_SEQUENCE_KEY,
    CHANGE_TIME_KEYS,
    DATA_KEY,
    DMS_OPERATIONS,
    DMS_OWN_TABLE,
    METADATA_KEY,
    OPERATION_KEY,
    RECORD_TYPE_KEY,
    TABLE_NAME_KEY,
)

from .batch import RawBatch
from .blocks import Block
from .jsonl import DMS_KEYS, SKIPPED_CONTROL, SKIPPED_DMS_TABLE

ARROW_BLOCK_BYTES = 2 << 20
"""Arrow's parse unit within a block: several per block, parsed on Arrow's threads."""
_OWN_PREFIX = DMS_OWN_TABLE.pattern.removeprefix("^")
assert DMS_OWN_TABLE.pattern == "^" + re.escape(_OWN_PREFIX), "a literal prefix"
_JSON_TYPES = {
    ColumnType.LONG: pa.int64(),
    ColumnType.DOUBLE: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.string(),  # Arrow's JSON timestamps accept more than the cast
}
METADATA_FIELDS = pa.struct(
    [
        (name, pa.int64() if kind == "number" else pa.string())
        for name, kind in (
            ("timestamp", "text"),
            (RECORD_TYPE_KEY, "text"),
            (OPERATION_KEY, "text"),
            ("partition-key-type", "text"),
            ("partition-key-value", "text"),
            ("schema-name", "text"),
            (TABLE_NAME_KEY, "text"),
            ("transaction-id", "number"),
            (CHANGE_SEQUENCE_KEY, "number"),
            ("prev-transaction-id", "number"),
            ("prev-transaction-record-id", "number"),
            ("commit-timestamp", "text"),
            ("stream-position", "text"),
        )
    ]
)
"""Every metadata key DMS writes, with its JSON type (a block with another goes the exact
way, which ignores metadata keys it does not use: add a new DMS key here to keep it fast)."""


class FastJsonLines:
    """Converts a block with ``pyarrow.json``, or says it cannot (``None``)."""

    def __init__(self, contract: TableContract):
        self.contract = contract
        columns = [pa.field(c.name, _JSON_TYPES[c.type]) for c in contract.columns]
        # The replication's before-image holds the key only (REPLICATION_SETTINGS); it is
        # parsed to be allowed, never read. A wider one sends the block the exact way.
        key = [f for f in columns if f.name in contract.primary_key]
        dms = pa.schema(
            [
                pa.field(DATA_KEY, pa.struct(columns)),
                pa.field(BEFORE_IMAGE_KEY, pa.struct(key)),
                pa.field(METADATA_KEY, METADATA_FIELDS),
            ]
        )
        flat = pa.schema(
            [
                *columns,
                pa.field(CDC_OPERATION, pa.string()),
                pa.field(CDC_CHANGED_AT, pa.string()),
                pa.field(CDC_SEQUENCE, pa.int64()),
            ]
        )
        self.schemas = [dms, flat]
        """The DMS shape, the flat one: tried in this order (the last taken first)."""
        self.read_options = pajson.ReadOptions(use_threads=True, block_size=ARROW_BLOCK_BYTES)
        self.operations = pa.array(list(DMS_OPERATIONS), pa.string())
        self.mapped = pa.array(list(DMS_OPERATIONS.values()), pa.string())

    @classmethod
    def for_contract(cls, contract: TableContract) -> FastJsonLines | None:
        """The fast path of ``contract``, unless a column is named like an envelope key."""
        if set(contract.column_names) & (DMS_KEYS | set(CDC_ENVELOPE)):
            return None
        return cls(contract)

    def convert(self, block: Block) -> RawBatch | None:
        """The block's batch, or ``None`` when the exact path must read it (:meth:`parse`
        then :meth:`batch`, as :func:`~workloads.bronze.jsonl.jsonl_batches` runs them)."""
        return self.batch(block, self.parse(block))

    def parse(self, block: Block) -> pa.Table | None:
        """Arrow's reading of the block in the first shape that takes it (``None``: none
        does). Runs on a thread of its own, ahead of :meth:`batch`."""
        if not block.one_object_per_line:
            return None
        for position, schema in enumerate(self.schemas):
            options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
            try:
                table = pajson.read_json(
                    pa.BufferReader(block.data),
                    read_options=self.read_options,
                    parse_options=options,
                )
            except pa.ArrowException:  # whatever Arrow refuses, the exact path decides
                continue
            if position:  # the next block most likely has this shape too
                self.schemas.insert(0, self.schemas.pop(position))
            return table
        return None

    def batch(self, block: Block, table: pa.Table | None) -> RawBatch | None:
        """The batch of a block :meth:`parse` read, or ``None`` when the exact path must."""
        if table is None or table.num_rows != block.line_count:
            return None
        if METADATA_KEY in table.column_names:
            return self._dms(table, block)
        return self._flat(table, block)

    def _dms(self, table: pa.Table, block: Block) -> RawBatch | None:
        if table.column(METADATA_KEY).null_count:  # a line that is not a DMS record
            return None
        has_data = pc.is_valid(table.column(DATA_KEY))
        values = table.flatten()

        def metadata(name: str) -> pa.ChunkedArray:
            return values.column(f"{METADATA_KEY}.{name}")

        record_type, table_name = metadata(RECORD_TYPE_KEY), metadata(TABLE_NAME_KEY)
        control = pc.fill_null(pc.equal(record_type, DMS_CONTROL_RECORD), False)
        own = pc.fill_null(pc.starts_with(table_name, _OWN_PREFIX), False)
        own = pc.and_(own, pc.invert(control))
        skip = pc.or_(control, own)
        skipped = {
            reason: count
            for reason, mask in ((SKIPPED_CONTROL, control), (SKIPPED_DMS_TABLE, own))
            if (count := int(pc.sum(mask).as_py() or 0))
        }
        lines = np.arange(block.first_line, block.first_line + table.num_rows, dtype=np.int64)
        if skipped:
            kept = pc.invert(skip)
            values, has_data = values.filter(kept), has_data.filter(kept)
            lines = lines[kept.to_numpy(zero_copy_only=False)]
        record_type, table_name = metadata(RECORD_TYPE_KEY), metadata(TABLE_NAME_KEY)
        operation = metadata(OPERATION_KEY)
        known = pc.index_in(operation, value_set=self.operations)
        if known.null_count:  # exact: stripped, lower-cased (ASCII here: others go exact)
            known = pc.index_in(pc.ascii_lower(operation), value_set=self.operations)
        clean = (
            _all(pc.equal(record_type, DMS_DATA_RECORD))
            and _all(pc.equal(table_name, self.contract.name))
            and _all(has_data)
            and known.null_count == 0
        )
        if not clean:  # something to quarantine: the exact path writes its reason
            return None
        times = [metadata(name) for name in CHANGE_TIME_KEYS]
        changed_at = times[0] if not times[0].null_count else pc.coalesce(*times)
        columns = {c: values.column(f"{DATA_KEY}.{c}") for c in self.contract.column_names}
        columns[CDC_OPERATION] = pc.take(self.mapped, known)
        columns[CDC_CHANGED_AT] = changed_at
        columns[CDC_SEQUENCE] = pc.fill_null(metadata(CHANGE_SEQUENCE_KEY), DMS_SEQUENCE_DEFAULT)
        return RawBatch(pa.table(columns), lines, skipped=skipped)

    def _flat(self, table: pa.Table, block: Block) -> RawBatch:
        lines = np.arange(block.first_line, block.first_line + table.num_rows, dtype=np.int64)
        return RawBatch(table, lines)


def _all(mask: pa.ChunkedArray | pa.Array) -> bool:
    """True when every value is true (a null is not)."""
    return bool(pc.all(pc.fill_null(mask, False)).as_py() is not False)
