"""Column values for generated changes: valid for the contract (type, bounds, step), as
bronze's validation checks them, and DMS's time format."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from datalake.contracts import Column, ColumnType


def timestamp_text(at: datetime) -> str:
    """DMS's time format: ISO 8601 in UTC with microseconds and ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def draw_value(
    column: Column, rng: random.Random, observed: tuple[float, float] | None, nulls: bool
) -> Any:
    """A fresh value of the column's type within its bounds and step (a number: within the
    ``observed`` range too, so an epoch or an id looks like its neighbours); sometimes none
    when ``nulls`` (the column is nullable and empty in some rows, or there are no rows)."""
    if column.nullable and nulls and rng.random() < 0.02:
        return None
    kind = column.type
    if kind is ColumnType.STRING:
        if column.pii_type == "EMAIL":
            return f"user{rng.getrandbits(32):08x}@example.org"
        return f"{column.name}-{rng.getrandbits(32):08x}"
    if kind is ColumnType.TIMESTAMP:
        offset = timedelta(seconds=rng.randrange(6 * 365 * 86_400))
        return timestamp_text(datetime(2020, 1, 1, tzinfo=UTC) + offset)
    low = column.minimum if column.minimum is not None else 0.0
    high = column.maximum if column.maximum is not None else max(low, 0.0) + 1_000_000.0
    if observed is not None:  # the observed range, within the bounds
        low = max(observed[0], column.minimum if column.minimum is not None else observed[0])
        high = min(observed[1], column.maximum if column.maximum is not None else observed[1])
        low, high = min(low, high), max(low, high)
    for _ in range(16):
        if column.step is not None:
            steps = math.floor((high - low) / column.step)
            value = math.ceil(low / column.step) * column.step + rng.randint(0, steps) * column.step
            value = round(value, 9)
        elif kind is ColumnType.LONG:
            value = rng.randint(math.ceil(low), math.floor(high))
        else:
            value = round(rng.uniform(low, high), 2)
        if kind is ColumnType.LONG:
            value = int(value)
        if valid_value(column, value):
            return value
    return int(low) if kind is ColumnType.LONG else low


def valid_value(column: Column, value: Any) -> bool:
    """Whether bronze accepts ``value`` for ``column`` (its type, bounds and step)."""
    if value is None:
        return column.nullable
    if column.type in (ColumnType.STRING, ColumnType.TIMESTAMP):
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if column.type is ColumnType.LONG and not isinstance(value, int):
        return False
    if not math.isfinite(value):
        return False
    if column.minimum is not None and value < column.minimum:
        return False
    if column.maximum is not None and value > column.maximum:
        return False
    if column.step is not None:
        steps = value / column.step
        return steps == round(steps)  # the same test as bronze's validation
    return True
