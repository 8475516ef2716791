"""The table spec the Spark job receives: the contract as plain JSON.

The Spark job runs on EMR Serverless' Python 3.9 with only pyspark, so it cannot import the
contracts; the planner hands it this spec (in the run's manifest) instead. One source: the
same contract drives the pyiceberg engine (``tables.py``) and this spec.
"""

from __future__ import annotations

from typing import Any

from datalake.contracts import TableContract, silver_columns

SPARK_TYPES = {"long": "bigint", "double": "double", "string": "string", "timestamp": "timestamp"}


def spark_spec(
    contract: TableContract, properties: dict[str, str], *, audit: bool = True
) -> dict[str, Any]:
    """JSON-ready description of the table of ``contract`` for the Spark job (``audit``:
    silver's created/updated/deleted columns)."""
    columns = silver_columns(contract) if audit else contract.columns
    return {
        "table": contract.name,
        "primary_key": list(contract.primary_key),
        "source_columns": [c.name for c in contract.columns],
        "columns": [
            {"name": c.name, "type": SPARK_TYPES[c.type.value], "nullable": c.nullable}
            for c in columns
        ],
        "partitioning": [list(p) for p in contract.silver_partitioning],
        "properties": properties,
    }
