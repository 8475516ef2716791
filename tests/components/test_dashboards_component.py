"""LakeDashboards under Pulumi mocks: the Grafana workspace and its role (the lake's workgroup
only), the deploy token and its rotation, the Grafana provider's folder, data sources and one
dashboard per model dashboard, an existing Grafana instead, and settings refused by path
before any resource.

What the mocks cannot show (docs/dashboards.md): that Amazon Managed Grafana accepts the
workspace (IAM Identity Center enabled), that the Athena plugin is installed, and that Grafana
renders the JSON; the JSON itself is the renderer's, snapshotted in
``tests/datalake/test_dashboards_grafana.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components import LakeDashboards
from components.preview import ACCOUNT_ID, LakeMocks, RecordingMonitor, run_program
from datalake.dashboards import dashboards
from datalake.dashboards.grafana import (
    ATHENA_TYPE,
    CLOUDWATCH_TYPE,
    dashboard_uid,
    grafana_dashboard,
)
from datalake.domain import default_domain_path, load_domain
from datalake.naming import Layer
from datalake.settings import load_settings
from tests.components.inventory import ROLE, ROLE_POLICY, Inventory, as_list, run_stack, with_lake

COMPONENT = "datalake:index:LakeDashboards"
WORKSPACE = "aws:grafana/workspace:Workspace"
SERVICE_ACCOUNT = "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount"
TOKEN = "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken"
ROLE_ASSOCIATION = "aws:grafana/roleAssociation:RoleAssociation"
PROVIDER = "pulumi:providers:grafana"
FOLDER = "grafana:oss/folder:Folder"
DATA_SOURCE = "grafana:oss/dataSource:DataSource"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
GRANT = "aws:lakeformation/permissions:Permissions"
WORKGROUP = "aws:athena/workgroup:Workgroup"
GRAFANA_TYPES = {WORKSPACE, SERVICE_ACCOUNT, TOKEN, PROVIDER, FOLDER, DATA_SOURCE, DASHBOARD}
REGION = "eu-west-1"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:grafana/token-AbCdEf"
READER = f"arn:aws:iam::{ACCOUNT_ID}:role/grafana-reader"
CREATED = {
    "enabled": True,
    "workspace": {"authentication_providers": ["AWS_SSO", "SAML"], "admin_group_ids": ["g-1"]},
    "token": {"seconds_to_live": 86400, "rotation": "2026-12"},
    "analytics_time_from": "now-30y",
}
EXISTING = {
    "enabled": True,
    "existing": {
        "url": "https://grafana.example.com",
        "token_secret_arn": SECRET,
        "data_source_role_arn": READER,
    },
}


def config_with(dashboards_section: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    return with_lake("dev", dashboards=dashboards_section, **more)


@pytest.fixture(scope="module")
def created() -> Inventory:
    return run_stack(config_with(CREATED))


@pytest.fixture(scope="module")
def existing() -> Inventory:
    return run_stack(config_with(EXISTING))


def expected_json(config: dict[str, Any], lake: Inventory, *, streaming: bool = False) -> dict:
    """What the renderer produces for each model dashboard of this stack, by uid."""
    settings = load_settings(config["datalake:lake"], project="datalake", environment="dev")
    prefix = settings.names.prefix
    workgroup = lake.one(WORKGROUP).inputs["name"]
    databases = {
        "gold": settings.database_name(Layer.GOLD),
        "silver": settings.database_name(Layer.SILVER),
    }
    models = dashboards(load_domain(default_domain_path()), streaming=streaming)
    return {
        dashboard_uid(prefix, model.key): grafana_dashboard(
            model,
            prefix=prefix,
            athena_uid=dashboard_uid(prefix, "athena"),
            cloudwatch_uid=dashboard_uid(prefix, "cloudwatch"),
            databases=databases,
            region=settings.region,
            workgroup=workgroup,
            time_from=settings.dashboards.analytics_time_from,
        )
        for model in models
    }


def plain(value: Any) -> Any:
    """A value the mocks deserialized, a secret unwrapped (its ``value``)."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def test_no_dashboards_in_the_default_programs(dev_resources, prod_resources):
    for resources in (dev_resources, prod_resources):
        types = {r.type for r in resources}
        assert COMPONENT not in types
        assert not GRAFANA_TYPES & types
        (workgroup,) = [r for r in resources if r.type == WORKGROUP]
        assert "GrafanaDataSource" not in workgroup.inputs["tags"]


def test_every_resource_is_a_child_of_the_component(created, existing):
    for lake in (created, existing):
        children = {r.urn for r in lake.children_of(COMPONENT)}
        grafana = [r for r in lake if r.type in GRAFANA_TYPES | {ROLE_ASSOCIATION}]
        assert grafana and all(r.urn in children for r in grafana)
        assert lake.one(COMPONENT).outputs["workspace_url"]


def test_the_workspace_signs_in_from_settings_with_its_own_role(created):
    workspace = created.one(WORKSPACE).inputs
    role = created.named(ROLE, "dashboards-workspace-role")
    assert workspace["authenticationProviders"] == ["AWS_SSO", "SAML"]
    assert workspace["permissionType"] == "CUSTOMER_MANAGED"
    assert workspace["accountAccessType"] == "CURRENT_ACCOUNT"
    assert workspace["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role.inputs['name']}"
    assert set(workspace["dataSources"]) == {"ATHENA", "CLOUDWATCH"}
    (admins,) = created.of_type(ROLE_ASSOCIATION)
    assert (admins.inputs["role"], admins.inputs["groupIds"]) == ("ADMIN", ["g-1"])
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "grafana.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": [f"arn:aws:grafana:{REGION}:{ACCOUNT_ID}:/workspaces/*"]
    }


def grafana_statements(lake: Inventory) -> dict[str, dict[str, Any]]:
    name = lake.named(ROLE, "dashboards-workspace-role").inputs["name"]
    (policy,) = [p for p in lake.of_type(ROLE_POLICY) if p.inputs["role"] == name]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_the_role_queries_in_the_lakes_workgroup_only(created):
    statements = grafana_statements(created)
    workgroup = created.one(WORKGROUP).inputs["name"]
    # Tagged as Grafana's managed Athena policy expects, though access is this inline policy.
    assert created.one(WORKGROUP).inputs["tags"]["GrafanaDataSource"] == "true"
    query = statements["QueryInGoldWorkgroup"]
    assert query["Resource"] == f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{workgroup}"
    assert "athena:StartQueryExecution" in query["Action"]
    for sid, statement in statements.items():
        actions = as_list(statement["Action"])
        if "*" in as_list(statement["Resource"]) and sid != "LakeFormationDataAccess":
            # Account-wide only what has no resource scope: listing and metric reads.
            assert not any(
                a.startswith(("athena:Start", "athena:GetQuery", "s3:")) for a in actions
            )
    results = statements["ReadWriteQueryResults"]["Resource"]
    assert results.endswith("/athena-results/*") and "observer" in results
    glue = statements["ReadGoldCatalog"]["Resource"]
    assert all("gold" in r for r in glue if "database" in r or "table" in r)
    assert "cloudwatch:GetMetricData" in statements["ReadCloudWatchMetrics"]["Action"]
    # S3 only on the Athena results (observer bucket): Lake Formation vends gold's objects.
    s3 = [
        st for st in statements.values() if any(a.startswith("s3:") for a in as_list(st["Action"]))
    ]
    assert s3 and all("observer" in r for st in s3 for r in as_list(st["Resource"]))


def test_lake_formation_shows_the_role_gold_without_pii(created):
    role = created.named(ROLE, "dashboards-workspace-role").inputs["name"]
    grants = [g for g in created.of_type(GRANT) if g.name.startswith("dashboards-")]
    assert {tuple(g.inputs["permissions"]) for g in grants} == {
        ("SELECT", "DESCRIBE"),
        ("DESCRIBE",),
    }
    for grant in grants:
        assert grant.inputs["principal"].endswith(f":role/{role}")
        terms = {
            e["key"].split("-")[-1]: e["values"] for e in grant.inputs["lfTagPolicy"]["expressions"]
        }
        assert terms["layer"] == ["gold"] and "pii" not in terms["classification"]


def test_the_deploy_token_lives_as_set_and_rotates_with_its_label(created):
    account = created.one(SERVICE_ACCOUNT).inputs
    token = created.one(TOKEN).inputs
    assert account["grafanaRole"] == "ADMIN"
    assert token["secondsToLive"] == 86400
    assert "2026-12" in token["name"]
    rotated = run_stack(
        config_with({**CREATED, "token": {"seconds_to_live": 86400, "rotation": "2027-01"}})
    )
    assert rotated.one(TOKEN).inputs["name"] != token["name"]  # a new name: a new token
    assert created.one(COMPONENT).outputs["token_expires_at"]


def test_the_provider_deploys_to_the_workspace_with_its_token(created):
    provider = created.one(PROVIDER).inputs
    assert (
        provider["url"]
        == f"https://g-dashboards-workspace.grafana-workspace.{REGION}.amazonaws.com"
    )
    assert plain(provider["auth"]) == "glsa_mock-token"
    assert provider["auth"] != plain(provider["auth"])  # kept secret in the state


def test_the_data_sources_are_bound_to_the_workgroup_and_region(created):
    sources = {s.inputs["type"]: s.inputs for s in created.of_type(DATA_SOURCE)}
    assert set(sources) == {ATHENA_TYPE, CLOUDWATCH_TYPE}
    athena = json.loads(sources[ATHENA_TYPE]["jsonDataEncoded"])
    assert athena["workgroup"] == created.one(WORKGROUP).inputs["name"]
    assert athena["database"].endswith("gold") and athena["defaultRegion"] == REGION
    assert athena["authType"] == "ec2_iam_role" and "assumeRoleArn" not in athena
    cloudwatch = json.loads(sources[CLOUDWATCH_TYPE]["jsonDataEncoded"])
    assert cloudwatch["defaultRegion"] == REGION


def test_one_dashboard_per_model_dashboard_with_the_renderers_json(created):
    expected = expected_json(config_with(CREATED), created)
    boards = created.of_type(DASHBOARD)
    folder = created.one(FOLDER).inputs
    got = {
        json.loads(b.inputs["configJson"])["uid"]: json.loads(b.inputs["configJson"])
        for b in boards
    }
    assert len(boards) == len(expected) == 2  # beer: one analytics view, then operations
    assert got == expected
    assert {b["time"]["from"] for b in got.values()} == {"now-30y", "now-7d"}
    assert all(b.inputs["folder"] == folder["uid"] for b in boards)
    sources = {s.inputs["type"]: s.inputs["uid"] for s in created.of_type(DATA_SOURCE)}
    for board in got.values():
        used = {t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", [])}
        assert used <= set(sources.values())
    outputs = created.one(COMPONENT).outputs
    assert outputs["dashboard_uids"] == list(expected)
    assert outputs["folder_uid"] == folder["uid"]


def test_streaming_adds_the_firehose_panels(created):
    streamed = run_stack(config_with(CREATED, streaming={"enabled": True}))
    keys = lambda lake: {  # noqa: E731
        p.get("title")
        for b in lake.of_type(DASHBOARD)
        for p in json.loads(b.inputs["configJson"])["panels"]
    }
    assert keys(streamed) > keys(created)
    assert expected_json(config_with(CREATED), streamed, streaming=True) == {
        json.loads(b.inputs["configJson"])["uid"]: json.loads(b.inputs["configJson"])
        for b in streamed.of_type(DASHBOARD)
    }


def test_an_existing_grafana_gets_the_folder_sources_and_dashboards_only(existing):
    types = {r.type for r in existing}
    assert not {WORKSPACE, SERVICE_ACCOUNT, TOKEN, ROLE_ASSOCIATION} & types
    assert not [r for r in existing.of_type(ROLE) if r.name.startswith("dashboards")]
    provider = existing.one(PROVIDER).inputs
    assert provider["url"] == "https://grafana.example.com"
    assert plain(provider["auth"]) == "glsa_mock-secret"  # read from the secret, never in config
    for source in existing.of_type(DATA_SOURCE):
        assert json.loads(source.inputs["jsonDataEncoded"])["assumeRoleArn"] == READER
    assert len(existing.of_type(DASHBOARD)) == 2
    outputs = existing.one(COMPONENT).outputs
    assert outputs["workspace_id"] == "" and outputs["role_arn"] == ""


# --- settings errors before any resource ---------------------------------------------------


def construct(section: dict[str, Any]) -> tuple[list[str], str]:
    """Build the component alone under the mocks (as the provider would)."""
    monitor = RecordingMonitor(LakeMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="datalake", stack="dev", preview=False, monitor=monitor
    )
    foundation = {
        "lake": {
            "project": "datalake",
            "environment": "dev",
            "region": REGION,
            "protect": False,
            "log_retention_days": 30,
        },
        "gold_database_name": "datalake_dev_gold",
        "silver_database_name": "datalake_dev_silver",
        "domain": load_domain(default_domain_path()).to_document(),
    }
    errors: list[str] = []

    @pulumi.runtime.test
    def program() -> None:
        try:
            LakeDashboards(
                "dashboards",
                {"foundation": foundation, "workgroup_name": "wg", "dashboards": section},  # type: ignore[typeddict-item]
            )
        except pulumi.RunError as error:
            errors.append(str(error))

    program()
    return [r.name for r in monitor.registered.values()], "".join(errors)


def test_the_component_alone_declares_an_existing_grafanas_dashboards():
    registered, error = construct(EXISTING)
    assert error == ""
    assert {"dashboards", "dashboards-folder", "dashboards-athena"} <= set(registered)


@pytest.mark.parametrize(
    ("section", "paths"),
    [
        ({"enabled": False}, ["datalake:lake.dashboards.enabled"]),
        (
            {"enabled": True, "token": {"seconds_to_live": 2_592_001}},
            ["datalake:lake.dashboards.token.seconds_to_live"],
        ),
        (
            {"enabled": True, "workspace": {"authentication_providers": ["LDAP"]}},
            ["datalake:lake.dashboards.workspace.authentication_providers[0]"],
        ),
        (
            {**EXISTING, "token": {"rotation": "2"}, "workspace": {"admin_group_ids": ["g-1"]}},
            ["datalake:lake.dashboards.workspace", "datalake:lake.dashboards.token"],
        ),
        (
            {"enabled": True, "existing": {"url": "http://grafana", "token_secret_arn": "x"}},
            [
                "datalake:lake.dashboards.existing.url",
                "datalake:lake.dashboards.existing.token_secret_arn",
            ],
        ),
    ],
    ids=["disabled", "token-too-long", "unknown-sign-in", "existing-and-created", "bad-existing"],
)
def test_bad_settings_fail_before_any_resource_with_their_paths(section, paths):
    registered, error = construct(section)
    assert registered == []
    for path in paths:
        assert path in error, (path, error)
    assert error.count("\n  - ") == len(paths)


def test_the_program_refuses_dashboards_settings_before_any_resource():
    config = config_with({**EXISTING, "token": {"seconds_to_live": 60}})
    with pytest.raises(pulumi.RunError, match=r"datalake:lake\.dashboards\.token"):
        run_program("dev", config)
