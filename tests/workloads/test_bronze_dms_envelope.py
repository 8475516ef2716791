"""Bronze reads what DMS sends: the envelope, both operation vocabularies, skipped records,
exact quarantine reasons, ordering across objects, and the fast path's equality with the
exact path (rows and reasons)."""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datalake.control import ControlRecord, ControlStatus
from datalake.domain import default_domain_path, load_domain
from datalake.errors import InvalidRawFile
from tests.workloads.conftest import gz
from workloads.bronze import blocks, jsonl, jsonl_fast
from workloads.bronze.ingest import convert_raw
from workloads.bronze.masking import RedactDeclaredPii
from workloads.bronze.reasons import WITHHELD
from workloads.bronze.validation import validate_batch

DOMAIN = load_domain(default_domain_path())
BEER = DOMAIN.table("beer")
PROFILE = DOMAIN.table("profile")
KEY = "raw/beer/cdc/2026/12/01/10/lake-dev-cdc-delivery-1-2026-12-01-10-00-00-0b1c.jsonl.gz"
OPERATIONS = "load, insert, i, update, u, delete, d (any case)"
FULL_LOAD_AT = "2026-12-01T09:00:00.000000Z"


def meta(operation="insert", *, table="beer", record_type="data", txn=None, rec=1, commit=None):
    """DMS's metadata (json-unformatted, transaction details on); full-load rows without."""
    metadata = {
        "timestamp": "2026-12-01T10:00:05.123456Z" if txn else FULL_LOAD_AT,
        "record-type": record_type,
        "operation": operation,
        "partition-key-type": "primary-key",
        "schema-name": "public",
        "table-name": table,
    }
    if txn is not None:
        metadata |= {
            "transaction-id": txn,
            "transaction-record-id": rec,
            "prev-transaction-id": txn - 1,
            "prev-transaction-record-id": 3,
            "commit-timestamp": commit or "2026-12-01T10:00:00.120000Z",
            "stream-position": f"00000002/7C0071{txn % 256:02X}.{rec}.00000002/7C007178",
        }
    return metadata


def beer(beer_id, name="Pale", abv=5.0):
    return {"beer_id": beer_id, "brewery_id": 7, "beer_name": name, "beer_style": "IPA",
            "beer_abv": abv}  # fmt: skip


def line(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))  # what json-unformatted looks like


CONTROL = {
    "control": {
        "table-def": {
            "columns": {"beer_id": {"type": "INT64", "nullable": False}},
            "primary-key": ["beer_id"],
        }
    },
    "metadata": {**meta("create-table", record_type="control"), "partition-key-type": "task-id"},
}
APPLY_EXCEPTION = {
    "data": {
        "TASK_NAME": "VKH4XG5ZJHB2PEBMXQ7X4RIXMI",
        "TABLE_OWNER": "public",
        "TABLE_NAME": "beer",
        "ERROR_TIME": "2026-12-01 10:00:07",
        "STATEMENT": "UPDATE beer SET beer_abv = 5.5 WHERE beer_id = 99",
        "ERROR": "RetCode: SQL_SUCCESS  SqlState: 0  Message: 0 rows affected",
    },
    "metadata": meta(table="awsdms_apply_exceptions", txn=1200),
}


def convert(body: bytes, contract=BEER, key=KEY, *, fast: bool = True, monkeypatch=None):
    """``convert_raw`` on local files: (result, quarantine entries, bronze rows)."""
    record = ControlRecord(
        control_id="c" * 32,
        layer="bronze",
        table_name=contract.name,
        bucket="landing",
        object_key=key.replace("/beer/", f"/{contract.name}/"),
        format="jsonl",
        checksum="-",
        created_at=datetime(2026, 12, 1, 11, tzinfo=UTC),
    )
    original = jsonl_fast.FastJsonLines.for_contract
    if not fast:
        jsonl_fast.FastJsonLines.for_contract = classmethod(lambda cls, contract: None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            parquet, quarantine = Path(tmp, "out.parquet"), Path(tmp, "bad.jsonl.gz")
            result = convert_raw(
                pa.CompressedInputStream(pa.BufferReader(body), "gzip"),
                record,
                contract=contract,
                masker=RedactDeclaredPii(),
                parquet_path=parquet,
                quarantine_path=quarantine,
                ingested_at=datetime(2026, 12, 1, 11, 5, tzinfo=UTC),
            )
            bad = [json.loads(x) for x in gzip.decompress(quarantine.read_bytes()).splitlines()]
            rows = pq.read_table(parquet).to_pylist() if result.rows_written else []
    finally:
        jsonl_fast.FastJsonLines.for_contract = original
    return result, sorted(bad, key=lambda e: e["line"]), rows


def counts(result):
    return (result.rows_in, result.rows_written, result.rows_quarantined, result.rows_skipped)


# --- what DMS sends -------------------------------------------------------------------------


def test_a_full_load_then_changes_become_bronze_rows_and_the_rest_is_skipped(lake):
    before = {"beer_id": 2, "brewery_id": 7, "beer_name": "Old name 4711"}  # a wider image
    lines = [
        CONTROL,
        {"data": beer(1), "metadata": meta("load")},
        {"data": beer(2), "metadata": meta("load")},
        {"data": beer(3, "New"), "metadata": meta("insert", txn=1139, rec=1)},
        {"data": beer(2, "Renamed"), "before-image": before, "metadata": meta("update", txn=1140)},
        {"data": {"beer_id": 1}, "metadata": meta("delete", txn=1140, rec=2)},
        APPLY_EXCEPTION,
    ]
    body = gz("\n".join(line(r) for r in lines) + "\n")
    record = lake.register(KEY, body)
    assert record.format == "jsonl" and record.record_count == 7  # skipped records count
    done = lake.worker().run(record.control_id)
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (7, 5, 0)
    assert done.rows_skipped == 2 and lake.store.get(record.control_id).rows_skipped == 2
    assert lake.keys("quarantine/") == []  # skipped, not quarantined
    (bronze_key,) = lake.keys("bronze/beer/")
    written = lake.parquet(bronze_key)
    assert "before-image" not in written.column_names
    assert "Old name 4711" not in str(written.to_pylist())
    rows = written.to_pylist()
    assert [r["_operation"] for r in rows] == ["insert", "insert", "insert", "update", "delete"]
    assert [r["_source_line"] for r in rows] == [2, 3, 4, 5, 6]
    stamps = [r["_change_ts"].isoformat() for r in rows]
    assert stamps == [
        "2026-12-01T09:00:00+00:00",  # a full-load row: DMS's timestamp, sequence 0
        "2026-12-01T09:00:00+00:00",
        "2026-12-01T10:00:00.120000+00:00",  # the commit's time, not DMS's read time
        "2026-12-01T10:00:00.120000+00:00",
        "2026-12-01T10:00:00.120000+00:00",
    ]
    assert [r["_change_seq"] for r in rows] == [0, 0, 1, 1, 2]
    assert [r["beer_name"] for r in rows] == ["Pale", "Pale", "New", "Renamed", None]
    assert rows[-1]["beer_id"] == 1 and rows[-1]["brewery_id"] is None  # the key only


@pytest.mark.parametrize("fast", [True, False])
def test_both_dms_vocabularies_in_any_case(fast):
    spelled = ["load", "LOAD", "insert", "I", "i", "Update", "U", "u", "DELETE", "D", "d"]
    body = "\n".join(
        line({"data": beer(n), "metadata": meta(op, txn=2000 + n)}) for n, op in enumerate(spelled)
    )
    result, bad, rows = convert(gz(body), fast=fast)
    assert counts(result) == (11, 11, 0, 0) and bad == []
    assert [r["_operation"] for r in rows] == ["insert"] * 5 + ["update"] * 3 + ["delete"] * 3


@pytest.mark.parametrize("fast", [True, False])
def test_dms_records_and_home_grown_lines_mix_in_one_file(fast):
    lines = [
        json.dumps({"operation": "insert", "beer_id": 5, "beer_name": "Flat", "sequence": 40}),
        line({"data": beer(5, "Dms"), "metadata": meta("update", txn=3000, rec=4)}),
        json.dumps({"operation": "delete", "beer_id": 5, "changed_at": "2026-12-01T12:00:00Z"}),
        line(CONTROL),
    ]
    result, bad, rows = convert(gz("\n".join(lines) + "\n"), fast=fast)
    assert counts(result) == (4, 3, 0, 1) and bad == []
    assert [(r["_operation"], r["_change_seq"]) for r in rows] == [
        ("insert", 40),
        ("update", 4),
        ("delete", 3),  # the flat shape's default: its line
    ]
    assert rows[0]["_change_ts"] == datetime(2026, 12, 1, 11, tzinfo=UTC)  # the arrival
    assert rows[2]["_change_ts"] == datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_quarantine_reasons_of_dms_records_are_exact():
    good = meta("insert", txn=4000)
    cases = [
        ({"data": beer(1), "metadata": meta("upsert", txn=4000)},
         f"metadata.operation: 'upsert' is not one of {OPERATIONS}"),
        ({"data": beer(1), "metadata": meta(table="brewery", txn=4000)},
         "metadata.table-name: a record of table brewery in a file of table beer"),
        ({"data": beer(1), "metadata": meta(record_type="ddl", txn=4000)},
         "metadata.record-type: 'ddl' is not one of data, control"),
        ({"data": beer(1), "metadata": {k: v for k, v in good.items() if k != "record-type"}},
         "metadata.record-type: missing (DMS records carry one)"),
        ({"data": beer(1), "metadata": {k: v for k, v in good.items() if k != "operation"}},
         "metadata.operation: missing (DMS records carry one)"),
        ({"data": beer(1), "metadata": {k: v for k, v in good.items() if k != "table-name"}},
         "metadata.table-name: missing (DMS records carry one)"),
        ({"data": beer(1), "metadata": good, "extra": 1}, "unknown key(s) extra"),
        ({"data": {**beer(1), "colour": "red"}, "metadata": good}, "data: unknown key(s) colour"),
        ({"metadata": good}, "data: missing (a data record carries the row)"),
        ({"data": [1], "metadata": good}, "data: expected a JSON object, found a JSON array"),
        ({"data": None, "metadata": good}, "data: expected a JSON object, found null"),
        ({"data": {**beer(1), "beer_name": {"a": 1}}, "metadata": good},
         "beer_name: expected a string or number, found a JSON object"),
        ({"data": beer(1), "metadata": {**good, "commit-timestamp": 17}},
         "metadata.commit-timestamp: expected a string, found a number"),
        ({"data": beer(1), "metadata": {**good, "transaction-record-id": "7"}},
         "metadata.transaction-record-id: expected a whole number, found a string"),
        ({"data": beer(1, abv=500), "metadata": good},
         "beer_abv: 500.0 is above the maximum 100.0"),
        ({"data": beer(1), "metadata": {**good, "commit-timestamp": "yesterday"}},
         "changed_at: 'yesterday' is not an ISO-8601 timestamp with a time zone"),
        ({"data": {"beer_name": "no key"}, "metadata": good}, "beer_id: primary key is empty"),
    ]  # fmt: skip
    body = gz("\n".join(line(record) for record, _ in cases) + "\n")
    for fast in (True, False):
        result, bad, _ = convert(body, fast=fast)
        assert counts(result) == (len(cases), 0, len(cases), 0)
        assert [e["reasons"] for e in bad] == [[reason] for _, reason in cases]
        assert [e["line"] for e in bad] == list(range(1, len(cases) + 1))


def test_the_before_image_is_never_copied_to_the_quarantine():
    before = {"beer_id": 9, "beer_name": "Secret old name"}
    lines = [
        {"data": beer(9, abv=-1), "before-image": before, "metadata": meta("update", txn=5)},
        {"data": beer(9), "before-image": before, "metadata": meta("upsert", txn=5)},
    ]
    text = "\n".join(line(r) for r in lines) + '\n{"before-image": {"beer_name": "Secret old name"'
    result, bad, _ = convert(gz(text + "\n"))
    assert result.rows_quarantined == 3
    assert "Secret old name" not in json.dumps(bad)
    assert (
        bad[1]["raw"].startswith('{"data": {"beer_id": 9') and "before-image" not in bad[1]["raw"]
    )
    assert bad[2]["raw"] == jsonl.BEFORE_IMAGE_WITHHELD


def test_a_pii_tables_dms_reasons_withhold_names_and_values():
    email = "alice@example.org"
    good = {**meta("insert", table="profile", txn=6), "commit-timestamp": "2026-12-01T10:00:00Z"}
    row = {"profile_id": 1, "profile_name": "Alice", "email": email, "state": "CA"}
    cases = [
        ({"data": row, "metadata": {**good, "operation": email}},
         f"metadata.operation: {WITHHELD} is not one of {OPERATIONS}"),
        ({"data": row, "metadata": {**good, "table-name": email}},
         "metadata.table-name: a record of another table (name withheld: the table has PII "
         "columns) in a file of table profile"),
        ({"data": row, "metadata": {**good, "record-type": email}},
         f"metadata.record-type: {WITHHELD} is not one of data, control"),
        ({"data": {**row, email: 1}, "metadata": good},
         "data: 1 unknown key(s) (names withheld: the table has PII columns)"),
        ({"data": row, "metadata": good, email: 1},
         "1 unknown key(s) (names withheld: the table has PII columns)"),
        ({"data": {**row, "email": {"address": email}}, "metadata": good},
         "email: expected a string or number, found a JSON object"),
        ({"data": row, "metadata": {**good, "commit-timestamp": email}},
         f"changed_at: {WITHHELD} is not an ISO-8601 timestamp with a time zone"),
    ]  # fmt: skip
    lines = [line(record) for record, _ in cases] + [line({"data": row, "metadata": good})]
    for fast in (True, False):
        result, bad, rows = convert(gz("\n".join(lines)), PROFILE, fast=fast)
        assert counts(result) == (8, 1, 7, 0)
        assert [e["reasons"] for e in bad] == [[reason] for _, reason in cases]
        assert email not in json.dumps(bad) and email not in json.dumps(rows, default=str)
        assert rows[0]["email"] == "[REDACTED]"


def test_changes_order_by_commit_time_then_record_id_across_two_objects(lake):
    first, later = "2026-12-01T10:00:00.100000Z", "2026-12-01T10:00:00.200000Z"
    older_object = [  # delivered first, yet it holds the newest change of key 7
        {"data": beer(7, "third"), "metadata": meta("update", txn=8, rec=2, commit=later)},
        {"data": beer(8, "other"), "metadata": meta("insert", txn=9, rec=1, commit=later)},
    ]
    newer_object = [
        {"data": beer(7, "first"), "metadata": meta("insert", txn=7, rec=1, commit=first)},
        {"data": beer(7, "second"), "metadata": meta("update", txn=8, rec=1, commit=later)},
    ]
    changes = []
    for name, records in (("0001-aaaa", older_object), ("0002-bbbb", newer_object)):
        key = f"raw/beer/cdc/2026/12/01/10/lake-dev-cdc-delivery-1-{name}.jsonl.gz"
        record = lake.register(key, gz("\n".join(line(r) for r in records) + "\n"))
        assert lake.worker().run(record.control_id).rows_written == 2
        (bronze_key,) = [k for k in lake.keys("bronze/beer/") if record.control_id[:12] in k]
        changes += lake.parquet(bronze_key).to_pylist()
    seven = sorted((c for c in changes if c["beer_id"] == 7),
                   key=lambda c: (c["_change_ts"], c["_change_seq"]))  # fmt: skip
    assert [(c["beer_name"], c["_change_seq"]) for c in seven] == [
        ("first", 1),
        ("second", 1),
        ("third", 2),  # same commit as "second": the record id decides
    ]
    assert seven[0]["_change_ts"] < seven[1]["_change_ts"] == seven[2]["_change_ts"]


# --- the fast path gives what the exact path gives -------------------------------------------


def realistic_file(count: int) -> str:
    """Clean DMS changes with, here and there, what the fast path refuses or fails."""
    lines = []
    for n in range(count):
        op = ("update", "insert", "delete", "load")[n % 4]
        data = beer(n, f"beer {n}", abv=round(n % 90 + 0.25, 2)) if op != "delete" else {
            "beer_id": n}  # fmt: skip
        record = {"data": data, "metadata": meta(op, txn=None if op == "load" else n, rec=n % 3)}
        if op == "update":
            record["before-image"] = {"beer_id": n}
        lines.append(line(record))
    lines[17] = line({"data": beer(17, abv=101), "metadata": meta("update", txn=17)})
    lines[80] = line(CONTROL)
    lines[81] = line(APPLY_EXCEPTION)
    lines[150] = "   "
    lines[151] = json.dumps({"operation": "insert", "beer_id": 151})
    lines[220] = '{"data": {"beer_id": 220}, "metadata": '
    lines[290] = line({"data": beer(290), "metadata": meta("merge", txn=290)})
    return "\r\n".join(lines[:100]) + "\r\n" + "\n".join(lines[100:])


def test_fast_and_exact_paths_give_identical_rows_and_reasons(monkeypatch):
    monkeypatch.setattr(blocks, "JSONL_BLOCK_BYTES", 4096)  # many blocks, fast and exact
    taken = []
    batch_of = jsonl_fast.FastJsonLines.batch

    def spy(self, block, table):
        batch = batch_of(self, block, table)
        taken.append(batch is not None)
        return batch

    monkeypatch.setattr(jsonl_fast.FastJsonLines, "batch", spy)
    body = gz(realistic_file(400))
    fast = convert(body)
    assert sum(taken) >= len(taken) // 2 and not all(taken)  # both paths were used
    exact = convert(body, fast=False)
    assert counts(fast[0]) == counts(exact[0]) == (399, 394, 3, 2)  # one blank line
    assert fast[1] == exact[1] and fast[2] == exact[2]


def test_a_fast_batch_with_a_failing_row_is_read_again_exactly(monkeypatch):
    records = [line({"data": beer(n, abv=n), "metadata": meta()}) for n in range(99, 103)]
    body = gz("\n".join(records) + "\n")
    rereads = []
    monkeypatch.setattr(jsonl, "JsonLineReader", _counting(jsonl.JsonLineReader, rereads))
    result, bad, rows = convert(body)
    assert rereads == [1]  # the block went the fast way, then once the exact way
    assert [e["reasons"] for e in bad] == [
        ["beer_abv: 101.0 is above the maximum 100.0"],
        ["beer_abv: 102.0 is above the maximum 100.0"],
    ]
    assert [e["row"]["beer_abv"] for e in bad] == ["101", "102"]  # the exact path's text
    assert [r["beer_id"] for r in rows] == [99, 100] and counts(result) == (4, 2, 2, 0)


def _counting(cls, calls):
    class Counting(cls):
        def batches(self, block, key):
            calls.append(block.first_line)
            return super().batches(block, key)

    return Counting


def block(text: str) -> blocks.Block:
    return blocks.block_of(text.encode() if isinstance(text, str) else text, 1)


CLEAN = line({"data": beer(1), "metadata": meta()})


@pytest.mark.parametrize(
    "text",
    [
        CLEAN + "\n\n" + CLEAN + "\n",  # a blank line
        CLEAN + "\n  \n" + CLEAN + "\n",  # a line of spaces
        CLEAN + " " + CLEAN + "\n",  # two objects on one line
        CLEAN[:20] + "\n" + CLEAN[20:] + "\n",  # an object over two lines
        " " + CLEAN + "\n",  # a line not starting with "{"
        CLEAN.replace('"Pale"', '"P\xe4le"').encode("latin-1"),  # not UTF-8
        CLEAN.replace('"Pale"', "17"),  # a number in a string column
        CLEAN.replace('"beer_id":1', '"beer_id":1.0'),  # a fraction in a long column
        CLEAN.replace('"beer_id":1', '"beer_id":' + "9" * 20),  # beyond 64 bits
        CLEAN.replace('"beer_id":1', '"beer_id":"1"'),  # text in a long column
        CLEAN.replace('"beer_id":1', '"beer_id":1,"beer_id":2'),  # a repeated key
        CLEAN.replace('"data":{', '"data":{"colour":"red",'),  # an unknown column
        CLEAN.replace('"metadata":{', '"metadata":{"new-key":1,'),  # a metadata key not listed
        CLEAN + "\n" + json.dumps({"operation": "insert", "beer_id": 2}),  # flat among DMS
        CLEAN + "\n" + line(CONTROL),  # a control record's details
        CLEAN.replace('"insert"', '"upsert"'),  # an operation to quarantine
        CLEAN.replace('"insert"', '" insert"'),  # the exact path decides about spaces
        CLEAN.replace('"table-name":"beer"', '"table-name":"review"'),  # another table
        CLEAN.replace('"record-type":"data"', '"record-type":"other"'),
    ],
)
def test_the_fast_path_leaves_what_it_cannot_take_exactly_to_the_exact_path(text):
    assert jsonl_fast.FastJsonLines(BEER).convert(block(text)) is None


def test_the_fast_path_takes_clean_dms_blocks_with_their_lines_and_skips():
    skipped = line({"data": {"beer_id": 9}, "metadata": meta(table="awsdms_history")})
    control = line({"metadata": meta("drop-table", record_type="control")})
    text = "\r\n".join([CLEAN, skipped, control, CLEAN.replace("insert", "D")])
    batch = jsonl_fast.FastJsonLines(BEER).convert(blocks.block_of(text.encode(), 41))
    assert batch is not None and batch.reread is None
    assert batch.lines.tolist() == [41, 44]
    assert batch.skipped == {jsonl.SKIPPED_CONTROL: 1, jsonl.SKIPPED_DMS_TABLE: 1}
    assert batch.columns.column("operation").to_pylist() == ["insert", "delete"]
    assert batch.columns.column("beer_id").type == pa.int64()
    assert batch.rows_in == 4


JSON_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.integers(-(2**70), 2**70).map(str),
    st.tuples(st.integers(0, 10**17), st.integers(-320, 320)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.tuples(st.integers(-(10**9), 10**9), st.integers(0, 10**12)).map(
        lambda t: f"{t[0]}.{t[1]:012d}"
    ),
)


@given(numbers=st.lists(JSON_NUMBERS, min_size=1, max_size=20))
@settings(max_examples=150, deadline=None)
def test_arrow_reads_a_json_number_as_the_exact_paths_text_casts(numbers):
    """The premise of the fast path's typed columns: same value as Python's text, cast."""
    lines = "\n".join(f'{{"beer_id": 1, "beer_abv": {n}, "operation": "insert"}}' for n in numbers)
    fast = jsonl_fast.FastJsonLines(BEER).convert(block(lines))
    if fast is None:  # refused (a number a double cannot hold): the exact path reads it
        return
    exact = next(jsonl.JsonLineReader(BEER).batches(block(lines), KEY))
    ours = validate_batch(fast.columns, BEER, cdc=True)
    theirs = validate_batch(exact.columns, BEER, cdc=True)
    assert ours.valid.column("beer_abv").equals(theirs.valid.column("beer_abv"))
    assert ours.reasons.keys() == theirs.reasons.keys()  # above the maximum: both or neither


def _value():
    return st.one_of(
        st.none(),
        st.integers(-(2**64), 2**64),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.sampled_from(["Pale", "", "IPA", "5.5", "1", "x" * 90, "é", "2026-12-01T10:00:00Z"]),
        st.booleans(),
        st.just({"nested": 1}),
    )


_RECORD = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {"beer_id": st.one_of(st.integers(0, 50), _value())},
            optional={c: _value() for c in ("brewery_id", "beer_name", "beer_style", "beer_abv")},
        ),
        "metadata": st.fixed_dictionaries(
            {
                "record-type": st.sampled_from(["data", "data", "data", "control", "ddl"]),
                "operation": st.sampled_from(["insert", "U", "d", "load", "upsert", " update"]),
                "table-name": st.sampled_from(["beer", "beer", "beer", "awsdms_x", "review"]),
                "timestamp": st.sampled_from([FULL_LOAD_AT, "soon"]),
            },
            optional={
                "commit-timestamp": st.sampled_from(["2026-12-01T10:00:00.5Z", None, 3]),
                "transaction-record-id": st.one_of(st.integers(0, 5), st.just("2")),
            },
        ),
    },
    optional={"before-image": st.just({"beer_id": 1}), "extra": st.just(1)},
)
_LINE = st.one_of(
    _RECORD.map(line),
    _RECORD.map(line),
    _RECORD.map(line),
    st.sampled_from(["", "  ", "{}", "[1]", '{"operation": "insert", "beer_id": 4}', "{bad"]),
)


@given(lines=st.lists(_LINE, min_size=1, max_size=40), size=st.integers(64, 2048))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_and_exact_agree_on_any_mix_of_records(lines, size):
    body = gz("\n".join(lines))
    previous = blocks.JSONL_BLOCK_BYTES
    blocks.JSONL_BLOCK_BYTES = size
    try:
        fast, exact = _outcome(body, fast=True), _outcome(body, fast=False)
    finally:
        blocks.JSONL_BLOCK_BYTES = previous
    assert fast == exact


def _outcome(body: bytes, *, fast: bool):
    try:
        result, bad, rows = convert(body, fast=fast)
    except InvalidRawFile as error:  # a first line "[1]": the file is no JSON lines
        return str(error)
    return counts(result), bad, rows


def test_reconciliation_counts_skipped_records():
    body = gz("\n".join([CLEAN, line(CONTROL), line(APPLY_EXCEPTION)]))
    result, _, _ = convert(body)
    assert counts(result) == (3, 1, 0, 2)
    assert result.rows_in == result.rows_written + result.rows_quarantined + result.rows_skipped


def test_a_json_document_of_dms_records_is_not_json_lines():
    body = gz(json.dumps([json.loads(CLEAN)], indent=2))
    with pytest.raises(InvalidRawFile, match="line 1: not JSON lines: the file holds a JSON array"):
        convert(body)
