"""The view and its marts are partitioned by the period's ``partition_by`` (the year by default),
a coarser unit than the marts' period (the month): the partition specs, what one changed month
recomputes and leaves alone, and the same mart rows whichever the partitioning.

The beer example's review_flat (see gold_fixtures.py), with a second year added: 2010 (January
and February) and 2011 (March).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from datalake.domain import Domain
from tests.workloads.gold_fixtures import (
    DOMAIN,
    MONTHLY,
    PROPERTIES,
    REVIEW_FLAT,
    epoch,
    loaded_view,
    review_flat_rows,
    row,
)
from workloads.gold.marts import run_marts
from workloads.shared.spark_common import PERIOD_PROPERTY
from workloads.shared.tables import iceberg_schema

YEARS = [(2010,), (2011,)]
MONTHS = [(2010, 1), (2010, 2), (2011, 3)]


def rows() -> pa.Table:
    """The fixture's January and February 2010, and three reviews of beer 12 in March 2011."""
    later = [row(400 + i, 12, 5 + i, 3.0 + i, epoch(2011, 3, 5 + i)) for i in range(3)]
    extra = pa.Table.from_pylist(later, schema=iceberg_schema(REVIEW_FLAT.contract).as_arrow())
    return pa.concat_tables([review_flat_rows(), extra])


def lake(folder, domain: Domain, table: pa.Table | None = None):
    """A catalog with the domain's review_flat loaded; its Iceberg table."""
    folder.mkdir(exist_ok=True)
    return loaded_view(folder, domain.view("review_flat"), rows() if table is None else table)


def spec_columns(table) -> list[str]:
    schema = table.schema()
    return [schema.find_column_name(f.source_id) for f in table.spec().fields]


def mart_rows(catalog, name: str) -> list[dict]:
    found = catalog.load_table(("gold", name)).scan().to_arrow().to_pylist()
    return sorted(found, key=lambda r: tuple(str(v) for v in r.values()))


def files_by_partition(catalog, name: str) -> dict[tuple, set[str]]:
    listed = catalog.load_table(("gold", name)).inspect.files().to_pylist()
    files: dict[tuple, set[str]] = {}
    for f in listed:
        files.setdefault(tuple(f["partition"].values()), set()).add(f["file_path"])
    return files


@pytest.mark.parametrize(
    ("domain", "partitions", "columns"),
    [
        (DOMAIN, YEARS, ["review_year"]),
        (MONTHLY, MONTHS, ["review_year", "review_month"]),
    ],
    ids=["default-year", "month"],
)
def test_the_view_and_every_mart_are_partitioned_by_partition_by(
    tmp_path, domain, partitions, columns
):
    catalog, source = lake(tmp_path, domain)
    assert spec_columns(source) == columns
    assert source.properties[PERIOD_PROPERTY] == "review_year,review_month"
    marts = domain.marts_of("review_flat")
    run_marts(catalog, "gold", source, marts, partitions, PROPERTIES)
    for mart in marts:
        table = catalog.load_table(("gold", mart.name))
        assert spec_columns(table) == columns, mart.name
        assert mart.contract.primary_key == ("review_year", "review_month")  # the period
        if mart.min_count is None:  # the others keep too few rows of the fixture's months
            assert set(files_by_partition(catalog, mart.name)) == set(partitions), mart.name
    # The marts' rows are per month whichever the partitioning.
    months = {(r["review_year"], r["review_month"]) for r in mart_rows(catalog, "top_drinkers")}
    assert months == set(MONTHS)


def test_one_changed_month_recomputes_its_year_and_leaves_other_years_files_alone(tmp_path):
    catalog, source = lake(tmp_path, DOMAIN)
    marts = DOMAIN.marts_of("review_flat")
    run_marts(catalog, "gold", source, marts, YEARS, PROPERTIES, batch_id="first")
    before = {m.name: files_by_partition(catalog, m.name) for m in marts}
    january = [r for r in mart_rows(catalog, "top_drinkers") if r["review_month"] == 1]

    # Review 300 (February 2010) is deleted: silver replaced the 2010 partition of the view.
    changed = rows().to_pylist()
    for item in changed:
        if item["review_id"] == 300:
            item["deleted_at"] = item["updated_at"]
    schema = iceberg_schema(REVIEW_FLAT.contract).as_arrow()
    source.overwrite(pa.Table.from_pylist(changed, schema=schema))
    (result, *_) = run_marts(catalog, "gold", source, marts, [(2010,)], PROPERTIES, "second")
    assert result.partitions == [(2010,)]

    for mart in (m for m in marts if m.min_count is None):  # rows in every partition
        after = files_by_partition(catalog, mart.name)
        assert after[(2011,)] == before[mart.name][(2011,)], mart.name  # untouched
        assert not after[(2010,)] & before[mart.name][(2010,)], mart.name  # the year rewritten
        snapshot = catalog.load_table(("gold", mart.name)).current_snapshot()
        assert snapshot.summary["datalake.batch-id"] == "second"
        assert int(snapshot.summary["deleted-data-files"]) == len(before[mart.name][(2010,)])
    drinkers = mart_rows(catalog, "top_drinkers")
    # The whole year was recomputed: January's rows are the same, February lost bob's 2.0.
    assert [r for r in drinkers if r["review_month"] == 1] == january
    february = {r["profile_id"]: r["total_reviews"] for r in drinkers if r["review_month"] == 2}
    assert february == {5: 1, 6: 1}
    assert {r["review_year"] for r in drinkers if r["review_month"] == 3} == {2011}


def test_partitioning_by_year_or_by_month_gives_the_same_mart_rows(tmp_path):
    by_year, year_source = lake(tmp_path / "year", DOMAIN)
    by_month, month_source = lake(tmp_path / "month", MONTHLY)
    run_marts(by_year, "gold", year_source, DOMAIN.marts_of("review_flat"), YEARS, PROPERTIES)
    run_marts(by_month, "gold", month_source, MONTHLY.marts_of("review_flat"), MONTHS, PROPERTIES)
    for mart in DOMAIN.marts:
        assert mart_rows(by_year, mart.name) == mart_rows(by_month, mart.name), mart.name
        assert mart_rows(by_year, mart.name), mart.name
