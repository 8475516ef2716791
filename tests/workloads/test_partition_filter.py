"""The Iceberg filter of view/mart partitions: grouped, and a complete year or month in one term.

pyiceberg evaluates the filter per data file when it rewrites partitions, so its size is what
the overwrite costs (a full beer history is 180 months).
"""

from __future__ import annotations

from pyiceberg.expressions import AlwaysFalse, And, EqualTo, In, Or

from workloads.shared.tables import partition_filter

MONTH = ("year", "month")
DAY = ("year", "month", "day")


def test_partitions_sharing_leading_values_share_one_term():
    assert partition_filter(["y", "m"], [(2024, 3), (2024, 1), (2023, 12)], MONTH) == Or(
        And(EqualTo("y", 2023), EqualTo("m", 12)), And(EqualTo("y", 2024), In("m", [1, 3]))
    )
    assert partition_filter(["y", "m"], [], MONTH) == AlwaysFalse()


def test_a_complete_year_of_months_is_the_year_alone():
    months = [(2024, m) for m in range(1, 13)] + [(2025, 1), (2025, 2)]
    assert partition_filter(["y", "m"], months, MONTH) == Or(
        EqualTo("y", 2024), And(EqualTo("y", 2025), In("m", [1, 2]))
    )
    # Without the parts nothing says twelve months are all of them.
    assert partition_filter(["y", "m"], months[:12]) == And(
        EqualTo("y", 2024), In("m", list(range(1, 13)))
    )


def test_a_complete_month_of_days_is_the_month_alone_and_knows_leap_years():
    february = [(2024, 2, d) for d in range(1, 30)]
    assert partition_filter(["y", "m", "d"], february, DAY) == And(
        EqualTo("y", 2024), EqualTo("m", 2)
    )
    short = [(2023, 2, d) for d in range(1, 29)] + [(2023, 3, 1)]
    assert partition_filter(["y", "m", "d"], short, DAY) == Or(
        And(EqualTo("y", 2023), EqualTo("m", 2)),
        And(EqualTo("y", 2023), And(EqualTo("m", 3), EqualTo("d", 1))),
    )
    assert partition_filter(["y", "m", "d"], february[:-1], DAY) == And(
        EqualTo("y", 2024), And(EqualTo("m", 2), In("d", list(range(1, 29))))
    )
