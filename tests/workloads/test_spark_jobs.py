"""The Spark jobs' shared module: EMR Serverless' Python 3.9, pyspark and the standard library,
and gold's workloads independent of silver's internals."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from datalake.domain import partition_condition
from workloads.gold import spark_job as gold_job
from workloads.shared import spark_common
from workloads.silver import spark_job as silver_job

ROOT = Path(__file__).resolve().parents[2]
JOB_MODULES = [
    ROOT / "workloads" / "silver" / "spark_job.py",
    ROOT / "workloads" / "gold" / "spark_job.py",
    ROOT / "workloads" / "shared" / "spark_common.py",
    ROOT / "workloads" / "shared" / "view_sql.py",
]
SHIPPED = {"workloads.shared.spark_common", "workloads.shared.view_sql", "workloads.shared"}
WHEEL_FALLBACK = {f"datalake.{name}" for name in SHIPPED}
"""The same modules where the wheel installs them (imported only if ``workloads`` is missing)."""
ALLOWED = set(sys.stdlib_module_names) - {"tomllib"} | {"pyspark", "workloads"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", JOB_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_what_ships_to_emr_is_python_39_with_pyspark_and_the_stdlib(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    for module in imports(path) - WHEEL_FALLBACK:
        assert module.split(".")[0] in ALLOWED, module
        if module.startswith("workloads"):
            assert module in SHIPPED, module


def test_gold_imports_nothing_of_silver():
    for path in (ROOT / "workloads" / "gold").glob("*.py"):
        assert not {m for m in imports(path) if m.startswith("workloads.silver")}, path.name


def test_the_jobs_select_partitions_as_the_domain_does():
    columns, values = ["y", "m"], [(2011, 12), (2010, 1), (2010, 2)]
    assert spark_common.partition_condition(columns, values) == partition_condition(columns, values)
    assert (
        spark_common.partition_condition(columns, []) == partition_condition(columns, []) == "FALSE"
    )


@pytest.mark.parametrize(
    ("main", "arguments"),
    [
        (silver_job.main, ["--mode", "merge", "--manifest", "m.json", "--warehouse", "s3://x/"]),
        (silver_job.main, ["--mode", "merge", "--manifest", "m.json", "--table", "beer"]),
        (gold_job.main, ["--manifest", "m", "--mart", "x", "--months", "[]", "--warehouse", "w"]),
    ],
)
def test_arguments_nothing_reads_are_refused(main, arguments, capsys):
    common = ["--catalog", "glue", "--database", "db", "--source-database", "s"]
    if main is silver_job.main:
        common = common[:4]
    with pytest.raises(SystemExit):
        main([*arguments, *common])
    assert "unrecognized arguments" in capsys.readouterr().err
