"""The beer example's review generator: deterministic, realistic, consistent with the sample
dimensions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from typer.testing import CliRunner

from datalake.cli import app
from datalake.domain import default_domain_path, load_domain
from examples.beer.generate import SCORE_COLUMNS, generate_reviews, sample_file

REVIEW = load_domain(default_domain_path()).table("review")
REVIEWS = generate_reviews(50_000, seed=3)


def test_same_seed_same_reviews_other_seed_other_reviews():
    assert generate_reviews(50_000, seed=3).equals(REVIEWS)
    assert not generate_reviews(50_000, seed=4).equals(REVIEWS)


def test_columns_follow_the_contract_and_ids_are_unique():
    assert REVIEWS.column_names == list(REVIEW.column_names)
    assert pc.count_distinct(REVIEWS.column("review_id")).as_py() == REVIEWS.num_rows


def test_every_review_references_a_real_beer_its_brewery_and_a_real_profile():
    beers = pacsv.read_csv(sample_file("beer"))
    brewery_of = dict(
        zip(
            beers.column("beer_id").to_pylist(), beers.column("brewery_id").to_pylist(), strict=True
        )
    )
    profiles = set(pacsv.read_csv(sample_file("profile")).column("profile_id").to_pylist())
    for beer, brewery, profile in zip(
        *(REVIEWS.column(c).to_pylist() for c in ("beer_id", "brewery_id", "profile_id")),
        strict=True,
    ):
        assert brewery_of[beer] == brewery and profile in profiles


def test_scores_are_half_steps_between_one_and_five_with_a_few_empty():
    for name in SCORE_COLUMNS:
        values = REVIEWS.column(name)
        present = np.asarray(values.drop_null())
        assert present.min() >= 1.0 and present.max() <= 5.0
        assert np.all(present * 2 == np.round(present * 2))
        assert 0 < values.null_count < REVIEWS.num_rows * 0.01


def test_times_span_1998_to_2012_and_grow():
    times = np.asarray(REVIEWS.column("review_time"))
    years = np.array([datetime.fromtimestamp(t, tz=UTC).year for t in times[:5000]])
    assert years.min() >= 1998 and years.max() <= 2012
    assert (years >= 2008).sum() > (years <= 2002).sum() * 2  # more reviews in later years


def test_a_few_beers_and_reviewers_get_most_reviews():
    for column in ("beer_id", "profile_id"):
        counts = np.sort(np.asarray(pc.value_counts(REVIEWS.column(column)).field("counts")))[::-1]
        top_percent = counts[: max(1, len(counts) // 100)].sum()
        assert top_percent > REVIEWS.num_rows * 0.15, column


def test_seed_generate_writes_the_example_input_folder(tmp_path):
    result = CliRunner().invoke(
        app, ["seed", "generate", "--reviews", "1000", "--files", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote 1,000 reviews in 1 files to {tmp_path} (10 files)" in " ".join(
        result.output.split()
    )
    written = pacsv.read_csv(tmp_path / "review" / "reviews-0001.csv.gz")
    assert written.num_rows == 1000 and written.column_names == list(REVIEW.column_names)
    for table in ("brewery", "beer", "profile"):
        assert (tmp_path / table / f"{table}.csv.gz").read_bytes() == sample_file(
            table
        ).read_bytes()
