"""The silver merge of the ``arrow`` engine (pyiceberg + DuckDB): one batch of bronze changes
of a table into its silver Iceberg table, in one commit tagged with the batch id.

:func:`merge_batch` applies the change rules (:mod:`workloads.silver.change_rules`: one
change per key, the latest, by ``(updated_at, change_seq)`` position; duplicates and late
changes skipped) to the current rows of the batch's keys and replaces the rows of the changed
keys in one Iceberg commit tagged with the batch id; a batch already committed (a retry after
a crash) is not applied again, and a batch that changes no row (all duplicates or late)
commits nothing.

The commit rewrites only the data files holding a changed key
(:mod:`workloads.silver.file_rewrite`, copy-on-write, as Spark's ``MERGE INTO``). A table with
delete files (merge-on-read, written by another engine) goes through pyiceberg's
``overwrite`` with an ``In`` filter of the keys instead, which is several times slower.

``workloads/silver/spark_job.py`` implements the same rules with ``MERGE INTO``; the parity
tests hold both to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import In
from pyiceberg.table import Table

from datalake.contracts import TableContract

from ..shared.tables import BATCH_PROPERTY, conform
from .change_rules import (
    apply_changes,
    behind_rows,
    extra_copies,
    latest_changes,
    one_change_per_key,
)
from .file_rewrite import locate, read_current, rewrite_files


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
