"""A stack's settings and its domain, validated together.

The settings name the domain file (``datalake:lake.domain``, relative to the Pulumi project's
directory; null is the example domain shipped with the library), and some settings name
the domain's tables and columns (``pii.strategies`` keys ``<table>.<column>``). The program
loads both with :func:`load_lake`, which reports every problem of either at once, each under
its config path (``datalake config validate`` reports the same through :func:`domain_path` and
:func:`domain_issues`)::

    datalake:lake.domain: no domain file at /proj/domain.yml (relative to ...)
    datalake:lake.pii.strategies.customer.mail: table customer of the domain support-tickets
        has no column 'mail'; its columns: customer_id, customer_name, email, region
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from datalake.contracts import PII_TYPES
from datalake.domain import Domain, DomainError, default_domain_path, load_domain
from datalake.settings import (
    LakeSettings,
    SettingsError,
    SettingsIssue,
    config_path,
    load_settings,
)
from datalake.settings_streaming import streaming_domain_issues
from datalake.streaming import cdc_tables

DOMAIN_SETTING = config_path("domain")
"""The setting naming the domain file: ``datalake:lake.domain``."""


def domain_path(domain: str | None, root: str | Path) -> Path:
    """The domain file a ``domain`` setting names: relative to the project directory
    ``root`` (absolute paths as they are); ``None`` is the example domain shipped with the
    library (``default_domain_path()``)."""
    if domain is None:
        return default_domain_path()
    return Path(root, domain).resolve()


def load_lake(
    config: Mapping[str, Any] | None,
    *,
    project: str | None = None,
    environment: str | None = None,
    root: str | Path = ".",
) -> tuple[LakeSettings, Domain]:
    """Validate a ``datalake:lake`` config object and the domain file it names, together.

    ``project`` and ``environment`` default the settings' (the Pulumi project and stack);
    ``root`` is the project directory the domain path is relative to. Raises
    :class:`~datalake.settings.SettingsError` listing every problem of the settings, of the
    domain file (under ``datalake:lake.domain``) and of settings naming what the domain lacks.
    """
    issues: list[SettingsIssue] = []
    settings: LakeSettings | None = None
    try:
        settings = load_settings(config, project=project, environment=environment)
    except SettingsError as error:
        issues.extend(error.issues)
    declared = settings.domain if settings is not None else (config or {}).get("domain")
    domain: Domain | None = None
    if declared is None or isinstance(declared, str):
        domain, problems = _read_domain(declared, root)
        issues.extend(problems)
    if settings is not None and domain is not None:
        issues.extend(domain_issues(settings, domain))
    if issues:
        raise SettingsError(issues)
    assert settings is not None and domain is not None
    return settings, domain


def _read_domain(
    declared: str | None, root: str | Path
) -> tuple[Domain | None, list[SettingsIssue]]:
    """The domain file's domain, or the issues that name ``datalake:lake.domain``."""
    path = domain_path(declared, root)
    if not path.is_file():
        where = (
            "the library's example domain"
            if declared is None
            else f"relative to the project directory {Path(root).resolve()}"
        )
        return None, [
            SettingsIssue(
                DOMAIN_SETTING,
                f"no domain file at {path} ({where}); allowed: the path of a domain YAML file, "
                "or null for the library's example",
                declared,
            )
        ]
    try:
        return load_domain(path), []
    except DomainError as error:
        return None, [
            SettingsIssue(DOMAIN_SETTING, f"{path}: {issue}", None) for issue in error.issues
        ]


def domain_issues(settings: LakeSettings, domain: Domain) -> list[SettingsIssue]:
    """Settings that name a table or column the domain lacks, each under its config path."""
    tables = ", ".join(domain.tables)
    issues: list[SettingsIssue] = []
    for path, table, column in table_references(settings):
        if table not in domain.tables:
            issues.append(
                SettingsIssue(
                    path,
                    f"the domain {domain.name} has no table {table!r}; its tables: {tables}",
                )
            )
        elif column is not None and column not in domain.tables[table].column_names:
            columns = ", ".join(domain.tables[table].column_names)
            issues.append(
                SettingsIssue(
                    path,
                    f"table {table} of the domain {domain.name} has no column {column!r}; "
                    f"its columns: {columns}",
                )
            )
    for where, message, value in streaming_domain_issues(
        settings.streaming, cdc_tables(domain.tables.values()), domain.name
    ):
        issues.append(SettingsIssue(config_path(*where), message, value))
    return issues


def table_references(settings: LakeSettings) -> Iterator[tuple[str, str, str | None]]:
    """Every setting that names a table of the domain: (config path, table, column or None).

    Today: the per-column masking strategies (``pii.strategies`` keys ``<table>.<column>``;
    PII-type keys name no table) and the freshness alarms (`observability.freshness_hours`).
    A new per-table setting adds its keys here.
    """
    for key in settings.pii.strategies:
        if key in PII_TYPES:
            continue
        table, _, column = key.partition(".")
        yield config_path("pii", "strategies", key), table, column or None
    for table in settings.observability.freshness_hours:
        yield config_path("observability", "freshness_hours", table), table, None
