"""The platform's settings: one validated model, read from the stack's structured config.

A stack file holds everything under one key::

    config:
      datalake:lake:
        environment: dev
        storage:
          raw:
            retention_days: 30

:func:`load_settings` validates it and reports every problem at once, each naming its config
path (``datalake:lake.storage.raw.retention_days``), the bad value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from datalake.contracts import PII_TYPES
from datalake.model_paths import model_at
from datalake.naming import (
    CONFIG_KEY,
    CONFIG_NAMESPACE,
    RESERVED_TAG_KEYS,
    LakeNames,
    Layer,
    name_problems,
)
from datalake.settings_dashboards import DashboardsSettings, dashboards_issues
from datalake.settings_observability import BudgetSettings, ObservabilitySettings

# The sections live in their own module; every one is importable from here too.
from datalake.settings_sections import (
    FARGATE_MEMORY,
    INSTANT_ACCESS_CLASSES,
    CatalogSettings,
    EmrServerlessSettings,
    EncryptionSettings,
    GlueName,
    GoldSettings,
    GovernanceSettings,
    IamPrincipalArn,
    IngestionSettings,
    LayerStorage,
    NetworkSettings,
    PiiSettings,
    ProtectionSettings,
    SilverSettings,
    StorageClass,
    StorageSettings,
    Transition,
    _Section,
)
from datalake.settings_storage import storage_issues
from datalake.settings_streaming import StreamingSettings, streaming_issues

__all__ = [  # the sections' names, re-exported
    "FARGATE_MEMORY",
    "INSTANT_ACCESS_CLASSES",
    "BudgetSettings",
    "CatalogSettings",
    "EmrServerlessSettings",
    "EncryptionSettings",
    "GlueName",
    "GoldSettings",
    "GovernanceSettings",
    "IamPrincipalArn",
    "IngestionSettings",
    "LayerStorage",
    "NetworkSettings",
    "ObservabilitySettings",
    "PiiSettings",
    "ProtectionSettings",
    "SilverSettings",
    "StorageClass",
    "StorageSettings",
    "StreamingSettings",
    "Transition",
]

CONFIG_ROOT = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
COLUMN_KEY = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
"""A ``<table>.<column>`` settings key; ``datalake.stack`` checks the domain has it."""
DEV_ENVIRONMENTS = frozenset({"dev", "local", "test"})
"""Environments treated as disposable: protection may be off and data buckets force-destroyed."""


class LakeSettings(_Section):
    """Root of the platform's settings (`datalake:lake` in a stack file)."""

    project: str = Field(
        "datalake",
        pattern=r"^[a-z][a-z0-9-]{1,23}$",
        description="Project name, first part of every physical name.",
    )
    environment: str = Field(
        "dev",
        pattern=r"^[a-z][a-z0-9]{1,11}$",
        description="Environment name; defaults to the Pulumi stack name.",
    )
    region: str = Field(
        "us-east-1", pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$", description="AWS region."
    )
    domain: str | None = Field(
        None,
        min_length=1,
        description="The domain file (tables, views, marts; see docs/domain.md), relative to "
        "the Pulumi project's directory; null uses the example domain shipped with the library "
        "(`examples/beer/domain.yaml`). Validated with these settings: a setting naming a table "
        "or column the domain lacks is an error.",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on every resource.")
    storage: StorageSettings = Field(StorageSettings(), description="Buckets and lifecycle.")
    encryption: EncryptionSettings = Field(EncryptionSettings(), description="KMS key.")
    catalog: CatalogSettings = Field(CatalogSettings(), description="Glue databases.")
    ingestion: IngestionSettings = Field(IngestionSettings(), description="Bronze ingestion.")
    network: NetworkSettings = Field(NetworkSettings(), description="Fargate networking.")
    observability: ObservabilitySettings = Field(
        ObservabilitySettings(), description="Logs and alarms."
    )
    pii: PiiSettings = Field(PiiSettings(), description="PII detection and masking.")
    silver: SilverSettings = Field(SilverSettings(), description="Silver pipeline.")
    gold: GoldSettings = Field(GoldSettings(), description="Gold marts and Athena.")
    streaming: StreamingSettings = Field(StreamingSettings(), description="Streaming CDC.")
    dashboards: DashboardsSettings = Field(DashboardsSettings(), description="Grafana.")
    governance: GovernanceSettings = Field(GovernanceSettings(), description="Lake Formation.")
    protection: ProtectionSettings = Field(ProtectionSettings(), description="Protection.")

    @property
    def is_dev(self) -> bool:
        """True for disposable environments (`dev`, `local`, `test`)."""
        return self.environment in DEV_ENVIRONMENTS

    @property
    def protect_stateful(self) -> bool:
        """Whether stateful resources get `protect` and `retain_on_delete`."""
        enabled = self.protection.enabled
        return (not self.is_dev) if enabled is None else enabled

    @property
    def names(self) -> LakeNames:
        """The naming family of this deployment."""
        return LakeNames(self.project, self.environment, self.region, self.storage.bucket_suffix)

    def section_data(self, section: str) -> dict[str, Any]:
        """One section as the plain data a component takes (its stack-file keys)."""
        value = getattr(self, section)
        if not isinstance(value, BaseModel):
            raise KeyError(f"{section!r} is not a settings section")
        return value.model_dump(mode="json")

    def database_name(self, layer: Layer) -> str:
        """Glue database of a layer (explicit setting or derived name)."""
        explicit = getattr(self.catalog, f"{layer.value}_database", None)
        return explicit or self.names.database(layer)


@dataclass(frozen=True)
class SettingsIssue:
    """One problem in a config: where, what was given, and what is allowed."""

    path: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{self.path}: {self.message}{shown}"


class SettingsError(ValueError):
    """All problems of one config, reported at once."""

    def __init__(self, issues: list[SettingsIssue]):
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid settings ({len(issues)} problem(s)):\n{lines}")


def config_path(*parts: str | int) -> str:
    """``datalake:lake.a.b[0].c`` from location parts."""
    path = CONFIG_ROOT
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def load_settings(
    config: Mapping[str, Any] | None, *, project: str | None = None, environment: str | None = None
) -> LakeSettings:
    """Validate a ``datalake:lake`` config object and return the settings.

    ``project`` and ``environment`` are defaults (the Pulumi project and stack names) used
    when the config does not set them. Raises :class:`SettingsError` listing every problem.
    """
    raw: dict[str, Any] = dict(config or {})
    if project is not None:
        raw.setdefault("project", project)
    if environment is not None:
        raw.setdefault("environment", environment)
    try:
        settings = LakeSettings.model_validate(raw)
    except ValidationError as error:
        issues = [_issue_from_pydantic(e) for e in error.errors()]
        issues.extend(_cross_field_issues_of_valid_sections(raw, error))
        raise SettingsError(issues) from None
    issues = cross_field_issues(settings)
    if issues:
        raise SettingsError(issues)
    return settings


def _cross_field_issues_of_valid_sections(
    raw: dict[str, Any], error: ValidationError
) -> list[SettingsIssue]:
    """Cross-field rules over the sections that did validate, so one run reports everything."""
    bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    try:
        partial = LakeSettings.model_validate({k: v for k, v in raw.items() if k not in bad})
    except ValidationError:
        return []
    skip = set(bad)
    if bad & _NAME_INPUTS:
        skip.add("project")  # derived names are reported on `project`
    return [i for i in cross_field_issues(partial) if _section_of(i.path) not in skip]


_NAME_INPUTS = frozenset({"project", "environment", "region", "storage"})


def _section_of(path: str) -> str:
    return path.removeprefix(CONFIG_ROOT + ".").split(".")[0].split("[")[0]


def _issue_from_pydantic(error: Mapping[str, Any]) -> SettingsIssue:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_at(loc[:-1]))
        return SettingsIssue(config_path(*loc), f"unknown key; allowed keys here: {allowed}")
    message = error["msg"]
    if error["type"] == "string_pattern_mismatch":
        message = f"must match {error['ctx']['pattern']}"
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return SettingsIssue(config_path(*loc), message, error.get("input"))


def _fields_at(loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the model found by walking ``loc`` from the root model."""
    model = model_at(LakeSettings, loc)
    return sorted(model.model_fields) if model is not None else []


def cross_field_issues(settings: LakeSettings) -> list[SettingsIssue]:
    """Rules that involve more than one field, each reported with its config path."""
    issues: list[SettingsIssue] = []
    add = issues.append
    for problem in name_problems(settings.names):
        add(SettingsIssue(config_path("project"), f"{problem}; shorten project or environment"))
    for key, value in settings.tags.items():
        if key in RESERVED_TAG_KEYS:
            add(SettingsIssue(config_path("tags", key), "reserved tag key, set by the platform"))
        elif not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            add(SettingsIssue(config_path("tags"), "tag keys are 1-128 chars, not 'aws:'", key))
        if len(value) > 256:
            add(SettingsIssue(config_path("tags", key), "tag values are at most 256 chars"))

    for where, message, given in storage_issues(settings.storage):
        add(SettingsIssue(config_path(*where), message, given))
    for where, message, given in streaming_issues(settings.streaming, settings.network.subnet_ids):
        add(SettingsIssue(config_path(*where), message, given))
    for where, message, given in dashboards_issues(settings.dashboards):
        add(SettingsIssue(config_path(*where), message, given))

    cpu, memory = settings.ingestion.ecs_cpu, settings.ingestion.ecs_memory_mb
    low, high, step = FARGATE_MEMORY[cpu]
    if not (low <= memory <= high and (memory - low) % step == 0):
        add(
            SettingsIssue(
                config_path("ingestion", "ecs_memory_mb"),
                f"Fargate with ecs_cpu={cpu} allows {low}-{high} MiB in steps of {step}",
                memory,
            )
        )

    for key in settings.pii.strategies:
        if key not in PII_TYPES and not COLUMN_KEY.match(key):
            add(
                SettingsIssue(
                    config_path("pii", "strategies", key),
                    "expected <table>.<column> of the domain or a PII type: "
                    + ", ".join(PII_TYPES),
                )
            )

    governance = settings.governance
    if governance.data_lake_settings == "external":
        if governance.admins:
            add(
                SettingsIssue(
                    config_path("governance", "admins"),
                    "admins are set by the stack that manages the Lake Formation settings; "
                    "with data_lake_settings 'external' allowed: [] (or set it to 'managed')",
                    governance.admins,
                )
            )
        if governance.permission_mode == "iam-compatible":
            add(
                SettingsIssue(
                    config_path("governance", "permission_mode"),
                    "the default permissions are account settings; with data_lake_settings "
                    "'external' allowed: 'lake-formation' (or set it to 'managed')",
                    governance.permission_mode,
                )
            )

    network = settings.network
    if bool(network.subnet_ids) != bool(network.security_group_ids):
        add(
            SettingsIssue(
                config_path(
                    "network", "security_group_ids" if network.subnet_ids else "subnet_ids"
                ),
                "give both subnet_ids and security_group_ids, or neither (a VPC is created)",
            )
        )

    if not settings.is_dev:
        env = settings.environment
        if settings.protection.enabled is False:
            add(
                SettingsIssue(
                    config_path("protection", "enabled"),
                    f"protection cannot be turned off in '{env}'; allowed outside "
                    f"{sorted(DEV_ENVIRONMENTS)}: true or null",
                    False,
                )
            )
        if settings.storage.force_destroy:
            add(
                SettingsIssue(
                    config_path("storage", "force_destroy"),
                    f"data buckets cannot be force-destroyed in '{env}'; allowed: false",
                    True,
                )
            )
        if not settings.storage.versioning:
            add(
                SettingsIssue(
                    config_path("storage", "versioning"),
                    f"versioning is required in '{env}'; allowed: true",
                    False,
                )
            )
    return issues


def settings_json_schema() -> dict[str, Any]:
    """JSON Schema of the ``datalake:lake`` config object."""
    schema = LakeSettings.model_json_schema()
    schema["title"] = CONFIG_ROOT
    return schema
