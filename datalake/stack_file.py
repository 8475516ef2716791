"""Reads a Pulumi stack file (``Pulumi.<stack>.yaml``) into validated settings, without Pulumi."""

from __future__ import annotations

from pathlib import Path

import yaml

from datalake.settings import CONFIG_ROOT, LakeSettings, SettingsError, SettingsIssue, load_settings

DEFAULT_PROJECT = "datalake"


def stack_name(path: Path) -> str:
    """``dev`` for ``Pulumi.dev.yaml``."""
    name = path.name
    parts = name.split(".")
    if len(parts) < 3 or parts[0] != "Pulumi" or parts[-1] not in ("yaml", "yml"):
        raise SettingsError([SettingsIssue(str(path), "a stack file is named Pulumi.<stack>.yaml")])
    return ".".join(parts[1:-1])


def load_stack_file(path: Path, *, project: str = DEFAULT_PROJECT) -> LakeSettings:
    """Validate the ``datalake:lake`` block of a stack file, as ``pulumi up`` would."""
    stack = stack_name(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SettingsError([SettingsIssue(str(path), f"not valid YAML: {error}")]) from None
    config = (document.get("config") or {}) if isinstance(document, dict) else {}
    raw = config.get(CONFIG_ROOT)
    if raw is not None and not isinstance(raw, dict):
        raise SettingsError([SettingsIssue(CONFIG_ROOT, "must be a mapping of settings", raw)])
    return load_settings(raw, project=project, environment=stack)
