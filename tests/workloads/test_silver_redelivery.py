"""Exactly-once silver from at-least-once delivery (arrow engine; parity in test_silver_parity).

DMS changes of the beer table arrive as Firehose objects; a Firehose retry or a DMS task
restarting from its checkpoint delivers some of them again in an object with another name.
A change's identity is its key, commit time and place in its transaction: a silver row
remembers the position of the change it reflects, ``(updated_at, change_seq)``, and applies
a change only after it. However the objects are delivered and batched, silver is what one
delivery gives.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema

from tests.workloads.silver_fixtures import (
    BEER_DOMAIN,
    at,
    delivered_key,
    dms_bronze,
    dms_record,
    sql_catalog,
)
from workloads.shared.spark_common import PARTITIONING_PROPERTY, PRIMARY_KEY_PROPERTY
from workloads.shared.tables import (
    ensure_table,
    iceberg_schema,
    partition_spec,
    table_properties,
)
from workloads.silver.merge import merge_batch

BEER = BEER_DOMAIN.table("beer")
PROPERTIES = table_properties(128, 7, 5)


def beer(beer_id: int, name: str, abv: float = 5.0, style: str = "IPA") -> dict:
    return {
        "beer_id": beer_id,
        "brewery_id": 10,
        "beer_name": name,
        "beer_style": style,
        "beer_abv": abv,
    }


FULL_LOAD = [dms_record("beer", "load", beer(i, f"Beer {i}"), 0) for i in range(1, 5)]
CHANGES = [
    # transaction 1001: a new beer inserted and corrected in one transaction (one commit time)
    dms_record("beer", "insert", beer(5, "Beer 5 draft"), 10, 1001, 1),
    dms_record("beer", "update", beer(5, "Beer 5"), 10, 1001, 2, before={"beer_id": 5}),
    dms_record("beer", "update", beer(1, "Beer 1 v2", 5.5), 10, 1001, 3, before={"beer_id": 1}),
    # transaction 1002: a delete carries only the key
    dms_record("beer", "delete", {"beer_id": 2}, 20, 1002, 1),
    dms_record("beer", "update", beer(3, "Beer 3 v2", 6.0), 20, 1002, 2, before={"beer_id": 3}),
    # transaction 1003
    dms_record("beer", "update", beer(5, "Beer 5 v2", 4.8), 30, 1003, 1, before={"beer_id": 5}),
]
LOAD_KEY = delivered_key("beer", 1, "0b3c4f6e-load")
FIRST_KEY = delivered_key("beer", 31, "5d1e2a7b-first")
AGAIN_KEY = delivered_key("beer", 32, "9a8b7c6d-retry")  # another name, the same records
LOAD = dms_bronze(BEER, FULL_LOAD, LOAD_KEY)
FIRST = dms_bronze(BEER, CHANGES, FIRST_KEY)
AGAIN = dms_bronze(BEER, CHANGES[:5], AGAIN_KEY)  # transactions 1001 and 1002 once more
OBJECTS = {"load": LOAD, "first": FIRST, "again": AGAIN}


def new_table(folder):
    folder.mkdir()
    return ensure_table(sql_catalog(folder), "silver", BEER, PROPERTIES)


def rows(table) -> dict[int, dict]:
    table.refresh()
    return {r["beer_id"]: r for r in table.scan().to_arrow().to_pylist()}


def merged(folder, batches: list[list[str]]):
    """A fresh beer table after merging the named objects, one silver batch per list."""
    table = new_table(folder)
    results = [
        merge_batch(
            table,
            pa.concat_tables([OBJECTS[name] for name in batch]),
            BEER,
            f"{folder.name}-{index}",
        )
        for index, batch in enumerate(batches)
    ]
    return table, results


def test_one_delivery_gives_the_rows_by_hand(tmp_path):
    table, (result,) = merged(tmp_path / "once", [["load", "first"]])
    current = rows(table)
    assert (current[1]["beer_name"], current[1]["updated_at"]) == ("Beer 1 v2", at(10))
    loaded_at = LOAD.column("_change_ts")[0].as_py()  # a full-load row: DMS's read time
    assert current[1]["change_seq"] == 3 and current[1]["created_at"] == loaded_at
    assert current[2]["deleted_at"] == at(20) and current[2]["beer_name"] == "Beer 2"
    assert (current[5]["beer_name"], current[5]["change_seq"]) == ("Beer 5 v2", 1)
    assert current[5]["created_at"] == at(10) and current[5]["updated_at"] == at(30)
    assert current[4]["change_seq"] == 0  # a full-load row has no place in a transaction
    assert result.duplicates_skipped == 0 and result.late_ignored == 0


BATCHINGS = {
    "all in one batch": [["load", "first", "again"]],
    "the retry in its own batch": [["load", "first"], ["again"]],
    "each object its own batch": [["load"], ["first"], ["again"]],
    "the retry first": [["load", "again"], ["first"]],
    "the retry first, alone": [["load"], ["again"], ["first"]],
    "both deliveries in one batch after the load": [["load"], ["first", "again"]],
}


@pytest.mark.parametrize("batching", BATCHINGS)
def test_a_redelivered_object_gives_what_one_delivery_gives(tmp_path, batching):
    once, _ = merged(tmp_path / "once", [["load", "first"]])
    twice, _ = merged(tmp_path / "twice", BATCHINGS[batching])
    assert rows(twice) == rows(once)


def test_copies_in_one_batch_count_once(tmp_path):
    table, (result,) = merged(tmp_path / "one", [["load", "first", "again"]])
    assert result.duplicates_skipped == AGAIN.num_rows == 5
    assert result.keys_written == 5 and result.late_ignored == 0
    assert rows(table)[5]["beer_name"] == "Beer 5 v2"


def test_a_batch_of_duplicates_commits_nothing_and_is_counted(tmp_path):
    table, (_, result) = merged(tmp_path / "two", [["load", "first"], ["again"]])
    assert len(table.snapshots()) == 1  # the retry made no second commit
    assert result.keys_written == 0 and result.snapshot_id is None
    # Beers 1, 2 and 3 hold the very changes of the retry: duplicates. Beer 5 moved on
    # (transaction 1003) since: its older copies are indistinguishable from late data.
    assert result.duplicates_skipped == 3 and result.late_ignored == 1


def test_an_insert_redelivered_after_its_update_in_one_transaction_does_not_revert_it(
    tmp_path,
):
    transaction = dms_bronze(BEER, CHANGES[:2], FIRST_KEY)  # insert and update, one commit
    table = new_table(tmp_path / "t")
    merge_batch(table, transaction, BEER, "first")
    redelivered = dms_bronze(BEER, CHANGES[:1], AGAIN_KEY)
    result = merge_batch(table, redelivered, BEER, "again")
    (row,) = rows(table).values()
    assert (row["beer_name"], row["updated_at"], row["change_seq"]) == ("Beer 5", at(10), 2)
    assert row["deleted_at"] is None and row["created_at"] == at(10)
    assert result.keys_written == 0 and result.late_ignored == 1  # older than the update
    # In one batch with its copy, the update wins too.
    together = new_table(tmp_path / "together")
    merge_batch(together, pa.concat_tables([transaction, redelivered]), BEER, "both")
    assert rows(together) == rows(table)


def test_late_changes_are_still_late(tmp_path):
    table, _ = merged(tmp_path / "t", [["load", "first"]])
    before = rows(table)
    late = dms_bronze(
        BEER,
        [
            # committed before the row's change (a lagging source, delivered late)
            dms_record("beer", "update", beer(3, "Beer 3 stale"), 15, 1500, 1),
            # the same commit time as beer 1's row, an earlier place in the transaction
            dms_record("beer", "update", beer(1, "Beer 1 earlier"), 10, 1001, 2),
        ],
        delivered_key("beer", 40, "1f2e3d4c-late"),
    )
    result = merge_batch(table, late, BEER, "late")
    assert rows(table) == before
    assert result.late_ignored == 2 and result.duplicates_skipped == 0
    assert len(table.snapshots()) == 1


OLD_ROW = {**beer(1, "Beer 1"), "created_at": at(0), "updated_at": at(10), "deleted_at": None}
"""The row of a beer table merged before ``change_seq`` existed."""
SAME_TIME = dms_bronze(
    BEER, [dms_record("beer", "update", beer(1, "Beer 1 v2"), 10, 1001, 7)], FIRST_KEY
)
SAME_TIME_AGAIN = dms_bronze(
    BEER, [dms_record("beer", "update", beer(1, "Beer 1 v2"), 10, 1001, 7)], AGAIN_KEY
)


def old_beer_table(catalog) -> None:
    """Create the beer table as it was before ``change_seq`` existed, with :data:`OLD_ROW`."""
    current = iceberg_schema(BEER)
    old = Schema(
        *[f for f in current.fields if f.name != "change_seq"],
        identifier_field_ids=current.identifier_field_ids,
    )
    table = catalog.create_table(
        ("silver", "beer"),
        schema=old,
        partition_spec=partition_spec(BEER, old),
        properties={
            **PROPERTIES,
            PRIMARY_KEY_PROPERTY: "beer_id",
            PARTITIONING_PROPERTY: "day:updated_at",
        },
    )
    table.append(pa.Table.from_pylist([OLD_ROW], schema=old.as_arrow()))


def test_a_table_without_change_seq_gets_it_and_keeps_merging(tmp_path):
    catalog = sql_catalog(tmp_path)
    old_beer_table(catalog)
    table = ensure_table(catalog, "silver", BEER, PROPERTIES)
    field = table.schema().find_field("change_seq")
    assert not field.required and str(field.field_type) == "long"
    assert rows(table)[1]["change_seq"] is None
    # A row without a position takes any change of its time, as it did before.
    result = merge_batch(table, SAME_TIME, BEER, "same-time")
    assert result.keys_written == 1
    row = rows(table)[1]
    assert (row["beer_name"], row["change_seq"], row["created_at"]) == ("Beer 1 v2", 7, at(0))
    # Now it has one: that change delivered again is a duplicate.
    result = merge_batch(table, SAME_TIME_AGAIN, BEER, "again")
    assert result.duplicates_skipped == 1 and result.keys_written == 0
