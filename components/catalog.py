"""LakeCatalog: the Glue databases of the bronze, silver and gold layers, and the lake's domain.

lake bucket
  ├─ bronze/  ->  <project>_<env>_bronze
  ├─ silver/  ->  <project>_<env>_silver   (Iceberg tables)
  └─ gold/    ->  <project>_<env>_gold     (Iceberg tables, what consumers query)
artifacts bucket
  └─ domain/<digest>.json   the canonical domain document (lake key), every workload's
                            DATALAKE_DOMAIN (``domain_uri``); a changed domain is a new object
"""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.domain import Domain, DomainError
from datalake.layout import domain_key, layer_prefix
from datalake.naming import Layer, layer_tags

from .foundation import after
from .options import child_options, stateful_options

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
    domain: dict[str, Any]
    """The lake's domain document (``Domain.to_document()``; a parsed domain file is accepted
    too and validated): published for the workloads."""
    artifacts_bucket_name: pulumi.Input[str]
    """The artifacts bucket, where the domain document is published."""
    kms_key_arn: pulumi.Input[str]
    """The lake key the published document is encrypted with."""


class LakeCatalog(pulumi.ComponentResource):
    """One Glue database per layer, located at that layer's prefix of the lake bucket."""

    bronze_database_name: pulumi.Output[str]
    """Glue database of the bronze layer."""
    silver_database_name: pulumi.Output[str]
    """Glue database of the silver layer."""
    gold_database_name: pulumi.Output[str]
    """Glue database of the gold layer."""
    domain_uri: pulumi.Output[str]
    """``s3://<artifacts>/domain/<digest>.json``: the published domain document every workload
    reads (its ``DATALAKE_DOMAIN``)."""
    domain_digest: pulumi.Output[str]
    """The published domain's digest (changes with any table, view or mart)."""

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
        self.domain_object = self._publish_domain(name, args)
        self.domain_uri = pulumi.Output.concat(
            "s3://", self.domain_object.bucket, "/", self.domain_object.key
        )
        self.domain_digest = pulumi.Output.from_input(self.domain.digest)
        self.register_outputs(
            {
                **{f"{layer.value}_database": db.name for layer, db in self.databases.items()},
                "domain_uri": self.domain_uri,
                "domain_digest": self.domain_digest,
            }
        )

    def _publish_domain(self, name: str, args: LakeCatalogArgs) -> aws.s3.BucketObjectv2:
        """The canonical domain document at ``domain/<digest>.json``, under the lake key."""
        try:
            self.domain = Domain.from_document(args["domain"])
        except DomainError as error:
            raise pulumi.RunError(f"LakeCatalog {name}: domain: {error}") from None
        document = self.domain.canonical_json()
        return aws.s3.BucketObjectv2(
            f"{name}-domain",
            bucket=args["artifacts_bucket_name"],
            key=domain_key(self.domain.digest),
            content=document,
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=args["kms_key_arn"],
            # The key is content-addressed: a changed domain is a new object, and the workloads
            # switch to it with their environment.
            tags={**layer_tags("catalog"), "domain": self.domain.name},
            opts=child_options(self),
        )
