"""The domain file: loading, the run-time objects, YAML handling, round trip, URIs, docs."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pytest
from moto import mock_aws

from datalake.config_docs import generated_docs
from datalake.contracts import Classification, ColumnType
from datalake.contracts.docs import render_tables_markdown
from datalake.domain import (
    DOMAIN_VARIABLE,
    Domain,
    DomainError,
    clear_domain_cache,
    default_domain_path,
    load_domain,
    load_domain_uri,
    partition_condition,
)
from datalake.domain.docs import (
    DOMAIN_DOC_PATH,
    DOMAIN_SCHEMA_PATH,
    domain_json_schema,
    render_domain_markdown,
)

ROOT = Path(__file__).resolve().parents[2]

RETAIL = """\
name: retail
tables:
  - name: customer
    primary_key: [customer_id]
    columns:
      - {name: customer_id, type: long, nullable: false}
      - {name: email, type: string, classification: pii, pii_type: EMAIL}
      - {name: phone, type: string, classification: pii, pii_type: PHONE}
      - {name: state, type: string}
  - name: orders
    primary_key: [order_id]
    raw_formats: [csv, jsonl]
    columns:
      - {name: order_id, type: long, nullable: false}
      - {name: customer_id, type: long}
      - {name: ordered_at, type: timestamp}
      - {name: status, type: string}
  - name: product
    primary_key: [product_id]
    cdc: false
    raw_formats: [csv]
    columns:
      - {name: product_id, type: long, nullable: false}
      - {name: name, type: string}
      - {name: category, type: string}
  - name: order_line
    primary_key: [order_id, line_no]
    columns:
      - {name: order_id, type: long, nullable: false}
      - {name: line_no, type: long, nullable: false}
      - {name: product_id, type: long}
      - {name: quantity, type: long, minimum: 1}
      - {name: price, type: double, minimum: 0, step: 0.01}
views:
  - name: line_flat
    base: order_line
    joins:
      - table: orders
        on: {order_id: order_id}
        columns: [customer_id, ordered_at, status]
      - table: customer            # chained: customer_id comes from the orders join
        on: {customer_id: customer_id}
        columns: [state, email]    # email listed: carried masked
        rename: {state: customer_state}
      - table: product
        on: {product_id: product_id}
    period: {column: ordered_at, kind: timestamp, parts: [year, month, day]}
marts:
  - name: revenue_by_category
    source: line_flat
    grain: [category]
    measures:
      - {name: revenue, function: sum, column: price}
      - {name: units, function: sum, column: quantity}
      - {name: orders, function: count_distinct, column: order_id}
      - {name: customers, function: count_distinct, column: customer_id}
      - {name: cheapest, function: min, column: price}
      - {name: last_order, function: max, column: ordered_at}
      - name: shipped_lines
        function: count
        filter: {column: status, op: in, value: [shipped, delivered]}
      - name: lines_before_2024
        function: count
        filter: {column: ordered_at, op: "<", value: "2024-01-01T00:00:00+00:00"}
      - name: avg_big_price
        function: avg
        column: price
        filter: {column: quantity, op: ">=", value: 2}
    rank_by: [revenue]
"""


@pytest.fixture
def retail(tmp_path) -> Domain:
    path = tmp_path / "retail.yaml"
    path.write_text(RETAIL)
    return load_domain(path)


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "domain.yaml"
    path.write_text(text)
    return path


def test_a_view_chains_joins_renames_and_keeps_listed_pii_masked(retail):
    view = retail.view("line_flat")
    names = view.contract.column_names
    assert names == (
        "order_id",
        "line_no",
        "product_id",
        "quantity",
        "price",
        "customer_id",
        "ordered_at",
        "status",
        "customer_state",
        "email",
        "name",
        "category",
        "ordered_at_year",
        "ordered_at_month",
        "ordered_at_day",
    )
    assert view.contract.primary_key == ("order_id", "line_no")
    assert view.contract.column("email").classification is Classification.PII
    assert "phone" not in names  # PII not listed: left out
    assert view.period.columns == ("ordered_at_year", "ordered_at_month", "ordered_at_day")
    assert view.contract.silver_partitioning == (("identity", "ordered_at_year"),)  # the default
    assert all(view.contract.column(c).nullable for c in ("customer_id", "customer_state"))
    spec = view.spec()
    assert spec["joins"][1] == {
        "table": "customer",
        "alias": "j2",
        "on": [["j1.customer_id", "customer_id"]],
        "columns": [["state", "customer_state"], ["email", "email"]],
    }
    assert spec["period"]["column_ref"] == "j1.ordered_at"
    assert spec["columns"] == list(names)
    assert view.references() == {
        "orders": ("b.order_id", "order_id"),
        "customer": ("j1.customer_id", "customer_id"),
        "product": ("b.product_id", "product_id"),
    }
    assert retail.views_of("customer") == (view,)


def test_tables_keep_their_raw_formats_and_cdc(retail):
    assert retail.table("product").cdc is False
    assert [f.value for f in retail.table("product").raw_formats] == ["csv"]
    assert retail.table("customer").pii_columns == ("email", "phone")
    assert retail.table("order_line").column("price").step == 0.01


def test_measures_are_typed_and_render_sql_that_duckdb_runs(retail):
    mart = retail.mart("revenue_by_category")
    types = {m.name: m.type for m in mart.measures}
    assert types == {
        "revenue": ColumnType.DOUBLE,
        "units": ColumnType.LONG,
        "orders": ColumnType.LONG,
        "customers": ColumnType.LONG,
        "cheapest": ColumnType.DOUBLE,
        "last_order": ColumnType.TIMESTAMP,
        "shipped_lines": ColumnType.LONG,
        "lines_before_2024": ColumnType.LONG,
        "avg_big_price": ColumnType.DOUBLE,
    }
    sql = {m.name: m.sql() for m in mart.measures}
    assert sql["orders"] == "CAST(count(DISTINCT order_id) AS BIGINT) AS orders"
    assert sql["last_order"] == "max(ordered_at) AS last_order"
    assert sql["shipped_lines"] == (
        "CAST(count(*) FILTER (WHERE status IN ('shipped', 'delivered')) AS BIGINT) "
        "AS shipped_lines"
    )
    assert sql["lines_before_2024"] == (
        "CAST(count(*) FILTER (WHERE ordered_at < TIMESTAMP '2024-01-01 00:00:00') AS BIGINT) "
        "AS lines_before_2024"
    )
    assert mart.contract.primary_key == mart.period
    assert mart.contract.column_names[:4] == (
        "ordered_at_year",
        "ordered_at_month",
        "ordered_at_day",
        "category",
    )
    rows = pa.table(
        {
            "ordered_at_year": [2023, 2023, 2023],
            "ordered_at_month": [12, 12, 12],
            "ordered_at_day": [31, 31, 31],
            "category": ["tea", "tea", "tea"],
            "price": [2.5, 1.5, 9.0],
            "quantity": [1, 3, 2],
            "order_id": [1, 1, 2],
            "customer_id": [7, 7, 8],
            "ordered_at": pa.array([1_704_000_000_000_000] * 3, pa.timestamp("us", tz="UTC")),
            "status": ["shipped", "new", "delivered"],
            "deleted_at": pa.array([None, None, 1], pa.timestamp("us", tz="UTC")),
        }
    )
    condition = partition_condition(mart.period, [(2023, 12, 31)])
    connection = duckdb.connect()
    connection.register("line_flat", rows)
    result = connection.sql(mart.sql("line_flat", condition)).to_arrow_table().to_pylist()
    assert len(result) == 1
    (row,) = result
    assert row["revenue"] == 4.0 and row["units"] == 4 and row["orders"] == 1
    assert row["shipped_lines"] == 1 and row["lines_before_2024"] == 2
    assert row["avg_big_price"] == 1.5 and row["cheapest"] == 1.5


def test_round_trip_through_the_canonical_document(retail):
    document = retail.to_document()
    again = Domain.from_document(json.loads(json.dumps(document)), source=retail.source)
    assert again == retail
    assert again.digest == retail.digest and len(retail.digest) == 16
    assert again.to_document() == document
    beer = load_domain(default_domain_path())
    assert Domain.from_document(beer.to_document(), source=beer.source) == beer
    assert beer.digest != retail.digest


def test_partition_by_chooses_the_leading_period_columns_of_the_view_and_its_marts(retail):
    view = retail.view("line_flat")  # parts [year, month, day], partition_by left out
    assert view.partition_columns == ("ordered_at_year",)
    document = retail.to_document()
    assert document["views"][0]["period"]["partition_by"] == "year"  # written out
    document["views"][0]["period"]["partition_by"] = "month"
    monthly = Domain.from_document(document)
    view = monthly.view("line_flat")
    assert view.period.columns == ("ordered_at_year", "ordered_at_month", "ordered_at_day")
    assert view.partition_columns == ("ordered_at_year", "ordered_at_month")
    assert view.contract.silver_partitioning == (
        ("identity", "ordered_at_year"),
        ("identity", "ordered_at_month"),
    )
    assert view.spec()["period"]["partition_columns"] == ["ordered_at_year", "ordered_at_month"]
    for mart in monthly.marts_of("line_flat"):
        assert mart.period == view.period.columns == mart.contract.primary_key
        assert mart.partition_columns == view.partition_columns
        assert mart.partition_parts == ("year", "month")
        assert mart.contract.silver_partitioning == view.contract.silver_partitioning
    assert monthly.digest != retail.digest
    assert Domain.from_document(monthly.to_document()) == monthly


def test_from_document_validates_like_the_file(retail):
    document = retail.to_document()
    document["marts"][0]["measures"][0]["column"] = "prise"
    with pytest.raises(DomainError, match=r"marts\[0\]\.measures\[0\]\.column: 'prise' is not"):
        Domain.from_document(document)


def test_unknown_names_list_the_known_ones(retail):
    with pytest.raises(KeyError, match="known tables: customer, order_line, orders, product"):
        retail.table("wine")
    with pytest.raises(KeyError, match="known views: line_flat"):
        retail.view("nope")
    with pytest.raises(KeyError, match="known marts: revenue_by_category"):
        retail.mart("nope")


def test_yaml_syntax_errors_name_the_file_line_and_column(tmp_path):
    path = _write(tmp_path, "name: shop\ntables:\n  - name: a\n   bad: 1\n")
    with pytest.raises(DomainError) as caught:
        load_domain(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:4:4: invalid YAML: expected <block end>, but found '<block mapping start>'"
    ]


def test_a_key_given_twice_is_an_error_with_its_line(tmp_path):
    path = _write(tmp_path, "name: shop\nname: other\ntables: []\n")
    with pytest.raises(DomainError) as caught:
        load_domain(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:2:1: invalid YAML: duplicate key 'name'"
    ]


def test_an_empty_file_or_a_list_at_the_top_is_a_clear_error(tmp_path):
    with pytest.raises(DomainError, match="the domain file is empty"):
        load_domain(_write(tmp_path, "# nothing yet\n"))
    with pytest.raises(DomainError, match=r"the top level must be a mapping .* \(got list\)"):
        load_domain(_write(tmp_path, "- name: shop\n"))
    with pytest.raises(DomainError, match="cannot read the domain file"):
        load_domain(tmp_path / "missing.yaml")


def test_missing_keys_and_no_tables(tmp_path):
    with pytest.raises(DomainError) as caught:
        load_domain(_write(tmp_path, "description: x\ntables: []\n"))
    assert [str(i) for i in caught.value.issues] == [
        "name: required key missing",
        "tables: must not be empty",
    ]


def test_yaml_is_read_as_yaml_1_2_on_and_dates_stay_strings(tmp_path, retail):
    text = RETAIL.replace("{name: status, type: string}", "{name: status, type: string}").replace(
        'value: "2024-01-01T00:00:00+00:00"', "value: 2024-01-01"
    )
    domain = load_domain(_write(tmp_path, text))
    measure = domain.mart("revenue_by_category").measure("lines_before_2024")
    assert measure.filter is not None and measure.filter.value == "2024-01-01"
    with pytest.raises(DomainError, match=r"nullable: must be true or false \(got 'yes'\)"):
        load_domain(
            _write(
                tmp_path,
                RETAIL.replace(
                    "{name: state, type: string}", "{name: state, type: string, nullable: yes}"
                ),
            )
        )


def test_load_domain_uri_reads_a_path_or_s3_once(tmp_path, monkeypatch, retail):
    assert DOMAIN_VARIABLE == "DATALAKE_DOMAIN"
    path = _write(tmp_path, RETAIL)
    clear_domain_cache()
    assert load_domain_uri(str(path)) == load_domain(path)
    assert load_domain_uri(str(path)) is load_domain_uri(str(path))
    path.write_text(RETAIL.replace("name: retail", "name: retail-two"))
    assert load_domain_uri(str(path)).name == "retail-two"  # a changed file is read again
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        key = f"domain/{retail.digest}.json"
        s3.put_object(Bucket="artifacts", Key=key, Body=retail.canonical_json().encode())
        loaded = load_domain_uri(f"s3://artifacts/{key}")
    assert loaded.digest == retail.digest and loaded.source is None
    clear_domain_cache()


def test_the_beer_domain_is_the_default_and_valid():
    assert default_domain_path() == ROOT / "examples" / "beer" / "domain.yaml"
    beer = load_domain(default_domain_path())
    assert beer.name == "beer-reviews"
    assert list(beer.views) == ["review_flat"]


def test_the_generated_domain_docs_are_up_to_date():
    docs = generated_docs()
    for relative in (DOMAIN_DOC_PATH, DOMAIN_SCHEMA_PATH, Path("docs/tables.md")):
        assert (ROOT / relative).read_text() == docs[relative], (
            f"{relative} is stale: run `datalake config docs`"
        )


def test_the_domain_reference_lists_every_key_of_the_file():
    text = render_domain_markdown()
    schema = domain_json_schema()
    for name, model in schema["$defs"].items():
        if "properties" not in model:
            continue
        for key in model["properties"]:
            assert f".{key}` |" in text, (name, key)
    assert "| `views[].joins[].on` | map of string | required |" in text


def test_tables_doc_renders_any_domain(retail):
    text = render_tables_markdown(retail)
    assert "## `line_flat` (view)" in text
    assert (
        "| `customer_state` | string (Glue `string`, Iceberg `string`) | customer.state |" in text
    )
    assert "## `revenue_by_category` (mart)" in text
    assert "| `email` | string (Glue `string`, Iceberg `string`) |  | pii |" in text


def test_the_example_in_the_domain_reference_is_valid(tmp_path):
    text = render_domain_markdown()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    domain = load_domain(_write(tmp_path, example))
    assert [m.name for m in domain.marts] == ["revenue_by_region"]
    assert "email" not in domain.view("order_flat").contract.column_names
