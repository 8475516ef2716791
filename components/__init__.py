"""Pulumi ComponentResources of the data lake, one concern per module.

Import a single component into your own Pulumi program::

    from components import LakeStorage, LakeStorageArgs

The same components are served to programs in any Pulumi language by the component provider
in ``provider/`` (``pulumi package add <repo>/provider``).
"""

from components.bronze import BronzeZone, BronzeZoneArgs
from components.catalog import LakeCatalog, LakeCatalogArgs
from components.control_table import ProcessingControlTable, ProcessingControlTableArgs
from components.foundation import (
    LakeFoundation,
    LakeIdentity,
    WorkloadDefaults,
    lake_foundation,
    lake_identity,
    workload_defaults,
)
from components.gold import GoldMart, GoldMartArgs
from components.gold_access import GoldConsumerAccess, GoldConsumerAccessArgs
from components.governance import LakeGovernance, LakeGovernanceArgs
from components.network import IngestionNetwork, IngestionNetworkArgs
from components.pii import PIIMasker, PIIMaskerArgs
from components.silver import SilverPipeline, SilverPipelineArgs
from components.spark_runtime import SparkRuntime, SparkRuntimeArgs
from components.storage import LakeStorage, LakeStorageArgs

PROVIDER_NAME = "datalake"
"""Package name of the component provider: type tokens are ``datalake:index:<Name>``."""

PUBLIC_COMPONENTS = (
    LakeStorage,
    LakeCatalog,
    ProcessingControlTable,
    LakeGovernance,
    PIIMasker,
    IngestionNetwork,
    BronzeZone,
    SparkRuntime,
    SilverPipeline,
    GoldMart,
    GoldConsumerAccess,
)
"""Every component the library publishes, in the order a lake composes them."""

__all__ = [
    "PROVIDER_NAME",
    "PUBLIC_COMPONENTS",
    "BronzeZone",
    "BronzeZoneArgs",
    "GoldConsumerAccess",
    "GoldConsumerAccessArgs",
    "GoldMart",
    "GoldMartArgs",
    "IngestionNetwork",
    "IngestionNetworkArgs",
    "LakeCatalog",
    "LakeCatalogArgs",
    "LakeFoundation",
    "LakeGovernance",
    "LakeGovernanceArgs",
    "LakeIdentity",
    "LakeStorage",
    "LakeStorageArgs",
    "PIIMasker",
    "PIIMaskerArgs",
    "ProcessingControlTable",
    "ProcessingControlTableArgs",
    "SilverPipeline",
    "SilverPipelineArgs",
    "SparkRuntime",
    "SparkRuntimeArgs",
    "WorkloadDefaults",
    "lake_foundation",
    "lake_identity",
    "workload_defaults",
]
