"""The Lambda code of the lake: one deterministic bundle for every function.

``datalake/`` + ``workloads/`` (from the repository or the installed wheel) + the wheels the
handlers import beyond the Lambda runtime (boto3) and the pyarrow layer, pinned by
``constraints.txt``, for the Lambda's Python version and architecture
(``components/lambda_bundle.py`` builds it, ``components/bundle.py`` writes and caches it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pulumi

from .bundle import CONSTRAINTS, DATALAKE_DIR, NESTED_DIRS, ROOT, WORKLOADS_DIR, build_cache
from .lambda_bundle import LambdaBundleSpec, build_lambda_bundle

__all__ = [
    "LAMBDA_PACKAGES",
    "LAMBDA_SIZE_BUDGET_BYTES",
    "ROOT",
    "WORKLOADS_DIR",
    "lambda_archive",
    "lambda_bundle_spec",
    "pinned_requirements",
]

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


def lambda_bundle_spec(runtime: str, architecture: str) -> LambdaBundleSpec:
    """What goes into the bundle for a Lambda runtime (``python3.12``) and architecture."""
    return LambdaBundleSpec(
        source_packages=(DATALAKE_DIR, WORKLOADS_DIR),
        requirements=pinned_requirements(LAMBDA_PACKAGES, CONSTRAINTS),
        python_version=runtime.removeprefix("python"),
        architecture=architecture,
        excluded_dirs=tuple(DATALAKE_DIR / name for name in NESTED_DIRS),
    )


@functools.cache
def lambda_archive(runtime: str, architecture: str) -> pulumi.FileArchive:
    """The bundle as a Pulumi archive (built once per program run, cached under ``.build/``).

    Every component with a Lambda asks for it; hashing the sources once is enough.
    """
    spec = lambda_bundle_spec(runtime, architecture)
    return pulumi.FileArchive(str(build_lambda_bundle(spec, build_cache())))
