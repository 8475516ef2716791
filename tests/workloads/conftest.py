"""A moto-backed lake for workload tests: buckets, control table, real S3 event payloads."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from datalake.control import ControlRecord, ControlStore
from datalake.control_table import create_control_table
from datalake.domain import Domain, default_domain_path, load_domain
from workloads.bronze.controller import register_object
from workloads.bronze.masking import RedactDeclaredPii
from workloads.bronze.worker import IngestWorker

REGION = "us-east-1"
LANDING = "test-landing"
LAKE = "test-lake"
CONTROL_TABLE = "test-processing-control"
ARRIVED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def s3_event(
    bucket: str, key: str, size: int, event_time: str = "2026-03-14T09:30:00.000Z"
) -> dict:
    """An S3 ObjectCreated notification as S3 delivers it to Lambda (key URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": event_time,
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvA",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "raw-objects",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text)


@dataclass
class Lake:
    """Handles on the emulated lake, plus shortcuts the tests share."""

    s3: Any
    cloudwatch: Any
    store: ControlStore
    threshold: int = 100_000
    domain: Domain = field(default_factory=lambda: load_domain(default_domain_path()))
    """The domain the controller and the workers use (the beer example unless a test sets it)."""

    def put_raw(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=LANDING, Key=key, Body=body)

    def register(
        self, key: str, body: bytes | None = None, arrived: datetime = ARRIVED
    ) -> ControlRecord:
        if body is not None:
            self.put_raw(key, body)
        return register_object(
            self.store,
            self.s3,
            bucket=LANDING,
            key=key,
            arrived=arrived,
            mass_threshold_records=self.threshold,
            domain=self.domain,
        )

    def worker(self, worker_id: str = "worker-1", masker: Any = None) -> IngestWorker:
        return IngestWorker(
            store=self.store,
            s3=self.s3,
            cloudwatch=self.cloudwatch,
            lake_bucket=LAKE,
            masker=masker or RedactDeclaredPii(),
            worker_id=worker_id,
            domain=self.domain,
        )

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def parquet(self, key: str):
        body = self.s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def quarantine(self, key: str) -> list[dict]:
        import json

        body = self.s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


@pytest.fixture
def lake(monkeypatch) -> Iterator[Lake]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=LANDING)
        s3.create_bucket(Bucket=LAKE)
        table = create_control_table(boto3.resource("dynamodb", region_name=REGION), CONTROL_TABLE)
        yield Lake(
            s3=s3,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            store=ControlStore(table, max_attempts=3, lease_seconds=600),
        )
