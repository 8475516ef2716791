"""How the wheel lays the library out: one top-level package, ``datalake``, and nothing generic.

    repository                      wheel (site-packages)
    datalake/                  ->   datalake/
    components/                ->   datalake/components/     (import datalake.components)
    workloads/                 ->   datalake/workloads/      (bundled by path, as in the repo)
    examples/beer/, retail/    ->   datalake/examples/<name>/  (domain.yaml, data, generate.py)
    constraints.txt, .dockerignore -> datalake/components/project_files/  (the Lambda pins and
                                      the Fargate image's context, rebuilt from the wheel)

A Pulumi project that installs the wheel keeps its own ``components/`` and ``workloads/``
folders: nothing here is installed under those names. Project metadata and dependencies are in
``pyproject.toml``; only what has to be computed lives here.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROJECT_FILES = ("constraints.txt", ".dockerignore")
"""Repository files the components read at run time (``components/bundle.py``)."""
PROJECT_FILES_DIR = ("datalake", "components", "project_files")
EXAMPLES = ("beer", "retail")
"""Example domains shipped with the library (``examples/consumer-project`` is not one)."""


def mapped(package: str, directory: str) -> list[str]:
    """``package`` and every package below ``directory``, named under ``package``."""
    return [package, *(f"{package}.{name}" for name in find_packages(str(HERE / directory)))]


def examples() -> list[str]:
    """The shipped example folders that exist (data-only packages)."""
    return [f"datalake.examples.{name}" for name in EXAMPLES if (HERE / "examples" / name).is_dir()]


class BuildPyWithProjectFiles(build_py):
    """``build_py`` that also copies the repository files the components need into the wheel."""

    def run(self) -> None:
        # In-tree builds reuse build/lib: a module deleted from the repository must not ship.
        shutil.rmtree(Path(self.build_lib, "datalake"), ignore_errors=True)
        super().run()
        target = Path(self.build_lib, *PROJECT_FILES_DIR)
        target.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            self.copy_file(str(HERE / name), str(target / name))


setup(
    packages=[
        *find_packages(str(HERE), include=["datalake", "datalake.*"]),
        *mapped("datalake.components", "components"),
        *mapped("datalake.workloads", "workloads"),
        "datalake.examples",
        *examples(),
    ],
    package_dir={
        "datalake.components": "components",
        "datalake.workloads": "workloads",
        "datalake.examples": "examples",
    },
    package_data={
        "datalake.workloads.bronze": ["Dockerfile"],
        **{package: ["domain.yaml", "*.md", "data/*", "data/**/*"] for package in examples()},
    },
    cmdclass={"build_py": BuildPyWithProjectFiles},
)
