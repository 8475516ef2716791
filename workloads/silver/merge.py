"""The silver merge, specified once and run by the ``arrow`` engine (pyiceberg + DuckDB).

A change's identity is its key, ``_change_ts`` and ``_change_seq`` (for DMS: the commit
timestamp and the record's place in its transaction); a silver row remembers the position of
the change it reflects, ``(updated_at, change_seq)``. Given a batch of bronze changes of one
table:

1. several copies of one change (the same identity, e.g. redelivered in two objects) count
   once: the first by ``_source_key``, ``_source_line``; the others are duplicates;
2. keep the last change per primary key, ordered by ``_change_ts``, ``_change_seq`` (then
   the first copy); when it is a delete, it carries the values of the latest non-delete
   change of that key in the batch, if any (see 3.);
3. apply it to the current row of that key (if any) only if its ``(_change_ts,
   _change_seq)`` is strictly greater than the row's ``(updated_at, change_seq)``:
   - equal is the change the row already reflects, delivered again: a duplicate, skipped;
   - smaller is late and ignored (newer state wins); a row merged before ``change_seq``
     existed (null) takes any change of its time, as it did then;
   - insert or update: the change's columns, ``created_at`` kept from the row (or, for a new
     key, the earliest change time of that key in the batch), ``updated_at`` = change time,
     ``change_seq`` = change sequence, ``deleted_at`` cleared;
   - delete: the row is kept with its last values, ``updated_at``/``change_seq`` as for an
     update and ``deleted_at`` = change time. The last values are those of the latest
     non-delete change of the key in the batch that is after the row, else the current
     row's, else the delete's own (a key never seen is recorded as a tombstone row);
     ``created_at`` as for an insert;
   so a batch gives the rows its changes would give merged one by one in that order: the
   result never depends on how the changes were split into batches or how often each was
   delivered;
4. replace the rows of the changed keys in one Iceberg commit tagged with the batch id; a
   batch already committed (a retry after a crash) is not applied again, and a batch that
   changes no row (all duplicates or late) commits nothing.

The commit rewrites only the data files holding a changed key (copy-on-write, as Spark's
``MERGE INTO``): the files whose key bounds enclose one of the batch's keys have their key
column read; those holding one are read whole and replaced, in one overwrite snapshot, by
a file of their other rows each, plus the new rows; the other files are not read. A table
with delete files (merge-on-read, written by another engine) goes through pyiceberg's
``overwrite`` with an ``In`` filter of the keys instead, which is several times slower.

``workloads/silver/spark_job.py`` implements the same rules with ``MERGE INTO``; the parity
tests hold both to them.
"""

from __future__ import annotations

import itertools
import uuid
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.conversions import from_bytes
from pyiceberg.expressions import AlwaysTrue, In
from pyiceberg.io.pyarrow import (
    ArrowScan,
    _dataframe_to_data_files,
    bin_pack_arrow_table,
    pyarrow_to_schema,
    write_file,
)
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table, TableProperties, WriteTask
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record

from datalake.contracts import TableContract

from ..shared.tables import BATCH_PROPERTY, conform

ORDER = "_change_ts DESC, _change_seq DESC, _source_key, _source_line"
"""The last change first; of copies of one change (same time and sequence), the first
delivered (object key, then line)."""


def after_row(ts: str, seq: str) -> str:
    """SQL: the change at ``(ts, seq)`` comes after the position of row ``t`` (a row without
    ``change_seq``, merged before it existed, takes any change of its time)."""
    return (
        f"({ts} > t.updated_at OR ({ts} = t.updated_at "
        f"AND (t.change_seq IS NULL OR {seq} > t.change_seq)))"
    )


AFTER_ROW = after_row("c._change_ts", "c._change_seq")
SAME_AS_ROW = "(c._change_ts = t.updated_at AND c._change_seq = t.change_seq)"
"""The change the row already reflects (delivered again)."""


@dataclass
class MergeResult:
    """What one merge changed (the rows before and after, and the keys written: the views)."""

    table: str
    batch_id: str
    changes_in: int = 0
    keys_written: int = 0
    late_ignored: int = 0
    """Keys whose last change in the batch is older than their row's position."""
    duplicates_skipped: int = 0
    """Changes delivered again: extra copies of one change in the batch, plus changes equal to
    their row's position (the change it already reflects)."""
    skipped_as_replay: bool = False
    snapshot_id: int | None = None
    before: pa.Table | None = None
    after: pa.Table | None = None
    keys: list = field(default_factory=list)


def already_committed(table: Table, batch_id: str) -> int | None:
    """The snapshot that committed ``batch_id``, if any (a replay after a crash)."""
    for snapshot in table.snapshots():
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(BATCH_PROPERTY) == batch_id:
            return snapshot.snapshot_id
    return None


def one_change_per_key(changes: pa.Table, key: str) -> bool:
    """Whether every change of the batch has a key of its own (no null key): nothing to rank."""
    keys = changes.column(key)
    if keys.null_count:
        return False
    if pa.types.is_integer(keys.type):  # sorting integers is several times faster than hashing
        ordered = np.sort(keys.to_numpy())
        return bool((ordered[1:] != ordered[:-1]).all())
    return bool(pc.count_distinct(keys).as_py() == changes.num_rows)


def latest_changes(
    changes: pa.Table, contract: TableContract, unique: bool | None = None
) -> pa.Table:
    """The last change per primary key (total order, so every engine picks the same row; of
    copies of one change, the first delivered), with ``_first_ts`` (the key's earliest change
    time in the batch) and, for a delete, the values of the key's latest non-delete change in
    the batch and its position ``_prior_ts``, ``_prior_seq`` (null: none).

    ``unique``: whether every change has a key of its own (:func:`one_change_per_key`, found
    when not given): then the batch is its own answer, with nothing to rank.
    """
    (key,) = contract.primary_key
    if unique is None:
        unique = one_change_per_key(changes, key)
    if unique:  # each change is its key's last, first and only one
        n = changes.num_rows
        return (
            changes.append_column("_first_ts", changes.column("_change_ts"))
            .append_column("_prior_ts", pa.nulls(n, changes.schema.field("_change_ts").type))
            .append_column("_prior_seq", pa.nulls(n, changes.schema.field("_change_seq").type))
        )
    values = [c.name for c in contract.columns if c.name != key]
    selected = ", ".join(
        f"CASE WHEN p.{key} IS NOT NULL THEN p.{c} ELSE c.{c} END AS {c}"
        if c in values
        else f"c.{c}"
        for c in changes.column_names
    )
    connection = duckdb.connect()
    try:
        connection.register("changes", changes)
        return connection.sql(
            f"""
            WITH ranked AS (
              SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) AS _rank,
                     min(_change_ts) OVER (PARTITION BY {key}) AS _first_ts
              FROM changes
            ), prior AS (
              SELECT * FROM changes WHERE _operation <> 'delete'
              QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {ORDER}) = 1
            )
            SELECT {selected}, c._first_ts,
                   p._change_ts AS _prior_ts, p._change_seq AS _prior_seq
            FROM ranked c LEFT JOIN prior p ON c.{key} = p.{key} AND c._operation = 'delete'
            WHERE c._rank = 1
            """
        ).to_arrow_table()
    finally:
        connection.close()


def extra_copies(changes: pa.Table, contract: TableContract, unique: bool | None = None) -> int:
    """How many changes of the batch are another copy of one of its changes (same identity)."""
    (key,) = contract.primary_key
    if unique is None:
        unique = one_change_per_key(changes, key)
    if unique:
        return 0
    connection = duckdb.connect()
    try:
        connection.register("changes", changes)
        found = connection.execute(
            f"SELECT count(*) - count(DISTINCT ({key}, _change_ts, _change_seq)) FROM changes"
        ).fetchone() or (0,)  # an aggregate always returns its row
        return int(found[0])
    finally:
        connection.close()


def behind_rows(
    changes: pa.Table, latest: pa.Table, current: pa.Table, contract: TableContract
) -> tuple[int, int]:
    """(redelivered, late): the rows of ``current`` whose very change the batch holds again,
    and the keys whose last change in the batch comes before their row."""
    (key,) = contract.primary_key
    connection = duckdb.connect()
    try:
        connection.register("changes", changes)
        connection.register("latest", latest)
        connection.register("t", current)
        found = connection.execute(
            f"""
            SELECT
              (SELECT count(DISTINCT t.{key}) FROM changes c
               JOIN t ON c.{key} = t.{key} AND {SAME_AS_ROW}),
              (SELECT count(*) FROM latest c JOIN t ON c.{key} = t.{key}
               WHERE NOT {AFTER_ROW} AND NOT coalesce({SAME_AS_ROW}, false))
            """
        ).fetchone() or (0, 0)  # an aggregate always returns its row
        return int(found[0]), int(found[1])
    finally:
        connection.close()


def apply_changes(latest: pa.Table, current: pa.Table, contract: TableContract) -> pa.Table:
    """New rows of the changed keys whose change comes after their row, in silver's columns."""
    (key,) = contract.primary_key
    values = [c.name for c in contract.columns if c.name != key]
    # A delete keeps the row's values unless the batch changed them after the row.
    prior_after = after_row("c._prior_ts", "c._prior_seq")
    keeps_row = (
        f"c._operation = 'delete' AND t.{key} IS NOT NULL AND NOT coalesce({prior_after}, false)"
    )
    picked = ",\n".join(
        f"CASE WHEN {keeps_row} THEN t.{name} ELSE c.{name} END AS {name}" for name in values
    )
    connection = duckdb.connect()
    try:
        connection.register("c", latest)
        connection.register("t", current)
        return connection.sql(
            f"""
            SELECT c.{key} AS {key}, {picked},
                   coalesce(t.created_at, c._first_ts) AS created_at,
                   c._change_ts AS updated_at,
                   CASE WHEN c._operation = 'delete' THEN c._change_ts END AS deleted_at,
                   c._change_seq AS change_seq
            FROM c LEFT JOIN t ON c.{key} = t.{key}
            WHERE t.{key} IS NULL OR {AFTER_ROW}
            ORDER BY c.{key}
            """
        ).to_arrow_table()
    finally:
        connection.close()


def merge_batch(
    table: Table, changes: pa.Table, contract: TableContract, batch_id: str
) -> MergeResult:
    """Merge bronze ``changes`` of ``contract`` into its silver ``table`` (one commit, none when
    no row changes)."""
    (key,) = contract.primary_key  # the domain's keys are single columns
    result = MergeResult(contract.name, batch_id, changes_in=changes.num_rows)
    replayed = already_committed(table, batch_id)
    if replayed is not None:
        # Nothing is committed again, but the views still need the keys: the run that
        # committed may have stopped before rebuilding them. The changes' keys are the
        # written ones and perhaps a few more (duplicates), which rebuilds a little more.
        result.skipped_as_replay, result.snapshot_id = True, replayed
        result.keys = sorted(set(changes.column(key).drop_null().to_pylist()))
        return result
    if changes.num_rows == 0:
        return result
    unique = one_change_per_key(changes, key)
    latest = latest_changes(changes, contract, unique)
    schema = table.schema().as_arrow()
    located = locate(table, key, latest.column(key))
    current = located.current if located is not None else read_current(table, key, latest)
    if "change_seq" not in current.column_names:  # a table ensure_table has not evolved yet
        current = current.append_column("change_seq", pa.nulls(current.num_rows, pa.int64()))
    merged = apply_changes(latest, current, contract)
    rows = conform(merged, schema)
    written_keys = rows.column(key)
    again, late = behind_rows(changes, latest, current, contract) if current.num_rows else (0, 0)
    written = sorted(set(written_keys.to_pylist()))
    result.keys_written = len(written)
    result.duplicates_skipped = extra_copies(changes, contract, unique) + again
    result.late_ignored = late
    result.keys = written
    result.before = current.filter(pc.is_in(current.column(key), written_keys))
    result.after = rows
    properties = {BATCH_PROPERTY: batch_id}
    if not written:
        return result
    if located is not None:
        rewrite_files(table, key, located.files, rows, properties)
    elif current.num_rows:  # delete files in the table: pyiceberg's own rewrite
        table.overwrite(
            rows,
            overwrite_filter=In(term=key, literals=written),
            snapshot_properties=properties,
        )
    else:
        table.append(rows, snapshot_properties=properties)
    snapshot = table.current_snapshot()  # the commit just made
    result.snapshot_id = snapshot.snapshot_id if snapshot is not None else None
    return result


@dataclass
class HeldFile:
    """A data file holding some of a batch's keys: all its rows, and which hold one."""

    data_file: DataFile
    rows: pa.Table
    held: pa.ChunkedArray | pa.Array
    """Per row: whether its key is one of the batch's."""


@dataclass
class Located:
    """The data files holding any of a batch's keys, and the current rows of those keys."""

    current: pa.Table
    files: list[HeldFile]


def locate(table: Table, key: str, keys: pa.ChunkedArray) -> Located | None:
    """The data files of ``table`` holding any of ``keys``, read whole, and the rows of those
    keys; ``None`` when the table has delete files (merge-on-read, which this rewrite would
    not carry over: the caller falls back to pyiceberg's overwrite).

    A file is read only if its key bounds (the manifest's metrics) enclose one of ``keys``,
    and then its key column first: the files holding none are never read whole.
    """
    schema = table.schema()
    empty = schema.as_arrow().empty_table()
    if table.current_snapshot() is None:
        return Located(empty, [])
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        return None
    field = schema.find_field(key)
    wanted = sorted(set(keys.to_pylist()))
    candidates = [t for t in tasks if _may_hold(t.file, field.field_id, field.field_type, wanted)]
    value_set = pa.array(wanted, keys.type)
    masks = [
        pc.is_in(rows.column(key), value_set=value_set)
        for rows in _read(table, candidates, schema.select(key))
    ]
    holding = [(t, m) for t, m in zip(candidates, masks, strict=True) if pc.any(m).as_py()]
    contents = _read(table, [task for task, _ in holding], schema)
    # A file without delete files reads back the same rows in the same order.
    files = [
        HeldFile(task.file, rows, mask)
        for (task, mask), rows in zip(holding, contents, strict=True)
    ]
    current = pa.concat_tables([f.rows.filter(f.held) for f in files] or [empty])
    return Located(current, files)


def _may_hold(data_file: DataFile, field_id: int, field_type: Any, keys: list) -> bool:
    """Whether the key bounds of ``data_file`` (if recorded) enclose one of the sorted ``keys``."""
    lower = (data_file.lower_bounds or {}).get(field_id)
    upper = (data_file.upper_bounds or {}).get(field_id)
    if lower is None or upper is None:
        return True
    low, high = from_bytes(field_type, lower), from_bytes(field_type, upper)
    try:
        index = bisect_left(keys, low)
        return index < len(keys) and keys[index] <= high
    except TypeError:  # bounds in another representation than the keys (timestamps): read it
        return True


def _read(table: Table, tasks: list[FileScanTask], projected: Schema) -> list[pa.Table]:
    """Each task's rows in ``projected`` columns (the table's current schema: older files gain
    its new columns as null), the files read in parallel."""
    scan = ArrowScan(table.metadata, table.io, projected_schema=projected, row_filter=AlwaysTrue())
    if len(tasks) < 2:
        return [scan.to_table([task]) for task in tasks]
    # A pool of its own: ArrowScan reads each file on pyiceberg's executor.
    with ThreadPoolExecutor(max_workers=min(len(tasks), 8)) as pool:
        return list(pool.map(lambda task: scan.to_table([task]), tasks))


def read_current(table: Table, key: str, latest: pa.Table) -> pa.Table:
    """The rows of the batch's keys, from a scan of the whole table."""
    if table.current_snapshot() is None:
        return table.schema().as_arrow().empty_table()
    # Filtering in Arrow: an Iceberg In-expression with many literals is slow to plan.
    everything = table.scan().to_arrow()
    return everything.filter(pc.is_in(everything.column(key), latest.column(key)))


def rewrite_files(
    table: Table, key: str, files: list[HeldFile], rows: pa.Table, properties: dict[str, str]
) -> None:
    """One commit: each data file holding a key of ``rows`` replaced by a file of its other
    rows (in its partition), and ``rows`` added; an append when no file holds one."""
    written = rows.column(key)
    rewritten: list[tuple[DataFile, pa.Table]] = []
    for held in files:
        inside = held.rows.filter(held.held)  # the file's rows of the batch's keys
        replaced = pc.is_in(inside.column(key), value_set=written)
        if pc.any(replaced).as_py():
            outside = held.rows.filter(pc.invert(held.held))
            kept = pa.concat_tables([outside, inside.filter(pc.invert(replaced))])
            rewritten.append((held.data_file, conform(kept, rows.schema)))
    if not rewritten:
        table.append(rows, snapshot_properties=properties)
        return
    with table.transaction() as transaction:
        update = transaction.update_snapshot(snapshot_properties=properties)
        with update.overwrite() as overwrite:
            metadata = transaction.table_metadata
            for data_file, _ in rewritten:
                overwrite.delete_data_file(data_file)
            for data_file in _write(table, metadata, overwrite.commit_uuid, rewritten, rows):
                overwrite.append_data_file(data_file)


def _write(
    table: Table,
    metadata: TableMetadata,
    write_uuid: uuid.UUID,
    rewritten: list[tuple[DataFile, pa.Table]],
    rows: pa.Table,
) -> list[DataFile]:
    """The data files of the rewritten files' kept rows and of ``rows``.

    The kept rows of a file are in its partition already: they are written as they are, in
    that partition (pyiceberg would split them by partition again, a copy of every row);
    anything else goes through pyiceberg's own partitioning.
    """
    spec, schema = metadata.spec(), metadata.schema()
    target = int(
        metadata.properties.get(
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
        )
    )
    task_schema = pyarrow_to_schema(
        rows.schema, name_mapping=schema.name_mapping, format_version=metadata.format_version
    )
    counter = itertools.count(0)
    tasks, others = [], [rows]
    for data_file, kept in rewritten:
        if not kept.num_rows:
            continue
        partition = _partition_key(spec, schema, kept)
        expected = partition.partition if partition is not None else Record()
        if data_file.spec_id != spec.spec_id or data_file.partition != expected:
            others.append(kept)  # another spec's file: pyiceberg partitions it
            continue
        for batches in bin_pack_arrow_table(kept, target):
            tasks.append(
                WriteTask(
                    write_uuid=write_uuid,
                    task_id=next(counter),
                    schema=task_schema,
                    record_batches=batches,
                    partition_key=partition,
                )
            )
    # write_file submits its files to pyiceberg's executor at once: both sets are written
    # at the same time.
    kept_files = write_file(io=table.io, table_metadata=metadata, tasks=iter(tasks))
    new_files = _dataframe_to_data_files(
        table_metadata=metadata,
        df=pa.concat_tables(others),
        io=table.io,
        write_uuid=write_uuid,
        counter=counter,
    )
    return [*new_files, *kept_files]


def _partition_key(spec: PartitionSpec, schema: Schema, rows: pa.Table) -> PartitionKey | None:
    """The partition of the first of ``rows`` (pyiceberg's transforms, as its writer)."""
    if spec.is_unpartitioned():
        return None
    first = rows.slice(0, 1)
    values = []
    for partition_field in spec.fields:
        source = schema.find_field(partition_field.source_id)
        transform = partition_field.transform.pyarrow_transform(source.field_type)
        value = transform(first.column(source.name)).to_pylist()[0]
        values.append(PartitionFieldValue(field=partition_field, value=value))
    return PartitionKey(field_values=values, partition_spec=spec, schema=schema)
