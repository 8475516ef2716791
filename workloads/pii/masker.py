"""The masker the ingest core calls: detect (cached), then mask each PII column."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from datalake.contracts import TableContract

from .detection import PiiDetector, TableVerdict
from .strategies import apply_strategy

log = logging.getLogger(__name__)


class KeyProvider(Protocol):
    """Where the HMAC key comes from."""

    def key(self) -> bytes: ...


class SecretsManagerKey:
    """The HMAC key from AWS Secrets Manager, read once per worker and never shown."""

    def __init__(self, client: Any, secret_id: str):
        self._client, self._secret_id = client, secret_id
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            secret = self._client.get_secret_value(SecretId=self._secret_id)
            text = secret.get("SecretString")
            self._key = text.encode("utf-8") if text is not None else secret["SecretBinary"]
        return self._key

    def __repr__(self) -> str:
        return f"SecretsManagerKey({self._secret_id!r}, key=<hidden>)"


@dataclass(frozen=True)
class StaticKey:
    """A key given directly (tests, benchmarks)."""

    value: bytes = field(repr=False)

    def key(self) -> bytes:
        return self.value


@dataclass(frozen=True)
class MaskingPolicy:
    """Which strategy masks which column: ``<table>.<column>``, then PII type, then default."""

    default_strategy: str = "hash"
    strategies: Mapping[str, str] = field(default_factory=dict)
    redaction_token: str = "[REDACTED]"

    def strategy_for(self, table: str, column: str, pii_type: str | None) -> str:
        by_column = self.strategies.get(f"{table}.{column}")
        if by_column:
            return by_column
        if pii_type and pii_type in self.strategies:
            return self.strategies[pii_type]
        return self.default_strategy


@dataclass
class PiiMasker:
    """Masks declared and detected PII columns of each batch (the bronze masking hook)."""

    detector: PiiDetector
    policy: MaskingPolicy
    keys: KeyProvider
    verdicts: dict[str, TableVerdict] = field(default_factory=dict)

    def mask(self, batch: pa.Table, contract: TableContract) -> pa.Table:
        verdict = self.detector.verdict(batch, contract)
        if contract.name not in self.verdicts:
            self.verdicts[contract.name] = verdict
            for column in verdict.columns.values():
                log.info(
                    "PII %s.%s: %s (%s)", contract.name, column.column, column.is_pii, column.reason
                )
        for name, pii_type in verdict.pii_columns.items():
            if name not in batch.column_names:
                continue
            strategy = self.policy.strategy_for(contract.name, name, pii_type)
            masked = apply_strategy(
                batch.column(name),
                strategy,
                key=self.keys.key() if strategy == "hash" else b"",
                token=self.policy.redaction_token,
            )
            batch = batch.set_column(batch.schema.get_field_index(name), name, masked)
        return batch

    def masked_columns(self, table: str) -> tuple[str, ...]:
        """Columns masked in ``table`` so far (declared and detected)."""
        verdict = self.verdicts.get(table)
        return tuple(sorted(verdict.pii_columns)) if verdict else ()
