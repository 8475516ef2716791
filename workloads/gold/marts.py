"""Gold marts on the arrow engine: DuckDB over one view, one commit per mart.

For the given partitions of a view (values of its partition columns, the leading period
columns: the year by default), each mart of that view is recomputed completely from the view's
live rows in those partitions (its rows per period and grain) and exactly those partitions of
the mart, partitioned like the view, are replaced, so a re-run gives the same rows and other
partitions are untouched.

The cost is the data's, not the number of partitions: the partitions are selected with a few
list conditions (``view_sql.partition_terms``: a 180-month history is ``year IN (...)``, not a
180-term ``OR``, in the Iceberg filter and in the marts' SQL alike), the view is read once with
only the columns the marts use, and each mart's partitions are replaced in one snapshot that
removes their data files and adds the new ones, written from one sort of the mart's rows (no
filter per partition).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import BooleanExpression
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform

from datalake.domain import Mart

from ..shared.data_files import Part, write_parts
from ..shared.tables import BATCH_PROPERTY, conform, ensure_table, partition_filter
from ..shared.view_sql import partition_in

Partition = tuple[int, ...]
"""Values of a view's partition columns, in their order: ``(2010,)`` for (year), ``(2010, 1)``
for (year, month)."""
SOURCE_NAME = "mart_source"
"""Name the view's rows are registered under in DuckDB (any view name stays a valid source)."""


@dataclass
class MartResult:
    """One mart's replaced partitions (of its source view) and rows."""

    mart: str
    view: str
    partitions: list[Partition]
    rows: int
    snapshot_id: int | None


def selection(mart: Mart, partitions: Sequence[Partition]) -> BooleanExpression:
    """Iceberg filter of ``partitions`` (of the mart's partition columns): the same list
    conditions as the SQL (``view_sql.partition_terms``)."""
    return partition_filter(mart.partition_columns, partitions, mart.partition_parts)


def columns_read(marts: Sequence[Mart]) -> list[str]:
    """The view columns the marts' SQL reads: period, grain, measured and filtered columns."""
    names: list[str] = ["deleted_at"]
    for mart in marts:
        names += [*mart.period, *mart.grain]
        for measure in mart.measures:
            names += [c for c in (measure.column,) if c]
            names += [measure.filter.column] if measure.filter is not None else []
    return list(dict.fromkeys(names))


def compute(
    mart: Mart,
    rows: pa.Table,
    partitions: Sequence[Partition],
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table:
    """The mart's rows for ``partitions`` from its source view's ``rows``, as Arrow.

    ``connection``: one with ``rows`` registered as :data:`SOURCE_NAME` (several marts of a
    view share it); by default a connection of its own.
    """
    condition = partition_in(mart.partition_columns, partitions, mart.partition_parts)
    if connection is not None:
        return connection.sql(mart.sql(SOURCE_NAME, condition)).to_arrow_table()
    own = source_connection(rows)
    try:
        return own.sql(mart.sql(SOURCE_NAME, condition)).to_arrow_table()
    finally:
        own.close()


def source_connection(rows: pa.Table) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the view's ``rows`` as :data:`SOURCE_NAME`, in UTC."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # timestamp literals compare in UTC
    connection.register(SOURCE_NAME, rows)
    return connection


def run_marts(
    catalog: Catalog,
    gold_namespace: str,
    source: Table,
    marts: Sequence[Mart],
    partitions: Sequence[Partition],
    properties: dict[str, str],
    batch_id: str = "",
) -> list[MartResult]:
    """Replace ``partitions`` of every mart of one source view (each mart in one commit).

    ``source`` is the view's Iceberg table; every mart of ``marts`` must read that view.
    """
    results: list[MartResult] = []
    if not partitions or not marts:
        return results
    sources = {(m.source, tuple(m.partition_columns)) for m in marts}
    if len(sources) != 1:
        raise ValueError(f"run_marts takes the marts of one view, not {sorted(sources)}")
    chosen = sorted({tuple(int(v) for v in p) for p in partitions})
    selected = selection(marts[0], chosen)
    wanted = [c for c in columns_read(marts) if c in source.schema().column_names]
    rows_in = source.scan(row_filter=selected, selected_fields=tuple(wanted)).to_arrow()
    connection = source_connection(rows_in)  # read once for every mart
    try:
        tables = [
            ensure_table(catalog, gold_namespace, m.contract, properties, audit=False)
            for m in marts
        ]
        computed = [
            conform(compute(mart, rows_in, chosen, connection), table.schema().as_arrow())
            for mart, table in zip(marts, tables, strict=True)
        ]
    finally:
        connection.close()
    del rows_in
    # Every mart's files are written at once (pyiceberg's executor), then committed in turn.
    replacements = [
        Replacement.start(table, rows, mart.partition_columns, chosen, selected, mart.period)
        for mart, table, rows in zip(marts, tables, computed, strict=True)
    ]
    snapshot_properties = {BATCH_PROPERTY: batch_id} if batch_id else {}
    for mart, replacement in zip(marts, replacements, strict=True):
        replacement.commit(snapshot_properties)
        snapshot = replacement.table.current_snapshot()  # the overwrite just made
        snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        results.append(
            MartResult(mart.name, mart.source, chosen, replacement.rows.num_rows, snapshot_id)
        )
    return results


@dataclass
class Replacement:
    """``partitions`` of ``table`` (identity-partitioned by ``columns``, the mart's partition
    columns) replaced by ``rows``:
    the new data files are being written from :meth:`start`, :meth:`commit` makes one
    snapshot that removes the partitions' data files whole and adds the new ones.

    A table laid out otherwise (another spec, delete files) or rows without a partition value
    take pyiceberg's ``overwrite`` with the same filter at :meth:`commit`.
    """

    table: Table
    rows: pa.Table
    selected: BooleanExpression
    old: list[DataFile] | None
    new: Iterator[DataFile]

    @classmethod
    def start(
        cls,
        table: Table,
        rows: pa.Table,
        columns: Sequence[str],
        partitions: Sequence[Partition],
        selected: BooleanExpression,
        order: Sequence[str] = (),
    ) -> Replacement:
        """Find the partitions' data files and start writing the new ones (rows sorted by
        ``columns``, then ``order``)."""
        old = _partition_files(table, columns, partitions, selected)
        if old is None or any(rows.column(c).null_count for c in columns):
            return cls(table, rows, selected, None, iter(()))
        return cls(table, rows, selected, old, _write_partitions(table, rows, columns, order))

    def commit(self, snapshot_properties: dict[str, str]) -> None:
        """One snapshot replacing the partitions (once the new files are written)."""
        if self.old is None:
            self.table.overwrite(
                self.rows, overwrite_filter=self.selected, snapshot_properties=snapshot_properties
            )
            return
        new = list(self.new)
        with self.table.transaction() as transaction:
            update = transaction.update_snapshot(snapshot_properties=snapshot_properties)
            with update.overwrite() as overwrite:
                for data_file in self.old:
                    overwrite.delete_data_file(data_file)
                for data_file in new:
                    overwrite.append_data_file(data_file)


def _partition_files(
    table: Table,
    columns: Sequence[str],
    partitions: Sequence[Partition],
    selected: BooleanExpression,
) -> list[DataFile] | None:
    """The data files holding ``partitions``, or ``None`` unless every one of them is a whole
    partition of the table's current spec (identity on exactly ``columns``) without deletes."""
    spec, schema = table.spec(), table.schema()
    names = [schema.find_column_name(f.source_id) for f in spec.fields]
    identity = all(isinstance(f.transform, IdentityTransform) for f in spec.fields)
    if not identity or names != list(columns):
        return None
    wanted = set(partitions)
    files: list[DataFile] = []
    for task in table.scan(row_filter=selected).plan_files():
        data_file = task.file
        values = tuple(data_file.partition[i] for i in range(len(names)))
        if task.delete_files or data_file.spec_id != spec.spec_id or values not in wanted:
            return None
        files.append(data_file)
    return files


def _write_partitions(
    table: Table, rows: pa.Table, columns: Sequence[str], order: Sequence[str] = ()
) -> Iterator[DataFile]:
    """Start writing ``rows`` as data files of their partitions (one sort, a slice per
    partition, every file a task of pyiceberg's executor); the files as they are written.

    ``order``: further sort columns (a mart's period), so that a partition of a coarser unit
    than the period (a year of months) keeps each period's rows together and the Parquet
    statistics of a large file's row groups prune by them."""
    if rows.num_rows == 0:
        return iter(())
    metadata, spec, schema = table.metadata, table.spec(), table.schema()
    keys_order = [*columns, *(c for c in order if c not in columns)]
    rows = rows.sort_by([(column, "ascending") for column in keys_order]).combine_chunks()
    keys = pa.Table.from_arrays([rows.column(c) for c in columns], names=list(columns))
    starts = _run_starts(keys)
    parts: list[Part] = []
    for start, stop in zip(starts, [*starts[1:], rows.num_rows], strict=True):
        part = rows.slice(start, stop - start)
        key = PartitionKey(
            field_values=[
                PartitionFieldValue(field=field, value=part.column(column)[0].as_py())
                for field, column in zip(spec.fields, columns, strict=True)
            ],
            partition_spec=spec,
            schema=schema,
        )
        parts.append((part, key))
    # Submitted at once: Replacement.start returns while they are written.
    return write_parts(table.io, metadata, rows.schema, parts, uuid.uuid4(), itertools.count())


def _run_starts(keys: pa.Table) -> list[int]:
    """Row indexes where the (sorted) key columns change value, 0 first."""
    change = (
        pa.array([False] * (keys.num_rows - 1)) if keys.num_rows > 1 else pa.array([], pa.bool_())
    )
    for column in keys.columns:
        values = column.combine_chunks()
        change = pc.or_(change, pc.not_equal(values[1:], values[:-1]))
    return [0, *(i + 1 for i in pc.indices_nonzero(change).to_pylist())]
