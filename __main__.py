"""The data lake program: settings and domain in, components composed, outputs out.

storage → control → governance → catalog (+ the domain) → (foundation) → pii → bronze
(+ streaming, when ``streaming.enabled``) → silver → gold → observability (the alarm topic
right after storage when the settings name none)
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import (
    BronzeZone,
    GoldMart,
    LakeAlarmTopic,
    LakeCatalog,
    LakeDashboards,
    LakeGovernance,
    LakeObservability,
    LakeStorage,
    PIIMasker,
    ProcessingControlTable,
    SilverPipeline,
    StreamingIngest,
    lake_foundation,
    lake_identity,
    workload_defaults,
)
from datalake.naming import CONFIG_KEY, CONFIG_NAMESPACE, Layer, default_tags
from datalake.settings import SettingsError
from datalake.stack import load_lake

try:
    # The domain file (datalake:lake.domain) is relative to the project directory: this one.
    settings, domain = load_lake(
        pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY),
        project=pulumi.get_project(),
        environment=pulumi.get_stack(),
        root=Path(__file__).resolve().parent,
    )
except SettingsError as error:
    raise pulumi.RunError(str(error)) from None
section = settings.section_data
governance_settings = settings.governance
lake = lake_identity(settings)
opts = pulumi.ResourceOptions(
    providers=[
        aws.Provider(
            "aws",
            region=settings.region,
            default_tags={
                "tags": default_tags(lake["project"], lake["environment"], settings.tags)
            },
        )
    ]
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
# Every alarm notifies one topic: the settings' or one created here (it needs the lake key).
if "alarm_topic_arn" not in lake:
    alarm_topic = LakeAlarmTopic("alarms", {"lake": lake, "kms_key_arn": storage.key_arn}, opts)
    lake = {**lake, "alarm_topic_arn": alarm_topic.topic_arn}
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
        "iam_compatible": governance_settings.permission_mode == "iam-compatible",
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

pii = PIIMasker(
    "pii",
    {
        "foundation": foundation,
        "pii": section("pii"),
        "break_glass_principals": list(governance_settings.break_glass_principals),
    },
    opts,
)
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
# Streamed changes land under raw/<table>/cdc/ and take bronze's path from there.
streaming = (
    StreamingIngest(
        "streaming",
        {
            "foundation": foundation,
            "streaming": section("streaming"),
            "network": section("network"),
        },
        opts,
    )
    if settings.streaming.enabled
    else None
)
silver = SilverPipeline("silver", {"foundation": foundation, "silver": section("silver")}, opts)
gold = GoldMart(
    "gold",
    {
        "foundation": foundation,
        "gold": section("gold"),
        # Gold shares silver's Spark application (gold.reuse_silver_application) or runs its own
        # with the same EMR settings.
        "event_bus_name": silver.event_bus_name,
        "grafana_data_source": settings.dashboards.enabled,
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

# Grafana on AWS (dashboards.enabled): the panel model's dashboards over gold and operations.
dashboards = (
    LakeDashboards(
        "dashboards",
        {
            "foundation": foundation,
            "workgroup_name": gold.workgroup_name,
            "dashboards": section("dashboards"),
            "streaming": settings.streaming.enabled,
            "layer_tag_key": governance.layer_tag_key,
            "classification_tag_key": pii.classification_tag_key,
        },
        opts,
    )
    if settings.dashboards.enabled
    else None
)

# CloudWatch: the operations dashboard, the lake-wide alarms and the cost budget.
observability = LakeObservability(
    "observability",
    {
        "foundation": foundation,
        "observability": section("observability"),
        "workgroup_name": gold.workgroup_name,
        "spark_application_ids": (
            {"silver": silver.application_id}
            if settings.gold.reuse_silver_application
            else {"silver": silver.application_id, "gold": gold.spark.application_id}
        ),
        **(
            {"delivery_stream_name": streaming.delivery_stream_name}
            if streaming is not None
            else {}
        ),
    },
    opts,
)

for name, value in {
    "region": settings.region,
    "kms_key_arn": storage.key_arn,
    "kms_key_alias": storage.key_alias,
    **{f"{purpose.value}_bucket": bucket for purpose, bucket in storage.bucket_names.items()},
    **{f"{layer.value}_database": db for layer, db in catalog.database_names.items()},
    "domain_uri": catalog.domain_uri,
    "control_table_name": control.table_name,
    "control_table_stream_arn": control.stream_arn,
    "lakeformation_registration_role_arn": governance.registration_role_arn,
    "bronze_controller_function": bronze.controller_function_name,
    "bronze_ingestion_state_machine_arn": bronze.state_machine_arn,
    "bronze_ingest_image": bronze.image_ref,
    "pii_hmac_key_secret_arn": pii.secret_arn,
    "silver_state_machine_arn": silver.state_machine_arn,
    "silver_maintenance_state_machine_arn": silver.maintenance_state_machine_arn,
    "silver_application_id": silver.application_id,
    "lake_event_bus_name": silver.event_bus_name,
    "gold_state_machine_arn": gold.state_machine_arn,
    "athena_workgroup": gold.workgroup_name,
    "alarm_topic_arn": lake["alarm_topic_arn"],
    "operations_dashboard": observability.dashboard_name,
    "gold_consumer_role_arn": gold.consumer_role_arn,
    "state_machine_start_role_arns": pulumi.Output.all(
        bronze.pipe_role_arn, silver.start_role_arns, gold.start_role_arns
    ).apply(lambda v: [v[0], *v[1], *v[2]]),
}.items():
    pulumi.export(name, value)
if streaming is not None:
    pulumi.export("cdc_stream_name", streaming.stream_name)
    pulumi.export("cdc_delivery_stream_name", streaming.delivery_stream_name)
    if settings.streaming.source is not None:
        pulumi.export("cdc_replication_config_arn", streaming.replication_config_arn)
if dashboards is not None:
    pulumi.export("grafana_workspace_url", dashboards.workspace_url)
