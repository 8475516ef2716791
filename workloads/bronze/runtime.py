"""Process set-up of the bronze entry points (their configuration is
:class:`datalake.runtime.BronzeRuntime`)."""

from __future__ import annotations

import pyarrow as pa


def use_lean_memory_pool() -> str:
    """Switch Arrow to jemalloc (else the system allocator) and return the pool's name.

    Arrow's default mimalloc pool keeps freed blocks, which shows as 100+ MB more peak RSS
    when streaming a large file (benchmarks/bronze_ingest.py measures it); called by the
    entry points, not on import.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return pool.backend_name
