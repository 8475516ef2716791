"""Decides which columns of a table hold PII, once per table and schema.

- Columns declared PII in the contract are PII, always.
- Other string columns: a deterministic sample of non-empty values goes through the pattern
  detector and (when enabled) Amazon Comprehend. A column is PII when at least ``min_fraction``
  of the sampled values contain an entity, and (Comprehend) their mean score is at least
  ``min_score``. Either detector saying PII is enough.
- Fail closed: if Comprehend is unavailable the verdict keeps declared and pattern-detected
  columns, says why, and is not cached, so the next file asks again.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from datalake.contracts import ColumnType, TableContract

from . import patterns
from .comprehend import ComprehendDetector, ComprehendUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnVerdict:
    """Whether one column is PII, of which type, and why."""

    column: str
    is_pii: bool
    pii_type: str | None
    reason: str


@dataclass
class TableVerdict:
    """The PII columns of one table and schema."""

    table: str
    version: int
    columns: dict[str, ColumnVerdict] = field(default_factory=dict)
    complete: bool = True
    """False when a detector failed: the verdict is safe but not cached."""

    @property
    def pii_columns(self) -> dict[str, str | None]:
        """PII column -> entity type."""
        return {name: v.pii_type for name, v in self.columns.items() if v.is_pii}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TableVerdict:
        data = json.loads(text)
        columns = {k: ColumnVerdict(**v) for k, v in data.pop("columns").items()}
        return cls(columns=columns, **data)


class VerdictCache(Protocol):
    """Stores complete verdicts by key (table, contract version, columns present)."""

    def get(self, key: str) -> TableVerdict | None: ...

    def put(self, key: str, verdict: TableVerdict) -> None: ...


@dataclass
class MemoryVerdictCache:
    """Per-process cache (a warm Lambda container keeps it between files)."""

    entries: dict[str, TableVerdict] = field(default_factory=dict)

    def get(self, key: str) -> TableVerdict | None:
        return self.entries.get(key)

    def put(self, key: str, verdict: TableVerdict) -> None:
        self.entries[key] = verdict


@dataclass
class S3VerdictCache:
    """Verdicts as JSON objects under a prefix of the lake bucket, shared by every worker."""

    s3: Any
    bucket: str
    prefix: str = "pii-verdicts/"
    memory: MemoryVerdictCache = field(default_factory=MemoryVerdictCache)

    def get(self, key: str) -> TableVerdict | None:
        cached = self.memory.get(key)
        if cached is not None:
            return cached
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}{key}.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        verdict = TableVerdict.from_json(body.read().decode())
        self.memory.put(key, verdict)
        return verdict

    def put(self, key: str, verdict: TableVerdict) -> None:
        self.memory.put(key, verdict)
        self.s3.put_object(
            Bucket=self.bucket, Key=f"{self.prefix}{key}.json", Body=verdict.to_json().encode()
        )


@dataclass
class PiiDetector:
    """Combines the contract, the pattern detector and Comprehend into a cached verdict."""

    cache: VerdictCache
    comprehend: ComprehendDetector | None = None
    sample_size: int = 200
    min_fraction: float = 0.5
    min_score: float = 0.7

    def verdict(self, batch: pa.Table, contract: TableContract) -> TableVerdict:
        """The verdict for ``contract`` with the columns of ``batch`` (cached when complete)."""
        present = sorted(set(batch.column_names) & set(contract.column_names))
        key = f"{contract.name}/v{contract.version}/{'.'.join(present)}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        verdict = self._decide(batch, contract, present)
        if verdict.complete:
            self.cache.put(key, verdict)
        return verdict

    def _decide(self, batch: pa.Table, contract: TableContract, present: list[str]) -> TableVerdict:
        verdict = TableVerdict(contract.name, contract.version)
        for name in present:
            column = contract.column(name)
            if column.is_pii:
                verdict.columns[name] = ColumnVerdict(
                    name, True, column.pii_type, "declared PII in the contract"
                )
            elif column.type is ColumnType.STRING:
                verdict.columns[name] = self._detect(
                    name, _sample(batch.column(name), self.sample_size), verdict
                )
        return verdict

    def _detect(self, name: str, sample: list[str], verdict: TableVerdict) -> ColumnVerdict:
        if not sample:
            return ColumnVerdict(name, False, None, "no values to sample")
        found = [patterns.detect(v) for v in sample]
        share = sum(f is not None for f in found) / len(sample)
        if share >= self.min_fraction:
            pii_type = Counter(f for f in found if f).most_common(1)[0][0]
            return ColumnVerdict(
                name,
                True,
                pii_type,
                f"patterns: {share:.0%} of {len(sample)} values are {pii_type}",
            )
        if self.comprehend is None:
            return ColumnVerdict(name, False, None, f"patterns: {share:.0%} of values matched")
        try:
            findings = self.comprehend.findings(sample)
        except ComprehendUnavailable as error:
            verdict.complete = False
            log.warning(
                "PII detection for %s.%s fell back to declared and pattern-detected columns: "
                "Comprehend unavailable (%s)",
                verdict.table,
                name,
                error,
            )
            return ColumnVerdict(
                name, False, None, f"Comprehend unavailable ({error}); patterns found no PII"
            )
        hits = [f for f in findings if f is not None]
        share = len(hits) / len(sample)
        mean = sum(f.score for f in hits) / len(hits) if hits else 0.0
        if share >= self.min_fraction and mean >= self.min_score:
            pii_type = Counter(f.pii_type for f in hits).most_common(1)[0][0]
            return ColumnVerdict(
                name,
                True,
                pii_type,
                f"Comprehend: {share:.0%} of {len(sample)} values hold {pii_type}, "
                f"mean score {mean:.2f}",
            )
        return ColumnVerdict(
            name, False, None, f"Comprehend: {share:.0%} of values, mean score {mean:.2f}"
        )


def _sample(values: pa.ChunkedArray, size: int) -> list[str]:
    """Up to ``size`` non-empty values, evenly spread over the batch (deterministic)."""
    present = pc.drop_null(
        values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    )
    present = present.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(present)), 0))
    if len(present) <= size:
        return present.to_pylist()
    step = len(present) / size
    return present.take(pa.array([int(i * step) for i in range(size)])).to_pylist()
