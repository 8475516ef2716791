"""Rules of the ``storage`` section that span its fields (lifecycle per layer prefix);
:func:`~datalake.settings.cross_field_issues` reports them with their config paths."""

from __future__ import annotations

from datalake.settings_sections import (
    INSTANT_ACCESS_CLASSES,
    Issue,
    LayerStorage,
    StorageSettings,
)


def storage_issues(storage: StorageSettings) -> list[Issue]:
    """Lifecycle rules of the ``storage`` section, each with its path under ``datalake:lake``."""
    issues: list[Issue] = []
    for name in (
        "raw",
        "bronze",
        "silver",
        "gold",
        "quarantine",
        "access_logs",
        "athena_results",
        "emr_logs",
    ):
        layer: LayerStorage = getattr(storage, name)
        iceberg = name in ("silver", "gold")
        if iceberg and layer.retention_days is not None:
            issues.append(
                (
                    ("storage", name, "retention_days"),
                    "Iceberg tables manage their own files; expiring them corrupts the table. "
                    "Allowed: null (use silver.snapshot_retention_days)",
                    layer.retention_days,
                )
            )
        for i, transition in enumerate(layer.transitions):
            path = ("storage", name, "transitions", i)
            if iceberg and transition.storage_class not in INSTANT_ACCESS_CLASSES:
                issues.append(
                    (
                        (*path, "storage_class"),
                        "Iceberg files must stay readable; allowed: "
                        + ", ".join(sorted(INSTANT_ACCESS_CLASSES)),
                        transition.storage_class,
                    )
                )
            if transition.storage_class in ("STANDARD_IA", "ONEZONE_IA") and transition.days < 30:
                issues.append(
                    (
                        (*path, "days"),
                        f"S3 needs at least 30 days before {transition.storage_class}",
                        transition.days,
                    )
                )
            if layer.retention_days is not None and transition.days >= layer.retention_days:
                issues.append(
                    (
                        (*path, "days"),
                        f"must be less than retention_days ({layer.retention_days})",
                        transition.days,
                    )
                )
        classes = [t.storage_class for t in layer.transitions]
        if len(set(classes)) != len(classes):
            issues.append(
                (
                    ("storage", name, "transitions"),
                    "each storage class may appear once",
                    classes,
                )
            )
    return issues
