"""Pulumi ComponentResources of the data lake, one concern per module.

Import a single component into your own Pulumi program (the wheel installs this package as
``datalake.components``; in this repository it is the top-level ``components``)::

    from datalake.components import LakeStorage, LakeStorageArgs

The same components are served to programs in any Pulumi language by the component provider
in ``provider/`` (``pulumi package add <repo>/provider``).
"""

from .alarm_topic import LakeAlarmTopic, LakeAlarmTopicArgs
from .bronze import BronzeZone, BronzeZoneArgs
from .catalog import LakeCatalog, LakeCatalogArgs
from .control_table import ProcessingControlTable, ProcessingControlTableArgs
from .dashboards import LakeDashboards, LakeDashboardsArgs
from .foundation import (
    LakeFoundation,
    LakeIdentity,
    WorkloadDefaults,
    lake_foundation,
    lake_identity,
    workload_defaults,
)
from .gold import GoldMart, GoldMartArgs
from .gold_access import GoldConsumerAccess, GoldConsumerAccessArgs
from .governance import LakeGovernance, LakeGovernanceArgs
from .network import IngestionNetwork, IngestionNetworkArgs
from .observability import LakeObservability, LakeObservabilityArgs
from .pii import PIIMasker, PIIMaskerArgs
from .silver import SilverPipeline, SilverPipelineArgs
from .spark_runtime import SparkRuntime, SparkRuntimeArgs
from .storage import LakeStorage, LakeStorageArgs
from .streaming import StreamingIngest, StreamingIngestArgs

PROVIDER_NAME = "datalake"
"""Package name of the component provider: type tokens are ``datalake:index:<Name>``."""

PUBLIC_COMPONENTS = (
    LakeStorage,
    LakeAlarmTopic,
    LakeCatalog,
    ProcessingControlTable,
    LakeGovernance,
    PIIMasker,
    IngestionNetwork,
    BronzeZone,
    StreamingIngest,
    SparkRuntime,
    SilverPipeline,
    GoldMart,
    GoldConsumerAccess,
    LakeDashboards,
    LakeObservability,
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
    "LakeAlarmTopic",
    "LakeAlarmTopicArgs",
    "LakeCatalog",
    "LakeCatalogArgs",
    "LakeDashboards",
    "LakeDashboardsArgs",
    "LakeFoundation",
    "LakeGovernance",
    "LakeGovernanceArgs",
    "LakeIdentity",
    "LakeObservability",
    "LakeObservabilityArgs",
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
    "StreamingIngest",
    "StreamingIngestArgs",
    "WorkloadDefaults",
    "lake_foundation",
    "lake_identity",
    "workload_defaults",
]
