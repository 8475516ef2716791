"""The silver merge, specified once and run by the ``arrow`` engine (pyiceberg + DuckDB).

Given a batch of bronze changes of one table:

1. keep the last change per primary key, ordered by ``_change_ts``, ``_change_seq``,
   ``_source_key``, ``_source_line``; when it is a delete, it carries the values of the
   latest non-delete change of that key in the batch, if any (see 2.);
2. apply it to the current row of that key (if any):
   - a change older than the row's ``updated_at`` is late and ignored (newer state wins);
   - insert or update: the change's columns, ``created_at`` kept from the row (or, for a new
     key, the earliest change time of that key in the batch), ``updated_at`` = change time,
     ``deleted_at`` cleared;
   - delete: the row is kept with its last values, ``updated_at`` and ``deleted_at`` = change
     time. The last values are those of the latest non-delete change of the key in the batch
     that is not late, else the current row's, else the delete's own (a key never seen is
     recorded as a tombstone row); ``created_at`` as for an insert;
   so a batch gives the rows its changes would give merged one by one in that order: the
   result never depends on how the changes were split into batches;
3. replace the rows of the changed keys in one Iceberg commit tagged with the batch id; a
   batch already committed (a retry after a crash) is not applied again.

``workloads/silver/spark_job.py`` implements the same rules with ``MERGE INTO``; the parity
tests hold both to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import In
from pyiceberg.table import Table

from datalake.contracts import TableContract

from ..shared.tables import BATCH_PROPERTY, conform

ORDER = "_change_ts DESC, _change_seq DESC, _source_key DESC, _source_line DESC"


@dataclass
class MergeResult:
    """What one merge changed (the rows before and after, and the keys written: the views)."""

    table: str
    batch_id: str
    changes_in: int = 0
    keys_written: int = 0
    late_ignored: int = 0
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


def latest_changes(changes: pa.Table, contract: TableContract) -> pa.Table:
    """The last change per primary key (total order, so every engine picks the same row), with
    ``_first_ts`` (the key's earliest change time in the batch) and, for a delete, the values
    of the key's latest non-delete change in the batch and its time ``_prior_ts`` (null: none).
    """
    (key,) = contract.primary_key
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
            SELECT {selected}, c._first_ts, p._change_ts AS _prior_ts
            FROM ranked c LEFT JOIN prior p ON c.{key} = p.{key} AND c._operation = 'delete'
            WHERE c._rank = 1
            """
        ).to_arrow_table()
    finally:
        connection.close()


def apply_changes(latest: pa.Table, current: pa.Table, contract: TableContract) -> pa.Table:
    """New rows of the changed keys that are not late, in the silver table's columns."""
    (key,) = contract.primary_key
    values = [c.name for c in contract.columns if c.name != key]
    # A delete keeps the row's values unless the batch changed them after the row (not late).
    keeps_row = (
        f"c._operation = 'delete' AND t.{key} IS NOT NULL "
        f"AND (c._prior_ts IS NULL OR c._prior_ts < t.updated_at)"
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
                   CASE WHEN c._operation = 'delete' THEN c._change_ts END AS deleted_at
            FROM c LEFT JOIN t ON c.{key} = t.{key}
            WHERE t.{key} IS NULL OR c._change_ts >= t.updated_at
            ORDER BY c.{key}
            """
        ).to_arrow_table()
    finally:
        connection.close()


def merge_batch(
    table: Table, changes: pa.Table, contract: TableContract, batch_id: str
) -> MergeResult:
    """Merge bronze ``changes`` of ``contract`` into its silver ``table`` (one commit)."""
    (key,) = contract.primary_key  # the domain's keys are single columns
    result = MergeResult(contract.name, batch_id, changes_in=changes.num_rows)
    replayed = already_committed(table, batch_id)
    if replayed is not None:
        result.skipped_as_replay, result.snapshot_id = True, replayed
        return result
    if changes.num_rows == 0:
        return result
    latest = latest_changes(changes, contract)
    keys = latest.column(key).to_pylist()
    schema = table.schema().as_arrow()
    current = schema.empty_table()
    if table.current_snapshot() is not None:
        # Filtering in Arrow: an Iceberg In-expression with many literals is slow to plan.
        everything = table.scan().to_arrow()
        current = everything.filter(pc.is_in(everything.column(key), pa.array(keys)))
    merged = apply_changes(latest, current, contract)
    rows = conform(merged, schema)
    written = set(rows.column(key).to_pylist())
    result.keys_written = len(written)
    result.late_ignored = len(keys) - len(written)
    result.keys = sorted(written)
    result.before = current.filter(pc.is_in(current.column(key), pa.array(sorted(written))))
    result.after = rows
    properties = {BATCH_PROPERTY: batch_id}
    if not written:
        return result
    if current.num_rows:
        table.overwrite(
            rows,
            overwrite_filter=In(term=key, literals=sorted(written)),
            snapshot_properties=properties,
        )
    else:
        table.append(rows, snapshot_properties=properties)
    snapshot = table.current_snapshot()  # the commit just made
    result.snapshot_id = snapshot.snapshot_id if snapshot is not None else None
    return result
