"""The lake's bucket policies: TLS 1.2+, the lake key only, and the perimeter's denies.

    landing raw/: outsiders may only upload · landing stream-errors/, lake bronze/ silver/
    quarantine/ pii-verdicts/: outsiders nothing · listing: outsiders see gold/ only (lake)
    and stream-errors/ only (landing) · observer: S3 server access log delivery

Who is inside comes from :mod:`components.perimeter`.
"""

from collections.abc import Sequence
from typing import Any

from datalake.layout import (
    ACCESS_LOGS_PREFIX,
    BRONZE_PREFIX,
    GOLD_PREFIX,
    PII_VERDICT_PREFIX,
    QUARANTINE_PREFIX,
    RAW_PREFIX,
    SILVER_PREFIX,
    STREAM_ERRORS_PREFIX,
)
from datalake.naming import Bucket

from .perimeter import Perimeter, Policy, outsiders

SEALED_PREFIXES: dict[Bucket, tuple[str, ...]] = {
    # Records Firehose could not deliver are raw changes (PII in clear): nobody outside.
    Bucket.LANDING: (STREAM_ERRORS_PREFIX,),
    # Verdicts hold no values, but a forged "not PII" verdict would unmask a detected column.
    Bucket.LAKE: (BRONZE_PREFIX, SILVER_PREFIX, QUARANTINE_PREFIX, PII_VERDICT_PREFIX),
}
"""Prefixes no outsider may touch at all."""
INBOX_PREFIXES: dict[Bucket, tuple[str, ...]] = {Bucket.LANDING: (RAW_PREFIX,)}
"""Prefixes outsiders may upload to (producers, ``datalake seed upload``) but not read."""
UPLOAD_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
LISTABLE_PREFIXES: dict[Bucket, tuple[str, ...]] = {
    # Firehose names its error objects (stream, time, uuid): `datalake status` counts them.
    Bucket.LANDING: (STREAM_ERRORS_PREFIX,),
    Bucket.LAKE: (GOLD_PREFIX,),
}
"""Buckets whose listing outsiders are refused, but for these prefixes."""


def bucket_policy(
    *, purpose: Bucket, bucket_arn: str, key_arn: str, perimeter: Perimeter
) -> Policy:
    """TLS-only access; uploads may not ask for another encryption type or another key; the
    perimeter's denies on the bucket's sealed and inbox prefixes and on its listing.

    Uploads that send no encryption header are encrypted by the bucket default (the lake
    key), so they are allowed: requiring the header would break writers that rely on
    default encryption (S3 log delivery, pyiceberg, Spark).
    """
    objects = f"{bucket_arn}/*"
    statements: list[Policy] = [
        {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": condition,
        }
        for sid, condition in (
            ("DenyInsecureTransport", {"Bool": {"aws:SecureTransport": "false"}}),
            ("DenyOutdatedTls", {"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
        )
    ] + [
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # Only when the header is sent: a Deny with ...IfExists would also hold when it
            # is absent, and refuse every upload relying on the bucket default.
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                "Null": {"s3:x-amz-server-side-encryption": "false"},
            },
        },
        {
            "Sid": "DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        },
    ]
    statements += perimeter_statements(purpose, bucket_arn, perimeter)
    if purpose is Bucket.OBSERVER:
        statements.append(
            {
                "Sid": "AllowS3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ACCESS_LOGS_PREFIX}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": perimeter.account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def perimeter_statements(purpose: Bucket, bucket_arn: str, perimeter: Perimeter) -> list[Policy]:
    """The perimeter's denies on one bucket (none on artifacts and observer)."""
    out: list[Policy] = []
    sealed = [f"{bucket_arn}/{p}*" for p in SEALED_PREFIXES.get(purpose, ())]
    inbox = [f"{bucket_arn}/{p}*" for p in INBOX_PREFIXES.get(purpose, ())]
    for suffix, who in outsiders(perimeter):
        consumer = suffix == "ByConsumers"
        if sealed:
            out.append(_deny(f"SealLakeData{suffix}", "Action", ["s3:*"], sealed, who))
        if inbox and consumer:
            out.append(_deny(f"SealRawData{suffix}", "Action", ["s3:*"], inbox, who))
        elif inbox:
            # Producers upload raw files; nobody outside the lake reads, deletes or retags one.
            out.append(_deny(f"SealRawData{suffix}", "NotAction", list(UPLOAD_ACTIONS), inbox, who))
        if purpose in LISTABLE_PREFIXES:
            listing = _listing_condition(LISTABLE_PREFIXES[purpose])
            out.append(
                _deny(f"DenyListing{suffix}", "Action", list(LIST_ACTIONS), [bucket_arn], who)
                | {"Condition": {**who, **listing}}
            )
    return out


def _listing_condition(listable: Sequence[str]) -> dict[str, Any]:
    # A listing without a prefix, or with "", "b" or "bronze", returns sealed keys; only a
    # prefix inside a listable one is safe. A missing s3:prefix satisfies StringNotLike: denied.
    if not listable:
        return {}
    patterns = [pattern for p in listable for pattern in (p, f"{p}*")]
    return {"StringNotLike": {"s3:prefix": patterns}}


def _deny(
    sid: str, action_key: str, actions: list[str], resources: list[str], who: dict[str, Any]
) -> Policy:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        action_key: actions,
        "Resource": resources,
        "Condition": dict(who),
    }
