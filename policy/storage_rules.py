"""S3 and KMS rules, named after the compliance-ready policies / AWS Config rules they mirror.

Buckets are configured by companion resources (``BucketServerSideEncryptionConfiguration``,
``BucketPublicAccessBlock``, ``BucketLogging``, ``BucketPolicy``), so the bucket rules are
stack rules that look the companions up by bucket name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from policy import iam
from policy.model import (
    BUCKET_LOGGING,
    BUCKET_POLICY,
    BUCKET_TYPES,
    KMS_KEY,
    PUBLIC_ACCESS_BLOCK,
    SSE_CONFIG,
    Finding,
    LakeResource,
    Stack,
    as_list,
)
from policy.rule import ResourceRule, StackRule

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KEY_MANAGEMENT_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:EnableKeyRotation")
"""What the account must keep being able to do on its key (else the key is unmanageable)."""


def _kms_rotation(key: LakeResource, _config: Mapping[str, Any]) -> list[str]:
    if key.get("enableKeyRotation") is True:
        return []
    return [f"{key.name}: set enable_key_rotation=True on the KMS key"]


def _kms_lockout(key: LakeResource, _config: Mapping[str, Any]) -> list[str]:
    out = []
    if key.get("bypassPolicyLockoutSafetyCheck") is True:
        out.append(f"{key.name}: remove bypass_policy_lockout_safety_check=True")
    policy = iam.document(key.get("policy"))
    if not policy:
        return out  # no policy: KMS applies the default key policy, which keeps the account
    root_statements = [
        s for s in iam.statements(policy) if s.allows and _names_account_root(s.principal)
    ]
    missing = [
        action
        for action in KEY_MANAGEMENT_ACTIONS
        if not any(
            s.matches_action(action) and "*" in s.resources and not s.condition
            for s in root_statements
        )
    ]
    if missing:
        out.append(
            f"{key.name}: the key policy must keep an unconditioned statement allowing the "
            f"account root (arn:aws:iam::<account>:root) kms:* on Resource '*' (missing: "
            f"{', '.join(missing)}), or nobody can manage the key once the policy is set"
        )
    return out


def _names_account_root(principal: Any) -> bool:
    if not isinstance(principal, Mapping):
        return False
    return any(str(p).endswith(":root") for p in as_list(principal.get("AWS")))


def _bucket_companion(stack: Stack, bucket: LakeResource, type_: str) -> list[LakeResource]:
    return stack.attached_to(bucket, type_, "bucket")


def _sse_customer_key(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    keys = stack.lake_key_identifiers()
    out = []
    for bucket in stack.of_type(*BUCKET_TYPES):
        rules = [
            rule
            for config in _bucket_companion(stack, bucket, SSE_CONFIG)
            for rule in as_list(config.get("rules"))
        ] + as_list((bucket.get("serverSideEncryptionConfiguration") or {}).get("rule"))
        defaults = [r.get("applyServerSideEncryptionByDefault") or {} for r in rules]
        if not any(
            d.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and d.get("kmsMasterKeyId") in keys
            for d in defaults
        ):
            out.append(
                Finding(
                    f"{bucket.name}: default encryption must be SSE-KMS with the lake's customer "
                    "key: declare a BucketServerSideEncryptionConfiguration with "
                    "sse_algorithm='aws:kms' and kms_master_key_id=<lake key ARN>",
                    bucket.urn,
                )
            )
    return out


def _sse_bucket_key(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    out = []
    for bucket in stack.of_type(*BUCKET_TYPES):
        rules = [
            rule
            for config in _bucket_companion(stack, bucket, SSE_CONFIG)
            for rule in as_list(config.get("rules"))
        ]
        if not rules or not all(rule.get("bucketKeyEnabled") is True for rule in rules):
            out.append(
                Finding(
                    f"{bucket.name}: set bucket_key_enabled=True in its encryption rules "
                    "(fewer KMS calls, and the key policy sees the bucket, not each object)",
                    bucket.urn,
                )
            )
    return out


def _public_access(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    out = []
    for bucket in stack.of_type(*BUCKET_TYPES):
        blocks = _bucket_companion(stack, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            out.append(Finding(f"{bucket.name}: declare a BucketPublicAccessBlock", bucket.urn))
            continue
        off = sorted({f for b in blocks for f in PUBLIC_ACCESS_FLAGS if b.get(f) is not True})
        if off:
            out.append(
                Finding(
                    f"{bucket.name}: its BucketPublicAccessBlock must set all four flags; "
                    f"set {', '.join(off)} to True",
                    bucket.urn,
                )
            )
    return out


def _access_logging(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    loggings = stack.of_type(BUCKET_LOGGING)
    targets = {str(lg.get("targetBucket")) for lg in loggings}
    out = []
    for bucket in stack.of_type(*BUCKET_TYPES):
        if bucket.get("bucket") in targets:
            continue  # the log bucket itself: logging it into itself would loop
        if not _bucket_companion(stack, bucket, BUCKET_LOGGING):
            out.append(
                Finding(
                    f"{bucket.name}: declare a BucketLogging delivering its server access logs "
                    "to the observer bucket",
                    bucket.urn,
                )
            )
    return out


def _ssl_only(stack: Stack, _config: Mapping[str, Any]) -> list[Finding]:
    out = []
    for bucket in stack.of_type(*BUCKET_TYPES):
        name = bucket.get("bucket")
        docs = [
            iam.document(p.get("policy")) for p in _bucket_companion(stack, bucket, BUCKET_POLICY)
        ]
        if name and any(denies_insecure_transport(doc, str(name)) for doc in docs):
            continue
        out.append(
            Finding(
                f"{bucket.name}: its bucket policy must deny s3:* on the bucket and its objects "
                "to Principal '*' when aws:SecureTransport is false",
                bucket.urn,
            )
        )
    return out


def denies_insecure_transport(doc: Mapping[str, Any], bucket_name: str) -> bool:
    """Whether a bucket policy denies every S3 action over plain HTTP, on the bucket and its
    objects (the ``s3-bucket-ssl-requests-only`` shape)."""
    arns = (f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*")
    for statement in iam.statements(doc):
        insecure = (statement.condition.get("Bool") or {}).get("aws:SecureTransport")
        if (
            statement.effect == "Deny"
            and statement.principal in ("*", {"AWS": "*"})
            and str(insecure).lower() == "false"
            and statement.matches_action("s3:GetObject")
            and statement.matches_action("s3:PutObject")
            and all(any(_arn_like(arn, r) for r in statement.resources) for arn in arns)
        ):
            return True
    return False


def _arn_like(arn: str, pattern: str) -> bool:
    # Partition-agnostic: arn:aws-us-gov:s3:::name is the same bucket.
    return fnmatch.fnmatchcase(arn, re.sub(r"^arn:[^:]+:", "arn:aws:", pattern))


RULES: list[ResourceRule | StackRule] = [
    ResourceRule(
        "aws-kms-key-enable-key-rotation",
        "KMS keys rotate their key material (AWS Config: cmk-backing-key-rotation-enabled).",
        (KMS_KEY,),
        _kms_rotation,
    ),
    ResourceRule(
        "aws-kms-key-disallow-bypass-policy-lockout-safety-check",
        "KMS keys keep the lockout safety check, and their key policy keeps the account root "
        "able to manage the key.",
        (KMS_KEY,),
        _kms_lockout,
    ),
    StackRule(
        "aws-s3-bucket-configure-server-side-encryption-customer-managed-key",
        "S3 buckets encrypt by default with SSE-KMS and the lake's customer-managed key.",
        _sse_customer_key,
    ),
    StackRule(
        "aws-s3-bucket-enable-server-side-encryption-bucket-key",
        "S3 buckets' default encryption uses S3 Bucket Keys.",
        _sse_bucket_key,
    ),
    StackRule(
        "s3-bucket-level-public-access-prohibited",
        "S3 buckets block public access with all four BucketPublicAccessBlock flags.",
        _public_access,
    ),
    StackRule(
        "s3-bucket-logging-enabled",
        "S3 buckets (except the access-log bucket) deliver server access logs.",
        _access_logging,
    ),
    StackRule(
        "s3-bucket-ssl-requests-only",
        "S3 bucket policies deny requests that do not use TLS.",
        _ssl_only,
    ),
]
