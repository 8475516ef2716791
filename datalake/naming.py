"""Physical names and tags, derived in one place from project + environment + purpose.

Every component and the local runner call these functions, so a name can never drift between
the Pulumi program, the workloads and the local emulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

CONFIG_NAMESPACE = "datalake"
"""Pulumi config namespace (the project name in ``Pulumi.yaml``)."""
CONFIG_KEY = "lake"
"""Structured config key holding the whole platform's settings."""


class Layer(StrEnum):
    """Lake layers, used in prefixes, database names and the ``layer`` tag."""

    RAW = "raw"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


class Bucket(StrEnum):
    """The buckets of a lake, by purpose."""

    LANDING = "landing"
    LAKE = "lake"
    ARTIFACTS = "artifacts"
    OBSERVER = "observer"


# Maximum lengths AWS allows, per kind of name.
NAME_LIMITS: dict[str, int] = {
    "bucket": 63,
    "iam-role": 64,
    "lambda-function": 64,
    "dynamodb-table": 255,
    "glue-database": 255,
    "state-machine": 80,
    "kms-alias": 256,
    "ecs-cluster": 255,
    "emr-application": 64,
    "athena-workgroup": 128,
    "secret": 512,
    "pipe": 64,
    "sqs-queue": 80,
    "schedule": 64,
    "event-rule": 64,
    "iam-user": 64,
    "iam-group": 128,
    "event-bus": 256,
}

# Resource purposes the platform declares (now and in the layers built on the foundation);
# settings validation derives every one of these names so a too-long project/environment
# is rejected before any resource is declared.
PLANNED_RESOURCES: tuple[tuple[str, str], ...] = (
    ("lakeformation-registration", "iam-role"),
    ("processing-controller", "iam-role"),
    ("processing-controller", "lambda-function"),
    ("bronze-ingest-lite", "iam-role"),
    ("bronze-ingest-lite", "lambda-function"),
    ("bronze-ingest-mass-task", "iam-role"),
    ("bronze-ingest-mass-execution", "iam-role"),
    ("bronze-ingestion", "iam-role"),
    ("bronze-ingestion", "state-machine"),
    ("bronze-pipe", "iam-role"),
    ("bronze-pipe", "pipe"),
    ("bronze-ingest-dlq", "sqs-queue"),
    ("bronze-ingest", "ecs-cluster"),
    ("ingestion-flow-logs", "iam-role"),
    ("processing-control", "dynamodb-table"),
    ("silver-pipeline", "state-machine"),
    ("gold-marts", "state-machine"),
    ("silver-spark", "emr-application"),
    ("silver-spark-job", "iam-role"),
    ("silver-plan", "lambda-function"),
    ("silver-plan", "iam-role"),
    ("silver-finish", "lambda-function"),
    ("silver-finish", "iam-role"),
    ("silver-fail", "lambda-function"),
    ("silver-fail", "iam-role"),
    ("silver-gold-records", "lambda-function"),
    ("silver-gold-records", "iam-role"),
    ("silver-pipeline", "iam-role"),
    ("silver-pipeline", "schedule"),
    ("silver-pipeline-start", "iam-role"),
    ("silver-maintenance", "state-machine"),
    ("silver-maintenance", "iam-role"),
    ("silver-maintenance", "schedule"),
    ("silver-maintenance-start", "iam-role"),
    ("gold-spark", "emr-application"),
    ("gold-spark-job", "iam-role"),
    ("gold-plan", "lambda-function"),
    ("gold-plan", "iam-role"),
    ("gold-finish", "lambda-function"),
    ("gold-finish", "iam-role"),
    ("gold-fail", "lambda-function"),
    ("gold-fail", "iam-role"),
    ("gold-marts", "iam-role"),
    ("gold-marts", "schedule"),
    ("gold-marts-start", "iam-role"),
    ("gold-after-silver", "event-rule"),
    ("gold-after-silver-dlq", "sqs-queue"),
    ("silver-pipeline-schedule-dlq", "sqs-queue"),
    ("silver-maintenance-schedule-dlq", "sqs-queue"),
    ("gold-marts-schedule-dlq", "sqs-queue"),
    ("lake", "event-bus"),
    ("gold-after-silver", "iam-role"),
    ("gold-consumers", "athena-workgroup"),
    ("gold-consumer", "iam-role"),
    ("gold-consumers", "iam-group"),
    ("gold-demo", "iam-user"),
    ("pii-hmac-key", "secret"),
)

_PARTITIONS: tuple[tuple[str, str], ...] = (
    ("us-gov-", "aws-us-gov"),
    ("cn-", "aws-cn"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
)
_DNS_SUFFIXES = {
    "aws-cn": "amazonaws.com.cn",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
}


def partition_of(region: str) -> str:
    """The ARN partition of ``region``: ``aws-us-gov`` for GovCloud, ``aws-cn`` for China,
    ``aws-iso``/``aws-iso-b`` for the isolated regions, else ``aws`` (no AWS call needed)."""
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


def service_endpoint(service: str, region: str) -> str:
    """A regional service endpoint as ``kms:ViaService`` names it (``s3.<region>.<suffix>``)."""
    return f"{service}.{region}.{_DNS_SUFFIXES.get(partition_of(region), 'amazonaws.com')}"


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class LakeNames:
    """Derives every physical name of one lake deployment (one project + environment)."""

    project: str
    environment: str
    region: str
    bucket_suffix: str | None = None

    @property
    def partition(self) -> str:
        """The ARN partition of the lake's region (``aws``, ``aws-us-gov``, ``aws-cn``...)."""
        return partition_of(self.region)

    def arn(self, service: str, account: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region}:{account}:{resource}"

    @property
    def event_bus(self) -> str:
        """The lake's own EventBridge bus (layer-to-layer events)."""
        return self.resource("lake")

    @property
    def prefix(self) -> str:
        """``<project>-<environment>``: the start of every hyphenated name."""
        return f"{self.project}-{self.environment}"

    def resource(self, purpose: str) -> str:
        """Name of a regional resource (role, function, table, state machine...)."""
        return f"{self.prefix}-{purpose}"

    def bucket(self, purpose: Bucket | str) -> str:
        """Globally unique S3 bucket name: region and optional suffix keep it unique."""
        parts = [self.prefix, str(purpose), self.region]
        if self.bucket_suffix:
            parts.append(self.bucket_suffix)
        return "-".join(parts)

    def database(self, layer: Layer | str) -> str:
        """Glue database name (Athena needs lowercase letters, digits and underscores)."""
        return f"{self.project}_{self.environment}_{layer}".replace("-", "_")

    @property
    def kms_alias(self) -> str:
        """Alias of the lake's customer-managed KMS key."""
        return f"alias/{self.prefix}-lake"

    @property
    def control_table(self) -> str:
        """DynamoDB table holding one control record per processed object."""
        return self.resource("processing-control")

    def all_names(self) -> list[tuple[str, str, str]]:
        """Every planned physical name, as ``(purpose, kind, name)``."""
        names = [(b.value, "bucket", self.bucket(b)) for b in Bucket]
        names += [(x.value, "glue-database", self.database(x)) for x in Layer if x is not Layer.RAW]
        names.append(("lake", "kms-alias", self.kms_alias))
        names += [(p, kind, self.resource(p)) for p, kind in PLANNED_RESOURCES]
        return names


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 bucket name, or ``None`` if it is."""
    if not 3 <= len(name) <= NAME_LIMITS["bucket"]:
        return f"bucket name '{name}' is {len(name)} characters; S3 allows 3-63"
    if not _BUCKET_RE.match(name):
        return (
            f"bucket name '{name}' must use lowercase letters, digits and hyphens, "
            "and start and end with a letter or digit"
        )
    if "--" in name or _IP_RE.match(name) or name.startswith("xn--") or name.endswith("-s3alias"):
        return f"bucket name '{name}' uses a form S3 reserves"
    return None


def name_problems(names: LakeNames) -> list[str]:
    """Every derived name that AWS would reject, with the reason."""
    problems: list[str] = []
    for label, kind, name in names.all_names():
        if kind == "bucket":
            problem = bucket_name_problem(name)
            if problem:
                problems.append(problem)
        elif len(name) > NAME_LIMITS[kind]:
            problems.append(
                f"{kind} {label} name '{name}' is {len(name)} characters; "
                f"AWS allows {NAME_LIMITS[kind]} for a {kind}"
            )
    return problems


def default_tags(project: str, environment: str, extra: dict[str, str]) -> dict[str, str]:
    """Tags every resource carries (the AWS provider's ``default_tags``)."""
    return {**extra, "project": project, "environment": environment, "managed-by": "pulumi"}


def layer_tags(layer: Layer | str) -> dict[str, str]:
    """The ``layer`` tag of a resource that belongs to one layer of the lake."""
    return {"layer": str(layer)}


RESERVED_TAG_KEYS = frozenset({"project", "environment", "managed-by", "layer"})
