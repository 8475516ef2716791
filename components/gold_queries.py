"""What gold consumers are shown: one example query per mart, and the rule that keeps PII out.

Pure functions of the domain's mart declarations: the named queries of the Athena workgroup,
the marts section of ``docs/consuming.md``, and the check that no mart publishes a column
classified ``pii`` (gold columns inherit ``classification=internal``).
"""

from __future__ import annotations

from collections.abc import Sequence

from datalake.contracts import Classification
from datalake.domain import Domain, Mart

EXAMPLE_PERIOD = {"year": 2012, "month": 1, "day": 1}
"""The period the example queries select, by period part (January 2012, or its first day)."""
EXAMPLE_LIMIT = 10


def example_period(mart: Mart, domain: Domain) -> tuple[tuple[str, int], ...]:
    """The mart's period columns with the example value of their part (year, month, day)."""
    return tuple(
        (column, EXAMPLE_PERIOD[part]) for column, part in domain.view(mart.source).period.parts
    )


def period_word(mart: Mart, domain: Domain) -> str:
    """The mart's finest period part: ``month`` for (year, month)."""
    return domain.view(mart.source).period.parts[-1][1]


def example_query(mart: Mart, domain: Domain) -> str:
    """The mart's top rows of one period, ranked as its declaration says (Athena SQL)."""
    where = " AND ".join(f"{column} = {value}" for column, value in example_period(mart, domain))
    order = ", ".join(f"{column} DESC" for column in mart.rank_by)
    ranked = f" ORDER BY {order}" if order else ""
    return f"SELECT * FROM {mart.name} WHERE {where}{ranked} LIMIT {EXAMPLE_LIMIT}"


def example_description(mart: Mart, domain: Domain) -> str:
    """The named query's description: the mart's, and what the query selects."""
    return f"{mart.description} Top {EXAMPLE_LIMIT} of one {period_word(mart, domain)}."


def example_queries_markdown(domain: Domain) -> str:
    """One section per mart for docs/consuming.md: what it holds, its columns, a query."""
    sections = []
    for mart in domain.marts:
        columns = ", ".join(f"`{c.name}`" for c in mart.contract.columns)
        sections.append(
            f"### `{mart.name}`\n\n{mart.description}\n\nColumns: {columns}.\n\n"
            f"```sql\n{example_query(mart, domain)}\n```\n"
        )
    return "\n".join(sections)


def check_no_pii_columns(marts: Sequence[Mart]) -> None:
    """Gold columns inherit ``classification=internal``: a ``pii`` column must never get there."""
    leaks = [
        f"{mart.name}.{column.name}"
        for mart in marts
        for column in mart.contract.columns
        if column.classification is Classification.PII
    ]
    if leaks:
        raise ValueError(
            "gold marts inherit classification=internal and are visible to consumers; "
            f"these columns are classified pii: {', '.join(leaks)}"
        )
