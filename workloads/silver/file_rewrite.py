"""The silver merge's commit on the ``arrow`` engine: the data files holding a batch's changed
keys located and rewritten, in one Iceberg overwrite snapshot (copy-on-write, as Spark's
``MERGE INTO``).

The files whose key bounds enclose one of the batch's keys have their key column read; those
holding one are read whole and replaced, in one overwrite snapshot, by a file of their other
rows each, plus the new rows; the other files are not read. A table with delete files
(merge-on-read) is not located (:func:`locate` returns ``None``): the caller falls back to
pyiceberg's ``overwrite``.

The rewrite uses pyiceberg's internal reader and writer (``ArrowScan``,
``_dataframe_to_data_files``, and ``write_file`` through
:func:`~workloads.shared.data_files.write_parts`), as of the pinned pyiceberg 0.12.0.
"""

from __future__ import annotations

import itertools
import uuid
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.conversions import from_bytes
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record

from ..shared.data_files import Part, write_parts
from ..shared.tables import conform


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
    counter = itertools.count(0)
    parts: list[Part] = []
    others = [rows]
    for data_file, kept in rewritten:
        if not kept.num_rows:
            continue
        partition = _partition_key(spec, schema, kept)
        expected = partition.partition if partition is not None else Record()
        if data_file.spec_id != spec.spec_id or data_file.partition != expected:
            others.append(kept)  # another spec's file: pyiceberg partitions it
            continue
        parts.append((kept, partition))
    # write_parts submits its files to pyiceberg's executor at once: both sets are written
    # at the same time.
    kept_files = write_parts(table.io, metadata, rows.schema, parts, write_uuid, counter)
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
