"""The prefix expressions Firehose and the local delivery loop share, evaluated as Firehose
does, and the DMS table mappings generated from the domain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datalake.layout import parse_raw_key
from datalake.streaming import (
    DELIVERY_PREFIX,
    ERROR_PREFIX,
    FILE_EXTENSION,
    PARTITIONING_FAILED,
    PrefixError,
    expand_prefix,
    table_mappings,
)

AT = datetime(2026, 3, 7, 9, 41, 5, 123456, tzinfo=UTC)


def test_a_delivered_object_is_a_json_lines_file_of_its_table_under_its_hour():
    prefix = expand_prefix(DELIVERY_PREFIX, at=AT, keys={"table": "profile"})
    assert prefix == "raw/profile/cdc/2026/03/07/09/"
    raw = parse_raw_key(f"{prefix}cdc-delivery-1-2026-03-07-09-41-05-ab12{FILE_EXTENSION}")
    assert (raw.table, raw.format.value) == ("profile", "jsonl")


def test_the_error_prefix_names_the_error_type_and_is_outside_raw():
    prefix = expand_prefix(ERROR_PREFIX, at=AT, error_type=PARTITIONING_FAILED)
    assert prefix == "stream-errors/partitioning-failed/2026/03/07/09/"
    assert not prefix.startswith("raw/")  # never registered as a raw file


@pytest.mark.parametrize("keys", [None, {}, {"table": ""}, {"other": "x"}])
def test_a_missing_or_empty_partition_key_fails_as_firehose_fails_it(keys):
    with pytest.raises(PrefixError, match="partition key 'table' is missing or empty"):
        expand_prefix(DELIVERY_PREFIX, at=AT, keys=keys)


def test_an_expression_firehose_would_not_know_is_refused():
    with pytest.raises(PrefixError, match="unsupported expression"):
        expand_prefix("raw/!{partitionKeyFromLambda:table}/", at=AT)
    with pytest.raises(PrefixError, match="outside the error prefix"):
        expand_prefix(ERROR_PREFIX, at=AT)


def test_minutes_and_seconds_come_from_the_arrival():
    text = expand_prefix("x/!{timestamp:yyyy-MM-dd HH:mm:ss}/", at=AT)
    assert text == "x/2026-03-07 09:41:05/"


def test_table_mappings_select_each_table_and_rename_a_differing_source():
    rules = table_mappings(
        ["customer", "orders"], schema_name="sales", source_names={"customer": "customers"}
    )["rules"]
    selections = [r for r in rules if r["rule-type"] == "selection"]
    assert [r["object-locator"] for r in selections] == [
        {"schema-name": "sales", "table-name": "customers"},
        {"schema-name": "sales", "table-name": "orders"},
    ]
    (rename,) = [r for r in rules if r["rule-type"] == "transformation"]
    assert rename["object-locator"]["table-name"] == "customers"
    assert (rename["rule-action"], rename["value"]) == ("rename", "customer")
    assert len({r["rule-id"] for r in rules}) == len(rules)
