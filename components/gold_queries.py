"""What gold consumers are shown: one example query per mart, and the rule that keeps PII out.

Pure functions of the mart declarations (``datalake/contracts/gold.py``): the named queries of
the Athena workgroup, the marts section of ``docs/consuming.md``, and the check that no mart
publishes a column classified ``pii`` (gold columns inherit ``classification=internal``).
"""

from __future__ import annotations

from collections.abc import Sequence

from datalake.contracts import Classification
from datalake.contracts.gold import MARTS, Mart

EXAMPLE_MONTH = (2012, 1)
EXAMPLE_LIMIT = 10


def example_query(mart: Mart, year: int = EXAMPLE_MONTH[0], month: int = EXAMPLE_MONTH[1]) -> str:
    """The mart's top rows of one month, ranked as its declaration says (Athena SQL)."""
    order = ", ".join(f"{column} DESC" for column in mart.rank_by)
    return (
        f"SELECT * FROM {mart.name} WHERE review_year = {year} AND review_month = {month} "
        f"ORDER BY {order} LIMIT {EXAMPLE_LIMIT}"
    )


def example_queries_markdown(marts: Sequence[Mart] = MARTS) -> str:
    """One section per mart for docs/consuming.md: what it holds, its columns, a query."""
    sections = []
    for mart in marts:
        columns = ", ".join(f"`{c.name}`" for c in mart.contract.columns)
        sections.append(
            f"### `{mart.name}`\n\n{mart.description}\n\nColumns: {columns}.\n\n"
            f"```sql\n{example_query(mart)}\n```\n"
        )
    return "\n".join(sections)


def check_no_pii_columns(marts: Sequence[Mart] = MARTS) -> None:
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
