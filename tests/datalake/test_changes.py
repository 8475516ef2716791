"""The change generator (``datalake/changes.py``), the live rows of input files
(``datalake/live_rows.py``) and ``datalake seed changes``."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from datalake.changes import (
    DEFAULT_MIX,
    ChangeError,
    cdc_contract,
    control_record,
    generate_changes,
    operation_counts,
    partition_key,
    to_line,
)
from datalake.cli import app
from datalake.contracts import Column, ColumnType, TableContract
from datalake.domain import default_domain_path, load_domain
from datalake.inputs import gzip_bytes, input_files
from datalake.live_rows import existing_rows
from datalake.streaming import DMS_OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
BEER = load_domain(default_domain_path())
RETAIL_FILE = ROOT / "examples" / "retail" / "domain.yaml"
RETAIL = load_domain(RETAIL_FILE)
REVIEW, PROFILE = BEER.tables["review"], BEER.tables["profile"]
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
METADATA = {
    "timestamp",
    "record-type",
    "operation",
    "partition-key-type",
    "schema-name",
    "table-name",
    "transaction-id",
    "transaction-record-id",
    "commit-timestamp",
    "stream-position",
}
runner = CliRunner()


def reviews(n: int = 500) -> list[dict]:
    scores = [c.name for c in REVIEW.columns if c.step is not None]
    return [
        {
            "review_id": i,
            "brewery_id": 10 + i % 7,
            "beer_id": 100 + i % 13,
            "profile_id": 1000 + i % 17,
            **{name: 1.0 + (i % 9) / 2 for name in scores},
            "review_time": 1_300_000_000 + i,
        }
        for i in range(1, n + 1)
    ]


def test_the_same_seed_and_start_give_the_same_changes_and_start_moves_times_only():
    first = generate_changes(REVIEW, reviews(), count=300, seed=5, start=START)
    assert first == generate_changes(REVIEW, reviews(), count=300, seed=5, start=START)
    assert first != generate_changes(REVIEW, reviews(), count=300, seed=6, start=START)
    later = generate_changes(REVIEW, reviews(), count=300, seed=5, start=START + timedelta(days=1))
    assert [r["data"] for r in later] == [r["data"] for r in first]
    assert later[0]["metadata"]["commit-timestamp"].startswith("2026-12-02T10:00:00")
    # An Arrow table of the same rows gives the same changes.
    table = pa.Table.from_pylist(reviews())
    assert generate_changes(REVIEW, table, count=300, seed=5, start=START) == first


def test_the_mix_is_realistic_and_changes_touch_existing_keys():
    existing = reviews()
    records = generate_changes(REVIEW, existing, count=2_000, seed=1, start=START)
    counts = operation_counts(records)
    assert sum(counts.values()) == 2_000
    shares = [counts[op] / 2_000 for op in ("insert", "update", "delete")]
    assert all(abs(got - want) < 0.04 for got, want in zip(shares, DEFAULT_MIX, strict=True))
    known = {r["review_id"] for r in existing}
    live = set(known)
    for record in records:
        key, operation = record["data"]["review_id"], record["metadata"]["operation"]
        if operation == "insert":
            assert key not in live and key > max(known)  # a new key
            live.add(key)
        else:
            assert key in live  # never a key that is not there (deleted, or never inserted)
            if operation == "delete":
                live.remove(key)
    touched = [r["data"]["review_id"] for r in records if r["metadata"]["operation"] != "insert"]
    assert sum(key in known for key in touched) > 0.6 * len(touched)  # mostly existing rows
    assert (
        generate_changes(REVIEW, [], count=5, seed=1, start=START, mix=(0, 1, 0))[0]["metadata"][
            "operation"
        ]
        == "insert"
    )  # nothing to update yet
    only_updates = generate_changes(REVIEW, existing, count=50, seed=1, start=START, mix=(0, 1, 0))
    assert set(operation_counts(only_updates)) == {"update"}


def test_envelopes_are_dms_shaped_and_values_valid_for_the_contract():
    records = generate_changes(REVIEW, reviews(), count=1_000, seed=2, start=START)
    previous = ("", 0)
    transactions: Counter[int] = Counter()
    for record in records:
        metadata, data, operation = (
            record["metadata"],
            record["data"],
            record["metadata"]["operation"],
        )
        assert set(metadata) >= METADATA and metadata["record-type"] == "data"
        assert metadata["table-name"] == "review" and metadata["schema-name"] == "public"
        assert DMS_OPERATIONS[operation] == operation
        position = (metadata["commit-timestamp"], metadata["transaction-record-id"])
        assert position > previous  # commit order, then place in the transaction
        previous = position
        assert metadata["timestamp"] >= metadata["commit-timestamp"]  # DMS reads after commit
        transactions[metadata["transaction-id"]] += 1
        if operation == "delete":
            assert data == {"review_id": data["review_id"]}  # the key only
            assert "before-image" not in record
        else:
            assert set(data) == set(REVIEW.column_names)  # the whole row
            for column in REVIEW.columns:
                value = data[column.name]
                if value is None:
                    assert column.nullable
                    continue
                assert isinstance(value, int if column.type is ColumnType.LONG else float)
                if column.minimum is not None:
                    assert value >= column.minimum
                if column.maximum is not None:
                    assert value <= column.maximum
                if column.step is not None:
                    assert value / column.step == round(value / column.step)
        if operation == "update":
            assert record["before-image"] == {"review_id": data["review_id"]}  # pk only
        else:
            assert "before-image" not in record
        assert partition_key(record, REVIEW) == f"public.review.{data['review_id']}"
        assert json.loads(to_line(record)) == record and "\n" not in to_line(record)
    assert set(transactions.values()) == {1, 2, 3}


def test_a_column_no_existing_row_leaves_empty_is_never_made_empty():
    records = generate_changes(REVIEW, reviews(), count=2_000, seed=8, start=START)
    values = [r["data"].get("review_time", 0) for r in records]
    assert None not in values  # nullable, but never empty in the existing rows
    fresh = generate_changes(REVIEW, [], count=2_000, seed=8, start=START)
    assert None in [r["data"].get("review_time", 0) for r in fresh]  # no rows to tell


def test_records_of_one_transaction_share_its_commit_and_update_a_row_it_inserted():
    records = generate_changes(REVIEW, reviews(), count=3_000, seed=4, start=START)
    by_transaction: dict[int, list[dict]] = {}
    for record in records:
        by_transaction.setdefault(record["metadata"]["transaction-id"], []).append(record)
    for members in by_transaction.values():
        assert len({m["metadata"]["commit-timestamp"] for m in members}) == 1
        assert [m["metadata"]["transaction-record-id"] for m in members] == list(
            range(1, len(members) + 1)
        )
    same_key = [
        m
        for m in by_transaction.values()
        if len(m) > 1
        and m[0]["metadata"]["operation"] == "insert"
        and m[1]["metadata"]["operation"] == "update"
        and m[0]["data"]["review_id"] == m[1]["data"]["review_id"]
    ]
    assert same_key  # the same-transaction case silver must order by record id


def test_pii_values_are_never_copied_to_another_row():
    profiles = [
        {"profile_id": i, "profile_name": f"p{i}", "email": f"person{i}@mail.test", "state": "OR"}
        for i in range(1, 200)
    ]
    records = generate_changes(PROFILE, profiles, count=500, seed=3, start=START)
    emails = {p["profile_id"]: p["email"] for p in profiles}
    for record in records:
        email = record["data"].get("email")
        if email is not None and email != emails.get(record["data"]["profile_id"]):
            assert email.endswith("@example.org")  # drawn, not borrowed from another person


def test_a_full_load_sends_every_row_first_without_transaction_details():
    rows = reviews(40)
    records = generate_changes(REVIEW, rows, count=10, seed=1, start=START, full_load=True)
    loads = records[:40]
    assert [r["metadata"]["operation"] for r in loads] == ["load"] * 40
    assert [r["data"] for r in loads] == rows
    assert all("commit-timestamp" not in r["metadata"] for r in loads)
    assert all("transaction-id" not in r["metadata"] for r in loads)
    assert (
        len(records) == 50
        and records[40]["metadata"]["commit-timestamp"] > loads[-1]["metadata"]["timestamp"]
    )


def test_composite_and_string_keys_get_new_unique_keys():
    contract = TableContract(
        "line",
        (
            Column("order_ref", ColumnType.STRING, nullable=False),
            Column("line_no", ColumnType.LONG, nullable=False, minimum=1, maximum=20),
            Column("amount", ColumnType.DOUBLE, minimum=0, maximum=10, step=0.25),
            Column("at", ColumnType.TIMESTAMP),
        ),
        ("order_ref", "line_no"),
    )
    existing = [("a", 1), ("a", 2), ("b", 1)]
    records = generate_changes(contract, existing, count=300, seed=1, start=START)
    keys = [
        (r["data"]["order_ref"], r["data"]["line_no"])
        for r in records
        if r["metadata"]["operation"] == "insert"
    ]
    assert len(keys) == len(set(keys)) and not set(keys) & set(existing)
    for record in records:
        if record["metadata"]["operation"] != "delete":
            amount, at = record["data"]["amount"], record["data"]["at"]
            assert amount is None or (0 <= amount <= 10 and amount / 0.25 == round(amount / 0.25))
            assert at is None or datetime.fromisoformat(at).tzinfo is not None


def test_control_records_and_bad_arguments():
    control = control_record(REVIEW, at=START)
    assert control["metadata"]["record-type"] == "control"
    assert control["metadata"]["operation"] == "create-table"
    assert "data" not in control and control["control"]["table-def"]["primary-key"] == ["review_id"]
    assert partition_key(control, REVIEW) == "public.review"
    with pytest.raises(ChangeError, match="mix must be 3 non-negative"):
        generate_changes(REVIEW, [], count=1, seed=1, start=START, mix=(1, -1, 0))
    with pytest.raises(ChangeError, match="count must not be negative"):
        generate_changes(REVIEW, [], count=-1, seed=1, start=START)
    with pytest.raises(ChangeError, match=r"unknown table 'nope'.*CDC tables: brewery, beer"):
        cdc_contract(BEER, "nope")
    with pytest.raises(ChangeError, match=r"'customers' .* receives no CDC.*CDC tables: orders"):
        cdc_contract(RETAIL, "customers")


# --- the live rows of an input folder --------------------------------------------------------


def write(folder: Path, relative: str, text: str) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_bytes(text.encode()))


def test_live_rows_apply_both_change_shapes_in_landing_order(tmp_path):
    header = "profile_id,profile_name,email,state\n"
    write(tmp_path, "profile/p.csv.gz", header + "1,a,a@x.test,OR\n2,b,b@x.test,WA\n3,c,,CA\n")
    write(
        tmp_path,
        "profile/cdc/changes-0001.jsonl.gz",
        '{"operation": "insert", "profile_id": 4, "profile_name": "d"}\n'
        '{"operation": "update", "profile_id": 1, "state": "NV"}\n'
        '{"operation": "delete", "profile_id": 2}\n'
        '{"operation": "update", "profile_id": \n',
    )
    dms = [
        {"data": {"profile_id": 3}, "metadata": {"operation": "delete", "table-name": "profile"}},
        {
            "data": {"profile_id": 5, "state": "ID"},
            "metadata": {"operation": "I", "table-name": "profile"},
        },
        {"control": {}, "metadata": {"record-type": "control", "table-name": "profile"}},
        {"data": {"profile_id": 6}, "metadata": {"operation": "insert", "table-name": "beer"}},
    ]
    write(tmp_path, "profile/cdc/changes-0002.jsonl.gz", "".join(to_line(r) + "\n" for r in dms))
    rows = existing_rows(PROFILE, input_files(BEER, tmp_path))
    got = {r["profile_id"]: r for r in rows.to_pylist()}
    assert sorted(got) == [1, 4, 5]
    assert got[1] == {"profile_id": 1, "profile_name": "a", "email": "a@x.test", "state": "NV"}
    assert got[5]["state"] == "ID" and got[4]["profile_name"] == "d"


RETAIL_DATA = ROOT / "examples" / "retail" / "data"
SEED_ORDERS = ["seed", "changes", "--table", "orders", "--count", "40", "--seed", "3",
               "--start", "2026-12-01T10:00:00Z", "--domain", str(RETAIL_FILE),
               "--input", str(RETAIL_DATA)]  # fmt: skip


def test_seed_changes_writes_json_lines_of_a_cdc_table(tmp_path):
    result = runner.invoke(app, [*SEED_ORDERS, "--out", str(tmp_path / "o.jsonl.gz")])
    assert result.exit_code == 0, result.output
    records = [
        json.loads(line)
        for line in gzip.decompress((tmp_path / "o.jsonl.gz").read_bytes()).splitlines()
    ]
    counts = operation_counts(records)
    assert len(records) == 40
    assert f"40 changes of table orders (inserts {counts['insert']}" in result.output
    orders = existing_rows(
        RETAIL.tables["orders"], input_files(RETAIL, ROOT / "examples" / "retail" / "data")
    )
    known = set(orders.column("order_id").to_pylist())
    assert {
        r["data"]["order_id"] for r in records if r["metadata"]["operation"] == "update"
    } & known
    again = runner.invoke(app, SEED_ORDERS)
    assert [
        json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")
    ] == records


def test_seed_changes_names_the_cdc_tables_on_a_bad_table():
    result = runner.invoke(
        app, ["seed", "changes", "--table", "customers", "--domain", str(RETAIL_FILE)]
    )
    assert result.exit_code == 1
    assert "receives no CDC (cdc: false); its CDC tables: orders" in result.output
    result = runner.invoke(app, ["seed", "changes", "--table", "beer", "--start", "soon"])
    assert result.exit_code == 1 and "--start" in result.output


def test_seed_changes_never_prints_pii_on_a_terminal(monkeypatch, tmp_path):
    import datalake.cli

    monkeypatch.setattr(datalake.cli, "_stdout_is_terminal", lambda: True)
    result = runner.invoke(app, ["seed", "changes", "--table", "profile", "--count", "5"])
    assert result.exit_code == 1 and "has PII columns (email)" in result.output
    assert "@example.org" not in result.output
    out = tmp_path / "c.jsonl"
    result = runner.invoke(app, ["seed", "changes", "--table", "profile", "--out", str(out)])
    assert result.exit_code == 0 and len(out.read_text().splitlines()) == 1_000
    beers = runner.invoke(app, ["seed", "changes", "--table", "beer", "--count", "2"])
    assert beers.exit_code == 0 and beers.stdout.count('"table-name":"beer"') == 2
