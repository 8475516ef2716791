"""IngestionNetwork: private subnets with VPC endpoints by default, flow logs always."""

from __future__ import annotations

import json

import pytest

from components.network import INTERFACE_SERVICES
from components.preview import ACCOUNT_ID
from tests.components.inventory import Inventory, run_stack, with_lake

KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/key-storage-key"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


@pytest.fixture(scope="module")
def dev(dev_resources) -> Inventory:
    return Inventory(dev_resources)


@pytest.fixture(scope="module")
def public() -> Inventory:
    return run_stack(with_lake(network={"assign_public_ip": True}))


def fargate_network(lake: Inventory) -> dict[str, object]:
    state = lake.definition("bronze-ingestion")["States"]["IngestOnFargate"]
    return dict(state["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"])


def test_by_default_tasks_run_in_private_subnets_without_public_ips(dev):
    assert dev.of_type("aws:ec2/internetGateway:InternetGateway") == []
    (routes,) = dev.of_type("aws:ec2/routeTable:RouteTable")
    assert routes.name == "bronze-network-private" and not routes.inputs.get("routes")
    subnets = dev.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 2 and not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    assert fargate_network(dev)["AssignPublicIp"] == "DISABLED"


def test_private_subnets_reach_every_service_the_task_calls_through_endpoints(dev):
    endpoints = {e.inputs["serviceName"]: e.inputs for e in dev.of_type(ENDPOINT)}
    for service in ("s3", "dynamodb"):
        assert endpoints[f"com.amazonaws.eu-west-1.{service}"]["vpcEndpointType"] == "Gateway"
    interface = {
        n.removeprefix("com.amazonaws.eu-west-1."): e
        for n, e in endpoints.items()
        if e["vpcEndpointType"] == "Interface"
    }
    assert (
        set(interface)
        == set(INTERFACE_SERVICES)
        == {
            "ecr.api",
            "ecr.dkr",
            "logs",
            "secretsmanager",
            "comprehend",
            "kms",
            "sts",
            "monitoring",
        }
    )
    groups = {g.name: g.inputs for g in dev.of_type("aws:ec2/securityGroup:SecurityGroup")}
    (ingress,) = groups["bronze-network-endpoints"]["ingress"]
    assert (ingress["fromPort"], ingress["toPort"]) == (443, 443)
    assert ingress["securityGroups"] == ["bronze-network-tasks"]
    assert "cidrBlocks" not in ingress
    for endpoint in interface.values():
        assert endpoint["privateDnsEnabled"] is True
        assert len(endpoint["subnetIds"]) == 2
        assert endpoint["securityGroupIds"] == ["bronze-network-endpoints"]


@pytest.mark.parametrize("variant", ["dev", "public"])
def test_the_vpc_has_flow_logs_to_an_encrypted_log_group_with_retention(variant, dev, public):
    lake = dev if variant == "dev" else public
    (flow,) = lake.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group = lake.named("aws:cloudwatch/logGroup:LogGroup", "bronze-network-flow-logs")
    assert group.inputs["name"] == "/aws/vpc/datalake-dev-ingestion"
    assert group.inputs["kmsKeyId"] == KEY_ARN and group.inputs["retentionInDays"] == 30
    assert flow.inputs["logDestination"].endswith(group.inputs["name"])
    role = lake.named("aws:iam/role:Role", "bronze-network-flow-logs-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": [f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:vpc-flow-log/*"]
    }


def test_assign_public_ip_keeps_the_public_layout(public):
    assert len(public.of_type("aws:ec2/internetGateway:InternetGateway")) == 1
    (routes,) = public.of_type("aws:ec2/routeTable:RouteTable")
    assert routes.name == "bronze-network-public"
    assert routes.inputs["routes"][0]["cidrBlock"] == "0.0.0.0/0"
    assert {s.name for s in public.of_type("aws:ec2/subnet:Subnet")} == {
        "bronze-network-public-0",
        "bronze-network-public-1",
    }
    assert fargate_network(public)["AssignPublicIp"] == "ENABLED"
    assert all(e.inputs["vpcEndpointType"] == "Gateway" for e in public.of_type(ENDPOINT))
