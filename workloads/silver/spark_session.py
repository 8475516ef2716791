"""A local Spark session with Apache Iceberg, for tests and local runs.

The Iceberg runtime comes, in this order, from:

1. ``DATALAKE_SPARK_JARS``: comma-separated jar paths (or URLs), used as ``spark.jars``;
2. ``<repo>/.build/spark-jars/``: the two jars ``scripts/build_iceberg_jars`` builds without
   Maven (the runtime from PyPI, plus pyspark's Jackson relocated where the runtime wants it);
3. Maven: ``spark.jars.packages`` with the official runtime (:data:`ICEBERG_PACKAGE`).

Runs on Python 3.9 (EMR Serverless) and never imports pulumi; pyspark is imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ICEBERG_PACKAGE = "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.2"
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
ICEBERG_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
JARS_ENV = "DATALAKE_SPARK_JARS"
# Loaded lazily by Spark, so checked at start: the relocated Jackson is the one a partial
# jar set misses (``MERGE INTO`` and table commits fail on it much later).
REQUIRED_CLASSES = (
    ICEBERG_CATALOG,
    ICEBERG_EXTENSIONS,
    "org.apache.iceberg.shaded.com.fasterxml.jackson.databind.ObjectMapper",
)
LOCAL_JARS_DIR = Path(__file__).resolve().parents[2] / ".build" / "spark-jars"
HOW_TO_FIX = (
    "run scripts/build_iceberg_jars (builds .build/spark-jars without Maven), "
    f"or set {JARS_ENV} to comma-separated Iceberg Spark runtime jars"
)


def iceberg_jars() -> list[str] | None:
    """The Iceberg jars to put on ``spark.jars``, or None to fall back to Maven.

    ``DATALAKE_SPARK_JARS`` wins when set (local paths must exist); otherwise the runtime and
    relocated-Jackson jars in ``.build/spark-jars/`` when both are there.
    """
    jars = [part.strip() for part in os.environ.get(JARS_ENV, "").split(",") if part.strip()]
    if jars:
        missing = [jar for jar in jars if "://" not in jar and not Path(jar).is_file()]
        if missing:
            raise FileNotFoundError(f"{JARS_ENV} names missing jars: {', '.join(missing)}")
        return jars
    runtime = sorted(LOCAL_JARS_DIR.glob("iceberg-spark-runtime-*.jar"))
    jackson = sorted(LOCAL_JARS_DIR.glob("iceberg-shaded-jackson-*.jar"))
    if runtime and jackson:
        return [str(runtime[-1]), str(jackson[-1])]
    return None


def local_iceberg_session(
    warehouse: str, catalog: str = "lake", app_name: str = "datalake"
) -> SparkSession:
    """A ``local[2]`` session with the Iceberg SQL extensions and a Hadoop catalog ``catalog``.

    Jars and extensions are fixed when the JVM starts, so there is one session per process:
    an active session that already has ``catalog`` is returned as it is (with its own
    warehouse); any other active session is an error.
    """
    from pyspark.sql import SparkSession

    prefix = f"spark.sql.catalog.{catalog}"
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.conf.get(prefix, None) == ICEBERG_CATALOG:
            return active
        raise RuntimeError(
            f"a Spark session without the Iceberg catalog {catalog!r} is already running; "
            "stop it before asking for a local Iceberg session"
        )

    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.extensions", ICEBERG_EXTENSIONS)
        .config(prefix, ICEBERG_CATALOG)
        .config(f"{prefix}.type", "hadoop")
        .config(f"{prefix}.warehouse", warehouse)
    )
    jars = iceberg_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    else:
        builder = builder.config("spark.jars.packages", ICEBERG_PACKAGE)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # the JVM dies with a generic error
        source = "the jars " + ", ".join(jars) if jars else f"Maven ({ICEBERG_PACKAGE})"
        raise RuntimeError(
            f"could not start Spark with Iceberg from {source}: {error}; {HOW_TO_FIX}"
        ) from error
    missing = _missing_classes(spark)
    if missing:
        spark.stop()
        raise RuntimeError(f"Spark started without {', '.join(missing)}; {HOW_TO_FIX}")
    return spark


def _missing_classes(spark: SparkSession) -> list[str]:
    """The Iceberg classes the session's class loader cannot find (Spark only warns)."""
    from py4j.protocol import Py4JJavaError

    utils = spark.sparkContext._jvm.org.apache.spark.util.Utils  # type: ignore[union-attr]
    missing = []
    for name in REQUIRED_CLASSES:
        try:
            utils.classForName(name, False, False)
        except Py4JJavaError:  # ClassNotFoundException
            missing.append(name)
    return missing
