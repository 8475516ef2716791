"""The dashboard model: every mart of a domain has its ranking and its trend, a new mart adds
its panels and nothing else, the SQL is Trino (Athena) that DuckDB runs too and reads only the
mart's own table and columns, no PII column is ever shown, and the operations dashboard covers
what the pipeline does, on AWS (CloudWatch) and locally (the control records and timings).
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from datalake.contracts.model import ColumnType
from datalake.dashboards import (
    ANY_VALUE,
    Dashboard,
    Panel,
    Row,
    SqlQuery,
    analytics_dashboards,
    dashboards,
    operations_dashboard,
)
from datalake.dashboards.analytics import TOP_ROWS
from datalake.domain import Domain, Mart, load_domain
from datalake.errors import EXHAUSTED_METRIC, LAKE_METRICS, METRIC_NAMESPACE
from workloads.local.report_data import QUARANTINE_RULES_SQL

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {name: ROOT / "examples" / name / "domain.yaml" for name in ("beer", "retail")}
GOLD_DB = "lake_gold"
PERIODS = ((2024, 2), (2024, 3))
CHOSEN = "2024-03"
MEMBERS = 12
"""Grain members per period in the fake gold tables (more than a ranking shows)."""


@pytest.fixture(params=sorted(EXAMPLES), scope="module")
def domain(request: pytest.FixtureRequest) -> Domain:
    return load_domain(EXAMPLES[request.param])


def analytics_panels(domain: Domain) -> dict[str, Panel]:
    return {p.key: p for d in analytics_dashboards(domain) for p in d.panels}


def parse(sql: str) -> exp.Expression:
    """The statement parsed as Trino (Athena engine v3); sqlglot raises on a syntax error."""
    return sqlglot.parse_one(sql, read="trino")


def mart_of(domain: Domain, panel: Panel) -> Mart:
    return domain.mart(panel.key.rsplit(".", 1)[0])


# --- the marts' panels -------------------------------------------------------------------


def test_each_mart_has_one_ranking_and_one_trend(domain: Domain) -> None:
    panels = analytics_panels(domain)
    expected = {f"{m.name}.{kind}" for m in domain.marts for kind in ("ranking", "trend")}
    assert set(panels) == expected
    for mart in domain.marts:
        ranking, trend = panels[f"{mart.name}.ranking"], panels[f"{mart.name}.trend"]
        assert ranking.visual in ("table", "bar") and ranking.query is not None
        assert ranking.query.needs_period
        assert trend.visual == "timeseries" and trend.query is not None
        assert trend.query.time_column and trend.query.value_columns
        assert not trend.query.needs_period


def test_one_dashboard_per_view_with_marts_one_row_per_mart(domain: Domain) -> None:
    boards = analytics_dashboards(domain)
    assert [d.key for d in boards] == [f"analytics.{v}" for v in domain.views if domain.marts_of(v)]
    for board in boards:
        view = board.key.removeprefix("analytics.")
        assert [r.title for r in board.rows] == [m.name for m in domain.marts_of(view)]
        assert board.periods is not None and board.periods.label_column == "period"
    every = dashboards(domain)
    keys = [p.key for d in every for p in d.panels]
    assert len(keys) == len(set(keys)), "panel keys are unique across the dashboards"
    assert every[-1].key == "operations"


def test_adding_a_mart_adds_its_panels_and_nothing_else(domain: Domain) -> None:
    document = domain.to_document()
    template = copy.deepcopy(document["marts"][0])
    template["name"] = "added_mart"
    template["grain"] = template["grain"][:1]
    document["marts"].append(template)
    grown = Domain.from_document(document)

    before = {p.key: p for d in dashboards(domain, streaming=True) for p in d.panels}
    after = {p.key: p for d in dashboards(grown, streaming=True) for p in d.panels}
    assert set(after) - set(before) == {"added_mart.ranking", "added_mart.trend"}
    assert set(before) <= set(after)
    assert all(after[key] == panel for key, panel in before.items())
    added = analytics_panels(grown)["added_mart.ranking"].query
    assert added is not None and "{gold}.added_mart" in added.sql


def test_sql_is_trino_over_the_marts_table_and_columns_only(domain: Domain) -> None:
    boards = analytics_dashboards(domain)
    queries: list[tuple[Mart, SqlQuery]] = [
        (mart_of(domain, p), p.query) for d in boards for p in d.panels if p.query
    ]
    queries += [
        (domain.marts_of(d.key.split(".", 1)[1])[0], d.periods) for d in boards if d.periods
    ]
    for mart, query in queries:
        sql = query.render(gold=GOLD_DB, period=CHOSEN)
        assert "{" not in sql
        tree = parse(sql)
        tables = {(t.db, t.name) for t in tree.find_all(exp.Table)}
        assert tables == {(GOLD_DB, mart.name)}, sql
        aliases = {a.alias for a in tree.find_all(exp.Alias)}
        columns = {c.name for c in tree.find_all(exp.Column)}
        assert columns <= set(mart.contract.column_names) | aliases, sql
        produced = [s.alias_or_name for s in tree.find(exp.Select).expressions]  # type: ignore[union-attr]
        wanted = [query.time_column, query.label_column, *query.value_columns]
        assert {c for c in wanted if c} <= set(produced), sql


def pii_names(domain: Domain) -> set[str]:
    names = {c for table in domain.tables.values() for c in table.pii_columns}
    return names | {c for m in domain.marts for c in m.contract.pii_columns}


def identifiers(sql: str) -> set[str]:
    return {i.name for i in parse(sql).find_all(exp.Identifier)}


def test_no_pii_column_in_any_panel(domain: Domain) -> None:
    pii = pii_names(domain)
    assert pii, "the examples declare PII (e-mail, phone)"
    for board in dashboards(domain, streaming=True):
        for panel in board.panels:
            for query in panel.queries:
                assert not identifiers(query.render(gold=GOLD_DB, period=CHOSEN)) & pii


def test_a_mart_measure_over_pii_is_never_shown() -> None:
    """A min/max over a PII column is PII in the mart's contract: no panel selects it."""
    document = load_domain(EXAMPLES["retail"]).to_document()
    view = next(v for v in document["views"] if v["name"] == "order_flat")
    view["joins"][0]["columns"].append("email")
    measures = [
        {"name": "last_email", "function": "max", "column": "email", "description": "PII."},
        {"name": "orders", "function": "count", "description": "Orders."},
    ]
    document["marts"].append(
        {"name": "emails_by_state", "description": "PII inside.", "source": "order_flat",
         "grain": ["state"], "measures": measures, "rank_by": ["orders"]}
    )  # fmt: skip
    domain = Domain.from_document(document)
    assert domain.mart("emails_by_state").contract.pii_columns == ("last_email",)
    for panel in analytics_panels(domain).values():
        assert panel.query is not None
        used = identifiers(panel.query.render(gold=GOLD_DB, period=CHOSEN))
        assert not used & {"email", "last_email"}, panel.key


# --- the same SQL on DuckDB ---------------------------------------------------------------


def fake_value(column_type: ColumnType, member: int, period: tuple[int, int]) -> Any:
    """A value that grows with the period and the member, so a ranking's order is known."""
    weight = period[1] * 1000 + member
    if column_type is ColumnType.LONG:
        return weight
    if column_type is ColumnType.DOUBLE:
        return weight + 0.5
    if column_type is ColumnType.TIMESTAMP:
        return datetime(period[0], period[1], 1 + member % 28)
    return f"m{member:02d}"


def gold_table(mart: Mart) -> pa.Table:
    """A small gold table shaped like the mart's contract: two periods, a dozen members."""
    parts = dict(zip(mart.period, mart.period_parts, strict=True))
    members = range(MEMBERS) if mart.grain else range(1)
    rows = []
    for period in PERIODS:
        for member in members:
            row = {}
            for column in mart.contract.columns:
                part = parts.get(column.name)
                if part is not None:
                    row[column.name] = {"year": period[0], "month": period[1], "day": 1}[part]
                else:
                    row[column.name] = fake_value(column.type, member, period)
            rows.append(row)
    schema = pa.schema([(c.name, c.type.arrow) for c in mart.contract.columns])
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture(scope="module")
def lake(domain: Domain) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"CREATE SCHEMA {GOLD_DB}")
    for mart in domain.marts:
        arrow = gold_table(mart)  # noqa: F841 - read by DuckDB's replacement scan
        connection.execute(f"CREATE TABLE {GOLD_DB}.{mart.name} AS SELECT * FROM arrow")
    return connection


def test_rankings_run_on_duckdb_top_rows_of_the_chosen_period(
    domain: Domain, lake: duckdb.DuckDBPyConnection
) -> None:
    for mart in domain.marts:
        query = analytics_panels(domain)[f"{mart.name}.ranking"].query
        assert query is not None
        result = lake.sql(query.render(gold=GOLD_DB, period=CHOSEN)).to_arrow_table()
        assert result.num_rows == (min(TOP_ROWS, MEMBERS) if mart.grain else 1)
        assert not set(result.column_names) & set(mart.period)
        first = mart.rank_by[0]
        values = result.column(first).to_pylist()
        assert values == sorted(values, reverse=True), mart.name
        # month 3's values are 3000 + member: the top ones of the chosen period only
        assert min(values) >= 3000 + (MEMBERS - TOP_ROWS if mart.grain else 0), mart.name


def test_trends_run_on_duckdb_one_point_per_period(
    domain: Domain, lake: duckdb.DuckDBPyConnection
) -> None:
    for mart in domain.marts:
        query = analytics_panels(domain)[f"{mart.name}.trend"].query
        assert query is not None and query.time_column is not None
        result = lake.sql(query.render(gold=GOLD_DB)).to_arrow_table()
        times = [t.replace(tzinfo=None) for t in result.column(query.time_column).to_pylist()]
        assert times == [datetime(y, m, 1) for y, m in PERIODS], mart.name
        (value,) = query.value_columns
        assert all(v is not None for v in result.column(value).to_pylist())


def test_periods_run_on_duckdb_newest_first(
    domain: Domain, lake: duckdb.DuckDBPyConnection
) -> None:
    for board in analytics_dashboards(domain):
        assert board.periods is not None
        rows = lake.execute(board.periods.render(gold=GOLD_DB)).fetchall()
        assert rows == [("2024-03",), ("2024-02",)]


# --- the operations dashboard -------------------------------------------------------------

ISSUE_PANELS = {
    "operations.files": "files per layer and status",
    "operations.rows": "rows per layer and status",
    "operations.quarantine": "quarantined rows by table and reason",
    "operations.duplicates": "duplicates skipped",
    "operations.failures": "failures and retries",
    "operations.stages": "stage durations",
    "operations.athena_bytes": "Athena bytes scanned",
    "operations.emr_jobs": "EMR job durations",
}
STREAMING_PANELS = {"operations.firehose_delivery", "operations.firehose_freshness"}
AWS_ONLY = {"operations.athena_bytes"} | STREAMING_PANELS
NAMESPACES = {"AWS/States", "AWS/Athena", "AWS/Firehose", "AWS/EMRServerless", METRIC_NAMESPACE}


def test_operations_lists_the_issues_panels_firehose_only_when_streaming(
    domain: Domain,
) -> None:
    batch = {p.key for p in operations_dashboard(domain, streaming=False).panels}
    streamed = {p.key for p in operations_dashboard(domain, streaming=True).panels}
    assert set(ISSUE_PANELS) <= batch
    assert not batch & STREAMING_PANELS
    assert streamed == batch | STREAMING_PANELS
    assert dashboards(domain)[-1] == operations_dashboard(domain, streaming=False)


def test_every_operations_panel_has_a_cloudwatch_metric(domain: Domain) -> None:
    for panel in operations_dashboard(domain, streaming=True).panels:
        metric = panel.metric
        assert metric is not None, panel.key
        assert metric.namespace in NAMESPACES and metric.period_seconds > 0
        if metric.namespace == METRIC_NAMESPACE:
            assert metric.metric in {EXHAUSTED_METRIC, *LAKE_METRICS}
        for _, value in metric.render(workgroup="lake-consumers"):
            assert value == ANY_VALUE or "{" not in value
        assert (panel.local is None) == (panel.key in AWS_ONLY), panel.key
        assert panel.query is None, "control records are not in Athena"


_COUNTS = ("rows_in", "rows_written", "rows_quarantined", "rows_skipped", "attempts")
CONTROL_SCHEMA = pa.schema(
    [(c, pa.string()) for c in ("layer", "table_name", "status")]
    + [(c, pa.int64()) for c in _COUNTS]
    + [(c, pa.timestamp("us", tz="UTC")) for c in ("created_at", "updated_at")]
    + [(c, pa.string()) for c in ("duplicate_of", "error")]
    + [("quarantine_rules", pa.map_(pa.string(), pa.int64()))]
)
"""The columns of the local report's ``control`` view."""
RULES = {"a": {"x: ... is not a whole number": 2, "y: primary key is empty": 1}}
"""Quarantined rows per rule of the successful bronze records (a row broke two rules)."""
CONTROL_ROWS = [  # layer, table, status, in, written, quarantined, skipped, attempts
    ("bronze", "a", "success", 10, 8, 2, 0, 1),
    ("bronze", "a", "duplicate", None, None, None, None, 0),
    ("bronze", "b", "error", None, None, None, None, 3),
    ("bronze", "b", "success", 5, 4, 0, 1, 2),
    ("silver", "a", "success", 8, 8, None, None, 1),
    ("gold", "m", "success", None, None, None, None, 1),
]


@pytest.fixture(scope="module")
def run() -> duckdb.DuckDBPyConnection:
    stamp = datetime(2024, 3, 1)
    names = CONTROL_SCHEMA.names[:8]
    records = [
        {**dict(zip(names, row, strict=True)), "created_at": stamp, "updated_at": stamp,
         "duplicate_of": "x" if row[2] == "duplicate" else None,
         "error": "boom" if row[2] == "error" else None,
         "quarantine_rules": RULES.get(row[1]) if row[0] == "bronze" and row[2] == "success"
                             else None}
        for row in CONTROL_ROWS
    ]  # fmt: skip
    control = pa.Table.from_pylist(records, schema=CONTROL_SCHEMA)
    stages = pa.table(
        {"stage": ["land + control", "bronze", "silver", "gold"], "seconds": [0.5, 2.0, 3.0, 1.5]}
    )
    connection = duckdb.connect()
    connection.register("control", control)
    connection.execute(f"CREATE VIEW quarantine_rules AS {QUARANTINE_RULES_SQL}")
    connection.register("stages", stages)
    return connection


def local_result(run: duckdb.DuckDBPyConnection, panel: Panel) -> dict[str, list[Any]]:
    assert panel.local is not None
    return run.sql(panel.local.sql).to_arrow_table().to_pydict()


def test_local_operations_sql_is_trino_and_runs_on_duckdb(
    run: duckdb.DuckDBPyConnection,
) -> None:
    board = operations_dashboard(load_domain(EXAMPLES["beer"]), streaming=True)
    for panel in board.panels:
        if panel.local is None:
            continue
        assert not panel.local.placeholders
        tables = {t.name for t in parse(panel.local.sql).find_all(exp.Table)}
        assert tables <= {"control", "quarantine_rules", "stages"}, panel.key
        result = local_result(run, panel)
        wanted = [panel.local.label_column, *panel.local.value_columns]
        assert {c for c in wanted if c} <= set(result), panel.key
        assert result[panel.local.value_columns[0]], f"{panel.key} has rows"


def test_local_operations_values(run: duckdb.DuckDBPyConnection) -> None:
    board = operations_dashboard(load_domain(EXAMPLES["retail"]), streaming=False)
    files = local_result(run, board.panel("operations.files"))
    assert files["layer"] == ["bronze", "gold", "silver"]
    assert files["success"] == [2, 1, 1] and files["duplicate"] == [1, 0, 0]
    quarantine = local_result(run, board.panel("operations.quarantine"))
    assert quarantine["table_rule"] == [
        "a - x: ... is not a whole number",
        "a - y: primary key is empty",
    ]
    assert quarantine["rows_quarantined"] == [2, 1]
    assert local_result(run, board.panel("operations.duplicates")) == {"duplicate_files": [1]}
    failures = local_result(run, board.panel("operations.failures"))
    assert failures == {
        "layer": ["bronze", "gold", "silver"],
        "failed_files": [1, 0, 0],
        "retries": [3, 0, 0],
    }
    emr = local_result(run, board.panel("operations.emr_jobs"))
    assert sorted(zip(emr["stage"], emr["milliseconds"], strict=True)) == [
        ("gold", 1500.0),
        ("silver", 3000.0),
    ]
    rows = local_result(run, board.panel("operations.rows"))
    bronze = rows["layer_status"].index("bronze success")
    counts = {
        c: rows[c][bronze] for c in ("rows_in", "rows_written", "rows_quarantined", "rows_skipped")
    }
    assert counts == {"rows_in": 15, "rows_written": 12, "rows_quarantined": 2, "rows_skipped": 1}


# --- the model itself ---------------------------------------------------------------------


def test_render_fills_known_placeholders_only() -> None:
    query = SqlQuery("SELECT 1 FROM {gold}.t WHERE p = '{period}'")
    assert query.placeholders == ("gold", "period") and query.needs_period
    assert query.render(gold="g", period="2024-03") == "SELECT 1 FROM g.t WHERE p = '2024-03'"
    with pytest.raises(KeyError, match="unknown placeholders"):
        query.render(bronze="b")


def test_the_model_refuses_what_no_renderer_can_draw() -> None:
    with pytest.raises(ValueError, match="needs a query"):
        Panel("p", "P", "table")
    with pytest.raises(ValueError, match="time column"):
        Panel("p", "P", "timeseries", query=SqlQuery("SELECT 1"))
    panel = Panel("p", "P", "stat", local=SqlQuery("SELECT 1 AS n", value_columns=("n",)))
    with pytest.raises(ValueError, match="duplicate panel keys"):
        Dashboard("d", "D", (Row("r", (panel,)), Row("s", (panel,))))
