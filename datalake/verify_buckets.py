"""``datalake verify``: the lake buckets' encryption, public access block and TLS-only policy."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from datalake.verify import VerifyReport

PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def resolve_key_arn(kms: Any, key: str) -> str:
    """The key ARN of ``key`` (ARN, id or alias); ``key`` itself when KMS cannot say."""
    if not key:
        return key
    try:
        return str(kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"])
    except ClientError:
        return key


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def check_bucket(report: VerifyReport, s3: Any, bucket: str, key_arn: str) -> None:
    """SSE-KMS with the lake key and bucket keys; the public access block; TLS-only policy."""
    report.add(f"bucket-encryption:{bucket}", *_encryption(s3, bucket, key_arn))
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if not block.get(flag)]
        detail = f"off: {', '.join(off)}" if off else "all four flags on"
    except ClientError as error:
        off, detail = list(PUBLIC_ACCESS_FLAGS), f"no public access block ({_error_code(error)})"
    report.add(f"bucket-public-access-block:{bucket}", not off, detail)
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        tls = denies_insecure_transport(policy, bucket)
        detail = "denies requests without TLS" if tls else "does not deny requests without TLS"
    except ClientError as error:
        tls, detail = False, f"no bucket policy ({_error_code(error)})"
    report.add(f"bucket-tls-only:{bucket}", tls, detail)


def _encryption(s3: Any, bucket: str, key_arn: str) -> tuple[bool, str]:
    try:
        config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as error:
        return False, f"no default encryption ({_error_code(error)})"
    key_ids = (key_arn, key_arn.rsplit("/", 1)[-1])
    for rule in config.get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        algorithm, key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID")
        if algorithm != "aws:kms" or key not in key_ids:
            return False, f"{algorithm} with {key or 'no KMS key'}, not SSE-KMS with {key_arn}"
        if not rule.get("BucketKeyEnabled"):
            return False, f"SSE-KMS with {key_arn}, but bucket keys are off"
    if not config.get("Rules"):
        return False, "no default encryption rule"
    return True, f"SSE-KMS with {key_arn}, bucket keys on"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: Mapping[str, Any], bucket: str) -> bool:
    """Whether a bucket policy denies ``s3:*`` to everyone on the bucket and its objects when
    ``aws:SecureTransport`` is false."""
    wanted = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    for statement in _as_list(policy.get("Statement")):
        resources = {
            re.sub(r"^arn:[^:]+:", "arn:aws:", str(r)) for r in _as_list(statement.get("Resource"))
        }
        secure = (statement.get("Condition", {}).get("Bool") or {}).get("aws:SecureTransport")
        if (
            statement.get("Effect") == "Deny"
            and statement.get("Principal") in ("*", {"AWS": "*"})
            and {"s3:*", "*"} & set(_as_list(statement.get("Action")))
            and str(secure).lower() == "false"
            and wanted <= resources
        ):
            return True
    return False


# --- start roles ---------------------------------------------------------------------------
