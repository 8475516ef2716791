"""IngestionNetwork: a small VPC for the Fargate ingestion tasks, when none is given.

Private (the default)::

    VPC ── 2 private subnets (two AZs), no internet gateway, no public IPs
     ├─ gateway endpoints: S3, DynamoDB            (image layers, lake and control traffic)
     ├─ interface endpoints (private DNS): ECR api + dkr, CloudWatch Logs, Secrets Manager,
     │    Comprehend, KMS, STS, CloudWatch monitoring   (everything else the task calls)
     │    └─ security group: HTTPS in from the tasks' security group only
     ├─ security group of the tasks: no inbound, outbound HTTPS only
     └─ flow logs (all traffic) ──▶ /aws/vpc/<project>-<env>-ingestion (lake key, retention)

Public (``network.assign_public_ip: true``, the former layout): 2 public subnets routed to an
internet gateway (tasks get public IPs), the gateway endpoints, the security group, flow logs.
"""

import ipaddress
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.naming import layer_tags

from .foundation import LakeIdentity, names_of
from .options import child_options
from .policies import assume_role_policy, policy_json

DEFAULT_CIDR = "10.42.0.0/16"
SUBNET_PREFIX = 20
ZONES = 2
GATEWAY_SERVICES = ("s3", "dynamodb")
INTERFACE_SERVICES = (
    "ecr.api",
    "ecr.dkr",
    "logs",
    "secretsmanager",
    "comprehend",
    "kms",
    "sts",
    "monitoring",
)
"""The services the ingest task (and the ECS agent on its behalf) calls besides S3/DynamoDB."""


class IngestionNetworkArgs(TypedDict):
    """Inputs of :class:`IngestionNetwork`."""

    lake: LakeIdentity
    """The lake's identity: names the VPC, gives the endpoints' region and the log retention."""
    cidr: NotRequired[str]
    """Address range of the VPC (default ``10.42.0.0/16``); the subnets are its first /20s."""
    public: NotRequired[bool]
    """Public subnets behind an internet gateway (tasks with public IPs) instead of private
    subnets with VPC endpoints (default false)."""
    kms_key_arn: NotRequired[pulumi.Input[str]]
    """The lake key, for the flow logs' log group (default: the logs service's own key)."""


class IngestionNetwork(pulumi.ComponentResource):
    """VPC, two subnets, endpoints, an egress-only security group and flow logs."""

    subnet_ids: pulumi.Output[list[str]]
    """The subnets, one per availability zone."""
    security_group_ids: pulumi.Output[list[str]]
    """The tasks' security group: no inbound, HTTPS outbound."""

    def __init__(
        self, name: str, args: IngestionNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:IngestionNetwork", name, None, opts)
        lake = args["lake"]
        self._names = names = names_of(lake)
        cidr = args.get("cidr", DEFAULT_CIDR)
        public = args.get("public", False)
        self._tags = tags = {**layer_tags("bronze"), "Name": names.resource("ingestion")}
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags,
            opts=child_options(self),
        )
        kind = "public" if public else "private"
        routes = aws.ec2.RouteTable(
            f"{name}-{kind}",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": self._gateway(name).id}]
            if public
            else [],
            tags=tags,
            opts=child_options(self),
        )
        blocks = list(ipaddress.ip_network(cidr).subnets(new_prefix=SUBNET_PREFIX))[:ZONES]
        self.subnets = []
        for index, block in enumerate(blocks):
            subnet = aws.ec2.Subnet(
                f"{name}-{kind}-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(block),
                availability_zone=zones.names[index],
                tags=tags,
                opts=child_options(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-{kind}-{index}",
                subnet_id=subnet.id,
                route_table_id=routes.id,
                opts=child_options(self),
            )
            self.subnets.append(subnet)
        for service in GATEWAY_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{names.region}.{service}",
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
        if not public:
            self._interface_endpoints(name)
        self._flow_logs(name, lake, args.get("kms_key_arn"))
        self.subnet_ids = pulumi.Output.all(*[s.id for s in self.subnets])
        self.security_group_ids = pulumi.Output.all(self.security_group.id)
        self.register_outputs(
            {"subnet_ids": self.subnet_ids, "security_group_ids": self.security_group_ids}
        )

    def _gateway(self, name: str) -> aws.ec2.InternetGateway:
        return aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=self._tags, opts=child_options(self)
        )

    def _interface_endpoints(self, name: str) -> None:
        """Private DNS endpoints for every other service, reachable from the tasks only."""
        endpoints = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=self.vpc.id,
            description="VPC interface endpoints: HTTPS from the ingestion tasks only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "security_groups": [self.security_group.id],
                    "description": "the ingestion tasks",
                }
            ],
            tags=self._tags,
            opts=child_options(self),
        )
        for service in INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{self._names.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.subnets],
                security_group_ids=[endpoints.id],
                tags=self._tags,
                opts=child_options(self),
            )

    def _flow_logs(
        self, name: str, lake: LakeIdentity, kms_key_arn: pulumi.Input[str] | None
    ) -> aws.ec2.FlowLog:
        """Every accepted and rejected flow of the VPC, to an encrypted log group."""
        names = self._names
        logs = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{names.resource('ingestion')}",
            retention_in_days=lake["log_retention_days"],
            kms_key_id=kms_key_arn,
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            name=names.resource("ingestion-flow-logs"),
            assume_role_policy=account.apply(
                lambda a: assume_role_policy(
                    "vpc-flow-logs.amazonaws.com",
                    a,
                    [f"arn:{names.partition}:ec2:{names.region}:{a}:vpc-flow-log/*"],
                )
            ),
            tags=layer_tags("bronze"),
            opts=child_options(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=policy_json(
                {
                    "Sid": "DeliverFlowLogs",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [logs.arn, pulumi.Output.concat(logs.arn, ":*")],
                }
            ),
            opts=child_options(self),
        )
        return aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
            tags=self._tags,
            opts=child_options(self, depends_on=[policy]),
        )
