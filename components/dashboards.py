"""LakeDashboards: the panel model's dashboards in Grafana on AWS (``dashboards.enabled``).

    created workspace (default)
      role <prefix>-grafana          the lake's Athena workgroup, gold (Glue + Lake Formation,
                                     PII-free), the results prefix, CloudWatch read
                                     (components/dashboards_access.py)
      Amazon Managed Grafana workspace <prefix>-dashboards   customer-managed permissions,
                                     sign-in from settings (AWS_SSO...), plugin admin on
        ├─ role associations         dashboards.workspace.admin/viewer_group_ids
        └─ service account <prefix>-deploy (ADMIN) + its token <prefix>-deploy-<rotation>-<ttl>
                                     (lifetime dashboards.token.seconds_to_live)
    or an existing Grafana           dashboards.existing.url + a token read from Secrets Manager
    Grafana provider (pulumiverse_grafana) on that URL with that token
      ├─ folder                      "<prefix> lake" (or dashboards.folder)
      ├─ data source Athena          grafana-athena-datasource: the workgroup, the gold database
      ├─ data source CloudWatch      the lake's region
      └─ one dashboard per model dashboard   JSON from datalake.dashboards.grafana, built
                                     with grafana-foundation-sdk (never written by hand)

Grafana's uids and data source names are unique per organization: every uid here (folder,
data sources, dashboards) is ``dashboard_uid(<prefix>, <key>)`` and every name carries the
prefix, so lakes sharing one Grafana (stacks, projects) never take each other's.

Token rotation: the token's name carries ``dashboards.token.rotation`` and its lifetime, so
changing either and running ``pulumi up`` replaces it (new token first, then the old one is
deleted) and the provider deploys with the new one in the same update. Rotate before
``token_expires_at``; an expired token makes every Grafana operation fail with 401.
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumiverse_grafana as grafana

from datalake.dashboards import Dashboard, dashboards
from datalake.dashboards.grafana import (
    ATHENA_TYPE,
    CLOUDWATCH_TYPE,
    dashboard_uid,
    grafana_dashboard,
)
from datalake.naming import LakeNames, Layer, layer_tags
from datalake.settings import SettingsError, SettingsIssue, config_path
from datalake.settings_dashboards import DashboardsSettings, dashboards_issues

from .dashboards_access import GRAFANA_DATA_CATALOG, grafana_role, grant_gold_reads
from .foundation import LakeFoundation, foundation_domain, lf_tag_key, names_of, section_settings
from .options import child_options

WORKSPACE_AUTH = "ec2_iam_role"
"""The AWS data sources' ``authType`` for the workspace's own IAM role (Amazon Managed
Grafana's "Workspace IAM Role")."""
WORKSPACE_CONFIGURATION = {"plugins": {"pluginAdminEnabled": True}}
"""Admins may install plugins (the Amazon Athena plugin, where the version needs it)."""


class LakeDashboardsArgs(TypedDict):
    """Inputs of :class:`LakeDashboards`."""

    foundation: LakeFoundation
    """The lake's foundation: the domain (the panels), the gold and silver databases, the key,
    the observer bucket (Athena results)."""
    workgroup_name: pulumi.Input[str]
    """The lake's Athena workgroup (``GoldMart.workgroup_name``): the only one Grafana may
    query in."""
    dashboards: NotRequired[dict[str, Any]]
    """The ``dashboards`` settings section (``DashboardsSettings``); its ``enabled`` must be
    true."""
    streaming: NotRequired[bool]
    """Whether the lake streams CDC (``streaming.enabled``): the operations dashboard gets the
    Firehose panels."""
    layer_tag_key: NotRequired[pulumi.Input[str]]
    """Key of governance's ``layer`` LF-Tag (default ``<prefix>-layer``)."""
    classification_tag_key: NotRequired[pulumi.Input[str]]
    """Key of the PII masker's ``classification`` LF-Tag (default ``<prefix>-classification``)."""


class LakeDashboards(pulumi.ComponentResource):
    """Grafana (an Amazon Managed Grafana workspace, or an existing one) with the lake's
    folder, Athena and CloudWatch data sources and the dashboards of the panel model."""

    workspace_url: pulumi.Output[str]
    """The Grafana URL the dashboards are in."""
    workspace_id: pulumi.Output[str]
    """The created workspace's id (empty with ``existing``)."""
    role_arn: pulumi.Output[str]
    """The created workspace's IAM role (empty with ``existing``)."""
    token_expires_at: pulumi.Output[str]
    """When the deploy token expires: rotate before (empty with ``existing``)."""
    folder_uid: pulumi.Output[str]
    """The dashboards' folder."""
    dashboard_uids: pulumi.Output[list[str]]
    """The dashboards' uids, in the model's order."""

    def __init__(
        self, name: str, args: LakeDashboardsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        foundation = args["foundation"]
        # Every settings problem fails the program before a single resource is registered.
        settings = _checked_settings(args)
        models = dashboards(foundation_domain(foundation), streaming=args.get("streaming", False))
        super().__init__("datalake:index:LakeDashboards", name, None, opts)
        lake = foundation["lake"]
        names = names_of(lake)
        workgroup = args["workgroup_name"]

        empty = pulumi.Output.from_input("")
        self.workspace_id = self.role_arn = self.token_expires_at = empty
        assume_role_arn: str | None = None
        if settings.existing is None:
            url, token = self._workspace(name, names, settings, foundation, args)
        else:
            url = pulumi.Output.from_input(settings.existing.url)
            token = pulumi.Output.secret(
                aws.secretsmanager.get_secret_version_output(
                    secret_id=settings.existing.token_secret_arn,
                    opts=pulumi.InvokeOutputOptions(parent=self),
                ).secret_string
            )
            assume_role_arn = settings.existing.data_source_role_arn

        # --- Grafana itself, through its provider -------------------------------------------
        provider = grafana.Provider(
            f"{name}-grafana", url=url, auth=token, opts=pulumi.ResourceOptions(parent=self)
        )
        on_grafana = pulumi.ResourceOptions(parent=self, provider=provider)
        folder = grafana.oss.Folder(
            f"{name}-folder",
            title=settings.folder or f"{names.prefix} lake",
            uid=dashboard_uid(names.prefix, "folder"),
            opts=on_grafana,
        )
        athena_uid = dashboard_uid(names.prefix, "athena")
        cloudwatch_uid = dashboard_uid(names.prefix, "cloudwatch")
        auth = {"authType": WORKSPACE_AUTH, "defaultRegion": names.region}
        if assume_role_arn:
            auth["assumeRoleArn"] = assume_role_arn
        athena = grafana.oss.DataSource(
            f"{name}-athena",
            type=ATHENA_TYPE,
            name=f"{names.prefix} Athena",
            uid=athena_uid,
            json_data_encoded=pulumi.Output.all(workgroup, foundation["gold_database_name"]).apply(
                lambda v: json.dumps(
                    {**auth, "catalog": GRAFANA_DATA_CATALOG, "workgroup": v[0], "database": v[1]},
                    sort_keys=True,
                )
            ),
            opts=on_grafana,
        )
        cloudwatch = grafana.oss.DataSource(
            f"{name}-cloudwatch",
            type=CLOUDWATCH_TYPE,
            name=f"{names.prefix} CloudWatch",
            uid=cloudwatch_uid,
            json_data_encoded=json.dumps(auth, sort_keys=True),
            opts=on_grafana,
        )
        on_sources = pulumi.ResourceOptions.merge(
            on_grafana, pulumi.ResourceOptions(depends_on=[athena, cloudwatch])
        )
        boards = [
            grafana.oss.Dashboard(
                f"{name}-{model.key}",
                config_json=dashboard_json(
                    model,
                    prefix=names.prefix,
                    athena_uid=athena_uid,
                    cloudwatch_uid=cloudwatch_uid,
                    region=names.region,
                    foundation=foundation,
                    workgroup=workgroup,
                    time_from=settings.analytics_time_from,
                ),
                folder=folder.uid,
                # No overwrite: a dashboard of that uid made elsewhere fails loudly.
                message="pulumi up (datalake: generated from the panel model)",
                opts=on_sources,
            )
            for model in models
        ]
        uids = [dashboard_uid(names.prefix, model.key) for model in models]

        self.workspace_url = url
        self.folder_uid = folder.uid
        self.dashboard_uids = pulumi.Output.all(*(b.id for b in boards)).apply(lambda _: uids)
        self.register_outputs(
            {
                "workspace_url": self.workspace_url,
                "workspace_id": self.workspace_id,
                "role_arn": self.role_arn,
                "token_expires_at": self.token_expires_at,
                "folder_uid": self.folder_uid,
                "dashboard_uids": self.dashboard_uids,
            }
        )

    def _workspace(
        self,
        name: str,
        names: LakeNames,
        settings: DashboardsSettings,
        foundation: LakeFoundation,
        args: LakeDashboardsArgs,
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The workspace, its role and grants, its sign-ins, and the deploy token: its URL and
        that token."""
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        role = grafana_role(
            self,
            f"{name}-workspace",
            names=names,
            account=account,
            foundation=foundation,
            workgroup_name=args["workgroup_name"],
        )
        grant_gold_reads(
            self,
            f"{name}-workspace",
            foundation=foundation,
            principal=role.role.arn,
            layer_tag_key=args.get("layer_tag_key", lf_tag_key(foundation["lake"], "layer")),
            classification_tag_key=args.get(
                "classification_tag_key", lf_tag_key(foundation["lake"], "classification")
            ),
        )
        options = settings.workspace
        workspace = aws.grafana.Workspace(
            f"{name}-workspace",
            name=names.resource("dashboards"),
            description="The data lake's dashboards (analytics over gold, operations)",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=list(options.authentication_providers),
            permission_type="CUSTOMER_MANAGED",
            role_arn=role.arn,
            data_sources=["ATHENA", "CLOUDWATCH"],
            grafana_version=options.grafana_version,
            configuration=json.dumps(WORKSPACE_CONFIGURATION, sort_keys=True),
            tags=layer_tags(Layer.GOLD),
            opts=child_options(self),
        )
        for role_name, groups in (
            ("ADMIN", options.admin_group_ids),
            ("VIEWER", options.viewer_group_ids),
        ):
            if groups:
                aws.grafana.RoleAssociation(
                    f"{name}-{role_name.lower()}s",
                    role=role_name,
                    group_ids=list(groups),
                    workspace_id=workspace.id,
                    opts=child_options(self),
                )
        account_of_deploys = aws.grafana.WorkspaceServiceAccount(
            f"{name}-deploy",
            name=names.resource("deploy"),
            grafana_role="ADMIN",
            workspace_id=workspace.id,
            opts=child_options(self),
        )
        lifetime = settings.token
        token = aws.grafana.WorkspaceServiceAccountToken(
            f"{name}-deploy-token",
            # Rotation: a new name (label or lifetime) replaces the token, new one first.
            name=names.resource(f"deploy-{lifetime.rotation}-{lifetime.seconds_to_live}"),
            seconds_to_live=lifetime.seconds_to_live,
            service_account_id=account_of_deploys.service_account_id,
            workspace_id=workspace.id,
            opts=child_options(self),
        )
        self.workspace_id = workspace.id
        self.role_arn = role.role.arn
        self.token_expires_at = token.expires_at
        return pulumi.Output.concat("https://", workspace.endpoint), pulumi.Output.secret(token.key)


def dashboard_json(
    model: Dashboard,
    *,
    prefix: str,
    athena_uid: str,
    cloudwatch_uid: str,
    region: str,
    foundation: LakeFoundation,
    workgroup: pulumi.Input[str],
    time_from: str,
) -> pulumi.Output[str]:
    """``grafana_dashboard(...)`` of one model dashboard, as the JSON Grafana stores, once the
    lake's database and workgroup names are known."""
    return pulumi.Output.all(
        foundation["gold_database_name"], foundation["silver_database_name"], workgroup
    ).apply(
        lambda v: json.dumps(
            grafana_dashboard(
                model,
                prefix=prefix,
                athena_uid=athena_uid,
                cloudwatch_uid=cloudwatch_uid,
                databases={"gold": v[0], "silver": v[1]},
                region=region,
                workgroup=v[2],
                time_from=time_from,
            ),
            sort_keys=True,
        )
    )


def _checked_settings(args: LakeDashboardsArgs) -> DashboardsSettings:
    """The validated section; every problem at once, each under its config path."""
    settings = section_settings(DashboardsSettings, "dashboards", args.get("dashboards"))
    found = dashboards_issues(settings)
    if not settings.enabled:
        found.append(
            (("dashboards", "enabled"), "LakeDashboards is Grafana: set enabled: true", False)
        )
    if found:
        issues = [SettingsIssue(config_path(*path), m, v) for path, m, v in found]
        raise pulumi.RunError(str(SettingsError(issues)))
    return settings
