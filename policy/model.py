"""What a rule sees: one resource (type, name, props, protect, provider) or the whole stack.

The rules are pure functions over these views; :mod:`policy.pack` builds the views from
``pulumi_policy``'s ``ResourceValidationArgs`` / ``PolicyResource`` and the tests from the
mocked program's records. Property names are the provider's (camelCase), as the engine sends
them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEV_ENVIRONMENTS = frozenset({"dev", "local", "test"})
"""Disposable environments (the same set as ``datalake.settings.DEV_ENVIRONMENTS``)."""

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_TYPES = (BUCKET, BUCKET_V2)
SSE_CONFIG = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
LF_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
LF_TAG = "aws:lakeformation/lfTag:LfTag"
LF_RESOURCE = "aws:lakeformation/resource:Resource"
SECRET = "aws:secretsmanager/secret:Secret"


@dataclass(frozen=True)
class LakeResource:
    """One resource as a rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str | None = None
    dependencies: Sequence[str] = ()
    provider_props: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A property, or ``default`` when it is not set."""
        value = self.props.get(key)
        return default if value is None else value

    def json_prop(self, key: str) -> Any:
        """A property that holds a JSON document (policies), parsed; ``None`` when unset."""
        value = self.props.get(key)
        if value is None or value == "":
            return None
        return json.loads(value) if isinstance(value, str) else value

    def environment(self, config: Mapping[str, Any]) -> str | None:
        """The lake environment: pack config ``environment``, else the provider's
        ``environment`` default tag (``datalake.naming.default_tags``), else ``PULUMI_STACK``."""
        configured = config.get("environment")
        if configured:
            return str(configured)
        tags = self.provider_props.get("defaultTags")
        if isinstance(tags, str):
            try:
                tags = json.loads(tags)
            except json.JSONDecodeError:
                tags = None
        if isinstance(tags, Mapping):
            environment = (tags.get("tags") or {}).get("environment")
            if environment:
                return str(environment)
        return os.environ.get("PULUMI_STACK")


@dataclass(frozen=True)
class Finding:
    """A violation a stack rule found, on one resource (``urn``) or the whole stack."""

    message: str
    urn: str | None = None


class Stack:
    """Every resource of the stack, with the look-ups the stack rules share."""

    def __init__(self, resources: Iterable[LakeResource]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}

    def __iter__(self) -> Iterator[LakeResource]:
        return iter(self.resources)

    def of_type(self, *types: str) -> list[LakeResource]:
        """Every resource of one of ``types``."""
        return [r for r in self.resources if r.type in types]

    def attached_to(self, target: LakeResource, type_: str, key: str) -> list[LakeResource]:
        """Resources of ``type_`` whose ``key`` property names ``target`` (its physical name,
        id or ARN) or that depend on it: a bucket's encryption, a role's inline policies."""
        names = identifiers(target)
        if not names:
            return [r for r in self.of_type(type_) if target.urn in r.dependencies]
        return [r for r in self.of_type(type_) if r.get(key) in names]

    def lake_key_identifiers(self) -> set[str]:
        """Ways a property can name one of the stack's KMS keys: ARN, key id, alias name/ARN."""
        found: set[str] = set()
        for key in self.of_type(KMS_KEY):
            found |= identifiers(key, "arn", "keyId", "id")
        for alias in self.of_type(KMS_ALIAS):
            if alias.get("targetKeyId") in found or alias.get("targetKeyArn") in found:
                found |= identifiers(alias, "name", "arn")
        return found


def identifiers(resource: LakeResource, *keys: str) -> set[str]:
    """The string values of ``keys`` (default: the usual name, id and ARN properties)."""
    keys = keys or ("bucket", "name", "arn", "id", "keyId")
    return {str(v) for k in keys if isinstance(v := resource.props.get(k), str) and v}


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list (``None`` is empty)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
