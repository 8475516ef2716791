"""Bronze tables in Glue: one per table of the domain, queryable in Athena with no crawler.

lake bronze/<table>/year=YYYY/month=MM/day=DD/*.parquet
  └─ Glue table <bronze database>.<table>: the table's columns + lineage, partition projection
       └─ (optional) Lake Formation classification tags on the table and its columns
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from datalake.contracts import BRONZE_PARTITION_KEYS, TableContract, bronze_columns
from datalake.domain import Domain
from datalake.layout import BRONZE_PREFIX

from .options import child_options
from .pii import classify_columns

HIVE_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"
PROJECTION_YEARS = "2020,2100"


def glue_bronze_table_args(
    contract: TableContract, lake_bucket: pulumi.Input[str], database: pulumi.Input[str]
) -> dict[str, Any]:
    """Glue table of a contract's bronze files, queryable in Athena with no crawler."""
    location = pulumi.Output.concat("s3://", lake_bucket, f"/{BRONZE_PREFIX}{contract.name}/")
    partitions = "/".join(f"{k}=${{{k}}}" for k in BRONZE_PARTITION_KEYS)
    template = pulumi.Output.concat(location, partitions, "/")
    return {
        "name": contract.name,
        "database_name": database,
        "table_type": "EXTERNAL_TABLE",
        "description": contract.description,
        "parameters": {
            "classification": "parquet",
            "parquet.compression": "ZSTD",
            "contract_version": str(contract.version),
            "projection.enabled": "true",
            "projection.year.type": "integer",
            "projection.year.range": PROJECTION_YEARS,
            "projection.month.type": "integer",
            "projection.month.range": "1,12",
            "projection.month.digits": "2",
            "projection.day.type": "integer",
            "projection.day.range": "1,31",
            "projection.day.digits": "2",
            "storage.location.template": template,
        },
        "partition_keys": [{"name": k, "type": "string"} for k in BRONZE_PARTITION_KEYS],
        "storage_descriptor": {
            "location": location,
            "input_format": f"{HIVE_PARQUET}.MapredParquetInputFormat",
            "output_format": f"{HIVE_PARQUET}.MapredParquetOutputFormat",
            "ser_de_info": {"serialization_library": f"{HIVE_PARQUET}.serde.ParquetHiveSerDe"},
            "columns": [
                {
                    "name": c.name,
                    "type": c.type.glue,
                    "comment": c.description or None,
                    "parameters": {"classification": c.classification.value},
                }
                for c in bronze_columns(contract)
            ],
        },
    }


def bronze_tables(
    parent: pulumi.Resource,
    name: str,
    domain: Domain,
    *,
    lake_bucket_name: pulumi.Input[str],
    database_name: pulumi.Input[str],
    classification_tag_key: pulumi.Input[str] | None,
) -> dict[str, aws.glue.CatalogTable]:
    """A Glue table per table of ``domain``, its columns tagged with their classification when
    a Lake Formation tag key is given (the key must carry Lake Formation readiness)."""
    tables = {
        table: aws.glue.CatalogTable(
            f"{name}-table-{table}",
            **glue_bronze_table_args(contract, lake_bucket_name, database_name),
            opts=child_options(parent),
        )
        for table, contract in domain.tables.items()
    }
    if classification_tag_key is not None:
        for table, glue_table in tables.items():
            classify_columns(
                f"{name}-classify-{table}",
                parent=parent,
                database=glue_table.database_name,
                table=glue_table.name,
                contract=domain.table(table),
                tag_key=classification_tag_key,
                depends_on=[glue_table],
            )
    return tables
