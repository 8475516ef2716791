"""The local run's HTML report (``workloads/local/report.py``), as ``datalake local run`` writes it.

One run of the retail example per module (``--domain examples/retail/domain.yaml --input
examples/retail/data --report DIR``, its default changes streamed), in a process of its own.
Then: the path is printed; the page is self-contained (plotly's JavaScript once, no external
script, style or link); every panel of the Grafana dashboards (the same model) has its chart;
and, in Debian's Chromium, headless with the network blocked, the page logs no console error,
makes no request but for itself, and every panel drew a plot with data (screenshot saved).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datalake.dashboards import dashboards
from datalake.dashboards.grafana import grafana_dashboard
from datalake.dashboards.grafana import panel_keys as grafana_panel_keys
from datalake.domain import load_domain
from workloads.local.report import REPORT_FILE, panel_keys

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT / "examples" / "retail"
DOMAIN = load_domain(RETAIL / "domain.yaml")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing could be fetched
)
PANELS_OF_THE_PAGE = """
return Array.from(document.querySelectorAll('[data-panel]')).map(function (figure) {
  var plot = figure.querySelector('.js-plotly-plot');
  var traces = (plot && plot._fullData) || [];
  var points = traces.reduce(function (n, t) {
    if (t.type === 'table') { return n + ((t.cells.values[0] || []).length); }
    if (t.type === 'indicator') { return n + (t.value === undefined ? 0 : 1); }
    return n + ((t.x && t.x.length) || 0);
  }, 0);
  return {key: figure.dataset.panel, source: figure.dataset.source,
          rows: Number(figure.dataset.rows), svgs: figure.querySelectorAll('.main-svg').length,
          drawn: !!(plot && plot._fullLayout), traces: traces.length, points: points};
});
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``datalake local run`` of the retail example, its report written to a temp folder."""
    folder = tmp_path_factory.mktemp("report") / "lake-report"
    result = subprocess.run(
        [sys.executable, "-m", "datalake", "local", "run", "--domain", str(RETAIL / "domain.yaml"),
         "--input", str(RETAIL / "data"), "--report", str(folder)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result, folder / REPORT_FILE


@pytest.fixture(scope="module")
def page(run) -> str:
    return run[1].read_text(encoding="utf-8")


def model_keys() -> list[str]:
    return [p.key for board in dashboards(DOMAIN, streaming=True) for p in board.panels]


def test_the_run_prints_where_the_report_is(run):
    result, path = run
    assert path.is_file()
    assert f"report: {path.resolve()}" in result.stdout


def test_the_page_is_self_contained(page):
    from plotly.offline import get_plotlyjs

    assert page.count(get_plotlyjs()[:200]) == 1  # the JavaScript, once
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\brel\s*=\s*[\"']?stylesheet", page, re.IGNORECASE)
    markup = re.sub(r"<script\b.*?</script>", "", page, flags=re.IGNORECASE | re.DOTALL)
    assert not re.findall(r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", markup, re.I)
    assert "@import" not in markup and "url(" not in markup  # the style sheet fetches nothing


def test_every_panel_of_the_grafana_dashboards_has_its_chart(page):
    keys = panel_keys(page)
    grafana: list[str] = []
    for board in dashboards(DOMAIN, streaming=True):
        built = grafana_dashboard(
            board, prefix="lake", athena_uid="athena", cloudwatch_uid="cloudwatch",
            region="us-east-1", databases={"gold": "lake_gold", "silver": "lake_silver"},
            workgroup="lake",
        )  # fmt: skip
        grafana.extend(grafana_panel_keys(built))
    assert grafana == model_keys()
    assert sorted(keys) == sorted(grafana)  # one chart per panel, none more
    assert len(set(keys)) == len(keys)


def test_every_mart_has_its_ranking_and_trend(page):
    keys = set(panel_keys(page))
    for mart in DOMAIN.marts:
        assert {f"{mart.name}.ranking", f"{mart.name}.trend"} <= keys


def chromium() -> tuple[str, str]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        message = "Debian's chromium and chromium-driver are needed (scripts/install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def opened(browser, run) -> dict[str, Any]:
    """The report opened in the browser: its panels as drawn, its console and its requests."""
    from selenium.webdriver.support.ui import WebDriverWait

    url = run[1].resolve().as_uri()
    browser.get("about:blank")
    browser.get_log("performance")  # read, so emptied: the start page's requests are not ours
    browser.get(url)
    expected = len(panel_keys(run[1].read_text(encoding="utf-8")))
    WebDriverWait(browser, 60).until(
        lambda d: (
            d.execute_script(
                "return document.querySelectorAll('[data-panel] .js-plotly-plot').length"
                " && Array.from(document.querySelectorAll('[data-panel] .js-plotly-plot'))"
                ".filter(function (p) { return p._fullLayout; }).length;"
            )
            == expected
        )
    )
    panels = browser.execute_script(PANELS_OF_THE_PAGE)
    console = browser.get_log("browser")
    requests = [
        message["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        for message in [json.loads(entry["message"])["message"]]
        if message["method"] == "Network.requestWillBeSent"
    ]
    return {"url": url, "panels": panels, "console": console, "requests": requests}


def test_the_page_logs_no_console_error(opened):
    errors = [entry for entry in opened["console"] if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors


def test_the_page_requests_nothing_but_itself(opened):
    others = [u for u in opened["requests"] if u != opened["url"] and not u.startswith("data:")]
    assert opened["url"] in opened["requests"]
    assert not others, others


def test_every_panel_drew_a_plot_with_data(opened):
    """Every panel with a query the local run can answer (SQL over gold, the control records
    or the timings) drew its rows; the others (CloudWatch metrics only) an annotated plot."""
    panels = {panel["key"]: panel for panel in opened["panels"]}
    assert sorted(panels) == sorted(model_keys())
    boards = dashboards(DOMAIN, streaming=True)
    metric_only = {p.key for b in boards for p in b.panels if not p.queries}
    assert {key for key, panel in panels.items() if panel["source"] == "none"} == metric_only
    for key, panel in panels.items():
        assert panel["drawn"] and panel["svgs"] > 0, panel
        if key not in metric_only:
            assert panel["rows"] > 0 and panel["traces"] > 0 and panel["points"] > 0, panel


def test_a_screenshot_of_the_whole_page(browser, opened, tmp_path):
    height = browser.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": 1400, "height": min(int(height), 20_000), "deviceScaleFactor": 1,
               "mobile": False}  # fmt: skip
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path = tmp_path / "lake-report.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 20_000  # a page of charts, not a blank one
    print(f"screenshot: {path}")


class ArrowTables:
    """The ``Tables`` of a run, from Arrow tables in memory: (layer, name) -> rows."""

    def __init__(self, tables: dict[tuple[str, str], Any]):
        self.tables = tables
        self.read: list[tuple[str, str]] = []

    def table(self, layer: str, name: str, where: str | None = None, columns: Any = None) -> Any:
        self.read.append((layer, name))
        return self.tables[(layer, name)]

    def count(self, layer: str, name: str) -> int:
        return self.tables[(layer, name)].num_rows


def test_panels_run_over_gold_control_and_stages_without_a_run():
    """Trino SQL transpiled for DuckDB, only the tables named read, ``{period}`` filled; a
    failing query is reported on its panel and the page is still written."""
    import pyarrow as pa

    from datalake.control import ControlRecord, ControlStatus
    from datalake.dashboards import Dashboard, Panel, Row, SqlQuery
    from workloads.local.report import panel_data, render_page
    from workloads.local.report_data import control_table, stages_table

    sales = pa.table({"sale_year": [2024, 2024], "sale_month": [3, 4], "shop": ["a", "b"],
                      "revenue": [10.5, 20.0]})  # fmt: skip
    tables = ArrowTables({("gold", "sales"): sales, ("gold", "unused"): sales})
    ranking = SqlQuery(
        "SELECT shop, revenue FROM {gold}.sales WHERE sale_year = "
        "CAST(split_part('{period}', '-', 1) AS BIGINT) AND sale_month = "
        "CAST(split_part('{period}', '-', 2) AS BIGINT) ORDER BY revenue DESC LIMIT 10",
        value_columns=("revenue",), label_column="shop",
    )  # fmt: skip
    files = SqlQuery(
        "SELECT layer, count(*) AS files FROM control GROUP BY layer ORDER BY layer",
        value_columns=("files",), label_column="layer",
    )  # fmt: skip
    board = Dashboard("analytics.sales_flat", "Sales", (Row("r", (
        Panel("sales.ranking", "Top shops", "bar", query=ranking),
        Panel("operations.files", "Files", "table", local=files),
        Panel("operations.stages", "Stages", "stat",
              local=SqlQuery("SELECT sum(seconds) AS seconds FROM stages"), unit="s"),
        Panel("broken.ranking", "Broken", "table", query=SqlQuery("SELECT * FROM {gold}.nope")),
    )),))  # fmt: skip
    record = ControlRecord(control_id="c1", layer="bronze", table_name="sales", bucket="b",
                           object_key="raw/sales/1.csv", format="csv", checksum="0",
                           status=ControlStatus.SUCCESS, rows_in=2)  # fmt: skip
    data = panel_data([board], tables, control_table([record]),
                      stages_table({"bronze": 1.5, "gold": 2.0}), {"sales": "2024-04"})  # fmt: skip
    assert data["sales.ranking"].rows.to_pylist() == [{"shop": "b", "revenue": 20.0}]
    assert data["sales.ranking"].period == "2024-04"
    assert data["operations.files"].rows.to_pylist() == [{"layer": "bronze", "files": 1}]
    assert data["operations.stages"].rows.to_pylist() == [{"seconds": 3.5}]
    assert data["broken.ranking"].error and data["broken.ranking"].rows is None
    assert ("gold", "unused") not in tables.read
    page = render_page([board], data, title="t")
    assert panel_keys(page) == [p.key for p in board.panels]
    assert 'data-panel="broken.ranking" data-source="gold" data-rows="0"' in page
    assert "query failed" in page
