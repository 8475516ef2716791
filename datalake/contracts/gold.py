"""Gold marts, declared once: grain, measures, minimum reviews, output columns.

Every mart is monthly (review_year, review_month), reads review_flat without soft-deleted
reviews, and is rendered to one SQL statement that DuckDB (arrow engine), Spark SQL and Athena
all run. Adding a mart is adding one declaration to ``MARTS`` (and its test).
"""

from __future__ import annotations

from dataclasses import dataclass

from datalake.contracts.model import Classification, Column, ColumnType, TableContract
from datalake.contracts.silver import REVIEW_FLAT

PERIOD = ("review_year", "review_month")


@dataclass(frozen=True)
class Measure:
    """An aggregate of the mart: ``avg`` of a column, or ``count`` of reviews."""

    name: str
    kind: str
    column: str | None = None
    description: str = ""

    @property
    def type(self) -> ColumnType:
        return ColumnType.LONG if self.kind == "count" else ColumnType.DOUBLE

    def sql(self) -> str:
        if self.kind == "count":
            return f"CAST(count(*) AS BIGINT) AS {self.name}"
        return f"CAST(avg({self.column}) AS DOUBLE) AS {self.name}"


AVG_RATING = Measure(
    "avg_rating", "avg", "review_overall", "Mean overall score (empty scores skipped)."
)
TOTAL_REVIEWS = Measure("total_reviews", "count", description="Reviews in the month.")


@dataclass(frozen=True)
class Mart:
    """One monthly mart over review_flat."""

    name: str
    description: str
    grain: tuple[str, ...]
    measures: tuple[Measure, ...]
    min_reviews: int | None = None
    rank_by: tuple[str, ...] = ()
    """How a consumer ranks the mart (descending), e.g. in the Athena named query."""

    @property
    def contract(self) -> TableContract:
        """Output columns: the period, the grain (typed as in review_flat), the measures."""
        period = tuple(REVIEW_FLAT.column(c) for c in PERIOD)
        grain = tuple(
            Column(
                c, REVIEW_FLAT.column(c).type, classification=REVIEW_FLAT.column(c).classification
            )
            for c in self.grain
        )
        measures = tuple(
            Column(m.name, m.type, classification=Classification.PUBLIC, description=m.description)
            for m in self.measures
        )
        return TableContract(
            name=self.name,
            description=self.description,
            columns=period + grain + measures,
            primary_key=PERIOD,
            raw_formats=(),
            silver_partitioning=(("identity", "review_year"), ("identity", "review_month")),
        )

    def sql(self, source: str, months: str) -> str:
        """The mart for the months selected by the SQL condition ``months``, from ``source``."""
        keys = ", ".join((*PERIOD, *self.grain))
        having = f"\nHAVING count(*) >= {self.min_reviews}" if self.min_reviews else ""
        return (
            f"SELECT {keys}, {', '.join(m.sql() for m in self.measures)}\n"
            f"FROM {source}\n"
            f"WHERE deleted_at IS NULL AND ({months})\n"
            f"GROUP BY {keys}{having}"
        )


MARTS: tuple[Mart, ...] = (
    Mart(
        "top_beers_by_rating",
        "Beers by mean overall score, per month; beers with at least 25 reviews.",
        grain=("beer_id", "beer_name", "beer_style"),
        measures=(AVG_RATING, TOTAL_REVIEWS),
        min_reviews=25,
        rank_by=("avg_rating", "total_reviews"),
    ),
    Mart(
        "top_breweries_by_rating",
        "Breweries by mean overall score, per month; breweries with at least 25 reviews.",
        grain=("brewery_id", "brewery_name"),
        measures=(AVG_RATING, TOTAL_REVIEWS),
        min_reviews=25,
        rank_by=("avg_rating", "total_reviews"),
    ),
    Mart(
        "top_styles_by_popularity",
        "Beer styles by number of reviews, per month; styles with at least 25 reviews.",
        grain=("beer_style",),
        measures=(TOTAL_REVIEWS, AVG_RATING),
        min_reviews=25,
        rank_by=("total_reviews", "avg_rating"),
    ),
    Mart(
        "state_by_review_volume",
        "US states by number of reviews written by their reviewers, per month.",
        grain=("state",),
        measures=(TOTAL_REVIEWS,),
        rank_by=("total_reviews",),
    ),
    Mart(
        "top_drinkers",
        "Reviewers by number of reviews, per month.",
        grain=("profile_id", "profile_name", "state"),
        measures=(TOTAL_REVIEWS, AVG_RATING),
        rank_by=("total_reviews", "avg_rating"),
    ),
)


def months_condition(months: list[tuple[int, int]]) -> str:
    """SQL condition selecting the given (year, month) pairs."""
    return (
        " OR ".join(f"(review_year = {y} AND review_month = {m})" for y, m in sorted(months))
        or "FALSE"
    )
