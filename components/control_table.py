"""ProcessingControlTable: the DynamoDB table of control records.

    S3 event -> processing controller -> control record (this table)
                                              └─ stream (new images) -> next step

Key ``control_id``; indexes by object key, by (layer, status) and by (table, checksum) — the
same names and keys :mod:`datalake.control` queries. On-demand billing, point-in-time
recovery, encrypted with the lake key.
"""

from typing import TypedDict

import pulumi
import pulumi_aws as aws

from datalake.control_table import TABLE_KEY_SCHEMA
from datalake.naming import layer_tags

from .options import stateful_options


class ProcessingControlTableArgs(TypedDict):
    """Inputs of :class:`ProcessingControlTable`."""

    table_name: str
    """Name of the DynamoDB table."""
    kms_key_arn: pulumi.Input[str]
    """The lake's KMS key: the table and its stream are encrypted with it."""
    protect: bool
    """Protect and retain the table, with deletion protection on (outside dev)."""


class ProcessingControlTable(pulumi.ComponentResource):
    """Control records: one per object per layer; its stream starts the next step."""

    table_name: pulumi.Output[str]
    """Name of the control table."""
    table_arn: pulumi.Output[str]
    """ARN of the control table."""
    stream_arn: pulumi.Output[str]
    """ARN of the table's stream (new images): it starts bronze ingestion."""

    def __init__(
        self,
        name: str,
        args: ProcessingControlTableArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("datalake:index:ProcessingControlTable", name, None, opts)
        indexes: dict[str, tuple[str, str]] = TABLE_KEY_SCHEMA["indexes"]
        attributes = {TABLE_KEY_SCHEMA["hash_key"]}
        for hash_key, range_key in indexes.values():
            attributes.update((hash_key, range_key))
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args["table_name"],
            billing_mode="PAY_PER_REQUEST",
            hash_key=TABLE_KEY_SCHEMA["hash_key"],
            attributes=[{"name": a, "type": "S"} for a in sorted(attributes)],
            global_secondary_indexes=[
                {
                    "name": index,
                    "hash_key": hash_key,
                    "range_key": range_key,
                    "projection_type": "ALL",
                }
                for index, (hash_key, range_key) in indexes.items()
            ],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args["kms_key_arn"]},
            deletion_protection_enabled=args["protect"],
            tags=layer_tags("control"),
            opts=stateful_options(self, args["protect"]),
        )
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.stream_arn = self.table.stream_arn
        self.register_outputs(
            {
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "stream_arn": self.stream_arn,
            }
        )
