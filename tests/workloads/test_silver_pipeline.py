"""A silver run on moto (S3, DynamoDB) and a local Iceberg catalog: bronze -> silver -> gold."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from datalake.control import ControlStatus
from datalake.domain import Domain
from examples.beer.generate import generate_reviews, sample_file
from tests.workloads.conftest import ARRIVED, LAKE, gz
from tests.workloads.silver_fixtures import BEER_DOMAIN, sql_catalog
from workloads.gold.pipeline import pending_partitions
from workloads.shared.tables import table_properties
from workloads.silver.pipeline import (
    PARTITIONS_PER_GOLD_RECORD,
    SilverRun,
    register_view_commit,
    s3_bronze_reader,
)
from workloads.silver.views import partitions_of

PERIOD = BEER_DOMAIN.view("review_flat").period
LATER = ARRIVED + timedelta(minutes=5)
"""When a second file lands (a change without its own time takes its file's arrival)."""


def years_of(times) -> set[tuple[int, ...]]:
    """The partitions of review_flat the times fall in: years (the beer example's default)."""
    return partitions_of(times, PERIOD)


@pytest.fixture
def catalog(tmp_path):
    return sql_catalog(tmp_path)


def silver_run(lake, catalog, worker="silver-1", domain: Domain = BEER_DOMAIN) -> SilverRun:
    return SilverRun(
        store=lake.store,
        catalog=catalog,
        namespace="silver",
        read_bronze=s3_bronze_reader(lake.s3),
        lake_bucket=LAKE,
        worker_id=worker,
        properties=table_properties(128, 7, 5),
        domain=domain,
    )


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return gz(out.getvalue())


def ingest(lake, key: str, body: bytes, arrived: datetime = ARRIVED) -> None:
    record = lake.register(key, body, arrived)
    done = lake.worker().run(record.control_id)
    assert done.status is ControlStatus.SUCCESS


def load_sample(lake, reviews: pa.Table) -> None:
    for table in ("brewery", "beer", "profile"):
        ingest(lake, f"raw/{table}/{table}.csv.gz", sample_file(table).read_bytes())
    ingest(lake, "raw/review/reviews-0001.csv.gz", csv_bytes(reviews))


def scan(catalog, table: str) -> pa.Table:
    return catalog.load_table(("silver", table)).scan().to_arrow()


def test_bronze_to_silver_to_gold_records(lake, catalog):
    reviews = generate_reviews(3_000, seed=11)
    load_sample(lake, reviews)
    report = silver_run(lake, catalog).run()
    assert report.failed == {}
    assert {t: r.keys_written for t, r in report.merged.items()} == {
        "brewery": 5_840,
        "beer": 66_055,
        "profile": 33_388,
        "review": 3_000,
    }
    assert list(lake.store.by_status("silver", ControlStatus.PENDING)) == []
    assert len(list(lake.store.by_status("silver", ControlStatus.SUCCESS))) == 4

    flat = scan(catalog, "review_flat")
    assert flat.num_rows == 3_000
    years = years_of(reviews.column("review_time"))
    assert {(y,) for y in flat.column("review_year").to_pylist()} == years
    stamps = [datetime.fromtimestamp(t, UTC) for t in reviews.column("review_time").to_pylist()]
    periods = zip(
        flat.column("review_year").to_pylist(), flat.column("review_month").to_pylist(), strict=True
    )
    assert set(periods) == {(t.year, t.month) for t in stamps}  # the period stays the month
    # One gold record for the view's commit, naming every partition (year) it replaced.
    (gold,) = list(lake.store.by_status("gold", ControlStatus.PENDING))
    assert report.gold_records == [gold.control_id]
    assert len(years) > 10 and gold.partitions == [list(p) for p in sorted(years)]
    snapshot = report.views["review_flat"].snapshot_id
    assert gold.object_key == f"silver/review_flat/commit=snapshot-{snapshot}"
    assert (gold.table_name, gold.checksum) == ("review_flat", f"snapshot-{snapshot}:0")
    # Joined attributes come from the dimensions; e-mail never reaches review_flat.
    first = flat.sort_by("review_id").slice(0, 1).to_pylist()[0]
    beer = (
        scan(catalog, "beer").filter(pc.equal(pc.field("beer_id"), first["beer_id"])).to_pylist()[0]
    )
    assert first["beer_name"] == beer["beer_name"]
    assert "email" not in flat.column_names


def test_incremental_run_touches_only_the_changed_year(lake, catalog):
    reviews = generate_reviews(2_000, seed=5)
    load_sample(lake, reviews)
    silver_run(lake, catalog).run()
    flat_table = catalog.load_table(("silver", "review_flat"))
    files_before = {f["file_path"] for f in flat_table.inspect.files().to_pylist()}

    changed = reviews.slice(0, 1)
    (year,) = years_of(changed.column("review_time"))
    update = changed.set_column(4, "review_overall", pa.array([1.0]))
    # A file landing later: its rows' changes come after the first file's (arrival time).
    ingest(lake, "raw/review/reviews-0002.csv.gz", csv_bytes(update), LATER)
    report = silver_run(lake, catalog).run()

    assert report.views["review_flat"].partitions == [year]
    pending = list(lake.store.by_status("gold", ControlStatus.PENDING))
    (latest,) = [r for r in pending if r.control_id in report.gold_records]
    assert latest.partitions == [list(year)] and len(pending) == 2  # one record per run
    flat_table.refresh()
    files_after = {f["file_path"] for f in flat_table.inspect.files().to_pylist()}
    assert len(files_before - files_after) == 1  # only that year's file was replaced
    row = flat_table.scan(
        row_filter=f"review_id == {changed.column('review_id')[0].as_py()}"
    ).to_arrow()
    assert row.column("review_overall").to_pylist() == [1.0]
    assert flat_table.scan().to_arrow().num_rows == 2_000


def test_a_changed_beer_rebuilds_the_years_of_its_reviews(lake, catalog):
    reviews = generate_reviews(1_000, seed=9)
    load_sample(lake, reviews)
    silver_run(lake, catalog).run()
    beer_id = reviews.column("beer_id")[0].as_py()
    years = years_of(
        reviews.filter(pc.equal(reviews.column("beer_id"), beer_id)).column("review_time")
    )
    line = f'{{"operation": "update", "beer_id": {beer_id}, "beer_name": "Renamed"}}\n'
    ingest(lake, "raw/beer/cdc/rename.jsonl.gz", gz(line), LATER)
    report = silver_run(lake, catalog).run()
    assert set(report.views["review_flat"].partitions) == years
    flat = scan(catalog, "review_flat").filter(pc.equal(pc.field("beer_id"), beer_id))
    assert set(flat.column("beer_name").to_pylist()) == {"Renamed"}


def test_a_failing_table_does_not_stop_the_others(lake, catalog, monkeypatch):
    load_sample(lake, generate_reviews(200, seed=2))
    run = silver_run(lake, catalog)
    real = run.read_bronze

    def broken(records):
        if records[0].table_name == "beer":
            raise OSError("bronze object unreadable")
        return real(records)

    run.read_bronze = broken
    report = run.run()
    assert report.failed == {"beer": "OSError: bronze object unreadable"}
    assert set(report.merged) == {"brewery", "profile", "review"}
    (failed,) = [r for r in lake.store.by_status("silver", ControlStatus.ERROR)]
    assert failed.table_name == "beer" and "unreadable" in failed.error


def test_a_crash_after_commit_is_harmless_on_retry(lake, catalog, monkeypatch):
    load_sample(lake, generate_reviews(300, seed=3))
    run = silver_run(lake, catalog)
    real_complete = lake.store.complete
    monkeypatch.setattr(
        lake.store, "complete", lambda *a, **k: (_ for _ in ()).throw(SystemExit("crash"))
    )
    with pytest.raises(SystemExit):
        run.run()
    monkeypatch.setattr(lake.store, "complete", real_complete)
    brewery = catalog.load_table(("silver", "brewery"))
    committed = len(brewery.snapshots())
    assert committed == 1  # the merge committed before the crash

    from datetime import timedelta

    import datalake.control as control

    later = control.utc_now() + timedelta(seconds=601)
    monkeypatch.setattr(control, "utc_now", lambda: later)
    report = silver_run(lake, catalog, worker="silver-2").run()
    assert report.merged["brewery"].skipped_as_replay
    brewery.refresh()
    assert len(brewery.snapshots()) == committed
    assert scan(catalog, "brewery").num_rows == 5_840


def test_a_view_that_fails_retries_its_tables_and_the_retry_reaches_the_view(
    lake, catalog, monkeypatch
):
    load_sample(lake, generate_reviews(300, seed=4))
    import workloads.silver.pipeline as pipeline

    real_build = pipeline.build_view
    monkeypatch.setattr(
        pipeline, "build_view", lambda *a, **k: (_ for _ in ()).throw(OSError("view write lost"))
    )
    report = silver_run(lake, catalog).run()
    assert report.failed_views == {"review_flat": "view review_flat: OSError: view write lost"}
    # Every table merged (one commit each), but none is settled: the view reads them all.
    assert set(report.merged) == set(report.retried) == {"brewery", "beer", "profile", "review"}
    assert list(lake.store.by_status("silver", ControlStatus.SUCCESS)) == []
    errors = list(lake.store.by_status("silver", ControlStatus.ERROR))
    assert len(errors) == 4 and all("view write lost" in r.error and r.retryable for r in errors)
    assert scan(catalog, "review_flat").num_rows == 0
    snapshots = {t: len(catalog.load_table(("silver", t)).snapshots()) for t in report.merged}

    monkeypatch.setattr(pipeline, "build_view", real_build)
    retry = silver_run(lake, catalog, worker="silver-2").run()
    assert all(result.skipped_as_replay for result in retry.merged.values())
    assert retry.failed_views == {} and retry.retried == {}
    # Nothing merged twice; the view holds every live review, as after a run that never failed.
    assert {t: len(catalog.load_table(("silver", t)).snapshots()) for t in snapshots} == snapshots
    assert scan(catalog, "review_flat").num_rows == scan(catalog, "review").num_rows
    assert len(list(lake.store.by_status("silver", ControlStatus.SUCCESS))) == 4
    (gold,) = list(lake.store.by_status("gold", ControlStatus.PENDING))
    assert gold.partitions == sorted([list(p) for p in retry.views["review_flat"].partitions])


CHANGES = [
    '{"operation": "insert", "beer_id": 1, "brewery_id": 10, "beer_name": "Pale", '
    '"changed_at": "2026-03-14T09:00:00Z", "sequence": 1}',
    '{"operation": "update", "beer_id": 1, "beer_name": "Pale v2", '
    '"changed_at": "2026-03-14T09:00:00Z", "sequence": 2}',
    '{"operation": "delete", "beer_id": 2, "changed_at": "2026-03-14T09:01:00Z", "sequence": 1}',
    '{"operation": "insert", "beer_id": 3, "beer_name": "Stout", '
    '"changed_at": "2026-03-14T09:02:00Z", "sequence": 1}',
]


@pytest.mark.parametrize("runs", [1, 2])
def test_changes_delivered_in_two_objects_merge_once(lake, catalog, runs):
    first, retry = CHANGES[:3], CHANGES[1:]  # the retry resends two changes, then goes on
    ingest(lake, "raw/beer/cdc/2026/03/14/09/delivery-1-first.jsonl.gz", gz("\n".join(first)))
    if runs == 2:
        silver_run(lake, catalog).run()
    ingest(lake, "raw/beer/cdc/2026/03/14/09/delivery-1-retry.jsonl.gz", gz("\n".join(retry)))
    report = silver_run(lake, catalog).run()
    beer = scan(catalog, "beer").sort_by("beer_id").to_pylist()
    assert [(r["beer_id"], r["beer_name"], r["change_seq"]) for r in beer] == [
        (1, "Pale v2", 2),
        (2, None, 1),  # a tombstone
        (3, "Stout", 1),
    ]
    # In one batch, two copies; the retry alone: the very changes of beers 1 and 2 again.
    assert report.duplicates_skipped == {"beer": 2}
    assert report.merged["beer"].keys_written == (3 if runs == 1 else 1)


# --- the gold records of a view commit ---------------------------------------------------------

FLAT = BEER_DOMAIN.view("review_flat")


def commit_records(lake, ids: list[str]) -> list:
    return [lake.store.get(control_id) for control_id in ids]


def test_a_view_commit_registers_one_gold_record_naming_its_partitions(lake):
    columns = FLAT.partition_columns
    parts = [p[: len(columns)] for p in ((2011, 5), (2009, 1), (2011, 5), (2010, 12))]
    ids = register_view_commit(lake.store, LAKE, FLAT.name, columns, "snapshot-7", parts)
    (record,) = commit_records(lake, ids)
    assert record.partitions == [list(p) for p in sorted(set(parts))]  # sorted, each once
    assert record.object_key == "silver/review_flat/commit=snapshot-7"
    assert (record.layer, record.table_name, record.format) == ("gold", FLAT.name, "iceberg")
    # A replay of the same commit (a retried step) registers nothing new.
    again = register_view_commit(lake.store, LAKE, FLAT.name, columns, "snapshot-7", parts[::-1])
    assert again == ids
    assert len(list(lake.store.by_status("gold", ControlStatus.PENDING))) == 1
    assert register_view_commit(lake.store, LAKE, FLAT.name, columns, "snapshot-8", []) == []
    with pytest.raises(ValueError, match="does not match columns"):
        register_view_commit(lake.store, LAKE, FLAT.name, columns, "snapshot-9", [(2010, 1, 1)])


def test_a_commit_past_the_bound_is_split_into_records_gold_reads_as_one(lake):
    columns = FLAT.partition_columns
    parts = [(2000 + year, 1, 1)[: len(columns)] for year in range(5)]
    ids = register_view_commit(
        lake.store, LAKE, FLAT.name, columns, "run-abc", parts[::-1], per_record=2
    )
    records = commit_records(lake, ids)
    assert [r.partitions for r in records] == [
        [list(parts[0]), list(parts[1])],
        [list(parts[2]), list(parts[3])],
        [list(parts[4])],
    ]
    assert {r.object_key for r in records} == {"silver/review_flat/commit=run-abc"}
    assert len({r.checksum for r in records}) == 3  # none taken for another's duplicate
    assert (
        register_view_commit(lake.store, LAKE, FLAT.name, columns, "run-abc", parts, per_record=2)
        == ids
    )
    claimed = [lake.store.claim(control_id, "gold-1") for control_id in ids]
    pending = pending_partitions(BEER_DOMAIN, claimed)
    assert pending.partitions == {FLAT.name: parts}
    assert pending.control_ids == {FLAT.name: ids} and pending.unknown == {}


def dynamodb_size(value) -> int:
    """Bytes DynamoDB counts for an attribute value (its documented rules): a string its UTF-8
    length, a number one byte per two significant digits plus one, a list or map three bytes
    plus one per element (a map's names counted too)."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        digits = len(str(abs(value)).strip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list):
        return 3 + sum(1 + dynamodb_size(v) for v in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode()) + dynamodb_size(v) for k, v in value.items())
    raise TypeError(type(value))


def test_the_largest_gold_record_fits_in_a_dynamodb_item(lake):
    # Day partitions (the most values) with more digits than any date, and the longest error
    # and claim a record keeps.
    bound = PARTITIONS_PER_GOLD_RECORD
    days = [(10_000 + n, 12, 31) for n in range(2 * bound + 2_000)]
    ids = register_view_commit(
        lake.store, LAKE, "day_view", ("y", "m", "d"), "run-" + "x" * 80, days
    )
    records = commit_records(lake, ids)
    assert [len(r.partitions) for r in records] == [bound, bound, 2_000]
    item = records[0].model_copy(update={"error": "e" * 4_000, "claimed_by": "w" * 100}).to_item()
    size = sum(len(name.encode()) + dynamodb_size(value) for name, value in item.items())
    assert size < 400_000 // 4  # a quarter of DynamoDB's item limit
