"""What every layer builds on: the lake's identity and its foundation resources, by reference.

``__main__.py`` builds one :class:`LakeFoundation` from the foundation components (storage,
catalog, control table, governance) and the lake's domain, and hands it to each layer component,
with that layer's own settings section. Both are plain typed dictionaries, so Pulumi's component
provider can serve the layer components to programs in any Pulumi language. The domain travels as
its canonical document (``domain``, read back with :func:`foundation_domain`) and as the URI the
workloads read it from (``domain_uri``, the catalog's published copy).
"""

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError

from datalake.domain import Domain, DomainError
from datalake.naming import LakeNames
from datalake.settings import SettingsError, SettingsIssue, config_path

if TYPE_CHECKING:
    from .catalog import LakeCatalog
    from .control_table import ProcessingControlTable
    from .governance import LakeGovernance
    from .storage import LakeStorage


class LakeIdentity(TypedDict):
    """How every physical name and tag of one lake deployment is derived."""

    project: str
    """Project part of every name (``<project>-<environment>-...``)."""
    environment: str
    """Environment part of every name (the stack: ``dev``, ``prod``...)."""
    region: str
    """AWS region of the lake."""
    bucket_suffix: NotRequired[str]
    """Extra part that keeps the globally unique bucket names free (e.g. the account id)."""
    protect: bool
    """Whether resources that hold data are protected and retained on delete."""
    log_retention_days: int
    """Retention of every workload's CloudWatch log group."""
    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic every alarm notifies: ``observability.alarm_topic_arn`` or the one the program
    creates (``LakeAlarmTopic``); none: alarms only show in CloudWatch."""


class WorkloadDefaults(TypedDict):
    """Lake-wide conventions every workload follows (from the ``ingestion`` settings)."""

    lambda_runtime: str
    """Python runtime of every Lambda (``python3.12``...)."""
    lambda_architecture: str
    """CPU architecture of every Lambda (``arm64`` or ``x86_64``)."""
    max_attempts: int
    """Attempts of a file, a table merge or a mart before it stays in error."""
    retry_interval_seconds: int
    """First wait before a retry."""
    retry_backoff_rate: float
    """Multiplier of the wait between retries."""
    lease_seconds: int
    """How long a claimed control record belongs to its worker."""


class LakeFoundation(TypedDict):
    """The foundation resources a layer component uses, by name and ARN."""

    lake: LakeIdentity
    """The lake's identity: names, protection, log retention, alarm topic."""
    workloads: WorkloadDefaults
    """Lake-wide workload conventions: Lambda runtime, retries, leases."""
    kms_key_arn: pulumi.Input[str]
    """The lake's customer-managed KMS key."""
    landing_bucket_name: pulumi.Input[str]
    """Landing bucket (``raw/``)."""
    landing_bucket_arn: pulumi.Input[str]
    """Landing bucket ARN."""
    lake_bucket_name: pulumi.Input[str]
    """Lake bucket (``bronze/``, ``silver/``, ``gold/``, ``quarantine/``)."""
    lake_bucket_arn: pulumi.Input[str]
    """Lake bucket ARN."""
    artifacts_bucket_name: pulumi.Input[str]
    """Artifacts bucket (job code, run manifests)."""
    artifacts_bucket_arn: pulumi.Input[str]
    """Artifacts bucket ARN."""
    observer_bucket_name: pulumi.Input[str]
    """Observer bucket (access logs, Athena results, Spark event logs)."""
    observer_bucket_arn: pulumi.Input[str]
    """Observer bucket ARN."""
    control_table_name: pulumi.Input[str]
    """Processing control table (DynamoDB)."""
    control_table_arn: pulumi.Input[str]
    """Processing control table ARN."""
    control_stream_arn: pulumi.Input[str]
    """The control table's stream ARN."""
    bronze_database_name: pulumi.Input[str]
    """Bronze Glue database."""
    silver_database_name: pulumi.Input[str]
    """Silver Glue database."""
    gold_database_name: pulumi.Input[str]
    """Gold Glue database."""
    lake_formation_ready: pulumi.Input[str]
    """Resolves once the Lake Formation admins and the registered location exist: every grant,
    LF-Tag and tag assignment waits for it."""
    domain: dict[str, Any]
    """The lake's domain (tables, views, marts) as its canonical document
    (``datalake.domain.Domain.to_document()``): every layer builds its tables from it."""
    domain_uri: pulumi.Input[str]
    """Where the workloads read that document (``s3://<artifacts>/domain/<digest>.json``,
    ``LakeCatalog.domain_uri``); every workload's ``DATALAKE_DOMAIN``."""


def lake_foundation(
    lake: LakeIdentity,
    workloads: WorkloadDefaults,
    *,
    storage: "LakeStorage",
    control: "ProcessingControlTable",
    governance: "LakeGovernance",
    catalog: "LakeCatalog",
    domain: Mapping[str, Any],
) -> LakeFoundation:
    """The foundation reference, from the four foundation components and the domain document
    the catalog published."""
    return LakeFoundation(
        lake=lake,
        workloads=workloads,
        kms_key_arn=storage.key_arn,
        landing_bucket_name=storage.landing_bucket_name,
        landing_bucket_arn=storage.landing_bucket_arn,
        lake_bucket_name=storage.lake_bucket_name,
        lake_bucket_arn=storage.lake_bucket_arn,
        artifacts_bucket_name=storage.artifacts_bucket_name,
        artifacts_bucket_arn=storage.artifacts_bucket_arn,
        observer_bucket_name=storage.observer_bucket_name,
        observer_bucket_arn=storage.observer_bucket_arn,
        control_table_name=control.table_name,
        control_table_arn=control.table_arn,
        control_stream_arn=control.stream_arn,
        bronze_database_name=catalog.bronze_database_name,
        silver_database_name=catalog.silver_database_name,
        gold_database_name=catalog.gold_database_name,
        lake_formation_ready=governance.lake_formation_ready,
        domain=dict(domain),
        domain_uri=catalog.domain_uri,
    )


def foundation_domain(foundation: LakeFoundation) -> Domain:
    """The foundation's domain, validated once per document (a bad one fails the program
    with every problem, under ``foundation.domain``)."""
    return _domain_of(json.dumps(foundation["domain"], sort_keys=True))


@functools.lru_cache(maxsize=4)
def _domain_of(document: str) -> Domain:
    try:
        return Domain.from_document(json.loads(document))
    except DomainError as error:
        raise pulumi.RunError(f"foundation.domain: {error}") from None


def lake_identity(settings: Any) -> LakeIdentity:
    """The identity of a validated :class:`~datalake.settings.LakeSettings`."""
    identity = LakeIdentity(
        project=settings.project,
        environment=settings.environment,
        region=settings.region,
        protect=settings.protect_stateful,
        log_retention_days=settings.observability.log_retention_days,
    )
    if settings.storage.bucket_suffix:
        identity["bucket_suffix"] = settings.storage.bucket_suffix
    if settings.observability.alarm_topic_arn:
        identity["alarm_topic_arn"] = settings.observability.alarm_topic_arn
    return identity


def workload_defaults(settings: Any) -> WorkloadDefaults:
    """The workload conventions of a validated :class:`~datalake.settings.LakeSettings`."""
    ingestion = settings.ingestion
    return WorkloadDefaults(
        lambda_runtime=ingestion.lambda_runtime,
        lambda_architecture=ingestion.lambda_architecture,
        max_attempts=ingestion.max_attempts,
        retry_interval_seconds=ingestion.retry_interval_seconds,
        retry_backoff_rate=ingestion.retry_backoff_rate,
        lease_seconds=ingestion.lease_seconds,
    )


def names_of(lake: LakeIdentity) -> LakeNames:
    """The name deriver of a lake identity."""
    return LakeNames(
        lake["project"], lake["environment"], lake["region"], lake.get("bucket_suffix")
    )


def lf_tag_key(lake: LakeIdentity, tag: str) -> str:
    """An LF-Tag key of this lake (``<project>-<env>-<tag>``): tag keys are account-wide, so
    two lakes of one account must not share one (a grant on one would match the other)."""
    return names_of(lake).resource(tag)


def alarm_actions(lake: LakeIdentity) -> list[pulumi.Input[str]]:
    """Where alarms notify: the lake's topic, if any."""
    topic = lake.get("alarm_topic_arn")
    return [topic] if topic else []


T = TypeVar("T")


def after(ready: pulumi.Input[Any], value: pulumi.Input[T]) -> pulumi.Output[T]:
    """``value``, carrying a dependency on ``ready`` (and on the resources behind it)."""
    return pulumi.Output.all(ready, value).apply(lambda v: v[1])


def after_lake_formation(foundation: LakeFoundation, value: pulumi.Input[T]) -> pulumi.Output[T]:
    """``value``, carrying a dependency on Lake Formation readiness.

    A resource that takes this output as an input is created after the Lake Formation admins and
    the location registration, with no ``depends_on`` on a component it would otherwise need.
    """
    return after(foundation["lake_formation_ready"], value)


M = TypeVar("M", bound=BaseModel)


def section_settings(model: type[M], section: str, value: Mapping[str, Any] | None) -> M:
    """Validate one settings section given as plain data; the error names its stack path."""
    try:
        return model.model_validate(dict(value or {}))
    except ValidationError as error:
        issues = [
            SettingsIssue(
                config_path(section, *e["loc"]),
                e["msg"],
                e.get("input"),
            )
            for e in error.errors()
        ]
        raise pulumi.RunError(str(SettingsError(issues))) from None
