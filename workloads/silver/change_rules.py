"""The silver merge's change rules: which change of a batch each key takes, and the rows it
gives (pure Arrow + DuckDB, no table I/O; :mod:`workloads.silver.merge` runs them).

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
   delivered.

``workloads/silver/spark_job.py`` implements the same rules with ``MERGE INTO``; the parity
tests hold both to them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalake.contracts import TableContract

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
