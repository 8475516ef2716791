"""Physical names and tags: one derivation, AWS limits enforced."""

import pytest

from datalake.naming import (
    NAME_LIMITS,
    Bucket,
    LakeNames,
    Layer,
    bucket_name_problem,
    default_tags,
    layer_tags,
    name_problems,
)


def test_names_derive_from_project_environment_and_purpose():
    names = LakeNames("beer", "prod", "eu-west-1")
    assert names.prefix == "beer-prod"
    assert names.bucket(Bucket.LANDING) == "beer-prod-landing-eu-west-1"
    assert names.resource("silver-pipeline") == "beer-prod-silver-pipeline"
    assert names.control_table == "beer-prod-processing-control"
    assert names.kms_alias == "alias/beer-prod-lake"


def test_bucket_suffix_makes_bucket_names_globally_unique():
    names = LakeNames("beer", "prod", "eu-west-1", bucket_suffix="123456789012")
    assert names.bucket(Bucket.LAKE) == "beer-prod-lake-eu-west-1-123456789012"


def test_glue_database_names_use_underscores():
    names = LakeNames("beer-lake", "dev", "us-east-1")
    assert names.database(Layer.GOLD) == "beer_lake_dev_gold"


def test_every_planned_name_of_a_short_project_is_valid():
    assert name_problems(LakeNames("datalake", "prod", "ap-southeast-2", "123456789012")) == []


def test_too_long_names_are_reported_with_kind_and_limit():
    problems = name_problems(LakeNames("x" * 30, "production", "ap-southeast-2"))
    assert any("S3 allows 3-63" in p for p in problems)
    assert any(f"AWS allows {NAME_LIMITS['iam-role']} for a iam-role" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("ab", "3-63"),
        ("Upper-case", "lowercase"),
        ("ends-with-hyphen-", "start and end"),
        ("double--hyphen", "reserves"),
        ("192.168.1.1", "lowercase"),
        ("xn--punycode", "reserves"),
    ],
)
def test_invalid_bucket_names_are_explained(name, fragment):
    assert fragment in (bucket_name_problem(name) or "")


def test_default_tags_carry_project_and_environment_over_user_tags():
    tags = default_tags("beer", "prod", {"owner": "data", "project": "ignored"})
    assert tags == {
        "owner": "data",
        "project": "beer",
        "environment": "prod",
        "managed-by": "pulumi",
    }
    assert layer_tags(Layer.SILVER) == {"layer": "silver"}
