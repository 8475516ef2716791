"""Masking strategies, vectorised: no Python loop per value. Nulls stay null.

- ``hash``: HMAC-SHA256 with a secret key, as 64 hex characters. Computed by DuckDB over the
  Arrow column (HMAC(K, m) = SHA256((K ^ opad) || SHA256((K ^ ipad) || m)), RFC 2104), so the
  same value gives the same token in every table and run while the key is unchanged.
- ``partial``: first and last character around five asterisks (the length is hidden); an
  e-mail keeps its domain: ``charles04@example.org`` -> ``c*****4@example.org``. Parts of one or
  two characters become ``*****``.
- ``redact``: a fixed token.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

STRATEGIES = ("hash", "partial", "redact")
MASK = "*****"
_BLOCK = 64  # SHA-256 block size in bytes
_EMAIL = r"^(?P<local>[^@ \t\n\r\f\v]+)(?P<domain>@[^@ \t\n\r\f\v]+)$"
"""An e-mail for ``partial``: one @, no ASCII white space, something on both sides."""


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hash_values(values: pa.Array, key: bytes) -> pa.Array:
    """HMAC-SHA256 hex digest of every UTF-8 value (null stays null)."""
    if not key:
        raise ValueError("the HMAC key is empty")
    inner, outer = _pads(key)
    connection = _connection()
    connection.register("masked", pa.table({"v": values}))
    try:
        result = connection.sql(
            "SELECT sha256($outer::BLOB || unhex(sha256($inner::BLOB || encode(v)))) AS h "
            "FROM masked",
            params={"inner": inner, "outer": outer},
        ).to_arrow_table()
    finally:
        connection.unregister("masked")
    return result.column("h").combine_chunks().cast(pa.string())


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per thread (connections are not shared across threads)."""
    if not hasattr(_local, "connection"):
        _local.connection = duckdb.connect()
    return _local.connection


def hmac_reference(value: str, key: bytes) -> str:
    """The standard library's HMAC, to check the vectorised one against."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _mask_part(part: pa.Array) -> pa.Array:
    length = pc.utf8_length(part)
    first = pc.utf8_slice_codeunits(part, 0, 1)
    last = pc.utf8_slice_codeunits(part, -1)
    kept = pc.binary_join_element_wise(first, MASK, last, "")
    return pc.if_else(pc.greater_equal(length, 3), kept, pa.scalar(MASK, pa.string()))


def partial_values(values: pa.Array) -> pa.Array:
    """Keep the first and last character (and an e-mail's domain), mask the rest."""
    parts = pc.extract_regex(values, _EMAIL)  # null where the value is not an e-mail
    email = pc.fill_null(pc.is_valid(parts), False)
    local = pc.struct_field(parts, "local")
    domain = pc.struct_field(parts, "domain")
    masked_email = pc.binary_join_element_wise(_mask_part(local), domain, "")
    return pc.if_else(email, masked_email, _mask_part(values))


def redact_values(values: pa.Array, token: str) -> pa.Array:
    """Replace every non-null value with ``token``."""
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), token)


def apply_strategy(values: pa.Array, strategy: str, *, key: bytes, token: str) -> pa.Array:
    """Mask ``values`` with the named strategy."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    if strategy == "hash":
        return hash_values(values, key)
    if strategy == "partial":
        return partial_values(values)
    if strategy == "redact":
        return redact_values(values, token)
    raise ValueError(f"unknown masking strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
