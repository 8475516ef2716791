"""The three databases tagged with the ``layer`` LF-Tag (and gold with ``classification``).

Governance owns the ``layer`` tag itself (``components/governance.py``); until it also owns the
assignments, GoldMart calls :func:`tag_databases_by_layer` (the resources keep gold's names).
Every gold table and column inherits the gold database's tags, which is what the consumer
grants match: ``layer = gold`` and ``classification = internal``.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from datalake.contracts import Classification
from datalake.naming import Layer

from .foundation import LakeFoundation, after_lake_formation
from .options import child_options


def tag_databases_by_layer(
    parent: pulumi.Resource,
    name: str,
    foundation: LakeFoundation,
    *,
    layer_tag_key: pulumi.Input[str],
    classification_tag_key: pulumi.Input[str],
) -> pulumi.Output[str]:
    """Tag bronze, silver and gold with their layer; return the layer tag's key once every
    database carries it (grants on the tag take it, so they come after)."""
    tagged = []
    for layer, database in (
        (Layer.BRONZE, foundation["bronze_database_name"]),
        (Layer.SILVER, foundation["silver_database_name"]),
        (Layer.GOLD, foundation["gold_database_name"]),
    ):
        tags: list[aws.lakeformation.ResourceLfTagsLfTagArgsDict] = [
            {"key": layer_tag_key, "value": layer.value}
        ]
        if layer is Layer.GOLD:
            # Inherited by every gold table and column: no gold column is pii.
            tags.append({"key": classification_tag_key, "value": Classification.INTERNAL.value})
        tagged.append(
            aws.lakeformation.ResourceLfTags(
                f"{name}-{layer.value}-database-tags",
                database={"name": after_lake_formation(foundation, database)},
                lf_tags=tags,
                opts=child_options(parent),
            )
        )
    return pulumi.Output.all(layer_tag_key, *(t.id for t in tagged)).apply(lambda v: v[0])
