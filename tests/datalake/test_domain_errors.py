"""Bad domain files: every problem is reported at once, with its path in the file and why."""

from __future__ import annotations

import pytest

from datalake.domain import DomainError, load_domain

SHOP = """\
name: shop
description: A small shop.
tables:
  - name: customer
    primary_key: [customer_id]
    columns:
      - {name: customer_id, type: long, nullable: false, classification: public}
      - {name: email, type: string, classification: pii, pii_type: EMAIL}
      - {name: region, type: string}
  - name: orders
    primary_key: [order_id]
    raw_formats: [csv, jsonl]
    columns:
      - {name: order_id, type: long, nullable: false}
      - {name: customer_id, type: long}
      - {name: amount, type: double, minimum: 0, maximum: 10000, step: 0.01}
      - {name: status, type: string}
      - {name: ordered_at, type: timestamp}
views:
  - name: order_flat
    base: orders
    joins:
      - table: customer
        on: {customer_id: customer_id}
        columns: [region]
    period: {column: ordered_at, kind: timestamp, parts: [year, month], prefix: order}
marts:
  - name: revenue_by_region
    source: order_flat
    grain: [region]
    measures:
      - {name: revenue, function: sum, column: amount}
      - {name: orders, function: count}
      - name: big_orders
        function: count
        filter: {column: amount, op: ">=", value: 100}
    min_count: 2
    rank_by: [revenue]
"""


def _problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "domain.yaml"
    path.write_text(text)
    with pytest.raises(DomainError) as caught:
        load_domain(path)
    assert str(path) in str(caught.value)
    return [str(issue) for issue in caught.value.issues]


def _edit(*changes: tuple[str, str]) -> str:
    text = SHOP
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_the_template_is_valid(tmp_path):
    path = tmp_path / "domain.yaml"
    path.write_text(SHOP)
    domain = load_domain(path)
    assert domain.view("order_flat").period.columns == ("order_year", "order_month")
    assert domain.view("order_flat").partition_columns == ("order_year",)


CASES = {
    "unknown column type": (
        [("{name: status, type: string}", "{name: status, type: text}")],
        "tables[1].columns[3].type: 'text' is not allowed "
        "(allowed: long, double, string, timestamp)",
    ),
    "unknown key": (
        [("{name: status, type: string}", "{name: status, type: string, nulable: true}")],
        "tables[1].columns[3].nulable: unknown key (allowed keys here: name, type, nullable, "
        "classification, pii_type, minimum, maximum, step, description)",
    ),
    "nullable primary key": (
        [
            ("{name: order_id, type: long, nullable: false}", "{name: order_id, type: long}"),
        ],
        "tables[1].primary_key[0]: key column 'order_id' is nullable; set nullable: false on "
        "columns[0]",
    ),
    "primary key not a column": (
        [("primary_key: [order_id]", "primary_key: [order_no]")],
        "tables[1].primary_key[0]: 'order_no' is not a column of orders "
        "(columns: order_id, customer_id, amount, status, ordered_at)",
    ),
    "pii without pii type": (
        [("classification: pii, pii_type: EMAIL}", "classification: pii}")],
        "tables[0].columns[1].pii_type: required for a pii column (allowed: EMAIL, PHONE, "
        "CREDIT_DEBIT_NUMBER, SSN, IP_ADDRESS, INTERNATIONAL_BANK_ACCOUNT_NUMBER, NAME, "
        "ADDRESS, USERNAME, DATE_TIME, URL, OTHER)",
    ),
    "unknown pii type": (
        [("pii_type: EMAIL}", "pii_type: MAIL}")],
        "tables[0].columns[1].pii_type: 'MAIL' is not a PII type (allowed: EMAIL, PHONE, "
        "CREDIT_DEBIT_NUMBER, SSN, IP_ADDRESS, INTERNATIONAL_BANK_ACCOUNT_NUMBER, NAME, "
        "ADDRESS, USERNAME, DATE_TIME, URL, OTHER)",
    ),
    "bounds on a string": (
        [("{name: region, type: string}", "{name: region, type: string, maximum: 3}")],
        "tables[0].columns[2].maximum: only long and double columns take maximum "
        "(region is string; got 3)",
    ),
    "minimum above maximum": (
        [("minimum: 0, maximum: 10000", "minimum: 10, maximum: 5")],
        "tables[1].columns[2].maximum: 5 is less than minimum 10",
    ),
    "cdc without jsonl": (
        [("raw_formats: [csv, jsonl]", "raw_formats: [csv]")],
        "tables[1].cdc: a table receiving CDC needs jsonl in raw_formats (got ['csv']); add "
        "jsonl or set cdc: false",
    ),
    "reserved column": (
        [("{name: status, type: string}", "{name: updated_at, type: timestamp}")],
        "tables[1].columns[3].name: 'updated_at' is reserved: it is an audit column of silver "
        "(reserved: created_at, updated_at, deleted_at, change_seq, operation, changed_at, "
        "sequence, year, month, day)",
    ),
    "one name for a table and a view": (
        [
            ("  - name: order_flat\n", "  - name: orders\n"),
            ("source: order_flat", "source: orders"),
        ],
        "views[0].name: 'orders' is already the name of tables[1]; tables, views and marts need "
        "distinct names",
    ),
    "view base is a view": (
        [("    base: orders\n", "    base: order_flat\n")],
        "views[0].base: 'order_flat' is a view; views join tables only (tables: customer, orders)",
    ),
    "join table unknown": (
        [("- table: customer", "- table: customers")],
        "views[0].joins[0].table: 'customers' is not a table (tables: customer, orders)",
    ),
    "join key of another type": (
        [("{name: customer_id, type: long}", "{name: customer_id, type: string}")],
        "views[0].joins[0].on.customer_id: customer_id is string in the view but "
        "customer.customer_id is long; join keys need one type",
    ),
    "join key not in the view": (
        [("on: {customer_id: customer_id}", "on: {client_id: customer_id}")],
        "views[0].joins[0].on.client_id: 'client_id' is not a column of the view at this point "
        "(columns: order_id, customer_id, amount, status, ordered_at)",
    ),
    "join not on the lookup's key": (
        [("on: {customer_id: customer_id}", "on: {status: region}")],
        "views[0].joins[0].on: must join on the primary key of customer (customer_id), so each "
        "row finds at most one customer row (got ['region'])",
    ),
    "join output clashes": (
        [("columns: [region]", "columns: [region, customer_id]")],
        "views[0].joins[0].columns[1]: output column 'customer_id' clashes with the view's "
        "column customer_id (from orders); rename it, e.g. rename: "
        "{customer_id: customer_customer_id}",
    ),
    "period column of the wrong type": (
        [("kind: timestamp", "kind: epoch_seconds")],
        "views[0].period.column: ordered_at is timestamp; kind epoch_seconds needs a long "
        "column (allowed: epoch_seconds for long, timestamp for timestamp)",
    ),
    "period parts out of order": (
        [("parts: [year, month]", "parts: [month, year]")],
        "views[0].period.parts: parts go in the order year, month, day (got ['month', 'year'])",
    ),
    "partitioned by a part the period lacks": (
        [("parts: [year, month]", "parts: [year, month], partition_by: day")],
        "views[0].period.partition_by: 'day' is not one of the view's parts (allowed: year, month)",
    ),
    "partitioned by no part at all": (
        [("parts: [year, month]", "parts: [year, month], partition_by: week")],
        "views[0].period.partition_by: 'week' is not allowed (allowed: year, month, day)",
    ),
    "mart over a table": (
        [("source: order_flat", "source: orders")],
        "marts[0].source: 'orders' is a table; a mart reads a view (views: order_flat)",
    ),
    "measure column misspelt": (
        [("column: amount}", "column: amont}")],
        "marts[0].measures[0].column: 'amont' is not a column of order_flat (columns: order_id, "
        "customer_id, amount, status, ordered_at, region, order_year, order_month)",
    ),
    "sum of a string": (
        [("column: amount}", "column: status}")],
        "marts[0].measures[0].column: sum needs a long or double column; status is string",
    ),
    "count distinct without a column": (
        [("{name: orders, function: count}", "{name: orders, function: count_distinct}")],
        "marts[0].measures[1].column: required for count_distinct (a column of order_flat)",
    ),
    "grain column unknown": (
        [("grain: [region]", "grain: [regoin]")],
        "marts[0].grain[0]: 'regoin' is not a column of order_flat (columns: order_id, "
        "customer_id, amount, status, ordered_at, region, order_year, order_month)",
    ),
    "filter value of the wrong type": (
        [('op: ">=", value: 100}', 'op: ">=", value: "a lot"}')],
        "marts[0].measures[2].filter.value: 'a lot' is not a number (amount is double)",
    ),
    "filter op unknown": (
        [('op: ">="', 'op: "=>"')],
        "marts[0].measures[2].filter.op: '=>' is not allowed (allowed: =, !=, <, <=, >, >=, in, "
        "not_in, is_null, not_null)",
    ),
    "in needs a list": (
        [('op: ">=", value: 100}', "op: in, value: 100}")],
        "marts[0].measures[2].filter.value: in takes a non-empty list of values (got 100)",
    ),
    "rank by a column": (
        [("rank_by: [revenue]", "rank_by: [region]")],
        "marts[0].rank_by[0]: 'region' is not a measure of revenue_by_region "
        "(measures: revenue, orders, big_orders)",
    ),
    "min count below one": (
        [("min_count: 2", "min_count: 0")],
        "marts[0].min_count: must be >= 1 (got 0)",
    ),
}


def test_a_bad_name_is_reported_and_so_are_references_to_the_name_meant(tmp_path):
    problems = _problems(tmp_path, _edit(("  - name: customer\n", "  - name: Customer\n")))
    assert problems == [
        "tables[0].name: 'Customer' is not a valid name (lowercase letters, digits and _, "
        "starting with a letter, at most 63 characters)",
        "views[0].joins[0].table: 'customer' is not a table (tables: orders, Customer)",
    ]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_domain_file_names_the_path_and_the_reason(tmp_path, case):
    changes, expected = CASES[case]
    assert _problems(tmp_path, _edit(*changes)) == [expected]


def test_every_problem_is_reported_at_once_in_file_order(tmp_path):
    text = _edit(
        ("{name: status, type: string}", "{name: status, type: text}"),
        ("- table: customer", "- table: customers"),
        ("column: amount}", "column: amont}"),
        ("rank_by: [revenue]", "rank_by: [region]"),
    )
    problems = _problems(tmp_path, text)
    assert [p.split(":")[0] for p in problems] == [
        "tables[1].columns[3].type",
        "views[0].joins[0].table",
        "marts[0].rank_by[0]",
    ]
