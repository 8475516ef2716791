"""The arrow engine's Iceberg file IO writes small files in one request, large ones in parts."""

from __future__ import annotations

import hashlib

import boto3
import pytest
from pyarrow.fs import S3FileSystem
from pyiceberg.io import load_file_io

from workloads.local.emulator import running_emulator
from workloads.shared.fileio import LakeFileIO, with_delayed_open
from workloads.silver.catalogs import glue_catalog

BUCKET = "fileio-test"
PART = 10 * 2**20
"""pyarrow's S3 part size (10 MiB): a file closed before it fills one is one PutObject."""


def test_delayed_open_keeps_every_other_option():
    fs = S3FileSystem(
        region="eu-west-1", endpoint_override="http://127.0.0.1:1", scheme="http", anonymous=True
    )
    _, (before,) = fs.__reduce__()
    _, (after,) = with_delayed_open(fs).__reduce__()
    assert before["allow_delayed_open"] is False
    assert after == {**before, "allow_delayed_open": True}


def test_the_glue_catalog_uses_the_lake_file_io():
    catalog = glue_catalog("us-east-1", endpoint="http://127.0.0.1:1")
    assert isinstance(load_file_io(catalog.properties), LakeFileIO)


@pytest.fixture(scope="module")
def endpoint():
    with running_emulator("us-east-1") as url:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield url


def _write(endpoint: str, key: str, body: bytes) -> dict:
    io = load_file_io(glue_catalog("us-east-1", endpoint=endpoint).properties)
    with io.new_output(f"s3://{BUCKET}/{key}").create(overwrite=True) as stream:
        stream.write(body)
    return boto3.client("s3").head_object(Bucket=BUCKET, Key=key)


def test_a_small_file_is_one_put_object(endpoint):
    body = b"manifest " * 1000
    head = _write(endpoint, "small/file.avro", body)
    # A single PutObject's ETag is the MD5 of the body; a multipart upload's ends in -<parts>.
    assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    assert head["ContentLength"] == len(body)


def test_a_file_larger_than_a_part_is_uploaded_in_parts_and_complete(endpoint):
    body = bytes(range(256)) * (3 * PART // 256)
    head = _write(endpoint, "large/file.parquet", body)
    assert "-" in head["ETag"]
    assert head["ContentLength"] == len(body)
    read = boto3.client("s3").get_object(Bucket=BUCKET, Key="large/file.parquet")["Body"].read()
    assert read == body
