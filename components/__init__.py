"""Pulumi ComponentResources of the data lake, one concern per module.

Import a single component into your own Pulumi program::

    from components import LakeStorage, LakeStorageArgs
"""

from components.bronze import BronzeZone, BronzeZoneArgs
from components.catalog import LakeCatalog, LakeCatalogArgs
from components.control_table import ProcessingControlTable, ProcessingControlTableArgs
from components.gold import GoldMart, GoldMartArgs
from components.governance import LakeGovernance, LakeGovernanceArgs
from components.pii import PIIMasker, PIIMaskerArgs
from components.silver import SilverPipeline, SilverPipelineArgs
from components.storage import LakeStorage, LakeStorageArgs

__all__ = [
    "BronzeZone",
    "BronzeZoneArgs",
    "GoldMart",
    "GoldMartArgs",
    "LakeCatalog",
    "LakeCatalogArgs",
    "LakeGovernance",
    "LakeGovernanceArgs",
    "LakeStorage",
    "LakeStorageArgs",
    "PIIMasker",
    "PIIMaskerArgs",
    "ProcessingControlTable",
    "ProcessingControlTableArgs",
    "SilverPipeline",
    "SilverPipelineArgs",
]
