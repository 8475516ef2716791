"""The PII masking hook of the ingest core, and the guard that makes masking impossible to skip.

The masker (``workloads.pii.masker.PiiMasker``: detection, HMAC hashing, partial masking)
plugs in here as any object with a ``mask`` method. :class:`RedactDeclaredPii` is the
minimal fail-closed masker (a fixed token for declared PII) used where no key is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from datalake.contracts import TableContract
from datalake.errors import UnmaskedPiiError


class PiiMasker(Protocol):
    """Anything that masks the PII columns of a batch of a table."""

    def mask(self, batch: pa.Table, contract: TableContract) -> pa.Table:
        """Return ``batch`` with every PII column masked (nulls stay null)."""
        ...


@dataclass(frozen=True)
class RedactDeclaredPii:
    """Replaces every non-null value of a declared PII column with ``token``."""

    token: str = "[REDACTED]"

    def mask(self, batch: pa.Table, contract: TableContract) -> pa.Table:
        for name in contract.pii_columns:
            if name not in batch.column_names:
                continue
            values = batch.column(name)
            redacted = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), self.token)
            batch = batch.set_column(batch.schema.get_field_index(name), name, redacted)
        return batch


def mask_batch(batch: pa.Table, contract: TableContract, masker: PiiMasker) -> pa.Table:
    """Apply ``masker`` and verify no declared PII value survived in clear."""
    masked = masker.mask(batch, contract)
    for name in contract.pii_columns:
        if name not in batch.column_names:
            continue
        if name not in masked.column_names:
            raise UnmaskedPiiError(f"masker dropped the PII column {contract.name}.{name}")
        before, after = batch.column(name), masked.column(name)
        if len(before) != len(after):
            raise UnmaskedPiiError(f"masker changed the row count of {contract.name}.{name}")
        if pc.any(pc.fill_null(pc.equal(before, after), False)).as_py():
            raise UnmaskedPiiError(
                f"masker left values of declared PII column {contract.name}.{name} in clear"
            )
    return masked
