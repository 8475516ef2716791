"""LakeCatalog: the Glue databases of the bronze, silver and gold layers.

lake bucket
  ├─ bronze/  ->  <project>_<env>_bronze
  ├─ silver/  ->  <project>_<env>_silver   (Iceberg tables)
  └─ gold/    ->  <project>_<env>_gold     (Iceberg tables, what consumers query)
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.options import child_options
from datalake.naming import Layer, layer_tags

CATALOG_LAYERS = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)


@dataclass
class LakeCatalogArgs:
    """Inputs of :class:`LakeCatalog`."""

    lake_bucket_name: pulumi.Input[str]
    database_names: dict[Layer, str]
    """Glue database name per layer (``LakeSettings.database_name``)."""
    iam_compatible: bool = False
    """Grant IAM_ALLOWED_PRINCIPALS on new tables (Lake Formation's IAM-compatible mode)."""


class LakeCatalog(pulumi.ComponentResource):
    """One Glue database per layer, located at that layer's prefix of the lake bucket."""

    database_names: dict[Layer, pulumi.Output[str]]
    database_arns: dict[Layer, pulumi.Output[str]]

    def __init__(
        self, name: str, args: LakeCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:LakeCatalog", name, None, opts)
        self.databases: dict[Layer, aws.glue.CatalogDatabase] = {}
        for layer in CATALOG_LAYERS:
            self.databases[layer] = aws.glue.CatalogDatabase(
                f"{name}-{layer.value}",
                name=args.database_names[layer],
                description=f"{layer.value.capitalize()} layer of the data lake",
                location_uri=pulumi.Output.concat(
                    "s3://", args.lake_bucket_name, f"/{layer.value}/"
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
                    if args.iam_compatible
                    else []
                ),
                tags=layer_tags(layer),
                opts=child_options(self),
            )
        self.database_names = {layer: db.name for layer, db in self.databases.items()}
        self.database_arns = {layer: db.arn for layer, db in self.databases.items()}
        self.register_outputs(
            {f"{layer.value}_database": db.name for layer, db in self.databases.items()}
        )
