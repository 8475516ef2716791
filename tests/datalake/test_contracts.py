"""Table contracts: the generic model, and the invariants a contract must keep."""

import pyarrow as pa
import pytest

from datalake.contracts import (
    Classification,
    Column,
    ColumnType,
    TableContract,
    UnknownTableError,
    bronze_columns,
    merges_changes,
    silver_columns,
)
from datalake.domain import default_domain_path, load_domain

BEER = load_domain(default_domain_path())


def test_the_beer_domain_has_its_four_tables_with_primary_keys():
    assert {n: c.primary_key for n, c in BEER.tables.items()} == {
        "brewery": ("brewery_id",),
        "beer": ("beer_id",),
        "profile": ("profile_id",),
        "review": ("review_id",),
    }


def test_profile_email_is_the_declared_pii():
    assert [(n, c.pii_columns) for n, c in BEER.tables.items() if c.pii_columns] == [
        ("profile", ("email",))
    ]
    email = BEER.table("profile").column("email")
    assert email.classification is Classification.PII and email.pii_type == "EMAIL"


def test_types_map_to_arrow_glue_and_iceberg():
    assert ColumnType.LONG.arrow == pa.int64() and ColumnType.LONG.glue == "bigint"
    assert ColumnType.DOUBLE.iceberg == "double"
    assert ColumnType.TIMESTAMP.arrow == pa.timestamp("us", tz="UTC")
    assert ColumnType.TIMESTAMP.iceberg == "timestamptz"


def test_review_scores_are_bounded_in_half_steps():
    score = BEER.table("review").column("review_overall")
    assert (score.minimum, score.maximum, score.step) == (1.0, 5.0, 0.5)


def test_unknown_tables_list_the_known_ones():
    with pytest.raises(UnknownTableError, match="known tables: beer, brewery, profile, review"):
        BEER.table("wine")


def test_a_contract_rejects_a_nullable_or_unknown_primary_key_and_duplicate_columns():
    with pytest.raises(ValueError, match="primary key column id is nullable"):
        TableContract("t", (Column("id", ColumnType.LONG),), ("id",))
    with pytest.raises(ValueError, match=r"primary key \['nope'\] not among columns"):
        TableContract("t", (Column("id", ColumnType.LONG, nullable=False),), ("nope",))
    with pytest.raises(ValueError, match="duplicate column names"):
        TableContract(
            "t",
            (Column("id", ColumnType.LONG, nullable=False), Column("id", ColumnType.STRING)),
            ("id",),
        )


def test_bronze_adds_lineage_columns_after_the_contract_columns():
    beer = BEER.table("beer")
    names = [c.name for c in bronze_columns(beer)]
    assert names[:5] == list(beer.column_names)
    assert names[5:] == [
        "_operation",
        "_change_ts",
        "_change_seq",
        "_source_key",
        "_source_line",
        "_control_id",
        "_ingested_at",
    ]


def test_silver_keeps_only_the_key_required_and_adds_audit_columns():
    columns = silver_columns(BEER.table("review"))
    assert [c.name for c in columns if not c.nullable] == ["review_id"]
    assert [c.name for c in columns[-4:]] == [
        "created_at",
        "updated_at",
        "deleted_at",
        "change_seq",
    ]


def test_views_carry_the_audit_columns_but_the_change_position():
    view = BEER.view("review_flat").contract
    assert not merges_changes(view) and merges_changes(BEER.table("review"))
    names = [c.name for c in silver_columns(view)]
    assert names[-3:] == ["created_at", "updated_at", "deleted_at"]
    assert "change_seq" not in names
