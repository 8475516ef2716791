"""The live lake's printed lines, one per event: counts, keys and value-free reasons only.

A reason is the control record's (``error``) or a quarantine rule, which never quote a value;
a row's values are never printed.
"""

from __future__ import annotations

from collections import Counter

from datalake.control import ControlRecord, ControlStatus, ControlStore

from ..gold.pipeline import GoldReport
from ..silver.pipeline import SilverReport


def registered_line(record: ControlRecord, store: ControlStore) -> str:
    """What the controller made of one object."""
    key = record.object_key
    if record.status is ControlStatus.ERROR:
        return f"error {key}: {record.error}"
    if record.status is ControlStatus.DUPLICATE:
        original = store.get(record.duplicate_of) if record.duplicate_of else None
        same = original.object_key if original is not None else record.duplicate_of
        return f"duplicate {key}: the same content as {same} (not ingested again)"
    if record.status is ControlStatus.PENDING and record.attempts == 0:
        return f"registered {key}: {record.record_count:,} records, {record.compute_target}"
    return f"already registered {key}: {record.status.value}"


def ingested_lines(record: ControlRecord) -> list[str]:
    """The ingest's outcome, and the quarantine's rules (value-free) if rows were set aside."""
    key = record.object_key
    if record.status is not ControlStatus.SUCCESS:
        return [f"ingest of {key} skipped: {record.status.value}"]
    lines = [
        f"ingested {key}: {record.rows_in or 0:,} rows in, {record.rows_written or 0:,} "
        f"written, {record.rows_quarantined or 0:,} quarantined"
    ]
    if record.rows_quarantined:
        rules = ", ".join(f"{rule} ({n:,})" for rule, n in record.quarantine_rules.items())
        rows = record.rows_quarantined
        lines.append(f"quarantined {rows:,} row{'s' if rows != 1 else ''} of {key}: {rules}")
    return lines


def merged_lines(report: SilverReport, run_id: str) -> list[str]:
    """One line per table the silver run merged or failed."""
    lines = [
        f"merged {table}: {r.changes_in:,} changes, {r.keys_written:,} keys written, "
        f"{r.duplicates_skipped:,} duplicates skipped (silver run {run_id})"
        for table, r in report.merged.items()
    ]
    lines += [f"error silver {t}: {m} (silver run {run_id})" for t, m in report.failed.items()]
    lines += [
        f"error silver {t}: {m}; its records are retried (silver run {run_id})"
        for t, m in report.retried.items()
    ]
    if not lines:
        lines.append(f"silver run {run_id}: nothing to merge")
    return lines


def refreshed_line(report: GoldReport, run_id: str) -> str:
    """The marts one gold run rebuilt (rows per mart), or its error."""
    rows: Counter[str] = Counter()
    for result in report.marts:
        rows[result.mart] += result.rows
    shown = ", ".join(f"{mart} {n:,} rows" for mart, n in rows.items()) or "nothing pending"
    line = f"marts refreshed (gold run {run_id}): {shown}"
    return line if report.error is None else f"{line}; error: {report.error}"
