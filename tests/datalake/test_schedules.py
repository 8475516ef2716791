"""EventBridge schedule expressions: what AWS accepts and what it rejects."""

import pytest

from datalake.schedules import ScheduleError, validate_schedule_expression

VALID = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "cron(0 2 * * ? *)",
    "cron(15 * * * ? *)",
    "cron(0/15 * ? * MON-FRI *)",
    "cron(0 18 ? * 6L 2026)",
    "cron(0 10 ? * 2#1 *)",
    "cron(0 8 L * ? *)",
    "cron(30 6 15W * ? *)",
    "cron(0 0 1 JAN,JUL ? 2026-2030)",
]

INVALID = [
    ("every hour", "expected 'rate("),
    ("rate(0 hours)", "positive"),
    ("rate(1 hours)", "use 'hour'"),
    ("rate(2 hour)", "use 'hour'"),
    ("rate(5 weeks)", "expected 'rate("),
    ("cron(0 2 * * *)", "cron needs 6 fields"),
    ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 2 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(60 2 * * ? *)", "minutes: '60' is not allowed"),
    ("cron(0 24 * * ? *)", "hours: '24' is not allowed"),
    ("cron(0 2 * 13 ? *)", "month: '13' is not allowed"),
    ("cron(0 2 ? * 8 *)", "day-of-week: '8' is not allowed"),
    ("cron(0 2 ? * 1#6 *)", "'#6' must be 1-5"),
    ("cron(0/0 * * * ? *)", "step '0'"),
    ("cron(0 2 * * ? 1900)", "year: '1900' is not allowed"),
]


@pytest.mark.parametrize("expression", VALID)
def test_aws_schedule_expressions_are_accepted(expression):
    assert validate_schedule_expression(expression) == expression


@pytest.mark.parametrize(("expression", "reason"), INVALID)
def test_expressions_aws_rejects_are_refused_with_the_reason(expression, reason):
    with pytest.raises(ScheduleError, match=None) as caught:
        validate_schedule_expression(expression)
    assert reason in str(caught.value)
