"""Column-level PII detection with Amazon Comprehend ``DetectPiiEntities``.

The sampled values of one column travel in as few requests as the API's size limit allows
(joined by newlines; entity offsets are mapped back to values). Throttling and transient
errors are retried with exponential backoff (tenacity); a final failure is raised as
:class:`ComprehendUnavailable` so the caller can fail closed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

MAX_TEXT_BYTES = 100_000
"""DetectPiiEntities accepts at most 100 KB of UTF-8 text per request."""
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerException",
        "ServiceUnavailableException",
    }
)


class ComprehendUnavailable(RuntimeError):
    """Comprehend could not answer (after retries): detection falls back to patterns."""


@dataclass(frozen=True)
class ValueFinding:
    """The best entity Comprehend found in one sampled value."""

    pii_type: str
    score: float


def _retryable(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in RETRYABLE_CODES
    return isinstance(error, BotoCoreError)


@dataclass
class ComprehendDetector:
    """Finds PII entities in the sampled values of a column."""

    client: Any
    language_code: str = "en"
    max_attempts: int = 5
    wait: Callable[..., float] | None = None
    """tenacity wait strategy; tests pass ``wait_none()``."""

    requests: int = 0

    def findings(self, values: Sequence[str]) -> list[ValueFinding | None]:
        """For each value, its best entity or ``None``."""
        results: list[ValueFinding | None] = [None] * len(values)
        for start, chunk in _chunks(values):
            text, offsets = _join(chunk)
            for entity in self._detect(text):
                index = bisect.bisect_right(offsets, entity["BeginOffset"]) - 1
                if index < 0:
                    continue
                position = start + index
                best = results[position]
                if best is None or entity["Score"] > best.score:
                    results[position] = ValueFinding(entity["Type"], float(entity["Score"]))
        return results

    def _detect(self, text: str) -> list[dict[str, Any]]:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait or wait_exponential_jitter(initial=0.5, max=8),
            retry=retry_if_exception(_retryable),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.requests += 1
                    response = self.client.detect_pii_entities(
                        Text=text, LanguageCode=self.language_code
                    )
        except RetryError as error:
            cause = error.last_attempt.exception()
            raise ComprehendUnavailable(
                f"gave up after {self.max_attempts} attempts: {cause}"
            ) from cause
        except (ClientError, BotoCoreError) as error:
            raise ComprehendUnavailable(str(error)) from error
        return response.get("Entities", [])


def _join(values: Sequence[str]) -> tuple[str, list[int]]:
    offsets, position = [], 0
    for value in values:
        offsets.append(position)
        position += len(value) + 1
    return "\n".join(values), offsets


def _chunks(values: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Consecutive runs of values whose joined text fits one request."""
    chunks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start, size = 0, 0
    for index, value in enumerate(values):
        value_bytes = len(value.encode("utf-8")) + 1
        if current and size + value_bytes > MAX_TEXT_BYTES:
            chunks.append((start, current))
            start, current, size = index, [], 0
        current.append(value.encode("utf-8")[: MAX_TEXT_BYTES - 1].decode("utf-8", "ignore"))
        size += value_bytes
    if current:
        chunks.append((start, current))
    return chunks
