"""The control table's keys and indexes, and a table like the component's for local runs.

``ProcessingControlTable`` declares the same names and keys; :mod:`datalake.control` queries
them.
"""

from __future__ import annotations

from typing import Any

INDEX_BY_OBJECT_KEY = "by-object-key"
INDEX_BY_LAYER_STATUS = "by-layer-status"
INDEX_BY_TABLE_CHECKSUM = "by-table-checksum"
TABLE_KEY_SCHEMA: dict[str, Any] = {
    "hash_key": "control_id",
    "indexes": {
        INDEX_BY_OBJECT_KEY: ("object_key", "created_at"),
        INDEX_BY_LAYER_STATUS: ("layer_status", "created_at"),
        INDEX_BY_TABLE_CHECKSUM: ("table_name", "checksum"),
    },
}


def create_control_table(dynamodb: Any, table_name: str) -> Any:
    """Create the control table with the same keys, indexes and stream as the component.

    For the local (emulated) lake and tests; in AWS the ``ProcessingControlTable`` component
    declares it. ``dynamodb`` is a boto3 DynamoDB service resource.
    """
    indexes: dict[str, tuple[str, str]] = TABLE_KEY_SCHEMA["indexes"]
    attributes = {TABLE_KEY_SCHEMA["hash_key"]}
    for hash_key, range_key in indexes.values():
        attributes.update((hash_key, range_key))
    table = dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": TABLE_KEY_SCHEMA["hash_key"], "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in indexes.items()
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table.wait_until_exists()
    return table
