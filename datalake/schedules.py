"""Validation of EventBridge / EventBridge Scheduler schedule expressions.

AWS accepts two forms: ``rate(N unit)`` and a six-field ``cron(...)`` whose grammar differs
from Unix cron (a year field, ``?`` in day-of-month or day-of-week, SUN=1). Unix cron
libraries accept expressions AWS rejects, so the AWS grammar is checked here directly.
"""

from __future__ import annotations

import re

_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)$")
_CRON = re.compile(r"^cron\((?P<body>[^()]+)\)$")

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# (name, low, high, symbolic names, extra tokens allowed)
_FIELDS: tuple[tuple[str, int, int, list[str], tuple[str, ...]], ...] = (
    ("minutes", 0, 59, [], ()),
    ("hours", 0, 23, [], ()),
    ("day-of-month", 1, 31, [], ("?", "L", "W")),
    ("month", 1, 12, _MONTHS, ()),
    ("day-of-week", 1, 7, _DAYS, ("?", "L", "#")),
    ("year", 1970, 2199, [], ()),
)


class ScheduleError(ValueError):
    """A schedule expression AWS would reject; the message says why."""


def validate_schedule_expression(expression: str) -> str:
    """Return ``expression`` unchanged if AWS accepts it, else raise :class:`ScheduleError`."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            raise ScheduleError("rate value must be a positive whole number")
        if (value == 1) != (not unit.endswith("s")):
            singular = unit.rstrip("s")
            raise ScheduleError(
                f"use '{singular}' for a value of 1 and '{singular}s' otherwise, "
                f"e.g. rate(1 {singular}) or rate(5 {singular}s)"
            )
        return expression
    cron = _CRON.match(expression)
    if not cron:
        raise ScheduleError(
            "expected 'rate(<n> minute|minutes|hour|hours|day|days)' or "
            "'cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)'"
        )
    fields = cron["body"].split()
    if len(fields) != 6:
        raise ScheduleError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    for text, spec in zip(fields, _FIELDS, strict=True):
        _check_field(text, *spec)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")
    return expression


def _check_field(
    text: str, name: str, low: int, high: int, names: list[str], extra: tuple[str, ...]
) -> None:
    if text in ("*",) or (text == "?" and "?" in extra):
        return
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) >= 1):
            raise ScheduleError(f"{name}: step '{step}' must be a positive whole number")
        if base == "*" and step:
            continue
        if "L" in extra and base in ("L", "LW") and name == "day-of-month":
            continue
        if name == "day-of-month" and base.endswith("W") and "W" in extra:
            base = base[:-1]
        if name == "day-of-week" and "#" in base:
            day, _, nth = base.partition("#")
            _check_value(day, name, low, high, names)
            if not (nth.isdigit() and 1 <= int(nth) <= 5):
                raise ScheduleError(f"{name}: '#{nth}' must be 1-5")
            continue
        if name == "day-of-week" and base.endswith("L") and len(base) > 1:
            base = base[:-1]
        start, _, end = base.partition("-")
        _check_value(start, name, low, high, names)
        if end:
            _check_value(end, name, low, high, names)


def _check_value(token: str, name: str, low: int, high: int, names: list[str]) -> None:
    if token.upper() in names:
        return
    if not token.isdigit() or not low <= int(token) <= high:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ScheduleError(
            f"{name}: '{token}' is not allowed (allowed: {allowed}, *, ranges, lists)"
        )
