"""Generic views on the arrow engine: a chained join, a period on a lookup, several views, and
tables and views evolving in place (or refused) when the domain file changes.

The silver runs read bronze batches from memory (silver control records registered by hand):
what is tested is silver, with partitions and rows computed by hand below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pytest

from datalake.control import ControlRecord, ControlStatus, control_id_for
from datalake.domain import Domain, partition_condition
from datalake.layout import (
    view_commit_key,
    view_commit_of,
    view_partition_key,
    view_partition_of,
)
from tests.workloads.conftest import LAKE
from tests.workloads.silver_fixtures import (
    CHAIN_DOMAIN,
    CHAIN_RUNS,
    bronze,
    sql_catalog,
    write_domain,
)
from workloads.shared import spark_common, view_sql
from workloads.shared.tables import table_properties
from workloads.silver.pipeline import SilverReport, SilverRun

ROOT = Path(__file__).resolve().parents[2]


class MemoryLake:
    """Silver control records whose bronze batches live in memory."""

    def __init__(self, store, catalog, domain: Domain):
        self.store, self.catalog, self.domain = store, catalog, domain
        self.batches: dict[str, pa.Table] = {}

    def add(self, table: str, batch: pa.Table) -> None:
        key = f"bronze/{table}/batch-{len(self.batches)}.parquet"
        self.batches[key] = batch
        self.store.register(
            ControlRecord(
                control_id=control_id_for("silver", LAKE, key, key),
                layer="silver",
                table_name=table,
                bucket=LAKE,
                object_key=key,
                format="parquet",
                checksum=key,
                record_count=batch.num_rows,
            )
        )

    def run(self, batches: dict[str, tuple[str, list[dict]]], minute: int) -> SilverReport:
        for table, (operation, rows) in batches.items():
            self.add(table, bronze(self.domain.table(table), rows, minute, operation))
        return SilverRun(
            store=self.store,
            catalog=self.catalog,
            namespace="silver",
            read_bronze=lambda records: pa.concat_tables(
                [self.batches[r.object_key] for r in records], promote_options="default"
            ),
            lake_bucket=LAKE,
            worker_id=f"silver-{minute}",
            properties=table_properties(128, 7, 5),
            domain=self.domain,
        ).run()

    def rows(self, view: str) -> dict[int, dict]:
        """The rows of a view's table by base key."""
        (key,) = self.domain.view(view).contract.primary_key
        rows = self.catalog.load_table(("silver", view)).scan().to_arrow().to_pylist()
        return {row[key]: row for row in rows}


@pytest.fixture
def chain(lake, tmp_path) -> MemoryLake:
    return MemoryLake(lake.store, sql_catalog(tmp_path), write_domain(tmp_path, CHAIN_DOMAIN))


def flat(lake: MemoryLake) -> dict[int, tuple]:
    """line -> (partition, customer, customer name) of line_flat."""
    return {
        line: ((r["order_year"], r["order_month"]), r["customer_id"], r["customer_name"])
        for line, r in lake.rows("line_flat").items()
    }


def signup(lake: MemoryLake) -> dict[int, tuple]:
    """line -> sign-up day partition of line_signup."""
    return {
        line: (r["signup_year"], r["signup_month"], r["signup_day"])
        for line, r in lake.rows("line_signup").items()
    }


def replaced(report: SilverReport) -> dict[str, list[tuple[int, ...]]]:
    return {name: result.partitions for name, result in report.views.items()}


def named(lake: MemoryLake, report: SilverReport) -> dict[str, list[tuple[int, ...]]]:
    """The partitions the run's gold records name, by view."""
    records = [lake.store.get(control_id) for control_id in report.gold_records]
    assert len({r.table_name for r in records}) == len(records)  # one per view
    return {r.table_name: [tuple(p) for p in r.partitions or []] for r in records}


MARCH, APRIL, MAY = (2024, 3), (2024, 4), (2024, 5)
ANN_DAY, BOB_DAY, LATER_DAY = (2024, 1, 10), (2024, 2, 20), (2024, 6, 1)


def test_partitions_follow_lookup_times_and_key_references_through_a_chained_join(chain):
    first = chain.run(CHAIN_RUNS[0], minute=10)
    assert list(first.views) == ["line_flat", "line_signup"]  # domain order
    # Line 4's order has no time and line 5's order does not exist: no month.
    assert replaced(first) == {"line_flat": [MARCH, APRIL], "line_signup": [ANN_DAY, BOB_DAY]}
    assert flat(chain) == {1: (MARCH, 1, "Ann"), 2: (MARCH, 1, "Ann"), 3: (APRIL, 2, "Bob")}
    assert signup(chain) == {1: ANN_DAY, 2: ANN_DAY, 3: BOB_DAY, 4: ANN_DAY}
    assert "email" not in chain.rows("line_flat")[1]  # PII of a lookup stays out

    # Order 1 moves to May: March (where its lines were) and May (where they are) are
    # rebuilt; line 5 moves to order 2 (April, Bob's day).
    second = chain.run(CHAIN_RUNS[1], minute=20)
    assert replaced(second) == {
        "line_flat": [MARCH, APRIL, MAY],
        "line_signup": [ANN_DAY, BOB_DAY],
    }
    assert flat(chain) == {
        1: (MAY, 1, "Ann"),
        2: (MAY, 1, "Ann"),
        3: (APRIL, 2, "Bob"),
        5: (APRIL, 2, "Bob"),
    }
    assert signup(chain) == {1: ANN_DAY, 2: ANN_DAY, 3: BOB_DAY, 4: ANN_DAY, 5: BOB_DAY}

    # Order 2 now references customer 1: its lines keep April but move to Ann's day.
    third = chain.run(CHAIN_RUNS[2], minute=30)
    assert replaced(third) == {"line_flat": [APRIL], "line_signup": [ANN_DAY, BOB_DAY]}
    assert flat(chain)[3] == flat(chain)[5] == (APRIL, 1, "Ann")
    assert signup(chain) == {1: ANN_DAY, 2: ANN_DAY, 3: ANN_DAY, 4: ANN_DAY, 5: ANN_DAY}

    # Customer 1 changes: every line of its orders (1, 2 and 3) is found through orders.
    fourth = chain.run(CHAIN_RUNS[3], minute=40)
    assert replaced(fourth) == {"line_flat": [APRIL, MAY], "line_signup": [ANN_DAY, LATER_DAY]}
    assert {line: name for line, (_, _, name) in flat(chain).items()} == dict.fromkeys(
        (1, 2, 3, 5), "Ann B"
    )
    assert signup(chain) == dict.fromkeys((1, 2, 3, 4, 5), LATER_DAY)

    # Customer 1 deleted: line_flat keeps the lines without a name; they lose their day.
    fifth = chain.run(CHAIN_RUNS[4], minute=50)
    assert replaced(fifth) == {"line_flat": [APRIL, MAY], "line_signup": [LATER_DAY]}
    assert flat(chain) == {
        1: (MAY, 1, None),
        2: (MAY, 1, None),
        3: (APRIL, 1, None),
        5: (APRIL, 1, None),
    }
    assert signup(chain) == {}
    # Each run registered one gold record per view it changed, naming what it replaced.
    for report in (first, second, third, fourth, fifth):
        assert named(chain, report) == replaced(report)
    pending = list(chain.store.by_status("gold", ControlStatus.PENDING))
    assert len(pending) == 2 * 5


def test_a_batch_touching_no_table_of_a_view_rebuilds_nothing_of_it(chain):
    chain.run(CHAIN_RUNS[0], minute=10)
    report = chain.run({"customers": ("update", [{"customer_id": 7, "customer_name": "X"}])}, 20)
    assert replaced(report) == {"line_flat": [], "line_signup": []}
    assert report.gold_records == []


# --- evolution in place, and what is refused --------------------------------------------------


def evolved(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_a_nullable_column_added_to_a_table_and_a_view_evolves_both_in_place(lake, tmp_path):
    catalog = sql_catalog(tmp_path)
    before = MemoryLake(lake.store, catalog, write_domain(tmp_path, CHAIN_DOMAIN))
    before.run(CHAIN_RUNS[0], minute=10)
    files = len(catalog.load_table(("silver", "lines")).inspect.files())

    text = evolved(
        CHAIN_DOMAIN,
        "- {name: amount, type: double}",
        "- {name: amount, type: double}\n          - {name: note, type: string}",
    )
    text = evolved(text, "columns: [line_id, order_id]", "columns: [line_id, order_id, note]")
    after = MemoryLake(lake.store, catalog, write_domain(tmp_path, text, "evolved.yaml"))
    after.run({"lines": ("update", [{"line_id": 6, "order_id": 1, "note": "new"}])}, minute=20)

    lines = catalog.load_table(("silver", "lines"))
    assert "note" in lines.schema().column_names
    assert len(lines.inspect.files()) == files + 1  # appended, nothing rewritten
    notes = {r["line_id"]: r["note"] for r in lines.scan().to_arrow().to_pylist()}
    assert notes == {1: None, 2: None, 3: None, 4: None, 5: None, 6: "new"}
    # line_signup lists it; line_flat lists no columns, so it keeps every base column.
    for view in ("line_signup", "line_flat"):
        rows = after.rows(view)
        assert rows[6]["note"] == "new" and rows[1]["note"] is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "- {name: amount, type: double}",
            "",
            "table silver.lines: column amount (double) is in the deployed table but no longer "
            "in the domain; restore it (to drop a column, create a new table and backfill it)",
        ),
        (
            "{name: amount, type: double}",
            "{name: amount, type: string}",
            "table silver.lines: column amount is double in the deployed table but string in "
            "the domain; restore type double (to retype a column, add a new column and "
            "backfill it)",
        ),
        (
            "primary_key: [line_id]",
            "primary_key: [line_id, order_id]",
            "table silver.lines: primary key is (line_id) in the deployed table but (line_id, "
            "order_id) in the domain; restore it (to re-key a table, create a new table and "
            "backfill it)",
        ),
    ],
    ids=["removed", "retyped", "new-key"],
)
def test_removing_retyping_or_rekeying_a_table_is_refused(lake, tmp_path, old, new, message):
    catalog = sql_catalog(tmp_path)
    MemoryLake(lake.store, catalog, write_domain(tmp_path, CHAIN_DOMAIN)).run(CHAIN_RUNS[0], 10)
    text = evolved(CHAIN_DOMAIN, old, new)
    if "order_id]" in new:
        text = evolved(
            text,
            "- {name: order_id, type: long}\n",
            "- {name: order_id, type: long, nullable: false}\n",
        )
    changed = MemoryLake(lake.store, catalog, write_domain(tmp_path, text, "changed.yaml"))
    report = changed.run({"lines": ("update", [{"line_id": 1, "order_id": 1}])}, minute=20)
    assert report.failed == {"lines": f"TableEvolutionError: {message}"}
    (failed,) = lake.store.by_status("silver", ControlStatus.ERROR)
    assert failed.error == f"TableEvolutionError: {message}"


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (
            "parts: [year]",
            "table silver.line_flat: column order_month (long) is in the deployed table but no "
            "longer in the domain",
        ),
        (
            "parts: [year, month, day]\n          partition_by: month",
            "table silver.line_flat: period is (order_year, order_month) in the deployed table "
            "but (order_year, order_month, order_day) in the domain; restore the period parts "
            "(to change a view's period, create a new view and backfill it)",
        ),
        (
            "parts: [year, month]",  # partition_by left out: the first part, the year
            "table silver.line_flat: partitioning is (identity:order_year,identity:order_month)"
            " in the deployed table but (identity:order_year) in the domain; restore the view's "
            "period parts and partition_by (to repartition a view and its marts, create a new "
            "view and backfill it)",
        ),
    ],
    ids=["fewer-parts", "more-parts", "coarser-partitions"],
)
def test_changing_the_period_or_the_partitioning_of_a_view_is_refused(
    lake, tmp_path, period, message
):
    catalog = sql_catalog(tmp_path)
    MemoryLake(lake.store, catalog, write_domain(tmp_path, CHAIN_DOMAIN)).run(CHAIN_RUNS[0], 10)
    text = evolved(
        CHAIN_DOMAIN,
        "parts: [year, month]\n          prefix: order\n          partition_by: month",
        f"{period}\n          prefix: order",
    )
    changed = MemoryLake(lake.store, catalog, write_domain(tmp_path, text, "changed.yaml"))
    report = changed.run({"orders": ("update", [{"order_id": 1, "customer_id": 2}])}, minute=20)
    # Recorded on the view and on the records of the tables it reads, as a table's refusal is.
    assert message in report.failed_views["line_flat"]
    assert "TableEvolutionError" in report.failed_views["line_flat"]
    (failed,) = lake.store.by_status("silver", ControlStatus.ERROR)
    assert failed.table_name == "orders" and message in (failed.error or "")


# --- what the engines share -------------------------------------------------------------------


def test_view_sql_runs_on_python_39_with_the_standard_library():
    for name in ("view_sql.py", "spark_common.py"):
        source = (ROOT / "workloads" / "shared" / name).read_text()
        tree = ast.parse(source, feature_version=(3, 9))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert imported <= {"__future__", "argparse", "collections", "json", "typing", "pyspark"}, (
            name
        )


def test_the_jobs_select_partitions_as_the_domain_does():
    values = [(2011, 12), (2010, 1), (2010, 2), (2010, 1)]
    columns = ["review_year", "review_month"]
    assert spark_common.partition_condition(columns, values) == partition_condition(columns, values)
    assert spark_common.partition_condition(columns, []) == partition_condition(columns, [])
    assert spark_common.partition_condition(["d"], [(3,)]) == "(d = 3)"


def test_view_commit_keys_round_trip():
    key = view_commit_key("review_flat", "snapshot-4021")
    assert key == "silver/review_flat/commit=snapshot-4021"
    assert view_commit_of(key) == "review_flat"
    assert view_commit_of("silver/review_flat/review_year=2024/review_month=03") is None
    assert view_commit_of("silver/runs/run-1/views.json") is None
    with pytest.raises(ValueError, match="without /"):
        view_commit_key("v", "a/b")


def test_view_partition_keys_round_trip():  # the keys of gold records before they listed them
    key = view_partition_key("review_flat", ["review_year", "review_month"], [2024, 3])
    assert key == "silver/review_flat/review_year=2024/review_month=03"
    assert view_partition_of(key) == ("review_flat", (2024, 3))
    day = view_partition_key("line_signup", ["y", "m", "d"], [2024, 6, 1])
    assert view_partition_of(day) == ("line_signup", (2024, 6, 1))
    assert view_partition_of("silver/runs/run-1/views.json") is None
    with pytest.raises(ValueError, match="does not match"):
        view_partition_key("v", ["y", "m"], [2024])


def test_affected_keys_of_a_chained_lookup_go_through_the_earlier_join(tmp_path):
    spec = write_domain(tmp_path, CHAIN_DOMAIN).view("line_flat").spec()
    sql = view_sql.affected_keys_sql(
        spec, {"lines": "l", "orders": "o", "customers": "c"}, {"customers": "(1)"}
    )
    assert sql == (
        "SELECT b.line_id AS k\nFROM l b\n"
        "LEFT JOIN (SELECT * FROM o WHERE deleted_at IS NULL) j1 ON b.order_id = j1.order_id\n"
        "WHERE j1.customer_id IN (1)"
    )
    assert view_sql.spark_period_expressions(spec) == [
        ("order_year", "CAST(year(timestamp_seconds(j1.ordered_at)) AS BIGINT)"),
        ("order_month", "CAST(month(timestamp_seconds(j1.ordered_at)) AS BIGINT)"),
    ]
    assert view_sql.sql_literals([1, "a'b"]) == "(1, 'a''b')"
