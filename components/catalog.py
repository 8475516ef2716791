"""LakeCatalog: the Glue databases of the bronze, silver and gold layers.

lake bucket
  ├─ bronze/  ->  <project>_<env>_bronze
  ├─ silver/  ->  <project>_<env>_silver   (Iceberg tables)
  └─ gold/    ->  <project>_<env>_gold     (Iceberg tables, what consumers query)
"""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.foundation import after
from components.options import stateful_options
from datalake.layout import layer_prefix
from datalake.naming import Layer, layer_tags

CATALOG_LAYERS = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)


class LakeCatalogArgs(TypedDict):
    """Inputs of :class:`LakeCatalog`."""

    lake_bucket_name: pulumi.Input[str]
    """The lake bucket; each database is located at its layer's prefix."""
    bronze_database_name: str
    """Glue database of the bronze layer."""
    silver_database_name: str
    """Glue database of the silver layer."""
    gold_database_name: str
    """Glue database of the gold layer."""
    iam_compatible: NotRequired[bool]
    """Grant IAM_ALLOWED_PRINCIPALS on new tables (Lake Formation's IAM-compatible mode)."""
    lake_formation_ready: NotRequired[pulumi.Input[str]]
    """Lake Formation readiness (``LakeGovernance.lake_formation_ready``): the databases are
    created after the account's default permissions are set, never before."""
    protect: NotRequired[bool]
    """Protect and retain the databases: deleting one drops the Iceberg tables in it, which
    are not in Pulumi's state."""


class LakeCatalog(pulumi.ComponentResource):
    """One Glue database per layer, located at that layer's prefix of the lake bucket."""

    bronze_database_name: pulumi.Output[str]
    """Glue database of the bronze layer."""
    silver_database_name: pulumi.Output[str]
    """Glue database of the silver layer."""
    gold_database_name: pulumi.Output[str]
    """Glue database of the gold layer."""

    def __init__(
        self, name: str, args: LakeCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeCatalog", name, None, opts)
        ready = args.get("lake_formation_ready", "")
        self.databases: dict[Layer, aws.glue.CatalogDatabase] = {}
        for layer in CATALOG_LAYERS:
            database_name: str = args[f"{layer.value}_database_name"]  # type: ignore[literal-required]
            self.databases[layer] = aws.glue.CatalogDatabase(
                f"{name}-{layer.value}",
                name=after(ready, database_name),
                description=f"{layer.value.capitalize()} layer of the data lake",
                location_uri=pulumi.Output.concat(
                    "s3://", args["lake_bucket_name"], "/", layer_prefix(layer.value)
                ),
                # Empty default permissions: access comes from Lake Formation grants only,
                # unless the lake runs in IAM-compatible mode.
                create_table_default_permissions=(
                    [
                        {
                            "permissions": ["ALL"],
                            "principal": {
                                "data_lake_principal_identifier": "IAM_ALLOWED_PRINCIPALS"
                            },
                        }
                    ]
                    if args.get("iam_compatible", False)
                    else []
                ),
                tags=layer_tags(layer),
                opts=stateful_options(self, args.get("protect", False)),
            )
        self.database_names = {layer: db.name for layer, db in self.databases.items()}
        self.database_arns = {layer: db.arn for layer, db in self.databases.items()}
        self.bronze_database_name = self.database_names[Layer.BRONZE]
        self.silver_database_name = self.database_names[Layer.SILVER]
        self.gold_database_name = self.database_names[Layer.GOLD]
        self.register_outputs(
            {f"{layer.value}_database": db.name for layer, db in self.databases.items()}
        )
