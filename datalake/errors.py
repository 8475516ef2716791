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
FILES_METRIC = "Files"
"""Control records reaching a status (dimensions ``Layer``, ``Status``; and the same with
``Table``, which the freshness alarms watch): the controller's registrations, bronze's
successes and files out of attempts, silver's merges and failures."""
ROWS_METRIC = "Rows"
"""Rows per layer and outcome (dimensions ``Layer``, ``Outcome``: one of :data:`OUTCOMES`):
bronze's counts of each ingested file, silver's changes merged."""
QUARANTINED_METRIC = "RowsQuarantined"
"""Rows bronze quarantined (dimension ``Table``): exact per table, on no panel (the dashboard
reads :data:`QUARANTINE_REASONS_METRIC`); there for alarms and queries. No reason dimension: a
reason may quote a value of the row, and a dimension is no place for row content."""
QUARANTINE_REASONS_METRIC = "QuarantineReasons"
"""Rows bronze quarantined per rule (dimensions ``Table``, ``Rule``): a rule is a reason without
its value (``workloads/bronze/reasons.py``), bounded and free of row content; a row that broke
two rules counts under both, and a file's rules beyond its 20 most frequent under ``other``."""
DUPLICATES_METRIC = "DuplicateFiles"
"""Files registered as duplicates of one already ingested (dimension ``Table``)."""
LAKE_METRICS = (FILES_METRIC, ROWS_METRIC, QUARANTINE_REASONS_METRIC, DUPLICATES_METRIC)
"""The lake's metrics the operations dashboard reads besides :data:`EXHAUSTED_METRIC`
(``workloads/shared/metrics.py`` publishes them, and :data:`QUARANTINED_METRIC`)."""
OUTCOMES = ("in", "written", "quarantined", "skipped")
"""The ``Outcome`` values of :data:`ROWS_METRIC` (silver: ``in`` changes, ``written`` keys,
``skipped`` duplicates and late changes)."""
