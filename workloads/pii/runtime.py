"""Builds the worker's PII masker from the environment the PIIMasker component sets."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from workloads.environment import EnvironmentConfig
from workloads.pii.comprehend import ComprehendDetector
from workloads.pii.detection import PiiDetector, S3VerdictCache
from workloads.pii.masker import MaskingPolicy, PiiMasker, SecretsManagerKey
from workloads.pii.strategies import STRATEGIES


class PiiRuntimeConfig(EnvironmentConfig):
    """PII settings of a worker; every field is one environment variable."""

    describes = "PII masking"

    secret_id: str = Field(alias="PII_SECRET_ID")
    verdict_bucket: str = Field(alias="LAKE_BUCKET")
    verdict_prefix: str = Field("pii-verdicts/", alias="PII_VERDICT_PREFIX")
    default_strategy: str = Field("hash", alias="PII_DEFAULT_STRATEGY")
    strategies: dict[str, str] = Field(default_factory=dict, alias="PII_STRATEGIES")
    redaction_token: str = Field("[REDACTED]", alias="PII_REDACTION_TOKEN")
    comprehend_enabled: bool = Field(True, alias="PII_COMPREHEND_ENABLED")
    language_code: str = Field("en", alias="PII_LANGUAGE_CODE")
    comprehend_max_attempts: int = Field(5, ge=1, alias="PII_COMPREHEND_MAX_ATTEMPTS")
    sample_size: int = Field(200, ge=1, alias="PII_SAMPLE_SIZE")
    min_fraction: float = Field(0.5, gt=0, le=1, alias="PII_MIN_FRACTION")
    min_score: float = Field(0.7, ge=0, le=1, alias="PII_MIN_SCORE")

    @field_validator("strategies", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("default_strategy")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"allowed: {', '.join(STRATEGIES)}")
        return value


def build_masker(
    config: PiiRuntimeConfig, *, s3: Any, secrets: Any, comprehend: Any | None
) -> PiiMasker:
    """The masker a worker uses: cached verdicts in S3, key from Secrets Manager."""
    detector = PiiDetector(
        cache=S3VerdictCache(s3, config.verdict_bucket, config.verdict_prefix),
        comprehend=(
            ComprehendDetector(
                comprehend,
                language_code=config.language_code,
                max_attempts=config.comprehend_max_attempts,
            )
            if config.comprehend_enabled and comprehend is not None
            else None
        ),
        sample_size=config.sample_size,
        min_fraction=config.min_fraction,
        min_score=config.min_score,
    )
    return PiiMasker(
        detector=detector,
        policy=MaskingPolicy(config.default_strategy, config.strategies, config.redaction_token),
        keys=SecretsManagerKey(secrets, config.secret_id),
    )
