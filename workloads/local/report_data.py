"""The data of the local report: every panel of the dashboards run with DuckDB.

Analytics panels (``panel.query``: Trino SQL, as Athena runs it) are transpiled to DuckDB with
sqlglot and read the run's tables, registered as the schemas ``gold`` and ``silver`` (only the
tables a panel names are read). Operations panels run their ``panel.local`` SQL (DuckDB) over
``control`` (every control record of the run), ``quarantine_rules`` (derived from it: bronze's
quarantined rows per table and rule, ``table_name, rule, rows_quarantined``) and ``stages``
(the run's timings). ``{period}`` is the busiest period of the mart's view, as the summary
picks it (``2024-03``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from datalake.control import ControlRecord
from datalake.dashboards import Panel, SqlQuery

from .summary import Tables

SCHEMAS = ("gold", "silver")
"""What ``{gold}`` and ``{silver}`` name locally: DuckDB schemas of the run's tables."""
_TIMESTAMP = pa.timestamp("us", tz="UTC")
CONTROL_SCHEMA = pa.schema(
    [
        ("layer", pa.string()),
        ("table_name", pa.string()),
        ("status", pa.string()),
        ("object_key", pa.string()),
        ("format", pa.string()),
        ("compute_target", pa.string()),
        ("size_bytes", pa.int64()),
        ("rows_in", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_skipped", pa.int64()),
        ("attempts", pa.int64()),
        ("created_at", _TIMESTAMP),
        ("updated_at", _TIMESTAMP),
        ("duplicate_of", pa.string()),
        ("error", pa.string()),
        ("quarantine_rules", pa.map_(pa.string(), pa.int64())),
    ]
)
"""The DuckDB view ``control``: the control table's records (one row per object and layer)."""
QUARANTINE_RULES_SQL = (
    "SELECT table_name, entry.key AS rule, entry.value AS rows_quarantined\n"
    "FROM (SELECT table_name, unnest(map_entries(quarantine_rules)) AS entry\n"
    "      FROM control WHERE layer = 'bronze')"
)
"""The DuckDB view ``quarantine_rules``: one row per bronze record and rule (DuckDB SQL)."""
STAGES_SCHEMA = pa.schema([("stage", pa.string()), ("seconds", pa.float64())])


@dataclass(frozen=True)
class PanelData:
    """What one panel's query returned locally (``rows`` None: no local query, or an error)."""

    panel: Panel
    source: str
    """``gold`` (analytics over the run's tables), ``control`` (operations), ``none``."""
    rows: pa.Table | None = None
    sql: str = ""
    """The SQL run (placeholders filled, in DuckDB's dialect)."""
    error: str | None = None
    period: str = ""
    """The ``{period}`` it was run for ("" if its query has none)."""

    @property
    def row_count(self) -> int:
        return 0 if self.rows is None else self.rows.num_rows


def control_table(records: Iterable[ControlRecord]) -> pa.Table:
    """The control records as the ``control`` view's rows."""
    rows = [
        {name: _plain(getattr(record, name)) for name in CONTROL_SCHEMA.names} for record in records
    ]
    return pa.Table.from_pylist(rows, schema=CONTROL_SCHEMA)


def stages_table(timings: Mapping[str, float]) -> pa.Table:
    """The run's timings as the ``stages`` view's rows, in run order."""
    return pa.table(
        {"stage": list(timings), "seconds": [float(s) for s in timings.values()]},
        schema=STAGES_SCHEMA,
    )


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, Enum):  # the status
        return str(value.value)
    return value


def to_duckdb(sql: str) -> str:
    """Trino SQL (as written for Athena) in DuckDB's dialect."""
    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]


def referenced_tables(sql: str) -> set[tuple[str, str]]:
    """(schema, table) of every ``gold.x`` / ``silver.x`` the (DuckDB) SQL reads."""
    return {
        (table.db, table.name)
        for table in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Table)
        if table.db in SCHEMAS
    }


class PanelRunner:
    """One DuckDB connection: the run's tables as they are named, then every panel's query."""

    def __init__(self, tables: Tables, control: pa.Table, stages: pa.Table):
        self.tables = tables
        self.connection = duckdb.connect()
        self.loaded: set[tuple[str, str]] = set()
        for schema in SCHEMAS:
            self.connection.execute(f"CREATE SCHEMA {schema}")
        self._register("control", control)
        self.connection.execute(f"CREATE VIEW quarantine_rules AS {QUARANTINE_RULES_SQL}")
        self._register("stages", stages)

    def _register(self, name: str, rows: pa.Table, schema: str = "main") -> None:
        alias = f"_arrow_{schema}_{name}"
        self.connection.register(alias, rows)
        self.connection.execute(f'CREATE VIEW {schema}."{name}" AS SELECT * FROM "{alias}"')

    def _load(self, sql: str) -> None:
        for schema, name in referenced_tables(sql) - self.loaded:
            self._register(name, self.tables.table(schema, name), schema)
            self.loaded.add((schema, name))

    def run(self, panel: Panel, period: str) -> PanelData:
        """The panel's rows: its ``local`` query if it has one, else its lake ``query``."""
        query, source = _local_query(panel)
        if query is None:
            return PanelData(panel, source)
        sql = query.render(gold="gold", silver="silver", period=period)
        period = period if query.needs_period else ""
        try:
            if source == "gold":
                sql = to_duckdb(sql)
                self._load(sql)
            rows = self.connection.sql(sql).to_arrow_table()
        except Exception as error:  # noqa: BLE001 reported with the panel; the page is written
            failure = f"{type(error).__name__}: {error}"
            return PanelData(panel, source, sql=sql, error=failure, period=period)
        return PanelData(panel, source, rows, sql, period=period)

    def close(self) -> None:
        self.connection.close()


def _local_query(panel: Panel) -> tuple[SqlQuery | None, str]:
    if panel.local is not None:
        return panel.local, "control"
    if panel.query is not None:
        return panel.query, "gold"
    return None, "none"
