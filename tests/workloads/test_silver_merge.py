"""Silver merge semantics on the arrow engine (pyiceberg + DuckDB), hand-checked fixtures."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from tests.workloads.silver_fixtures import BEER_DOMAIN, at, beer_changes, sql_catalog
from workloads.shared.tables import BATCH_PROPERTY, ensure_table, table_properties
from workloads.silver import merge
from workloads.silver.merge import merge_batch

BEER = BEER_DOMAIN.table("beer")


@pytest.fixture
def beer_table(tmp_path):
    catalog = SqlCatalog(
        "test", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}"
    )
    catalog.create_namespace("silver")
    return ensure_table(catalog, "silver", BEER, table_properties(128, 7, 5))


def rows(table) -> dict[int, dict]:
    table.refresh()
    return {r["beer_id"]: r for r in table.scan().to_arrow().to_pylist()}


def test_insert_then_update_keeps_created_at(beer_table):
    merge_batch(beer_table, beer_changes(("insert", 1, "Pale", 5.0, 0)), BEER, "b1")
    merge_batch(beer_table, beer_changes(("update", 1, "Pale v2", 5.5, 10)), BEER, "b2")
    (row,) = rows(beer_table).values()
    assert (row["beer_name"], row["beer_abv"]) == ("Pale v2", 5.5)
    assert row["created_at"] == at(0) and row["updated_at"] == at(10)
    assert row["deleted_at"] is None


def test_last_change_per_key_wins_within_a_batch(beer_table):
    batch = beer_changes(
        ("insert", 1, "A", 5.0, 0),
        ("update", 1, "B", 5.0, 5),
        ("update", 1, "C-late-in-file", 5.0, 3),  # older change listed later
        ("update", 2, "X", 6.0, 5, 2),
        ("update", 2, "Y", 6.0, 5, 1),  # same time, lower sequence
    )
    result = merge_batch(beer_table, batch, BEER, "b1")
    current = rows(beer_table)
    assert current[1]["beer_name"] == "B" and current[2]["beer_name"] == "X"
    assert result.keys_written == 2 and result.changes_in == 5


def test_delete_is_a_soft_delete_keeping_the_last_values(beer_table):
    merge_batch(beer_table, beer_changes(("insert", 1, "Pale", 5.0, 0)), BEER, "b1")
    merge_batch(beer_table, beer_changes(("delete", 1, None, None, 20)), BEER, "b2")
    (row,) = rows(beer_table).values()
    assert row["beer_name"] == "Pale" and row["beer_abv"] == 5.0
    assert row["created_at"] == at(0)
    assert row["updated_at"] == at(20) and row["deleted_at"] == at(20)


def test_update_after_delete_revives_the_row(beer_table):
    merge_batch(beer_table, beer_changes(("insert", 1, "Pale", 5.0, 0)), BEER, "b1")
    merge_batch(beer_table, beer_changes(("delete", 1, None, None, 20)), BEER, "b2")
    merge_batch(beer_table, beer_changes(("update", 1, "Back", 4.0, 30)), BEER, "b3")
    (row,) = rows(beer_table).values()
    assert row["deleted_at"] is None and row["beer_name"] == "Back"
    assert row["created_at"] == at(0)


def test_delete_of_an_unknown_key_is_recorded_as_a_tombstone(beer_table):
    result = merge_batch(beer_table, beer_changes(("delete", 7, None, None, 5)), BEER, "b1")
    (row,) = rows(beer_table).values()
    assert row["beer_id"] == 7 and row["deleted_at"] == at(5) and row["beer_name"] is None
    assert result.keys_written == 1


def test_late_changes_do_not_overwrite_newer_state(beer_table):
    merge_batch(beer_table, beer_changes(("update", 1, "New", 5.0, 50)), BEER, "b1")
    result = merge_batch(beer_table, beer_changes(("update", 1, "Old", 4.0, 10)), BEER, "b2")
    (row,) = rows(beer_table).values()
    assert row["beer_name"] == "New" and row["updated_at"] == at(50)
    assert result.late_ignored == 1 and result.keys_written == 0


def test_a_late_delete_is_ignored_too(beer_table):
    merge_batch(beer_table, beer_changes(("update", 1, "New", 5.0, 50)), BEER, "b1")
    merge_batch(beer_table, beer_changes(("delete", 1, None, None, 10)), BEER, "b2")
    assert rows(beer_table)[1]["deleted_at"] is None


def test_the_same_batch_twice_leaves_the_same_table(beer_table):
    batch = beer_changes(("insert", 1, "A", 5.0, 0), ("insert", 2, "B", 6.0, 0))
    first = merge_batch(beer_table, batch, BEER, "b1")
    snapshots = len(beer_table.snapshots())
    again = merge_batch(beer_table, batch, BEER, "b1")
    assert again.skipped_as_replay and again.snapshot_id == first.snapshot_id
    assert len(beer_table.snapshots()) == snapshots
    assert len(rows(beer_table)) == 2


def test_replaying_changes_under_a_new_batch_id_changes_nothing(beer_table):
    batch = beer_changes(("insert", 1, "A", 5.0, 0), ("update", 2, "B", 6.0, 3))
    merge_batch(beer_table, batch, BEER, "b1")
    before = rows(beer_table)
    merge_batch(beer_table, batch, BEER, "b1-retry-with-more-records")
    assert rows(beer_table) == before
    assert beer_table.scan().to_arrow().num_rows == 2  # no duplicates


def test_out_of_order_batches_converge(tmp_path, beer_table):
    early = beer_changes(("insert", 1, "A", 5.0, 0), ("insert", 2, "B", 5.0, 0))
    late = beer_changes(("update", 1, "A2", 5.1, 10), ("delete", 2, None, None, 10))
    merge_batch(beer_table, late, BEER, "late-first")
    merge_batch(beer_table, early, BEER, "early-second")
    current = rows(beer_table)
    assert current[1]["beer_name"] == "A2" and current[2]["deleted_at"] == at(10)


# (rows merged before, the changes) -> what a key's changes give, however they are batched.
SPLIT_CASES = {
    "insert then delete": ([], [("insert", 1, "Pale", 5.0, 0), ("delete", 1, None, None, 10)]),
    "insert then update": ([], [("insert", 1, "Pale", 5.0, 0), ("update", 1, "Pale v2", 5.5, 5)]),
    "insert, update, delete": (
        [],
        [
            ("insert", 1, "Pale", 5.0, 0),
            ("update", 1, "Pale v2", 5.5, 5),
            ("delete", 1, None, None, 10),
        ],
    ),
    "deletes of never-seen keys": (
        [],
        [
            ("delete", 7, None, None, 5),
            ("delete", 8, None, None, 5),
            ("delete", 8, None, None, 6),
            ("insert", 7, "Seven", 7.0, 10),
        ],
    ),
    "update then delete of an existing row": (
        [("insert", 1, "Pale", 5.0, 0)],
        [("update", 1, "Pale v2", 5.5, 5), ("delete", 1, None, None, 10)],
    ),
    "late update then delete of an existing row": (
        [("update", 1, "New", 5.0, 20)],
        [("update", 1, "Old", 4.0, 10), ("delete", 1, None, None, 30)],
    ),
}


def merged(folder, history: list[tuple], batches: list[list[tuple]]) -> dict[int, dict]:
    """The silver rows of a fresh beer table after ``history``, then ``batches`` in order."""
    folder.mkdir()
    table = ensure_table(sql_catalog(folder), "silver", BEER, table_properties(128, 7, 5))
    for index, batch in enumerate([history, *batches]):
        if batch:
            merge_batch(table, beer_changes(*batch), BEER, f"{folder.name}-{index}")
    return rows(table)


def numbered(changes: list[tuple]) -> list[tuple]:
    """The changes with their sequence (part of their identity, however they are split)."""
    return [(*c, index) if len(c) == 5 else c for index, c in enumerate(changes, start=1)]


@pytest.mark.parametrize("case", SPLIT_CASES)
def test_a_keys_changes_give_the_same_rows_in_one_batch_or_several(tmp_path, case):
    history, changes = SPLIT_CASES[case]
    changes = numbered(changes)
    one_batch = merged(tmp_path / "one", history, [changes])
    assert one_batch == merged(tmp_path / "each", history, [[c] for c in changes])
    for cut in range(1, len(changes)):
        two = merged(tmp_path / f"cut{cut}", history, [changes[:cut], changes[cut:]])
        assert two == one_batch, f"split after change {cut}"


def test_a_delete_keeps_the_values_of_the_batchs_last_change_before_it(tmp_path):
    history, changes = SPLIT_CASES["insert, update, delete"]
    (row,) = merged(tmp_path / "one", history, [changes]).values()
    assert (row["beer_name"], row["beer_abv"]) == ("Pale v2", 5.5)
    assert row["created_at"] == at(0)  # a new key's: its earliest change in the batch
    assert row["updated_at"] == row["deleted_at"] == at(10)
    history, changes = SPLIT_CASES["late update then delete of an existing row"]
    (row,) = merged(tmp_path / "late", history, [changes]).values()
    assert row["beer_name"] == "New" and row["deleted_at"] == at(30)  # the late one ignored
    history, changes = SPLIT_CASES["deletes of never-seen keys"]
    never_seen = merged(tmp_path / "never", history, [changes])
    assert never_seen[8]["beer_name"] is None and never_seen[8]["deleted_at"] == at(6)
    assert never_seen[7]["beer_name"] == "Seven" and never_seen[7]["created_at"] == at(5)


DAY = 24 * 60  # minutes: silver is partitioned by the day of updated_at


def data_files(table) -> set[str]:
    table.refresh()
    return {task.file.file_path for task in table.scan().plan_files()}


def last_commit(table) -> tuple[str, str | None]:
    summary = table.current_snapshot().summary
    return summary.operation.value, summary.additional_properties.get(BATCH_PROPERTY)


def test_a_batch_rewrites_only_the_data_files_holding_its_keys(beer_table):
    merge_batch(
        beer_table, beer_changes(("insert", 1, "A", 5.0, 0), ("insert", 5, "E", 5.0, 0)), BEER, "d1"
    )
    day_one = data_files(beer_table)
    merge_batch(
        beer_table,
        beer_changes(("insert", 3, "C", 5.0, DAY), ("insert", 4, "D", 5.0, DAY)),
        BEER,
        "d2",
    )
    day_two = data_files(beer_table) - day_one
    # key 3 lies within the first day's file's bounds (1..5) but is not in it
    merge_batch(beer_table, beer_changes(("update", 3, "C2", 5.5, 2 * DAY)), BEER, "d3")
    files = data_files(beer_table)
    assert day_one <= files and not day_two & files  # day one's file untouched
    assert len(files) == 3  # day one; day two without key 3; day three
    assert last_commit(beer_table) == ("overwrite", "d3")
    assert len(beer_table.snapshots()) == 3  # one commit per batch
    current = rows(beer_table)
    assert {k: r["beer_name"] for k, r in current.items()} == {1: "A", 3: "C2", 4: "D", 5: "E"}
    assert current[3]["created_at"] == at(DAY) and current[3]["updated_at"] == at(2 * DAY)


def test_a_batch_of_new_keys_only_appends(beer_table):
    merge_batch(
        beer_table, beer_changes(("insert", 1, "A", 5.0, 0), ("insert", 5, "E", 5.0, 0)), BEER, "b1"
    )
    before = data_files(beer_table)
    merge_batch(beer_table, beer_changes(("insert", 3, "C", 5.0, 0)), BEER, "b2")
    assert before < data_files(beer_table)
    assert last_commit(beer_table) == ("append", "b2")
    assert sorted(rows(beer_table)) == [1, 3, 5]


def test_an_unpartitioned_table_merges_the_same(tmp_path):
    flat = replace(BEER, silver_partitioning=())
    table = ensure_table(sql_catalog(tmp_path), "silver", flat, table_properties(128, 7, 5))
    assert table.spec().is_unpartitioned()
    merge_batch(
        table, beer_changes(("insert", 1, "A", 5.0, 0), ("insert", 2, "B", 6.0, 0)), flat, "b1"
    )
    merge_batch(
        table, beer_changes(("update", 1, "A2", 5.5, 5), ("delete", 2, None, None, 6)), flat, "b2"
    )
    current = rows(table)
    assert current[1]["beer_name"] == "A2" and current[2]["deleted_at"] == at(6)
    assert current[2]["beer_name"] == "B"  # a soft delete keeps the last values
    assert last_commit(table) == ("overwrite", "b2") and len(table.snapshots()) == 2
    assert merge_batch(
        table, beer_changes(("update", 1, "A2", 5.5, 5)), flat, "b2"
    ).skipped_as_replay


def test_pyiceberg_overwrite_gives_the_same_rows_as_the_rewrite_of_files(tmp_path, monkeypatch):
    """A table with delete files (merge-on-read) goes through pyiceberg's overwrite instead."""
    history, changes = SPLIT_CASES["update then delete of an existing row"]
    batches = [numbered(changes), [("insert", 2, "B", 6.0, 40)], [("update", 2, "B2", 6.0, 50)]]
    rewritten = merged(tmp_path / "rewrite", history, batches)
    monkeypatch.setattr(merge, "locate", lambda *arguments: None)
    assert merged(tmp_path / "overwrite", history, batches) == rewritten
