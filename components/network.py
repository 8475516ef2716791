"""IngestionNetwork: a small VPC for the Fargate ingestion tasks, when none is given.

VPC ── 2 public subnets (two AZs) ── internet gateway   (image pulls, AWS APIs over TLS)
 ├─ gateway endpoints: S3, DynamoDB   (lake traffic stays on the AWS network, no cost)
 └─ security group: no inbound, outbound HTTPS only
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.options import child_options
from datalake.naming import LakeNames, layer_tags


@dataclass
class IngestionNetworkArgs:
    """Inputs of :class:`IngestionNetwork`."""

    names: LakeNames
    cidr: str = "10.42.0.0/16"


class IngestionNetwork(pulumi.ComponentResource):
    """VPC, two public subnets, gateway endpoints and an egress-only security group."""

    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: IngestionNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:IngestionNetwork", name, None, opts)
        tags = {**layer_tags("bronze"), "Name": args.names.resource("ingestion")}
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags,
            opts=child_options(self),
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child_options(self)
        )
        routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=tags,
            opts=child_options(self),
        )
        blocks = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=20))[:2]
        self.subnets = []
        for index, block in enumerate(blocks):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(block),
                availability_zone=zones.names[index],
                tags=tags,
                opts=child_options(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=subnet.id,
                route_table_id=routes.id,
                opts=child_options(self),
            )
            self.subnets.append(subnet)
        for service in ("s3", "dynamodb"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.names.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[routes.id],
                tags=tags,
                opts=child_options(self),
            )
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            vpc_id=self.vpc.id,
            description="Fargate ingestion tasks: no inbound, HTTPS outbound",
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "AWS APIs and the image registry over TLS",
                }
            ],
            tags=tags,
            opts=child_options(self),
        )
        self.subnet_ids = pulumi.Output.all(*[s.id for s in self.subnets])
        self.security_group_ids = pulumi.Output.all(self.security_group.id)
        self.register_outputs(
            {"subnet_ids": self.subnet_ids, "security_group_ids": self.security_group_ids}
        )
