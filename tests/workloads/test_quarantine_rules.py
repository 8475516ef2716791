"""Quarantined rows per table and rule: a rule is a reason without its value.

Counted by validation and the readers, capped per file by the ingest, kept on the bronze
control record, published as ``QuarantineReasons`` (``Table``, ``Rule``) in the worker's one
``PutMetricData``, summed by ``datalake status`` and drawn by the local report's quarantine
panel. No value of a row (here an e-mail address) reaches any of them.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from datalake.cli_status import print_quarantined
from datalake.contracts import Column, ColumnType, TableContract
from datalake.control import ControlRecord, ControlStatus
from datalake.dashboards import Dashboard, Row, operations_dashboard
from datalake.errors import QUARANTINE_REASONS_METRIC, QUARANTINED_METRIC
from datalake.operations import status_summary
from tests.workloads.conftest import gz
from tests.workloads.test_lake_metrics import MIXED, series, total
from tests.workloads.test_local_report import ArrowTables
from workloads.bronze.ingest import MAX_QUARANTINE_RULES, OTHER_RULES, convert_raw, top_rules
from workloads.bronze.masking import RedactDeclaredPii
from workloads.bronze.reader import open_stream
from workloads.bronze.reasons import ELIDED
from workloads.local.report import panel_data
from workloads.local.report_data import control_table, stages_table
from workloads.shared.metrics import MetricBatch

EMAIL = "jane.doe@example.com"
PROFILE_CSV = (  # the profile table has PII (email): no value in any reason, nor any rule
    "profile_id,profile_name,email,state\n"
    "1,Jane,a@example.org,CA\n"
    f"{EMAIL},Jane,x@example.org,CA\n"  # shifted: the e-mail lands in the key
    f"2,B,{EMAIL}\n"  # a field short
    ",C,c@example.org,WA\n"
)
PROFILE_JSONL = "".join(
    json.dumps(line) + "\n"
    for line in (
        {"profile_id": 1, "operation": "insert"},
        {"profile_id": EMAIL, "operation": "insert"},
        {"profile_id": 2, "operation": EMAIL},
        {"profile_id": 3, EMAIL: "x", "operation": "insert"},
        {"data": {"profile_id": 4}, "metadata": {"record-type": "data", "operation": EMAIL,
                                                 "table-name": "profile"}},
        {"data": {"profile_id": 5}, "metadata": {"record-type": "data", "operation": "insert",
                                                 "table-name": EMAIL}},
    )
) + f'{{"profile_id": 6, "operation": "insert" "{EMAIL}"}}\n'  # fmt: skip
PROFILE_CSV_RULES = {
    "expected 4 fields, found ...": 1,
    "profile_id: ... is not a whole number": 1,
    "profile_id: primary key is empty": 1,
}
PROFILE_JSONL_RULES = {
    "metadata.operation: ... is not one of load, insert, i, update, u, delete, d (any case)": 1,
    "metadata.table-name: a record of another table in a file of table profile": 1,
    "not valid JSON": 1,
    "operation: ... is not one of insert, update, delete": 1,
    "profile_id: ... is not a whole number": 1,
    "unknown key(s)": 1,
}


def rules_of(lake: Any, key: str, body: str) -> tuple[ControlRecord, dict[str, Any]]:
    """Ingest ``body`` under ``key`` with the worker: its control record, and the raw item."""
    record = lake.register(key, gz(body))
    done = lake.worker().run(record.control_id)
    assert done is not None and done.status is ControlStatus.SUCCESS
    item = lake.store.table.get_item(Key={"control_id": done.control_id})["Item"]
    return done, item


def test_a_pii_tables_rules_metrics_and_record_hold_no_value(lake):
    csv, csv_item = rules_of(lake, "raw/profile/p.csv.gz", PROFILE_CSV)
    jsonl, jsonl_item = rules_of(lake, "raw/profile/p.jsonl.gz", PROFILE_JSONL)
    assert csv.quarantine_rules == PROFILE_CSV_RULES
    assert jsonl.quarantine_rules == PROFILE_JSONL_RULES
    assert (csv.rows_quarantined, jsonl.rows_quarantined) == (3, 6)
    for item in (csv_item, jsonl_item):
        assert "example" not in json.dumps(item, default=str)  # the whole record, as stored
    for _, dimensions in series(lake.cloudwatch):
        assert not any("example" in value for value in dimensions.values()), dimensions
    rules = {dims["Rule"] for name, dims in series(lake.cloudwatch) if "Rule" in dims}
    assert rules == set(PROFILE_CSV_RULES) | set(PROFILE_JSONL_RULES)
    both = "profile_id: ... is not a whole number"
    assert total(lake.cloudwatch, QUARANTINE_REASONS_METRIC, Table="profile", Rule=both) == 2


def test_a_non_pii_reason_shows_the_value_and_its_rule_does_not(lake):
    body = "beer_id,brewery_id,beer_name,beer_style,beer_abv\n" + f"{EMAIL},2,A,IPA,5.0\n"
    done, _ = rules_of(lake, "raw/beer/shown.csv.gz", body)
    (key,) = lake.keys("quarantine/")
    (row,) = lake.quarantine(key)
    assert row["reasons"] == [f"beer_id: {EMAIL!r} is not a whole number"]  # shown: no PII
    assert done.quarantine_rules == {f"beer_id: {ELIDED} is not a whole number": 1}
    jsonl = "".join(
        json.dumps(line) + "\n"
        for line in (
            {"beer_id": 1, EMAIL: 1, "operation": "insert"},
            {"data": {"beer_id": 2}, "metadata": {"record-type": "data", "operation": "insert",
                                                  "table-name": EMAIL}},
        )
    )  # fmt: skip
    done, item = rules_of(lake, "raw/beer/shown.jsonl.gz", jsonl)
    (new,) = set(lake.keys("quarantine/")) - {key}
    reasons = [reason for row in lake.quarantine(new) for reason in row["reasons"]]
    assert all(EMAIL in reason for reason in reasons)  # a key, a table name: shown here
    assert done.quarantine_rules == {
        "metadata.table-name: a record of another table in a file of table beer": 1,
        "unknown key(s)": 1,
    }
    assert EMAIL not in json.dumps(item, default=str)


def test_a_row_breaking_two_rules_counts_under_both(lake):
    done, _ = rules_of(lake, "raw/beer/mixed.csv.gz", MIXED)
    assert done.rows_quarantined == 5
    assert done.quarantine_rules == {
        "beer_abv: ... is above the maximum 100.0": 1,
        "beer_abv: ... is not a number": 1,  # the same row as brewery_id's
        "beer_id: ... is not a whole number": 1,
        "beer_id: primary key is empty": 1,
        "brewery_id: ... is not a whole number": 1,
        "expected 5 fields, found ...": 1,
    }


def test_the_rules_of_a_file_are_capped_with_the_rest_under_other():
    rows = {f"c{n:02}: primary key is empty": n for n in range(1, 26)}
    capped = top_rules(rows)
    assert len(capped) == MAX_QUARANTINE_RULES + 1 and list(capped)[-1] == OTHER_RULES
    assert list(capped)[:2] == ["c25: primary key is empty", "c24: primary key is empty"]
    assert capped[OTHER_RULES] == sum(range(1, 6))  # c01..c05, the least frequent
    assert sum(capped.values()) == sum(rows.values())
    assert top_rules({"a": 1, "b": 0}) == {"a": 1}  # no rule without rows, no empty other


def test_the_ingest_caps_a_files_rules_at_twenty():
    columns = [Column("id", ColumnType.LONG, nullable=False)]
    columns += [Column(f"n{n:02}", ColumnType.LONG) for n in range(25)]
    contract = TableContract(name="wide", columns=tuple(columns), primary_key=("id",))
    header = ",".join(c.name for c in columns)
    lines = []
    for n in range(25):  # column n fails in n + 1 rows: n00 the least
        for repeat in range(n + 1):
            values = ["1"] * len(columns)
            values[0] = f"{n}{repeat:03}"
            values[n + 1] = "x"
            lines.append(",".join(values))
    body = gzip.compress((header + "\n" + "\n".join(lines) + "\n").encode())
    record = ControlRecord(control_id="c", layer="bronze", table_name="wide", bucket="b",
                           object_key="raw/wide/w.csv.gz", format="csv", checksum="-")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result = convert_raw(
            open_stream(io.BytesIO(body)),
            record,
            contract=contract,
            masker=RedactDeclaredPii(),
            parquet_path=Path(tmp, "o.parquet"),
            quarantine_path=Path(tmp, "q.jsonl.gz"),
            ingested_at=datetime(2026, 3, 14, tzinfo=UTC),
        )
    assert result.rows_quarantined == sum(range(1, 26))
    assert len(result.quarantine_rules) == MAX_QUARANTINE_RULES + 1
    assert result.quarantine_rules[OTHER_RULES] == sum(range(1, 6))  # n00..n04
    assert next(iter(result.quarantine_rules)) == f"n24: {ELIDED} is not a whole number"


def test_the_control_record_round_trips_its_rules_through_dynamodb(lake):
    record = lake.store.register(
        ControlRecord(control_id="r1", layer="bronze", table_name="beer", bucket="b",
                      object_key="raw/beer/x.csv.gz", format="csv", checksum="0")
    )  # fmt: skip
    assert "quarantine_rules" not in lake.store.table.get_item(Key={"control_id": "r1"})["Item"]
    assert record.quarantine_rules == {}
    lake.store.claim("r1", "w")
    rules = {"beer_id: ... is not a whole number": 3, OTHER_RULES: 2}
    done = lake.store.complete("r1", "w", rows_in=5, rows_quarantined=5, quarantine_rules=rules)
    assert done.quarantine_rules == rules
    assert lake.store.get("r1") == done
    item = lake.store.table.get_item(Key={"control_id": "r1"})["Item"]
    assert {k: int(v) for k, v in item["quarantine_rules"].items()} == rules  # a map
    assert ControlRecord.from_item(done.to_item()) == done


def test_the_worker_sends_quarantine_reasons_in_its_one_request(lake, monkeypatch):
    requests: list[list[dict[str, Any]]] = []
    real = lake.cloudwatch.put_metric_data

    def spy(**kwargs: Any) -> Any:
        requests.append(kwargs["MetricData"])
        return real(**kwargs)

    monkeypatch.setattr(lake.cloudwatch, "put_metric_data", spy)
    done, _ = rules_of(lake, "raw/beer/mixed.csv.gz", MIXED)
    (request,) = requests  # the file's one PutMetricData
    reasons = [d for d in request if d["MetricName"] == QUARANTINE_REASONS_METRIC]
    by_rule = {
        {x["Name"]: x["Value"] for x in d["Dimensions"]}["Rule"]: d["Value"] for d in reasons
    }
    assert by_rule == {rule: float(n) for rule, n in done.quarantine_rules.items()}
    for datum in reasons:
        assert [d["Name"] for d in datum["Dimensions"]] == ["Table", "Rule"]
        assert datum["Dimensions"][0]["Value"] == "beer"
    cw = lake.cloudwatch
    assert total(cw, QUARANTINED_METRIC, Table="beer") == 5  # the exact count per table stays
    rule = "beer_id: primary key is empty"
    assert total(cw, QUARANTINE_REASONS_METRIC, Table="beer", Rule=rule) == 1


def test_a_rule_dimension_is_ascii_and_bounded():
    batch = MetricBatch()
    batch.quarantine_rules("t", {"naïve\tcol: " + "x" * 2000: 2, "none": 0})
    (datum,) = batch.datums()
    value = datum["Dimensions"][1]["Value"]
    assert value.isascii() and value.isprintable() and len(value) == 1024
    assert value.startswith("na\\xefve\\tcol: ")


def bronze(table: str, rules: dict[str, int], n: int) -> ControlRecord:
    return ControlRecord(control_id=f"c{n}", layer="bronze", table_name=table, bucket="b",
                         object_key=f"raw/{table}/{n}.csv.gz", format="csv", checksum=str(n),
                         status=ControlStatus.SUCCESS, rows_in=10,
                         rows_quarantined=sum(rules.values()), quarantine_rules=rules)  # fmt: skip


def test_the_local_quarantine_panel_shows_table_and_rule():
    not_whole = "beer_id: ... is not a whole number"
    records = [
        bronze("beer", {not_whole: 2, "expected 5 fields, found ...": 1}, 1),
        bronze("beer", {not_whole: 3}, 2),
        bronze("profile", {"profile_id: primary key is empty": 1}, 3),
        bronze("brewery", {}, 4),  # nothing quarantined: no bar
    ]  # fmt: skip
    board = operations_dashboard_of_quarantine()
    data = panel_data([board], ArrowTables({}), control_table(records), stages_table({}), {})
    result = data["operations.quarantine"]
    assert result.error is None, result.error
    assert result.rows.select(["table_rule", "rows_quarantined"]).to_pylist() == [
        {"table_rule": "beer - beer_id: ... is not a whole number", "rows_quarantined": 5},
        {"table_rule": "beer - expected 5 fields, found ...", "rows_quarantined": 1},
        {"table_rule": "profile - profile_id: primary key is empty", "rows_quarantined": 1},
    ]


def operations_dashboard_of_quarantine() -> Dashboard:
    from datalake.domain import default_domain_path, load_domain

    panel = operations_dashboard(load_domain(default_domain_path()), streaming=False).panel(
        "operations.quarantine"
    )
    assert panel.title == "Quarantined rows by table and reason"
    assert panel.metric is not None and panel.metric.metric == QUARANTINE_REASONS_METRIC
    assert [name for name, _ in panel.metric.dimensions] == ["Table", "Rule"]
    return Dashboard("operations", "Operations", (Row("Files and rows", (panel,)),))


def test_status_lists_the_rules_with_the_most_rows(lake):
    for n, rules in enumerate(
        [{"beer_id: primary key is empty": 2, OTHER_RULES: 1}, {"beer_id: primary key is empty": 4}]
    ):
        record = lake.store.register(bronze("beer", {}, n).model_copy(
            update={"status": ControlStatus.PENDING, "rows_in": None}))  # fmt: skip
        lake.store.claim(record.control_id, "w")
        lake.store.complete(record.control_id, "w", rows_in=10, quarantine_rules=rules)
    summary = status_summary(lake.store)
    assert [(q.table, q.rule, q.rows) for q in summary.quarantined] == [
        ("beer", "beer_id: primary key is empty", 6),
        ("beer", OTHER_RULES, 1),
    ]
    console = Console(record=True, width=200)
    print_quarantined(console, summary.quarantined)
    text = console.export_text()
    assert "quarantined rows by table and rule" in text and "beer_id: primary key is empty" in text
