"""Data files of known partitions, written through pyiceberg's writer for both the silver
merge's rewrite and the gold marts.

pyiceberg's ``append`` and ``overwrite`` split every row by partition again (a copy of each
row); a caller that already holds its rows one partition at a time (a rewritten file's kept
rows, a slice of sorted mart rows) hands each part over with its partition key instead.
``WriteTask`` and ``write_file`` are pyiceberg internals, as of the pinned pyiceberg 0.12.0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

import pyarrow as pa
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import bin_pack_arrow_table, pyarrow_to_schema, write_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionKey
from pyiceberg.table import TableProperties, WriteTask
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.utils.properties import property_as_int

Part = tuple[pa.Table, PartitionKey | None]
"""Rows of one partition and its key (``None``: an unpartitioned table)."""


def write_parts(
    io: FileIO,
    metadata: TableMetadata,
    schema: pa.Schema,
    parts: Iterable[Part],
    write_uuid: uuid.UUID,
    counter: Iterator[int],
) -> Iterator[DataFile]:
    """Start writing each of ``parts`` (rows of ``schema``) as data files of its partition, of
    the table's target file size; the files as they are written.

    Every file is a task of pyiceberg's executor, submitted at once. ``counter`` numbers the
    tasks (it names the files): share it with any other write of the same ``write_uuid``.
    """
    target = property_as_int(
        metadata.properties,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
    )
    task_schema = pyarrow_to_schema(
        schema, name_mapping=metadata.schema().name_mapping, format_version=metadata.format_version
    )
    tasks = [
        WriteTask(
            write_uuid=write_uuid,
            task_id=next(counter),
            schema=task_schema,
            record_batches=batches,
            partition_key=key,
        )
        for rows, key in parts
        for batches in bin_pack_arrow_table(rows, target or 0)
    ]
    return write_file(io, metadata, iter(tasks))
