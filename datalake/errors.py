"""Errors shared by the workloads and the orchestration that reacts to them.

The ingestion state machine does not retry these (their names appear in its Retry rules): the
same input would fail the same way, so the control record is marked non-retryable instead.
"""

from __future__ import annotations

from datalake.layout import RawKeyError


class InvalidRawFile(ValueError):
    """The object cannot be read at all: it stays in raw and its record is marked error."""


class ReconciliationError(RuntimeError):
    """Counts do not add up: nothing is marked success."""


class UnmaskedPiiError(RuntimeError):
    """A masker returned declared PII unchanged: the batch is never written."""


NOT_RETRYABLE: tuple[type[Exception], ...] = (
    InvalidRawFile,
    RawKeyError,
    ReconciliationError,
    UnmaskedPiiError,
)

METRIC_NAMESPACE = "DataLake/Ingestion"
"""CloudWatch namespace of the lake's own metrics."""
EXHAUSTED_METRIC = "IngestAttemptsExhausted"
"""Emitted when a file stays in error for good (attempts used up, or not retryable)."""
