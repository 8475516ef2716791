"""The Lambda code of the lake: one deterministic bundle for every function.

``datalake/`` + ``workloads/`` + the wheels the handlers import beyond the Lambda runtime
(boto3) and the pyarrow layer, pinned by ``constraints.txt``, for the Lambda's Python version
and architecture (``components/lambda_bundle.py`` builds and caches it).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pulumi

from components.lambda_bundle import LambdaBundleSpec, build_lambda_bundle
from datalake.settings import IngestionSettings

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PACKAGES = (
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    "aws-lambda-powertools",
    "duckdb",
    "tenacity",
)
"""What the handlers import beyond the Lambda runtime (boto3) and the pyarrow layer."""
LAMBDA_SIZE_BUDGET_BYTES = 250 * 2**20 - 167 * 2**20
"""Lambda allows 250 MiB unzipped for code and layers together; the AWS SDK for pandas 3.16.0
layer takes about 167 MiB of it, which leaves this much for the bundle."""


def pinned_requirements(packages: tuple[str, ...], constraints: Path) -> tuple[str, ...]:
    """``name==version`` for each package, versions from the project's constraints file."""
    pins = {}
    for line in constraints.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    missing = [p for p in packages if p not in pins]
    if missing:
        raise ValueError(f"{constraints}: no pinned version for {', '.join(missing)}")
    return tuple(f"{p}=={pins[p]}" for p in packages)


def lambda_bundle_spec(ingestion: IngestionSettings) -> LambdaBundleSpec:
    """What goes into the bundle for the configured runtime and architecture."""
    return LambdaBundleSpec(
        source_packages=(ROOT / "datalake", ROOT / "workloads"),
        requirements=pinned_requirements(LAMBDA_PACKAGES, ROOT / "constraints.txt"),
        python_version=ingestion.lambda_runtime.removeprefix("python"),
        architecture=ingestion.lambda_architecture,
    )


@functools.cache
def lambda_code(ingestion: IngestionSettings) -> pulumi.FileArchive:
    """The bundle as a Pulumi archive (built once per program run, cached under ``.build/``).

    Every component with a Lambda asks for it; hashing the sources once is enough.
    """
    cache = Path(os.environ.get("DATALAKE_BUILD_CACHE", ROOT / ".build"))
    return pulumi.FileArchive(str(build_lambda_bundle(lambda_bundle_spec(ingestion), cache)))
