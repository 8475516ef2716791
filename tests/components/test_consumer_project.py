"""The library used as a library: ``examples/consumer-project`` installs the built wheel (not the
source tree) and deploys its own domain with the components, beside a ``components/`` folder of
its own.

The wheel is built into a temporary directory and installed (``--target``, without its
dependencies, which the test's interpreter has); the project's program runs under the Pulumi
mocks in a subprocess whose ``sys.path`` holds the project directory and that target only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from datalake.domain import load_domain

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "consumer-project"
WHEEL_LAYOUT = {
    "datalake": "datalake/",
    "components": "datalake/components/",
    "workloads": "datalake/workloads/",
}
"""Repository folder -> where its modules are in the wheel (``setup.py``)."""

RUN = """
import json, sys
from pathlib import Path
import yaml
import components, datalake, datalake.components
from datalake.components.preview import run_program

project = Path.cwd()
config = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]
name = yaml.safe_load((project / "Pulumi.yaml").read_text())["name"]
resources = run_program("dev", config, project / "__main__.py", name)
print(json.dumps({
    "modules": {
        "components": components.__file__,
        "datalake": datalake.__file__,
        "datalake.components": datalake.components.__file__,
    },
    "resources": [
        {"type": r.type, "name": r.name, "inputs": r.inputs, "outputs": r.outputs}
        for r in resources
    ],
}, default=str))
"""


def wheel_only(target: Path) -> dict[str, str]:
    """This environment, with the installed wheel as the only extra import path."""
    kept = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return {**kept, "PYTHONPATH": str(target)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("pulumi_serverless_datalake-*.whl")
    return built


@pytest.fixture(scope="module")
def program(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
         str(target), str(wheel)],
        check=True,
    )  # fmt: skip
    environment = {
        **wheel_only(target),
        # The Lambda wheels the bundle needs are cached there already: no download.
        "DATALAKE_BUILD_CACHE": os.environ.get("DATALAKE_BUILD_CACHE", str(ROOT / ".build")),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return {**json.loads(done.stdout.splitlines()[-1]), "target": target}


def of_type(program: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in program["resources"] if r["type"] == type_]


def test_the_wheel_installs_one_top_level_package_and_ships_what_the_bundles_need(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {
        "datalake"
    }
    for member in (
        "datalake/components/__init__.py",
        "datalake/components/project_files/constraints.txt",
        "datalake/components/project_files/.dockerignore",
        "datalake/workloads/bronze/handlers.py",
        "datalake/workloads/bronze/Dockerfile",
        "datalake/examples/beer/domain.yaml",
        "datalake/examples/beer/data/brewery.csv.gz",
    ):
        assert member in names, member
    assert not [n for n in names if n.startswith("datalake/examples/consumer-project")]
    modules = {
        f"{prefix}{path.relative_to(ROOT / top).as_posix()}"
        for top, prefix in WHEEL_LAYOUT.items()
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules - set(names) == set()  # every module of the repository ships
    assert (
        zipfile.ZipFile(wheel).read("datalake/components/project_files/constraints.txt")
        == (ROOT / "constraints.txt").read_bytes()
    )


def test_the_project_imports_its_own_components_and_the_librarys_from_the_wheel(program):
    modules = program["modules"]
    assert Path(modules["components"]) == PROJECT / "components" / "__init__.py"
    for module in ("datalake", "datalake.components"):
        assert Path(modules[module]).is_relative_to(program["target"]), module


def test_the_projects_domain_becomes_its_bronze_tables_and_classification_tags(program):
    tables = {
        t["inputs"]["name"]: t["inputs"]["databaseName"]
        for t in of_type(program, "aws:glue/catalogTable:CatalogTable")
    }
    assert tables == {
        "customer": "support_dev_bronze",
        "agent": "support_dev_bronze",
        "ticket": "support_dev_bronze",
    }
    databases = {
        d["inputs"]["name"] for d in of_type(program, "aws:glue/catalogDatabase:CatalogDatabase")
    }
    assert databases == {"support_dev_bronze", "support_dev_silver", "support_dev_gold"}
    tags = [
        t["inputs"] for t in of_type(program, "aws:lakeformation/resourceLfTags:ResourceLfTags")
    ]
    pii = [t["tableWithColumns"] for t in tags if t["lfTags"][0]["value"] == "pii"]
    assert pii == [
        {"databaseName": "support_dev_bronze", "name": "customer", "columnNames": ["email"]}
    ]


def test_the_projects_marts_become_named_queries_over_its_gold_tables(program):
    domain = load_domain(PROJECT / "domain.yaml")
    queries = {
        q["inputs"]["name"]: q["inputs"]
        for q in of_type(program, "aws:athena/namedQuery:NamedQuery")
    }
    assert len(queries) == len(domain.marts) == 2
    for mart in domain.marts:
        (query,) = [q for q in queries.values() if mart.name in q["query"]]
        assert query["database"] == "support_dev_gold"
        assert all(column in query["query"] for column in mart.rank_by)
    text = json.dumps(program["resources"])
    for name in ("ticket_flat", *domain.tables):  # the silver tables the plan and jobs write
        assert name in text
    assert "review_flat" not in text and "brewery" not in text


def test_the_consumers_get_lake_formation_grants_and_every_workload_the_domain(program):
    grants = of_type(program, "aws:lakeformation/permissions:Permissions")
    consumer = [g["inputs"] for g in grants if g["inputs"]["principal"].endswith("gold-consumer")]
    assert sorted(g["permissions"] for g in consumer) == [["DESCRIBE"], ["SELECT", "DESCRIBE"]]
    (catalog,) = of_type(program, "datalake:index:LakeCatalog")
    digest = load_domain(PROJECT / "domain.yaml").digest
    uri = catalog["outputs"]["domain_uri"]
    assert uri == f"s3://support-dev-artifacts-eu-west-1/domain/{digest}.json"
    for function in of_type(program, "aws:lambda/function:Function"):
        variables = (function["inputs"].get("environment") or {}).get("variables", {})
        if function["name"] != "pii-rotation":
            assert variables["DATALAKE_DOMAIN"] == uri, function["name"]
    (provider,) = of_type(program, "pulumi:providers:aws")
    tags = json.loads(provider["inputs"]["defaultTags"])["tags"]
    assert (tags["cost-center"], tags["project"]) == ("support-analytics", "support")


def test_the_spark_jobs_import_from_the_wheel_for_the_local_spark_engine(program):
    # EMR runs the jobs as scripts beside a zip with workloads/ at its root; from the wheel the
    # local Spark engine imports them as datalake.workloads.* (no top-level workloads package).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util, datalake.workloads.silver.spark_job as s, "
            "datalake.workloads.gold.spark_job as g\n"
            "assert importlib.util.find_spec('workloads') is None\n"
            "print(s.partition_condition(['y'], [(2024,)]), g.ensure_table.__module__)",
        ],
        cwd=PROJECT,
        env=wheel_only(program["target"]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(y", "=", "2024)", "datalake.workloads.shared.spark_common"]
