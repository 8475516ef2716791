"""Bronze under hostile input: each class of malformed file, and a property test over many.

Classes (issue 12): unterminated quotes, PII in reasons, 64-bit integer bounds on both cast
paths, one definition of a record (blank lines, byte-order marks), non-text content, empty
header names, the quarantine's ``line``, and files that are JSON but not JSON lines.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datalake.contracts import Classification, Column, ColumnType, TableContract
from datalake.control import ControlRecord, ControlStatus
from datalake.domain import default_domain_path, load_domain
from datalake.errors import InvalidRawFile
from tests.workloads.conftest import gz
from workloads.bronze import controller, reader
from workloads.bronze.controller import inspect_object
from workloads.bronze.ingest import convert_raw
from workloads.bronze.masking import RedactDeclaredPii
from workloads.bronze.reader import count_records, is_blank_line, open_stream, read_batches
from workloads.bronze.reasons import WITHHELD
from workloads.bronze.validation import INT64_MAX, INT64_MIN, validate_batch

DOMAIN = load_domain(default_domain_path())
"""The beer-review example domain: the hostile files are written against its tables."""
get_contract = DOMAIN.table
BEER_HEADER = "beer_id,brewery_id,beer_name,beer_style,beer_abv\n"
PROFILE_HEADER = "profile_id,profile_name,email,state\n"
FAST = settings(
    max_examples=60, deadline=5_000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def batches(body: bytes, key: str, table: str):
    raw = reader.RawFormat.JSONL if key.endswith(".jsonl.gz") else reader.RawFormat.CSV
    return list(read_batches(open_stream(io.BytesIO(body)), raw, get_contract(table), key))


def convert(key: str, body: bytes, record_count: int | None):
    """The ingest core on local files, as the worker runs it."""
    table = key.split("/")[1]
    record = ControlRecord(
        control_id="c" * 64,
        layer="bronze",
        table_name=table,
        bucket="landing",
        object_key=key,
        format="jsonl" if key.endswith(".jsonl.gz") else "csv",
        checksum="-",
        record_count=record_count,
        created_at=datetime(2026, 3, 14, tzinfo=UTC),
    )
    with tempfile.TemporaryDirectory() as tmp:
        parquet, quarantine = Path(tmp, "out.parquet"), Path(tmp, "bad.jsonl.gz")
        result = convert_raw(
            open_stream(io.BytesIO(body)),
            record,
            contract=get_contract(table),
            masker=RedactDeclaredPii(),
            parquet_path=parquet,
            quarantine_path=quarantine,
            ingested_at=datetime(2026, 3, 14, tzinfo=UTC),
        )
        bad = [json.loads(line) for line in gzip.decompress(quarantine.read_bytes()).splitlines()]
        bronze = pq.read_table(parquet) if result.rows_written else None
    return result, bad, bronze


# --- 1. unterminated quoted fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (BEER_HEADER + '1,2,A,IPA,5.0\n2,2,B,IPA,"5.0\n3,2,C,IPA,5.0\n4,2,D,IPA,5.0\n', 3),
        (BEER_HEADER + '1,2,A,IPA,5.0\n2,2,"B,IPA,5.0\n3,2,C,IPA,5.0\n', 3),  # field 3 of 5
        (BEER_HEADER + '1,2,"A\nstill A",IPA,5.0\n\n2,2,"B""\n', 5),  # "" is a quote inside
        (BEER_HEADER + '1,2,A,IPA,5.0\r\n2,2,B,IPA,"\r\n3,2,C,IPA,5.0\r\n', 3),
        (BEER_HEADER + '1,2,A,IPA,"', 2),  # opened at the very last byte
        ('beer_id,brewery_id,"beer_name\n1,2,A\n', 1),  # in the header
    ],
)
def test_an_unterminated_quote_fails_the_file_naming_the_line(lake, body, line):
    key = "raw/beer/open-quote.csv.gz"
    record = lake.register(key, gz(body))
    assert record.status is ControlStatus.ERROR and not record.retryable
    assert key in record.error and f"line {line}:" in record.error
    assert "never closed" in record.error
    assert lake.worker().run(record.control_id) is None and lake.keys("bronze/") == []
    with pytest.raises(InvalidRawFile, match=f"line {line}: a quoted field"):
        convert(key, gz(body), None)  # the ingest, had the object changed after registration


def test_closed_quotes_spanning_lines_are_one_record_each():
    body = gz(BEER_HEADER + '1,2,"A\nB",IPA,5.0\n2,2,"C ""x""\r\nD",IPA,\n')
    read = batches(body, "raw/beer/q.csv.gz", "beer")
    names = [n for b in read for n in b.columns.column("beer_name").to_pylist()]
    assert names == ["A\nB", 'C "x"\r\nD']
    assert [line for b in read for line in b.lines.tolist()] == [2, 4]


def test_an_unterminated_quote_in_a_pii_table_quotes_nothing(lake):
    body = PROFILE_HEADER + '1,a,a@example.org,CA\n2,b,"b@example.org,OR\n3,c,c@example.org,WA\n'
    record = lake.register("raw/profile/p.csv.gz", gz(body))
    assert record.status is ControlStatus.ERROR and "line 3:" in record.error
    assert "example.org" not in record.error


# --- 2. no PII value in any reason ----------------------------------------------------------

SECRET = Column("secret", ColumnType.STRING, classification=Classification.PII, pii_type="OTHER")
PII_TYPED = TableContract(
    name="pii_typed",
    columns=(
        Column("id", ColumnType.LONG, nullable=False),
        Column("pin", ColumnType.LONG, classification=Classification.PII, pii_type="OTHER",
               minimum=0, maximum=999_999_999_999),
        Column("score", ColumnType.DOUBLE, classification=Classification.PII, pii_type="OTHER",
               minimum=1.0, maximum=5.0, step=0.5),
        Column("seen", ColumnType.TIMESTAMP, classification=Classification.PII,
               pii_type="DATE_TIME"),
        Column("note", ColumnType.LONG, minimum=10),
        SECRET,
    ),
    primary_key=("id",),
)  # fmt: skip
values = st.one_of(
    st.text(min_size=4, max_size=40),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.from_regex(r"\A-?[0-9]{4,30}(\.[0-9]{1,5})?\Z"),
    st.from_regex(r"\A20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z?\Z"),
)


def _distinctive(value: str, reasons: list[str]) -> bool:
    """Values that could appear in a reason by chance (a column name, a bound) are skipped."""
    fixed = " ".join(r.replace(WITHHELD, "") for r in reasons)
    return len(value.strip()) >= 4 and value not in "".join(
        [*PII_TYPED.column_names, str(INT64_MIN), str(INT64_MAX), "999999999999", fixed[:0]]
    )


@given(rows=st.lists(st.fixed_dictionaries({c: values for c in PII_TYPED.column_names[1:]}),
                     min_size=1, max_size=8), bad_id=st.booleans())  # fmt: skip
@FAST
def test_validation_reasons_never_show_a_value_of_a_pii_table(rows, bad_id):
    ids = ["x1" if bad_id and i == 0 else str(i) for i in range(len(rows))]
    table = pa.table({"id": ids, **{c: [r[c] for r in rows] for c in PII_TYPED.column_names[1:]}})
    validated = validate_batch(table, PII_TYPED, cdc=False)
    reasons = [r for rs in validated.reasons.values() for r in rs]
    text = "\n".join(reasons)
    for row in rows:
        for value in row.values():
            if _distinctive(value, reasons):
                assert value not in text
    # The reason of a PII table's row names the column and the problem, never the value:
    # reasons come from a small fixed set, whatever the values.
    assert all(r.split(": ", 1)[0] in PII_TYPED.column_names for r in reasons)
    assert all("{value}" not in r for r in reasons)


@given(emails=st.lists(st.emails(), min_size=1, max_size=5))
@FAST
@example(emails=["alice@example.org"])
def test_no_reason_or_error_of_a_pii_file_quotes_its_pii(emails):
    lines = []
    for i, email in enumerate(emails):
        lines += [
            json.dumps({"operation": "insert", "profile_id": f"x{i}", "email": email}),
            json.dumps({"operation": "insert", "profile_id": i, "email": {"address": email}}),
            json.dumps({"operation": "insert", "profile_id": i, "email": [email]}),
            json.dumps({"operation": "insert", "profile_id": i, email: "x"}),
            json.dumps({"operation": email, "profile_id": i}),
            json.dumps({"operation": "insert", "profile_id": i, "changed_at": email}),
            json.dumps({"operation": "insert", "profile_id": i, "sequence": email}),
            json.dumps({"operation": "insert", "profile_id": email, "email": email})[:-1],
        ]
        dms = {"record-type": "data", "operation": "insert", "table-name": "profile"}
        lines += [  # what DMS sends, PII in every place of its envelope
            json.dumps({"data": {"profile_id": i, email: 1}, "metadata": dms}),
            json.dumps({"data": {"profile_id": i}, "metadata": dms, email: 1}),
            json.dumps({"data": {"profile_id": i}, "metadata": {**dms, "operation": email}}),
            json.dumps({"data": {"profile_id": i}, "metadata": {**dms, "table-name": f"t{email}"}}),
            json.dumps({"data": {"profile_id": i}, "metadata": {**dms, "record-type": email}}),
            json.dumps({"data": {"profile_id": i}, "metadata": {**dms, "timestamp": email}}),
            json.dumps({"data": {"profile_id": email}, "metadata": dms}),
            json.dumps(
                {
                    "data": {"profile_id": i, "email": {"address": email}},
                    "before-image": {"profile_id": i, "email": email},
                    "metadata": dms,
                }
            ),
        ]
    key = "raw/profile/cdc/p.jsonl.gz"
    body = gz("\n".join(lines))
    result, bad, _ = convert(key, body, None)
    assert result.rows_quarantined == len(lines)
    csv_rows = "".join(f"{i},{e},{e},{e}\n" for i, e in enumerate(emails))
    texts = [json.dumps(bad)]
    for csv_body in (csv_rows, PROFILE_HEADER + csv_rows.replace(",", ",,", 1), csv_rows[:-1]):
        seen = inspect_object(io.BytesIO(gz(csv_body)), "raw/profile/p.csv.gz", DOMAIN)
        texts.append(seen.problem or "")
    body = gz(PROFILE_HEADER + f'1,"{emails[0]}')
    texts.append(str(inspect_object(io.BytesIO(body), key, DOMAIN)))
    for email in emails:
        assert all(email not in text for text in texts)


# --- 3. 64-bit integers ---------------------------------------------------------------------

BEER = get_contract("beer")


def verdict(value: str | None, *, with_bad_neighbour: bool) -> tuple[bool, list[str], object]:
    ids = [value] + (["not a number"] if with_bad_neighbour else [])
    table = pa.table(
        {
            "beer_id": ["1"] * len(ids),
            "brewery_id": pa.array(ids, pa.string()),
            "beer_name": ["a"] * len(ids),
            "beer_style": ["b"] * len(ids),
            "beer_abv": ["1.0"] * len(ids),
        }
    )
    validated = validate_batch(table, BEER, cdc=False)
    ok = 0 not in validated.reasons
    value_out = validated.valid.column("brewery_id")[0].as_py() if ok else None
    return ok, validated.reasons.get(0, []), value_out


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (str(INT64_MAX), True),
        (str(INT64_MIN), True),
        ("9223372036854775806", True),
        ("-0000000000000000000000042", True),
        ("0x10", True),  # Arrow's cast accepts hex; both paths agree
        (str(INT64_MAX + 1), False),
        (str(INT64_MIN - 1), False),
        ("9" * 5000, False),
        ("+5", False),
        (" 5", False),
    ],
)
def test_int64_verdicts_do_not_depend_on_the_batch(value, accepted):
    alone = verdict(value, with_bad_neighbour=False)
    with_bad = verdict(value, with_bad_neighbour=True)
    assert alone == with_bad
    assert alone[0] is accepted


@given(
    st.one_of(
        st.integers(min_value=-(2**66), max_value=2**66).map(str),
        st.integers(min_value=INT64_MAX - 1000, max_value=INT64_MAX + 1000).map(str),
        st.integers(min_value=INT64_MIN - 1000, max_value=INT64_MIN + 1000).map(str),
        st.text(alphabet="0123456789+-xX .eE", max_size=25),
    )
)
@FAST
def test_int64_bounds_are_exact_on_both_paths(value):
    alone = verdict(value, with_bad_neighbour=False)
    with_bad = verdict(value, with_bad_neighbour=True)
    assert alone == with_bad
    try:
        number = int(value)
    except ValueError:
        return
    if value.strip() == value and not value.startswith("+"):
        assert alone[0] is (INT64_MIN <= number <= INT64_MAX)
        if alone[0]:
            assert alone[2] == number
        else:
            assert alone[1] == [
                f"brewery_id: {value!r} is out of range for a 64-bit integer "
                f"({INT64_MIN} to {INT64_MAX})"
            ]


@given(st.one_of(st.floats().map(repr), st.text(alphabet="0123456789+-.eEinfa", max_size=12)))
@FAST
def test_double_and_timestamp_verdicts_do_not_depend_on_the_batch(value):
    def one(column: str, extra: list[str]) -> bool:
        contract = get_contract("beer") if column == "beer_abv" else None
        if contract is None:
            return True
        table = pa.table(
            {
                "beer_id": ["1"] * (1 + len(extra)),
                "beer_abv": [value, *extra],
                "beer_name": ["a"] * (1 + len(extra)),
            }
        )
        return 0 in validate_batch(table, contract, cdc=False).reasons

    assert one("beer_abv", []) == one("beer_abv", ["bad"])


# --- 4. one definition of a record ----------------------------------------------------------

BLANKS = ["", " ", "\t", "\r", "\u00a0", "\u2028", "\u2029", "\u3000", "\ufeff", "\x1c", "\u200b"]


def test_the_controller_uses_the_readers_public_record_definition():
    assert controller.count_records is reader.count_records
    assert not [name for name in vars(controller) if name.startswith("_") and
                getattr(vars(controller)[name], "__module__", "") == reader.__name__]  # fmt: skip


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_jsonl_lines_are_skipped_by_controller_and_reader(lake, blank):
    change = '{"operation": "insert", "beer_id": %d, "beer_name": "B"}'
    body = gz("\n".join([change % 1, blank, blank * 3, change % 2, blank]) + "\n")
    record, done = lake.register("raw/beer/cdc/b.jsonl.gz", body), None
    assert record.record_count == 2, repr(blank)
    done = lake.worker().run(record.control_id)
    assert done.status is ControlStatus.SUCCESS
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (2, 2, 0)


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_csv_lines_are_skipped_by_controller_and_reader(lake, blank):
    body = gz(BEER_HEADER + f"1,2,A,IPA,5.0\n{blank}\n{blank}{blank}\n2,2,B,IPA,5.0\n{blank}")
    record = lake.register("raw/beer/b.csv.gz", body)
    assert record.record_count == 2, repr(blank)
    done = lake.worker().run(record.control_id)
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (2, 2, 0)
    lines = lake.parquet(lake.keys("bronze/beer/")[0]).column("_source_line").to_pylist()
    assert lines == [2, 5 + (blank == "\r")]  # "\r" is itself a line break for CSV


def test_control_characters_are_records_quarantined_by_both(lake):
    body = gz('{"operation": "insert", "beer_id": 1}\n\x00\n\x07\x7f\n')
    record = lake.register("raw/beer/cdc/c.jsonl.gz", body)
    assert record.status is ControlStatus.ERROR and "not text" in record.error  # NUL: binary
    body = gz('{"operation": "insert", "beer_id": 1}\n\x07\x7f\n\x01\n')
    record = lake.register("raw/beer/cdc/d.jsonl.gz", body)
    done = lake.worker().run(record.control_id)
    assert record.record_count == 3 and (done.rows_written, done.rows_quarantined) == (1, 2)


def test_is_blank_line():
    assert all(is_blank_line(b * 2) for b in BLANKS)
    assert not any(is_blank_line(t) for t in ["x", "\x00", "\x07", " ,", "{}"])


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("raw/beer/bom.csv.gz", "\ufeff" + BEER_HEADER + "1,2,A,IPA,5.0\n"),
        ("raw/beer/cdc/bom.jsonl.gz", '\ufeff{"operation": "insert", "beer_id": 1}\n'),
        ("raw/beer/cdc/bom2.jsonl.gz", '\ufeff\n{"operation": "insert", "beer_id": 1}\n'),
    ],
)
def test_a_byte_order_mark_is_ignored_in_both_formats(lake, key, body):
    record, = [lake.register(key, gz(body))]  # fmt: skip
    done = lake.worker().run(record.control_id)
    assert (done.rows_written, done.rows_quarantined) == (1, 0)


# --- the quarantine's line ------------------------------------------------------------------


def test_line_is_the_physical_line_where_the_record_starts(lake):
    body = gz(
        BEER_HEADER
        + '1,2,"two\nlines",IPA,5.0\n'  # lines 2-3
        + "\n\n"  # lines 4-5: empty
        + "x,2,bad id,IPA,5.0\n"  # line 6
        + '3,2,"three\r\nmore\rlines",IPA,5.0\r\n'  # lines 7-9
        + "4,2,short\n"  # line 10
        + "  \n"  # line 11: blank
        + "5,2,E,IPA,500\n"  # line 12
    )
    _, done = lake.register("raw/beer/lines.csv.gz", body), None
    done = lake.worker().run(lake.register("raw/beer/lines.csv.gz").control_id)
    assert (done.rows_in, done.rows_written, done.rows_quarantined) == (5, 2, 3)
    bad = {e["line"]: e["reasons"] for e in lake.quarantine(lake.keys("quarantine/")[0])}
    assert set(bad) == {6, 10, 12}
    lines = lake.parquet(lake.keys("bronze/beer/")[0]).column("_source_line").to_pylist()
    assert lines == [2, 7]


def test_jsonl_lines_count_blank_lines_too(lake):
    body = gz('\n\n{"operation": "insert", "beer_id": "x"}\n \n{"operation": "insert"}\n')
    done = lake.worker().run(lake.register("raw/beer/cdc/l.jsonl.gz", body).control_id)
    assert sorted(e["line"] for e in lake.quarantine(lake.keys("quarantine/")[0])) == [3, 5]
    assert done.rows_quarantined == 2


# --- JSON that is not JSON lines, non-text content, empty header names ----------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[{"operation": "insert", "beer_id": 1}, {"operation": "insert", "beer_id": 2}]',
         "line 1: not JSON lines: the file holds a JSON array"),
        ('[\n  {"operation": "insert", "beer_id": 1}\n]\n', "a JSON array"),
        ('\n{\n  "operation": "insert",\n  "beer_id": 1\n}\n', "line 2: not JSON lines: the file "
         "holds a pretty-printed JSON document"),
    ],
)  # fmt: skip
def test_a_json_document_is_not_json_lines(lake, body, fragment):
    key = "raw/beer/cdc/doc.jsonl.gz"
    record = lake.register(key, gz(body))
    assert record.status is ControlStatus.ERROR and fragment in record.error and key in record.error


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (gzip.compress(BEER_HEADER.encode() + b"1,2,A,IPA,5.0\n"), "compressed twice"),
        (b"PK\x03\x04" + b"\x00" * 40, "a ZIP archive"),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 40, "zstd-compressed"),
        (b"PAR1" + bytes(range(256)), "a Parquet file"),
        (bytes(range(256)) * 4, "binary (NUL bytes)"),
    ],
    ids=["gzip", "zip", "zstd", "parquet", "binary"],  # gzip bodies carry a time: fixed ids
)
@pytest.mark.parametrize("key", ["raw/beer/x.csv.gz", "raw/beer/cdc/x.jsonl.gz"])
def test_non_text_content_says_what_it_is(lake, content, fragment, key):
    record = lake.register(key, gz(content))
    assert record.status is ControlStatus.ERROR
    assert f"{key}: not text" in record.error and fragment in record.error
    assert "empty file" not in record.error


@pytest.mark.parametrize(
    ("header", "positions"),
    [
        ("beer_id,brewery_id,\n", "3"),
        (",beer_id,brewery_id\n", "1"),
        ("beer_id,,beer_name\n", "2"),
        ("beer_id, ,beer_name,\n", "2, 4"),
    ],
)
def test_an_empty_header_name_is_named_by_its_position(lake, header, positions):
    record = lake.register("raw/beer/h.csv.gz", gz(header + "1,2,3\n"))
    assert f"empty column name at position(s) {positions}" in record.error
    assert '""' not in record.error


def test_a_headerless_pii_file_does_not_show_its_first_row(lake):
    record = lake.register("raw/profile/h.csv.gz", gz("7,alice,alice@example.org,CA\n"))
    assert "lacks required column(s) profile_id" in record.error
    assert "alice" not in record.error


@pytest.mark.parametrize("size", [reader.CSV_BLOCK_BYTES + 10, 3 * reader.CSV_BLOCK_BYTES])
def test_a_record_longer_than_the_parse_block_is_read_or_a_clear_file_error(lake, size):
    body = gz(BEER_HEADER + "1,2,A,IPA,5.0\n" + "2,2," + "x" * size + ",IPA,5.0\n")
    record = lake.register("raw/beer/long.csv.gz", body)
    if record.status is ControlStatus.ERROR:
        assert "longer than the 1 MiB parse block" in record.error
    else:
        done = lake.worker().run(record.control_id)
        assert (done.rows_in, done.rows_written) == (2, 2)


# --- the property test ----------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=10)
emails_ = st.builds(lambda a, b: f"{a}.{b}@example.org", names, names)


def _valid_files(draw) -> tuple[str, bytes, list[str]]:
    people = draw(st.lists(st.tuples(names, emails_), min_size=1, max_size=12))
    emails = [e for _, e in people]
    if draw(st.booleans()):
        text = PROFILE_HEADER + "".join(
            f'{i},"{n}",{e},CA\n' if i % 3 else f"{i},{n},{e},OR\n"
            for i, (n, e) in enumerate(people, 1)
        )
        return "raw/profile/p.csv.gz", text.encode(), emails
    lines = [
        json.dumps({"operation": "insert", "profile_id": i, "profile_name": n, "email": e})
        for i, (n, e) in enumerate(people, 1)
    ]
    return "raw/profile/cdc/p.jsonl.gz", ("\n".join(lines) + "\n").encode(), emails


NOISE = [b'"', b",", b"\n", b"\r", b"\r\n", b"\xff", b"\xc3", b"\xe2\x80", b"\x00", b"{", b"}",
         b" ", b"\t", b"\xef\xbb\xbf", "\u2028".encode()]  # fmt: skip


@st.composite
def hostile_files(draw) -> tuple[str, bytes, list[str]]:
    key, data, emails = _valid_files(draw)
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "random", "huge"]))
    if kind == "random":
        return key, draw(st.binary(max_size=300)), emails
    if kind == "huge":
        at = draw(st.integers(0, len(data)))
        filler = draw(st.sampled_from([b"x", b"x\n", b'"', b"a,"]))
        data = data[:at] + filler * (reader.CSV_BLOCK_BYTES // len(filler) + 7) + data[at:]
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if action == "insert":
            data = data[:at] + draw(st.sampled_from(NOISE)) + data[at:]
        elif action == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 3)) :]
        else:
            data = data[:at]
    return key, gzip.compress(data) if draw(st.integers(0, 9)) else data, emails


def test_a_repeated_gzip_of_valid_data_is_fine():  # the property test's "valid" baseline
    data = PROFILE_HEADER + "1,a,a@example.org,CA\n"
    result, bad, bronze = convert("raw/profile/p.csv.gz", gz(data), 1)
    assert (result.rows_written, bad) == (1, []) and bronze.column("email")[0].as_py() != "a"


@given(hostile_files())
@settings(max_examples=150, deadline=10_000, derandomize=True)
def test_no_hostile_file_breaks_the_invariants(file):
    key, body, emails = file
    seen = inspect_object(io.BytesIO(body), key, DOMAIN)
    texts: list[str] = []
    if seen.problem is not None:
        assert seen.problem.startswith(key) or key in seen.problem
        texts.append(seen.problem)
    else:
        result, bad, bronze = convert(key, body, seen.record_count)  # reconciles, or raises
        assert result.rows_in == result.rows_written + result.rows_quarantined
        assert result.rows_in == seen.record_count
        texts += [json.dumps(entry["reasons"], ensure_ascii=False) for entry in bad]
        for entry in bad:
            assert entry.get("raw", "").startswith("[withheld") or "row" in entry
            if "row" in entry:
                assert entry["row"]["email"] in (None, "[REDACTED]")
        if bronze is not None:
            assert set(bronze.column("email").to_pylist()) <= {None, "[REDACTED]"}
    for email in emails:
        assert all(email not in text for text in texts), (email, texts)


def test_count_records_equals_what_the_ingest_reads_on_random_noise():
    rng = random.Random(12)
    for _ in range(30):
        data = BEER_HEADER.encode() + bytes(rng.choice(b'ab,"\n\r 1') for _ in range(400))
        try:
            counted = count_records(open_stream(io.BytesIO(gz(data))), reader.RawFormat.CSV,
                                    BEER, "raw/beer/n.csv.gz")  # fmt: skip
        except InvalidRawFile as error:
            assert "raw/beer/n.csv.gz" in str(error)
            continue
        result, _, _ = convert("raw/beer/n.csv.gz", gz(data), counted)
        assert result.rows_in == counted
