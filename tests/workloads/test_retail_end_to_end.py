"""The retail example end to end: ``run_local(domain=..., input=...)`` on the shipped files.

A domain that shares nothing with the beer example runs through the same lake: every mart is
checked against values computed by hand from the shipped CSV and JSON lines
(``tests/workloads/retail_by_hand.py``: csv/json modules, the CDC applied in the test), and
the Spark engine produces the same mart rows as the arrow engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datalake.domain import load_domain
from tests.workloads import retail_by_hand
from tests.workloads.retail_by_hand import DATA, RETAIL

DOMAIN = load_domain(RETAIL / "domain.yaml")

# In a process of its own: the embedded emulator's state is per process.
RUN = """
import io, json, sys
from pathlib import Path
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from datalake.domain import load_domain
from workloads.local.present import print_summary
from workloads.local.runner import run_local

domain_file, data, out, engine = sys.argv[1:5]
out = Path(out)
domain = load_domain(domain_file)


def dump(lake, report):
    for layer, contracts in (("silver", domain.silver_contracts()),
                             ("gold", domain.gold_contracts())):
        for contract in contracts:
            rows = report.tables.table(layer, contract.name)
            pq.write_table(rows, out / f"{layer}.{contract.name}.parquet")
    strings = set()
    s3, bucket = lake.s3, lake.buckets["lake"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                for column in pq.read_table(io.BytesIO(body)).columns:
                    if pa.types.is_string(column.type):
                        strings.update(column.drop_null().to_pylist())
    text = io.StringIO()
    print_summary(Console(file=text, width=200, color_system=None), report)
    (out / "report.json").write_text(json.dumps({
        "bronze": report.bronze, "errors": report.errors, "duplicates": report.duplicates,
        "quarantine": report.quarantine_keys, "masked": report.masked_columns,
        "silver": report.silver, "gold": report.gold, "strings": sorted(strings),
        "summary": text.getvalue(),
    }))


run_local(domain=domain, input=Path(data), engine=engine, serve=dump)
"""


def run(out: Path, engine: str) -> dict[str, Any]:
    """One local run of the retail example; its tables as Arrow, and the report."""
    arguments = [str(RETAIL / "domain.yaml"), str(DATA), str(out), engine]
    result = subprocess.run(
        [sys.executable, "-c", RUN, *arguments], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    report["tables"] = {path.stem: pq.read_table(path) for path in out.glob("*.parquet")}
    return report


@pytest.fixture(scope="module")
def arrow(tmp_path_factory) -> dict[str, Any]:
    return run(tmp_path_factory.mktemp("retail-arrow"), "arrow")


def keyed(rows: list[dict[str, Any]], mart: str) -> dict[tuple, dict[str, Any]]:
    """A mart's rows as (period..., grain...) -> measures, like the hand computation."""
    spec = DOMAIN.mart(mart)
    keys = (*spec.period, *spec.grain)
    return {
        tuple(row[k] for k in keys): {m.name: row[m.name] for m in spec.measures} for row in rows
    }


def close(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and a == pytest.approx(b, abs=1e-9)
        if isinstance(a, datetime) and isinstance(b, datetime):
            return a.timestamp() == b.timestamp()
        return a == b

    return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)


@pytest.mark.parametrize("mart", [m.name for m in DOMAIN.marts])
def test_every_mart_equals_the_hand_computation(arrow, mart):
    expected = retail_by_hand.marts(retail_by_hand.silver())[mart]
    got = keyed(arrow["tables"][f"gold.{mart}"].to_pylist(), mart)
    assert expected, f"the shipped data gives {mart} no rows"
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    for key, measures in expected.items():
        assert close(got[key], measures), (key, got[key], measures)


def test_the_views_hold_the_rows_the_rules_give(arrow):
    state = retail_by_hand.silver()
    lines = arrow["tables"]["silver.order_line_flat"]
    orders = arrow["tables"]["silver.order_flat"]
    assert lines.num_rows == len(retail_by_hand.order_line_flat(state))
    assert orders.num_rows == len(retail_by_hand.order_flat(state))
    expected = {r["order_line_id"]: r for r in retail_by_hand.order_line_flat(state)}
    for row in lines.to_pylist():  # the chained lookup: the order's customer's state
        assert row["customer_state"] == expected[row["order_line_id"]]["customer_state"]
        assert (row["order_year"], row["order_month"]) == expected[row["order_line_id"]]["period"]
    table = arrow["tables"]["silver.orders"].to_pylist()
    deleted = {r["order_id"] for r in table if r["deleted_at"] is not None}
    assert deleted == {2, 21}  # the CDC deletes are soft: the rows stay, marked
    # A deleted order keeps its values (the batch file's) and stays in its view, marked.
    by_hand = {r["order_id"]: r for r in retail_by_hand.order_flat(state)}
    flat = {r["order_id"]: r for r in orders.to_pylist()}
    assert {k for k, r in by_hand.items() if r["deleted"]} == deleted
    for key in deleted:
        assert flat[key]["deleted_at"] is not None
        assert flat[key]["order_total"] == by_hand[key]["order_total"] is not None
        assert (flat[key]["order_year"], flat[key]["order_month"]) == by_hand[key]["period"]
    assert not deleted & {r["order_id"] for r in lines.to_pylist()}  # orders join while live


def test_counts_quarantine_and_masking_in_the_report(arrow):
    assert arrow["errors"] == []
    assert arrow["duplicates"] == []
    assert arrow["bronze"]["orders"]["rows_quarantined"] == 1  # the malformed line
    (key,) = arrow["quarantine"]
    assert key.startswith("quarantine/orders/")
    assert sorted(arrow["masked"]["customers"]) == ["email", "phone"]
    assert arrow["bronze"]["order_lines"]["rows_written"] == 84
    assert arrow["silver"]["orders"] == 32  # 30 batch rows + 2 CDC inserts (deletes are soft)
    assert set(arrow["gold"]) == {m.name for m in DOMAIN.marts}


def test_no_raw_email_or_phone_anywhere_in_the_lake(arrow):
    customers = retail_by_hand.silver().rows["customers"].values()
    pii = {c["email"] for c in customers} | {c["phone"] for c in customers}
    assert pii and not pii & set(arrow["strings"])


def test_the_summary_shows_every_table_view_and_mart(arrow):
    summary = arrow["summary"]
    for name in (*DOMAIN.tables, *DOMAIN.views, *(m.name for m in DOMAIN.marts)):
        assert name in summary
    assert "revenue_by_category_month — top 10, 2024-" in summary


def test_spark_produces_the_same_mart_rows(arrow, tmp_path):
    spark = run(tmp_path, "spark")
    assert spark["errors"] == []
    for mart in DOMAIN.marts:
        got = keyed(spark["tables"][f"gold.{mart.name}"].to_pylist(), mart.name)
        want = keyed(arrow["tables"][f"gold.{mart.name}"].to_pylist(), mart.name)
        assert sorted(got, key=repr) == sorted(want, key=repr), mart.name
        for key, measures in want.items():
            assert close(got[key], measures), (mart.name, key, got[key], measures)
