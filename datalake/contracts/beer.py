"""The beer-review domain: brewery, beer, profile and review."""

from __future__ import annotations

from datalake.contracts.model import Classification, Column, ColumnType, TableContract


def _score(name: str) -> Column:
    """A review score: 1 to 5 in half steps."""
    return Column(name, ColumnType.DOUBLE, minimum=1.0, maximum=5.0, step=0.5)


BREWERY = TableContract(
    name="brewery",
    description="Breweries.",
    columns=(
        Column("brewery_id", ColumnType.LONG, nullable=False, classification=Classification.PUBLIC),
        Column("brewery_name", ColumnType.STRING, classification=Classification.PUBLIC),
    ),
    primary_key=("brewery_id",),
)

BEER = TableContract(
    name="beer",
    description="Beers and their brewery.",
    columns=(
        Column("beer_id", ColumnType.LONG, nullable=False, classification=Classification.PUBLIC),
        Column("brewery_id", ColumnType.LONG, classification=Classification.PUBLIC),
        Column("beer_name", ColumnType.STRING, classification=Classification.PUBLIC),
        Column("beer_style", ColumnType.STRING, classification=Classification.PUBLIC),
        Column(
            "beer_abv",
            ColumnType.DOUBLE,
            description="Alcohol by volume, percent; often unknown.",
            minimum=0.0,
            maximum=100.0,
        ),
    ),
    primary_key=("beer_id",),
)

PROFILE = TableContract(
    name="profile",
    description="Reviewer profiles.",
    columns=(
        Column("profile_id", ColumnType.LONG, nullable=False),
        Column("profile_name", ColumnType.STRING),
        Column("email", ColumnType.STRING, classification=Classification.PII, pii_type="EMAIL"),
        Column("state", ColumnType.STRING, description="US state code."),
    ),
    primary_key=("profile_id",),
)

REVIEW = TableContract(
    name="review",
    description="One review of one beer by one profile.",
    columns=(
        Column("review_id", ColumnType.LONG, nullable=False),
        Column("brewery_id", ColumnType.LONG),
        Column("beer_id", ColumnType.LONG),
        Column("profile_id", ColumnType.LONG),
        _score("review_overall"),
        _score("review_aroma"),
        _score("review_appearance"),
        _score("review_palate"),
        _score("review_taste"),
        Column(
            "review_time",
            ColumnType.LONG,
            description="Unix epoch seconds, UTC.",
            minimum=0,
        ),
    ),
    primary_key=("review_id",),
)
