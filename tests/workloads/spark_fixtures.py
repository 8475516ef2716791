"""One local Spark session with an Iceberg catalog ``lake`` for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from workloads.silver.spark_session import local_iceberg_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """``local_iceberg_session`` on a temporary warehouse; stopped when the run ends."""
    warehouse = tmp_path_factory.mktemp("iceberg-warehouse")
    session = local_iceberg_session(str(warehouse), catalog="lake", app_name="datalake-tests")
    yield session
    session.stop()
