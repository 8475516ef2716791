"""What ``datalake local run`` reports: its stages, in order, and :class:`LocalRunReport`.

The runner (``runner.py``) fills the report as the run goes: the stages' times, bronze's
counts and failures, then the summary's (``summary.py``) rows of every table, view and mart;
the CLI prints it (``present.py``) and the HTML report draws it (``report.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from datalake.inputs import GeneratedInput

from . import dispatcher as events
from .stream import StreamReport
from .summary import MartTop, Tables

STAGES = ("land + control", "bronze", "stream", "silver", "gold")
"""The stages, in order ("stream" only when changes are streamed)."""
LAND, BRONZE, STREAM, SILVER, GOLD = STAGES
assert (LAND, BRONZE, SILVER, GOLD) == (events.LAND, events.BRONZE, events.SILVER, events.GOLD)


@dataclass
class LocalRunReport:
    """Everything the summary shows."""

    endpoint: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    bronze: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    quarantine_keys: list[str] = field(default_factory=list)
    masked_columns: dict[str, list[str]] = field(default_factory=dict)
    compute_targets: Counter = field(default_factory=Counter)
    silver: dict[str, int] = field(default_factory=dict)
    """Rows of every table and view of the domain."""
    gold: dict[str, int] = field(default_factory=dict)
    """Rows of every mart."""
    top_rows: dict[str, MartTop] = field(default_factory=dict)
    """Per mart: its top rows (by its rank_by) in the busiest period of its view."""
    input_summary: str = ""
    generated: GeneratedInput | None = None
    """What the example generator wrote (None for a user's input folder)."""
    tables: Tables | None = field(default=None, repr=False)
    """Reads the run's silver and gold tables, whichever the engine (until the run returns)."""
    stream: StreamReport | None = None
    """The streamed changes and where each record went (None: nothing streamed)."""
    report_path: Path | None = None
    """The HTML report written (``report.py``; None: none asked for)."""
