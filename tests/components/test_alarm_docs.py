"""docs/dashboards.md's alarm table names the alarms the program declares, and only those."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from tests.components.inventory import run_stack, with_lake

DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PREFIX = "datalake-dev-"


def documented_alarms() -> list[str]:
    """The alarm name patterns of the "Alarms" table (``<x>`` placeholders as ``*``)."""
    section = DOC.read_text(encoding="utf-8").split("## Alarms", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) < 3 or not cells[1].strip().startswith("`"):
            continue
        first = cells[1]
        if first.strip().startswith("budget"):
            continue
        names += [re.sub(r"<[^>]+>", "*", n) for n in re.findall(r"`([^`]+)`", first)]
    return names


def test_every_documented_alarm_exists_and_every_alarm_is_documented():
    lake = run_stack(
        with_lake(
            streaming={"enabled": True},
            observability={"freshness_hours": {"review": 6}},
        )
    )
    declared = [a.inputs["name"].removeprefix(PREFIX) for a in lake.of_type(ALARM)]
    documented = documented_alarms()
    assert declared and documented
    for pattern in documented:
        assert fnmatch.filter(declared, pattern), f"{pattern} is documented but not declared"
    for name in declared:
        assert any(fnmatch.fnmatch(name, p) for p in documented), f"{name} is not documented"
