"""Workload settings read from environment variables (set by the components)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError


class WorkloadConfigError(RuntimeError):
    """A required environment variable is missing or invalid."""


class EnvironmentConfig(BaseModel):
    """A frozen model whose fields are environment variables (their aliases)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    describes: ClassVar[str] = "workload"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read from ``os.environ``; the error names every missing or bad variable."""
        source = os.environ if environ is None else environ
        names = {f.alias for f in cls.model_fields.values() if f.alias}
        try:
            return cls.model_validate({k: v for k, v in source.items() if k in names})
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            raise WorkloadConfigError(f"{cls.describes} environment: {problems}") from None
