"""The local Spark + Iceberg runtime: jar discovery, MERGE INTO, format v2, maintenance calls."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.workloads.spark_fixtures import spark  # noqa: F401
from workloads.silver import spark_session
from workloads.silver.spark_session import JARS_ENV, iceberg_jars, local_iceberg_session


def _touch(path):
    path.write_bytes(b"PK")
    return path


# -- iceberg_jars(): no Spark needed ---------------------------------------------------------


def test_jars_from_env_var_win(monkeypatch, tmp_path):
    runtime, jackson = _touch(tmp_path / "runtime.jar"), _touch(tmp_path / "jackson.jar")
    monkeypatch.setattr(spark_session, "LOCAL_JARS_DIR", tmp_path / "unused")
    monkeypatch.setenv(JARS_ENV, f" {runtime} ,{jackson},, s3://bucket/extra.jar ")
    assert iceberg_jars() == [str(runtime), str(jackson), "s3://bucket/extra.jar"]


def test_env_var_naming_a_missing_jar_fails(monkeypatch, tmp_path):
    monkeypatch.setenv(JARS_ENV, str(tmp_path / "nope.jar"))
    with pytest.raises(FileNotFoundError, match=r"nope\.jar"):
        iceberg_jars()


@pytest.mark.parametrize("value", [None, "", " , "])
def test_built_jars_when_env_var_unset_or_blank(monkeypatch, tmp_path, value):
    if value is None:
        monkeypatch.delenv(JARS_ENV, raising=False)
    else:
        monkeypatch.setenv(JARS_ENV, value)
    monkeypatch.setattr(spark_session, "LOCAL_JARS_DIR", tmp_path)
    assert iceberg_jars() is None  # empty folder: Maven
    runtime = _touch(tmp_path / "iceberg-spark-runtime-3.5_2.12-1.10.2.jar")
    assert iceberg_jars() is None  # the runtime alone lacks its Jackson
    jackson = _touch(tmp_path / "iceberg-shaded-jackson-2.15.2.jar")
    assert iceberg_jars() == [str(runtime), str(jackson)]


# -- Spark ------------------------------------------------------------------------------------


def _table(spark, name: str) -> str:  # noqa: F811
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.runtime")
    table = f"lake.runtime.{name}"
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, name STRING, ts TIMESTAMP) USING iceberg "
        "PARTITIONED BY (days(ts)) TBLPROPERTIES ('format-version' = '2')"
    )
    return table


def test_session_is_reused_for_the_same_catalog(spark, tmp_path):  # noqa: F811
    assert local_iceberg_session(str(tmp_path)) is spark
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_merge_into_updates_and_inserts(spark):  # noqa: F811
    table = _table(spark, "merge")
    spark.sql(
        f"INSERT INTO {table} VALUES (1, 'one', TIMESTAMP '2026-03-14 09:00:00'), "
        "(2, 'two', TIMESTAMP '2026-03-15 10:00:00')"
    )
    spark.createDataFrame(
        [(2, "TWO", datetime(2026, 3, 16, 11)), (3, "three", datetime(2026, 3, 16, 12))],
        "id BIGINT, name STRING, ts TIMESTAMP",
    ).createOrReplaceTempView("changes")
    spark.sql(
        f"MERGE INTO {table} t USING changes c ON t.id = c.id "
        "WHEN MATCHED THEN UPDATE SET t.name = c.name, t.ts = c.ts "
        "WHEN NOT MATCHED THEN INSERT (id, name, ts) VALUES (c.id, c.name, c.ts)"
    )
    rows = [tuple(r) for r in spark.sql(f"SELECT id, name, ts FROM {table} ORDER BY id").collect()]
    assert rows == [
        (1, "one", datetime(2026, 3, 14, 9)),
        (2, "TWO", datetime(2026, 3, 16, 11)),
        (3, "three", datetime(2026, 3, 16, 12)),
    ]
    partitions = spark.sql(f"SELECT partition.ts_day FROM {table}.partitions").collect()
    assert sorted(str(r[0]) for r in partitions) == ["2026-03-14", "2026-03-16"]


def test_table_is_format_version_2_partitioned_by_day(spark):  # noqa: F811
    table = _table(spark, "described")
    properties = dict(spark.sql(f"SHOW TBLPROPERTIES {table}").collect())
    assert properties["format-version"] == "2"
    described = {
        r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    }
    assert "format-version=2" in described["Table Properties"]
    assert described["Part 0"] == "days(ts)"


def test_maintenance_procedures_run(spark):  # noqa: F811
    table = _table(spark, "maintained")
    for i in range(3):  # three commits: three small files in one partition
        spark.sql(f"INSERT INTO {table} VALUES ({i}, 'n{i}', TIMESTAMP '2026-03-14 09:00:00')")

    rewritten = spark.sql(
        f"CALL lake.system.rewrite_data_files(table => '{table.removeprefix('lake.')}', "
        "options => map('min-input-files', '2'))"
    ).first()
    assert rewritten.rewritten_data_files_count == 3
    assert rewritten.added_data_files_count == 1

    expired = spark.sql(
        f"CALL lake.system.expire_snapshots(table => '{table.removeprefix('lake.')}', "
        "older_than => TIMESTAMP '2999-01-01 00:00:00', retain_last => 1)"
    ).first()
    assert expired.deleted_data_files_count == 3
    assert spark.sql(f"SELECT count(*) FROM {table}.snapshots").first()[0] == 1
    assert spark.sql(f"SELECT count(*) FROM {table}").first()[0] == 3
