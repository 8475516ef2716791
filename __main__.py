"""The data lake program: settings in, components composed, outputs out."""

import pulumi
import pulumi_aws as aws

from components import (
    BronzeZone,
    BronzeZoneArgs,
    GoldMart,
    GoldMartArgs,
    LakeCatalog,
    LakeCatalogArgs,
    LakeGovernance,
    LakeGovernanceArgs,
    LakeStorage,
    LakeStorageArgs,
    PIIMasker,
    PIIMaskerArgs,
    ProcessingControlTable,
    ProcessingControlTableArgs,
    SilverPipeline,
    SilverPipelineArgs,
)
from datalake.naming import CONFIG_KEY, CONFIG_NAMESPACE, Bucket, Layer, default_tags
from datalake.settings import SettingsError, load_settings

try:
    settings = load_settings(
        pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY),
        project=pulumi.get_project(),
        environment=pulumi.get_stack(),
    )
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None

names = settings.names
provider = aws.Provider(
    "aws",
    region=settings.region,
    default_tags={"tags": default_tags(settings.project, settings.environment, settings.tags)},
)
opts = pulumi.ResourceOptions(providers=[provider])

storage = LakeStorage(
    "storage",
    LakeStorageArgs(names, settings.storage, settings.encryption, settings.protect_stateful),
    opts,
)
catalog = LakeCatalog(
    "catalog",
    LakeCatalogArgs(
        lake_bucket_name=storage.bucket_names[Bucket.LAKE],
        database_names={
            layer: settings.database_name(layer) for layer in Layer if layer != Layer.RAW
        },
        iam_compatible=settings.governance.permission_mode == "iam-compatible",
    ),
    opts,
)
control = ProcessingControlTable(
    "control",
    ProcessingControlTableArgs(names.control_table, storage.key_arn, settings.protect_stateful),
    opts,
)
governance = LakeGovernance(
    "governance",
    LakeGovernanceArgs(
        names=names,
        lake_bucket_arn=storage.bucket_arns[Bucket.LAKE],
        kms_key_arn=storage.key_arn,
        permission_mode=settings.governance.permission_mode,
        admins=settings.governance.admins,
    ),
    opts,
)

pii = PIIMasker(
    "pii",
    PIIMaskerArgs(
        settings=settings,
        kms_key_arn=storage.key_arn,
        lake_bucket_name=storage.bucket_names[Bucket.LAKE],
        lake_bucket_arn=storage.bucket_arns[Bucket.LAKE],
    ),
    # Tags need Lake Formation admins in place.
    pulumi.ResourceOptions(providers=[provider], depends_on=[governance]),
)
bronze = BronzeZone(
    "bronze",
    BronzeZoneArgs(
        settings=settings,
        landing_bucket_name=storage.bucket_names[Bucket.LANDING],
        landing_bucket_arn=storage.bucket_arns[Bucket.LANDING],
        lake_bucket_name=storage.bucket_names[Bucket.LAKE],
        lake_bucket_arn=storage.bucket_arns[Bucket.LAKE],
        kms_key_arn=storage.key_arn,
        control_table_name=control.table_name,
        control_table_arn=control.table_arn,
        control_stream_arn=control.stream_arn,
        bronze_database_name=catalog.database_names[Layer.BRONZE],
        pii_worker_policy_arn=pii.worker_policy_arn,
        pii_environment=pii.worker_environment,
        classification_tag=pii.lf_tag,
    ),
    opts,
)
silver = SilverPipeline(
    "silver",
    SilverPipelineArgs(
        settings=settings,
        lake_bucket_name=storage.bucket_names[Bucket.LAKE],
        lake_bucket_arn=storage.bucket_arns[Bucket.LAKE],
        artifacts_bucket_name=storage.bucket_names[Bucket.ARTIFACTS],
        artifacts_bucket_arn=storage.bucket_arns[Bucket.ARTIFACTS],
        kms_key_arn=storage.key_arn,
        control_table_name=control.table_name,
        control_table_arn=control.table_arn,
        silver_database_name=catalog.database_names[Layer.SILVER],
        observer_bucket_name=storage.bucket_names[Bucket.OBSERVER],
        observer_bucket_arn=storage.bucket_arns[Bucket.OBSERVER],
    ),
    # The job role's Lake Formation grants need the admins and the registered location.
    pulumi.ResourceOptions(providers=[provider], depends_on=[governance]),
)
gold = GoldMart(
    "gold",
    GoldMartArgs(
        settings=settings,
        lake_bucket_name=storage.bucket_names[Bucket.LAKE],
        lake_bucket_arn=storage.bucket_arns[Bucket.LAKE],
        artifacts_bucket_name=storage.bucket_names[Bucket.ARTIFACTS],
        artifacts_bucket_arn=storage.bucket_arns[Bucket.ARTIFACTS],
        observer_bucket_name=storage.bucket_names[Bucket.OBSERVER],
        observer_bucket_arn=storage.bucket_arns[Bucket.OBSERVER],
        kms_key_arn=storage.key_arn,
        control_table_name=control.table_name,
        control_table_arn=control.table_arn,
        bronze_database_name=catalog.database_names[Layer.BRONZE],
        silver_database_name=catalog.database_names[Layer.SILVER],
        gold_database_name=catalog.database_names[Layer.GOLD],
        classification_tag=pii.lf_tag,
        silver_application_id=silver.application_id,
        silver_application_arn=silver.application_arn,
    ),
    # LF-Tags and grants need the Lake Formation admins and the classification tag.
    pulumi.ResourceOptions(providers=[provider], depends_on=[governance, pii]),
)

pulumi.export("region", settings.region)
pulumi.export("kms_key_arn", storage.key_arn)
pulumi.export("kms_key_alias", storage.key_alias)
for purpose, bucket_name in storage.bucket_names.items():
    pulumi.export(f"{purpose.value}_bucket", bucket_name)
for layer, database_name in catalog.database_names.items():
    pulumi.export(f"{layer.value}_database", database_name)
pulumi.export("control_table_name", control.table_name)
pulumi.export("control_table_stream_arn", control.stream_arn)
pulumi.export("lakeformation_registration_role_arn", governance.registration_role_arn)
pulumi.export("bronze_controller_function", bronze.controller_function_name)
pulumi.export("bronze_ingestion_state_machine_arn", bronze.state_machine_arn)
pulumi.export("bronze_ingest_image", bronze.image_ref)
pulumi.export("pii_hmac_key_secret_arn", pii.secret_arn)
pulumi.export("silver_state_machine_arn", silver.state_machine_arn)
pulumi.export("silver_application_id", silver.application_id)
pulumi.export("gold_state_machine_arn", gold.state_machine_arn)
pulumi.export("athena_workgroup", gold.workgroup_name)
pulumi.export("gold_consumer_role_arn", gold.consumer_role_arn)
