"""What the readers hand the ingest: a batch of rows, the rows that did not parse, and the
records that were skipped (``workloads/bronze/reader.py`` and ``jsonl.py`` make them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class UnparsableRow:
    """A source row that could not be split into fields."""

    line: int
    reason: str
    text: str
    rule: str
    """The reason without anything of the line (its values, keys, counts): a fixed text
    (:mod:`workloads.bronze.reasons`), which the control record and a metric may hold."""


@dataclass
class RawBatch:
    """Rows of one block, with their source lines, plus rows that did not parse and records
    that are no rows of the table (skipped, counted by reason).

    ``columns`` holds strings, except in a batch of the JSON-lines fast path
    (``workloads/bronze/jsonl_fast.py``), whose columns already have the contract's types for
    values the exact path would cast to the very same values; such a batch can be read again
    by the exact path (:attr:`reread`), which the ingest does whenever a row of it fails a rule,
    so quarantined rows and their reasons are always the exact path's.
    """

    columns: pa.Table
    lines: np.ndarray
    unparsable: list[UnparsableRow] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Records that are not rows of the table (DMS control records, DMS's own tables)."""
    reread: Callable[[], Iterator[RawBatch]] | None = None
    """The same lines through the exact per-line path (fast-path batches only)."""

    @property
    def rows_skipped(self) -> int:
        """Records skipped, whatever the reason."""
        return sum(self.skipped.values())

    @property
    def rows_in(self) -> int:
        """Every source record this batch accounts for."""
        return self.columns.num_rows + len(self.unparsable) + self.rows_skipped
