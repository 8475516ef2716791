"""The gold consumers' Athena workgroup, and one named query per mart of the domain.

    workgroup gold-consumers   engine v3, configuration enforced, CloudWatch metrics,
                               results SSE-KMS (lake key) in observer/athena-results/,
                               per-query scan cutoff (gold.athena_bytes_scanned_cutoff_mb)
      └─ named query per mart  its top rows of one example period, ranked by its rank_by
                               (``components/gold_queries.py``)

Children of the GoldMart component (their logical names and parent are the ones they always
had).
"""

import pulumi
import pulumi_aws as aws

from datalake.domain import Domain
from datalake.layout import ATHENA_RESULTS_PREFIX
from datalake.naming import layer_tags
from datalake.settings import GoldSettings

from .gold_queries import example_description, example_query
from .layer_parts import LayerParts
from .options import child_options
from .workloads import s3_uri

ATHENA_ENGINE_VERSION = "Athena engine version 3"


GRAFANA_TAG = {"GrafanaDataSource": "true"}
"""The tag Amazon Managed Grafana's Athena access (``AmazonGrafanaAthenaAccess``, the console's
data source setup) looks for on a workgroup."""


def consumer_workgroup(
    parent: pulumi.Resource,
    parts: LayerParts,
    gold: GoldSettings,
    domain: Domain,
    *,
    grafana: bool = False,
) -> aws.athena.Workgroup:
    """The consumers' workgroup (tagged for Grafana with ``grafana``), and one named query per
    mart in it."""
    foundation = parts.foundation
    workgroup = aws.athena.Workgroup(
        f"{parts.name}-workgroup",
        name=parts.names.resource("gold-consumers"),
        description="Queries on the gold marts (PII-free); results encrypted with the lake key",
        state="ENABLED",
        configuration={
            "enforce_workgroup_configuration": True,
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": gold.athena_bytes_scanned_cutoff_mb * 1024 * 1024,
            "engine_version": {"selected_engine_version": ATHENA_ENGINE_VERSION},
            "result_configuration": {
                "output_location": s3_uri(
                    foundation["observer_bucket_name"], ATHENA_RESULTS_PREFIX
                ),
                "encryption_configuration": {
                    "encryption_option": "SSE_KMS",
                    "kms_key_arn": foundation["kms_key_arn"],
                },
            },
        },
        # Queries consumers saved in the workgroup must not block `pulumi destroy` in dev.
        force_destroy=not foundation["lake"]["protect"],
        tags={**layer_tags("gold"), **(GRAFANA_TAG if grafana else {})},
        opts=child_options(parent),
    )
    for mart in domain.marts:
        aws.athena.NamedQuery(
            f"{parts.name}-query-{mart.name}",
            # A label inside the workgroup (Athena names queries by id), not a physical name.
            name=mart.name,
            description=example_description(mart, domain),
            workgroup=workgroup.name,
            database=foundation["gold_database_name"],
            query=example_query(mart, domain),
            opts=child_options(parent),
        )
    return workgroup
