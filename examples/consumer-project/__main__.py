"""The support desk's lake: this project's domain file, the library's components.

The library comes from its wheel (``datalake.components``); ``components`` below is this
project's own folder. storage → control → governance → catalog (+ domain) → pii → bronze →
silver → gold.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.tags import desk_tags
from datalake.components import (
    BronzeZone,
    GoldMart,
    LakeCatalog,
    LakeGovernance,
    LakeStorage,
    PIIMasker,
    ProcessingControlTable,
    SilverPipeline,
    lake_foundation,
    lake_identity,
    workload_defaults,
)
from datalake.naming import CONFIG_KEY, CONFIG_NAMESPACE, Layer, default_tags
from datalake.settings import SettingsError
from datalake.stack import load_lake

try:
    # datalake:lake.domain is relative to this project's directory (domain.yaml).
    settings, domain = load_lake(
        pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY),
        project=pulumi.get_project(),
        environment=pulumi.get_stack(),
        root=Path(__file__).resolve().parent,
    )
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None
section, governance_settings = settings.section_data, settings.governance
lake = lake_identity(settings)
tags = default_tags(lake["project"], lake["environment"], {**desk_tags(lake["environment"])})
opts = pulumi.ResourceOptions(
    providers=[aws.Provider("aws", region=settings.region, default_tags={"tags": tags})]
)

storage = LakeStorage(
    "storage",
    {
        "lake": lake,
        "storage": section("storage"),
        "encryption": section("encryption"),
        "break_glass_principals": list(governance_settings.break_glass_principals),
    },
    opts,
)
control = ProcessingControlTable(
    "control",
    {
        "table_name": settings.names.control_table,
        "kms_key_arn": storage.key_arn,
        "protect": lake["protect"],
    },
    opts,
)
governance = LakeGovernance(
    "governance",
    {
        "lake": lake,
        "lake_bucket_arn": storage.lake_bucket_arn,
        "kms_key_arn": storage.key_arn,
        "permission_mode": governance_settings.permission_mode,
        "admins": governance_settings.admins,
        "data_lake_settings": governance_settings.data_lake_settings,
    },
    opts,
)
catalog = LakeCatalog(
    "catalog",
    {
        "lake_bucket_name": storage.lake_bucket_name,
        "bronze_database_name": settings.database_name(Layer.BRONZE),
        "silver_database_name": settings.database_name(Layer.SILVER),
        "gold_database_name": settings.database_name(Layer.GOLD),
        "lake_formation_ready": governance.lake_formation_ready,
        "protect": lake["protect"],
        "domain": domain.to_document(),
        "artifacts_bucket_name": storage.artifacts_bucket_name,
        "kms_key_arn": storage.key_arn,
    },
    opts,
)
foundation = lake_foundation(
    lake,
    workload_defaults(settings),
    storage=storage,
    control=control,
    governance=governance,
    catalog=catalog,
    domain=domain.to_document(),
)
pii = PIIMasker("pii", {"foundation": foundation, "pii": section("pii")}, opts)
bronze = BronzeZone(
    "bronze",
    {
        "foundation": foundation,
        "ingestion": section("ingestion"),
        "network": section("network"),
        "pii_worker_policy_arn": pii.worker_policy_arn,
        "pii_worker_environment": pii.worker_environment,
        "classification_tag_key": pii.classification_tag_key,
    },
    opts,
)
silver = SilverPipeline("silver", {"foundation": foundation, "silver": section("silver")}, opts)
gold = GoldMart(
    "gold",
    {
        "foundation": foundation,
        "gold": section("gold"),
        "event_bus_name": silver.event_bus_name,
        "spark_application_id": silver.application_id,
        "spark_application_arn": silver.application_arn,
        "emr": settings.silver.emr.model_dump(mode="json"),
        "schedule_timezone": settings.silver.schedule_timezone,
        "target_file_size_mb": settings.silver.target_file_size_mb,
        "consumers": list(governance_settings.consumers),
        "layer_tag_key": governance.layer_tag_key,
        "classification_tag_key": pii.classification_tag_key,
    },
    opts,
)

pulumi.export("domain", domain.name)
pulumi.export("domain_uri", catalog.domain_uri)
pulumi.export("landing_bucket", storage.landing_bucket_name)
pulumi.export("athena_workgroup", gold.workgroup_name)
pulumi.export("gold_consumer_role_arn", gold.consumer_role_arn)
