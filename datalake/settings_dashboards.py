"""The ``dashboards`` settings section: the lake's Grafana dashboards on AWS (off by default).

``datalake/settings.py`` composes it into :class:`~datalake.settings.LakeSettings`;
:func:`dashboards_issues` holds its rules that span fields (reported with their config path).
The component is ``components/dashboards.py`` (``datalake:index:LakeDashboards``); the panels
come from ``datalake/dashboards``.

Either an Amazon Managed Grafana workspace is created (``workspace``, the default) with a
service account whose token the Grafana provider uses (``token``), or an existing Grafana is
used (``existing``: its URL and a Secrets Manager secret holding an API token).

Token rotation (created workspace): the token lives ``token.seconds_to_live`` seconds (at most
30 days, Amazon Managed Grafana's limit). Change ``token.rotation`` (any new label, e.g. the
date) — or the lifetime — and run ``pulumi up`` before it expires: the token is replaced (a new
one is issued first and the old one deleted), and the Grafana provider uses the new one in the
same update. An expired token fails every Grafana operation of ``pulumi up``/``preview`` with
401: rotate it (``--target`` the token first if the preview itself fails).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from datalake.settings_sections import _Section

SecretArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
]
SignIn = Literal["AWS_SSO", "SAML"]
"""How people sign in to a workspace."""
IdentityStoreId = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,47}$")]
ANALYTICS_TIME_FROM = "now-2y"
"""The analytics dashboards' default time range starts two years back: 24 monthly periods."""
MAX_TOKEN_SECONDS = 2_592_000
"""Amazon Managed Grafana's longest service account token lifetime: 30 days."""


class GrafanaWorkspaceSettings(_Section):
    """The Amazon Managed Grafana workspace the lake creates (its role reads the lake's
    Athena workgroup, the gold catalog and CloudWatch, nothing else)."""

    authentication_providers: list[SignIn] = Field(
        default_factory=lambda: list[SignIn](["AWS_SSO"]),
        min_length=1,
        description="How people sign in: `AWS_SSO` (IAM Identity Center, enabled in the "
        "account) and/or `SAML` (configured on the workspace afterwards).",
    )
    grafana_version: Literal["10.4"] = Field(
        "10.4",
        description="Grafana version of the workspace (the dashboards are built with the "
        "Grafana 10 schema of grafana-foundation-sdk).",
    )
    admin_group_ids: list[IdentityStoreId] = Field(
        default_factory=list,
        description="IAM Identity Center group ids made workspace admins (AWS_SSO).",
    )
    viewer_group_ids: list[IdentityStoreId] = Field(
        default_factory=list,
        description="IAM Identity Center group ids that may view the dashboards (AWS_SSO).",
    )


class ServiceAccountTokenSettings(_Section):
    """The token the Grafana provider deploys with (a created workspace's service account)."""

    seconds_to_live: int = Field(
        MAX_TOKEN_SECONDS,
        ge=60,
        le=MAX_TOKEN_SECONDS,
        description="Token lifetime in seconds (at most 30 days); `pulumi up` needs a valid "
        "one. Changing it issues a new token.",
    )
    rotation: str = Field(
        "1",
        pattern=r"^[A-Za-z0-9-]{1,32}$",
        description="Rotation label, part of the token's name: change it (e.g. to today's "
        "date) and run `pulumi up` to issue a new token before the old one expires.",
    )


class ExistingGrafanaSettings(_Section):
    """A Grafana that exists already (no workspace, role or service account is created)."""

    url: str = Field(
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?$",
        description="The workspace URL (`https://g-123.grafana-workspace.<region>.amazonaws.com`).",
    )
    token_secret_arn: SecretArn = Field(
        description="Secrets Manager secret whose value is a Grafana API token (service "
        "account token, Admin role) for that URL; the deployer reads it."
    )
    data_source_role_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
        description="Role the data sources assume (it needs the lake's Athena workgroup and "
        "CloudWatch read); null: the workspace's own role.",
    )


class DashboardsSettings(_Section):
    """Grafana on AWS: a folder, the Athena and CloudWatch data sources and the dashboards
    of the panel model (analytics per view with marts, operations)."""

    enabled: bool = Field(False, description="Deploy the dashboards (LakeDashboards).")
    workspace: GrafanaWorkspaceSettings = Field(
        GrafanaWorkspaceSettings(), description="The workspace created (without `existing`)."
    )
    token: ServiceAccountTokenSettings = Field(
        ServiceAccountTokenSettings(), description="The created workspace's deploy token."
    )
    existing: ExistingGrafanaSettings | None = Field(
        None, description="Use this Grafana instead of creating a workspace."
    )
    folder: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Title of the dashboards' folder; null: `<project>-<environment> lake`.",
    )
    analytics_time_from: str = Field(
        ANALYTICS_TIME_FROM,
        pattern=r"^now-[1-9][0-9]{0,3}[dwMy]$",
        description="Start of the analytics dashboards' default time range (Grafana's "
        "`now-<n><d|w|M|y>`; the trends show the periods inside it: data from further back "
        "needs a longer range, e.g. `now-30y`). The operations dashboard opens on the "
        "last 7 days (CloudWatch keeps 5-minute data for 63 days).",
    )


Issue = tuple[tuple[str, ...], str, object]
"""A problem: (config path parts under ``datalake:lake``, message, the value given)."""


def dashboards_issues(dashboards: DashboardsSettings) -> list[Issue]:
    """Rules spanning fields of the section, each with its path: an existing Grafana takes
    no workspace or token settings (nothing of them would be created). Compared with the
    defaults, so the rule holds for the section as plain data (the component's input) too."""
    issues: list[Issue] = []
    if dashboards.existing is None:
        return issues
    for name, default in (
        ("workspace", GrafanaWorkspaceSettings()),
        ("token", ServiceAccountTokenSettings()),
    ):
        value = getattr(dashboards, name)
        if value != default:
            issues.append(
                (
                    ("dashboards", name),
                    "applies to a created workspace; with `existing` leave it out",
                    value.model_dump(mode="json"),
                )
            )
    return issues
