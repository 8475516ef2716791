"""The arrow engine's partition selection and commits: a few list conditions select exactly
the given partitions (in SQL and as an Iceberg filter), and each mart is replaced in one
snapshot that removes the partitions' files whole. The marts are the beer example's,
partitioned by month (``partition_by: month``) so that the partitions are many."""

from __future__ import annotations

import calendar

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.expressions.visitors import expression_evaluator
from pyiceberg.typedef import Record

from datalake.domain import partition_condition
from tests.workloads.gold_fixtures import MONTHLY_FLAT as REVIEW_FLAT
from tests.workloads.gold_fixtures import MONTHLY_MARTS as MARTS
from tests.workloads.gold_fixtures import PROPERTIES, loaded_view
from workloads.gold.marts import run_marts, selection
from workloads.shared.tables import iceberg_schema
from workloads.shared.view_sql import partition_in, partition_terms

MONTHS = [(y, m) for y in (2009, 2010, 2011) for m in range(1, 13)]
DAYS = [(2024, m, d) for m in (2, 3) for d in range(1, calendar.monthrange(2024, m)[1] + 1)]


def selected_by_sql(columns, grid, condition: str) -> set[tuple[int, ...]]:
    rows = pa.table({c: [p[i] for p in grid] for i, c in enumerate(columns)})
    connection = duckdb.connect()
    connection.register("grid", rows)
    found = connection.sql(f"SELECT * FROM grid WHERE {condition}").fetchall()
    return {tuple(r) for r in found}


CASES = [
    (("y", "m"), ("year", "month"), MONTHS, MONTHS),  # three whole years
    (("y", "m"), ("year", "month"), MONTHS, MONTHS[3:30]),  # partial years both ends
    (("y", "m"), ("year", "month"), MONTHS, [(2010, 2), (2009, 12), (2010, 2)]),
    (("y", "m"), (), MONTHS, MONTHS[:12]),  # parts unknown: no collapse, still exact
    (("y", "m", "d"), ("year", "month", "day"), DAYS, DAYS[:29]),  # all of February
    (("y", "m", "d"), ("year", "month", "day"), DAYS, DAYS),
    (("y", "m", "d"), ("year", "month", "day"), DAYS, DAYS[5:40]),
    (("d",), ("day",), [(d,) for d in range(1, 9)], [(3,), (5,)]),
]


@pytest.mark.parametrize(("columns", "parts", "grid", "chosen"), CASES)
def test_list_conditions_select_exactly_the_partitions(columns, parts, grid, chosen):
    expected = set(chosen)
    condition = partition_in(columns, chosen, parts)
    assert selected_by_sql(columns, grid, condition) == expected
    assert selected_by_sql(columns, grid, partition_condition(columns, chosen)) == expected


def test_a_history_of_months_is_one_term():
    assert partition_in(("y", "m"), MONTHS, ("year", "month")) == "y IN (2009, 2010, 2011)"
    assert partition_in(("y", "m"), MONTHS[:14], ("year", "month")) == (
        "y IN (2009) OR (y = 2010 AND m IN (1, 2))"
    )
    assert len(partition_terms(("y", "m", "d"), DAYS, ("year", "month", "day"))) == 1
    assert partition_in(("y", "m"), [], ("year", "month")) == "FALSE"
    with pytest.raises(ValueError, match="does not match"):
        partition_in(("y", "m"), [(2024,)])


def test_the_iceberg_filter_selects_the_same_partitions():
    schema = iceberg_schema(REVIEW_FLAT.contract)
    names = schema.column_names
    year, month = names.index("review_year"), names.index("review_month")
    for chosen in (MONTHS, MONTHS[3:30], [(2010, 2)], MONTHS[:12]):
        evaluate = expression_evaluator(schema, selection(MARTS[0], chosen), case_sensitive=True)
        got = set()
        for values in MONTHS:
            record: list[object] = [None] * len(names)
            record[year], record[month] = values
            if evaluate(Record(*record)):
                got.add(values)
        assert got == set(chosen)


def test_each_mart_is_replaced_in_one_snapshot_and_reruns_give_the_same_files(tmp_path):
    catalog, review_flat = loaded_view(tmp_path, REVIEW_FLAT)
    months = [(2010, 1), (2010, 2)]
    run_marts(catalog, "gold", review_flat, MARTS, months, PROPERTIES, batch_id="one")
    first = {m.name: catalog.load_table(("gold", m.name)) for m in MARTS}
    counts = {name: len(list(t.snapshots())) for name, t in first.items()}
    rows = {name: sorted(map(str, t.scan().to_arrow().to_pylist())) for name, t in first.items()}
    run_marts(catalog, "gold", review_flat, MARTS, months, PROPERTIES, batch_id="two")
    for mart in MARTS:
        table = catalog.load_table(("gold", mart.name))
        assert len(list(table.snapshots())) == counts[mart.name] + 1  # one commit per mart
        snapshot = table.current_snapshot()
        assert snapshot.summary["datalake.batch-id"] == "two"
        assert sorted(map(str, table.scan().to_arrow().to_pylist())) == rows[mart.name]
        files = table.inspect.files().to_pylist()
        partitions = [tuple(f["partition"].values()) for f in files]
        assert len(partitions) == len(set(partitions))  # the old files removed whole
        assert all(p in months for p in partitions)


def test_other_partitions_keep_their_files(tmp_path):
    catalog, review_flat = loaded_view(tmp_path, REVIEW_FLAT)
    run_marts(catalog, "gold", review_flat, MARTS, [(2010, 1), (2010, 2)], PROPERTIES)
    name = "state_by_review_volume"

    def files() -> dict[tuple, str]:
        table = catalog.load_table(("gold", name))
        listed = table.inspect.files().to_pylist()
        return {tuple(f["partition"].values()): f["file_path"] for f in listed}

    before = files()
    run_marts(catalog, "gold", review_flat, MARTS, [(2010, 2)], PROPERTIES)
    after = files()
    assert after[(2010, 1)] == before[(2010, 1)]
    assert after[(2010, 2)] != before[(2010, 2)]
    assert set(after) == set(before)
