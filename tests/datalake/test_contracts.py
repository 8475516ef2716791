"""Table contracts: the domain as data, and the invariants a contract must keep."""

import pyarrow as pa
import pytest

from datalake.contracts import (
    CONTRACTS,
    Classification,
    Column,
    ColumnType,
    TableContract,
    UnknownTableError,
    bronze_columns,
    get_contract,
)


def test_the_domain_has_its_four_tables_with_primary_keys():
    assert {n: c.primary_key for n, c in CONTRACTS.items()} == {
        "brewery": ("brewery_id",),
        "beer": ("beer_id",),
        "profile": ("profile_id",),
        "review": ("review_id",),
    }


def test_profile_email_is_the_declared_pii():
    assert [(n, c.pii_columns) for n, c in CONTRACTS.items() if c.pii_columns] == [
        ("profile", ("email",))
    ]
    assert get_contract("profile").column("email").classification is Classification.PII


def test_types_map_to_arrow_glue_and_iceberg():
    assert ColumnType.LONG.arrow == pa.int64() and ColumnType.LONG.glue == "bigint"
    assert ColumnType.DOUBLE.iceberg == "double"
    assert ColumnType.TIMESTAMP.arrow == pa.timestamp("us", tz="UTC")
    assert ColumnType.TIMESTAMP.iceberg == "timestamptz"


def test_review_scores_are_bounded_in_half_steps():
    score = get_contract("review").column("review_overall")
    assert (score.minimum, score.maximum, score.step) == (1.0, 5.0, 0.5)


def test_unknown_tables_list_the_known_ones():
    with pytest.raises(UnknownTableError, match="known tables: beer, brewery, profile, review"):
        get_contract("wine")


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
    names = [c.name for c in bronze_columns(get_contract("beer"))]
    assert names[:5] == list(get_contract("beer").column_names)
    assert names[5:] == [
        "_operation",
        "_change_ts",
        "_change_seq",
        "_source_key",
        "_source_line",
        "_control_id",
        "_ingested_at",
    ]
