"""Builds the worker's PII masker from its runtime (:class:`datalake.runtime.PiiRuntime`)."""

from __future__ import annotations

from typing import Any

from datalake.runtime import PiiRuntime

from .comprehend import ComprehendDetector
from .detection import PiiDetector, S3VerdictCache
from .masker import MaskingPolicy, PiiMasker, SecretsManagerKey


def build_masker(config: PiiRuntime, *, s3: Any, secrets: Any, comprehend: Any | None) -> PiiMasker:
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
