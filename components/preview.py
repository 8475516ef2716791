"""Offline preview: run the real ``__main__.py`` under Pulumi's mocks, record every resource.

No Pulumi CLI, provider plugin or AWS account is needed: ``pulumi.runtime.set_mocks`` replaces
the engine. Inputs are exactly what the program declares; values AWS would compute (ARNs,
ids, the account) are placeholders. The tests use the same runner.

    datalake-preview Pulumi.dev.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks

from datalake.naming import partition_of
from datalake.stack_file import stack_name

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
ACCOUNT_ID = "123456789012"
"""Placeholder account of the mocks."""
DEPLOYER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/Deployer"
"""The deploying role the mocks report (in the ``aws`` partition; ``LakeMocks`` adapts it)."""


@dataclass
class Registered:
    """One resource the program registered: type, logical name, inputs and options."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    protect: bool
    retain_on_delete: bool
    custom: bool
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


class LakeMocks(pulumi.runtime.Mocks):
    """Gives resources plausible ids and ARNs, and answers the AWS data-source calls, in the
    partition of the stack's region (the placeholder ARNs keep ``eu-west-1``)."""

    def __init__(self, partition: str = "aws") -> None:
        self.partition = partition

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        physical = state.get("bucket") or state.get("name") or args.name
        service = args.typ.split(":")[1].split("/")[0]
        state.setdefault("arn", f"arn:{self.partition}:{service}:eu-west-1:{ACCOUNT_ID}:{physical}")
        if args.typ == "aws:s3/bucket:Bucket":
            state["arn"] = f"arn:{self.partition}:s3:::{physical}"
        if args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:{self.partition}:iam::{ACCOUNT_ID}:role/{physical}"
        if args.typ == "aws:iam/user:User":
            state["arn"] = f"arn:{self.partition}:iam::{ACCOUNT_ID}:user/{physical}"
        if args.typ == "aws:iam/group:Group":
            state["arn"] = f"arn:{self.partition}:iam::{ACCOUNT_ID}:group/{physical}"
        if args.typ == "aws:athena/workgroup:Workgroup":
            state["arn"] = (
                f"arn:{self.partition}:athena:eu-west-1:{ACCOUNT_ID}:workgroup/{physical}"
            )
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = f"key-{args.name}"
            state["arn"] = f"arn:{self.partition}:kms:eu-west-1:{ACCOUNT_ID}:key/key-{args.name}"
        if args.typ == "docker-build:index:Image":
            state["ref"] = f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/image@sha256:{'0' * 64}"
        if args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/{physical}"
            state["registryId"] = ACCOUNT_ID
        if args.typ == "aws:ecs/taskDefinition:TaskDefinition":
            state["arn"] = (
                f"arn:{self.partition}:ecs:eu-west-1:{ACCOUNT_ID}:task-definition/{state['family']}:1"
            )
        if args.typ == "aws:cloudwatch/eventBus:EventBus":
            state["arn"] = (
                f"arn:{self.partition}:events:eu-west-1:{ACCOUNT_ID}:event-bus/{physical}"
            )
        if args.typ == "aws:cloudwatch/eventRule:EventRule":
            bus = state.get("eventBusName", "default")
            rule = physical if bus == "default" else f"{bus}/{physical}"
            state["arn"] = f"arn:{self.partition}:events:eu-west-1:{ACCOUNT_ID}:rule/{rule}"
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT_ID}/{physical}"
        if args.typ == "aws:dynamodb/table:Table":
            state["streamArn"] = f"{state['arn']}/stream/2026-01-01T00:00:00.000"
        if args.typ == "aws:kinesis/stream:Stream":
            state["arn"] = f"arn:{self.partition}:kinesis:eu-west-1:{ACCOUNT_ID}:stream/{physical}"
        if args.typ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            state["arn"] = (
                f"arn:{self.partition}:firehose:eu-west-1:{ACCOUNT_ID}:deliverystream/{physical}"
            )
        if args.typ == "aws:dms/endpoint:Endpoint":
            state["endpointArn"] = (
                f"arn:{self.partition}:dms:eu-west-1:{ACCOUNT_ID}:endpoint:{state['endpointId']}"
            )
        if args.typ == "aws:dms/replicationSubnetGroup:ReplicationSubnetGroup":
            state["vpcId"] = "vpc-0123456789abcdef0"  # AWS derives it from the subnets
        if args.typ == "aws:dms/replicationConfig:ReplicationConfig":
            identifier = state["replicationConfigIdentifier"]
            state["arn"] = (
                f"arn:{self.partition}:dms:eu-west-1:{ACCOUNT_ID}:replication-config:{identifier}"
            )
        if args.typ == "aws:grafana/workspace:Workspace":
            state["endpoint"] = f"g-{args.name}.grafana-workspace.eu-west-1.amazonaws.com"
        if args.typ == "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount":
            state["serviceAccountId"] = "7"
        if args.typ == "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken":
            state.update(key="glsa_mock-token", expiresAt="2027-01-01T00:00:00Z")
        if args.typ == "aws:emrserverless/application:Application":
            physical = "00" + hashlib.sha256(args.name.encode()).hexdigest()[:14]
            state["arn"] = (
                f"arn:{self.partition}:emr-serverless:eu-west-1:{ACCOUNT_ID}:/applications/{physical}"
            )
        return str(physical), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[override]
        # A plain dict: the mock monitor iterates the failures of a tuple, and None breaks it.
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{self.partition}:sts::{ACCOUNT_ID}:assumed-role/Deployer/ci-session",
                "userId": "AROAEXAMPLE:ci-session",
                "id": ACCOUNT_ID,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com", "id": self.partition}
        if args.token == "aws:ssm/getParameter:getParameter":
            layer = (
                f"arn:{self.partition}:lambda:eu-west-1:336392948345:"
                "layer:AWSSDKPandas-Python312-Arm64:26"
            )
            return {"name": args.args["name"], "value": layer, "type": "String", "id": "x"}
        if args.token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            length = int(args.args.get("passwordLength", 32))
            return {"randomPassword": "x" * length, "id": "x"}
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "mock-token", "id": ACCOUNT_ID}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ["eu-west-1a", "eu-west-1b", "eu-west-1c"], "id": "eu-west-1"}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            return {"arn": args.args["secretId"], "secretString": "glsa_mock-secret", "id": "x"}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            issuer = DEPLOYER_ROLE_ARN.replace("arn:aws:", f"arn:{self.partition}:", 1)
            return {"arn": args.args["arn"], "issuerArn": issuer, "id": "x"}
        raise NotImplementedError(f"no mock for {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's parent and options."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registered: dict[str, Registered] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered[response.urn] = Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                parent=request.parent,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                custom=request.custom,
                dependencies=list(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn in self.registered:
            self.registered[request.urn].outputs = pulumi.runtime.rpc.deserialize_properties(
                request.outputs
            )
        return super().RegisterResourceOutputs(request)


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The ``config:`` block of ``Pulumi.<stack>.yaml``."""
    return yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()).get("config") or {}


def run_program(
    stack: str, config: dict[str, Any], program: Path = PROGRAM, project: str = "datalake"
) -> list[Registered]:
    """Run ``program`` (this repository's ``__main__.py``, or any Pulumi program using the
    components) as stack ``stack`` of ``project`` with ``config``; return what it registered.

    The program's directory goes first on ``sys.path``, as under ``pulumi up``: a project's
    own packages (its ``components/`` folder) import as they do there.
    """
    region = (config.get("datalake:lake") or {}).get("region", "")
    monitor = RecordingMonitor(LakeMocks(partition_of(region)))
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )
    directory = str(program.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)

    @pulumi.runtime.test
    def program_run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    # Pulumi renders str(Output) as a warning text and carries on; here it is a bug.
    original = pulumi.Output.__str__
    pulumi.Output.__str__ = _refuse_str  # type: ignore[method-assign]
    try:
        program_run()
    finally:
        pulumi.Output.__str__ = original  # type: ignore[method-assign]
    return list(monitor.registered.values())


def _project_name(directory: Path) -> str:
    """The ``name`` in ``directory/Pulumi.yaml`` (``datalake`` without one)."""
    project_file = directory / "Pulumi.yaml"
    if not project_file.is_file():
        return "datalake"
    return str((yaml.safe_load(project_file.read_text()) or {}).get("name", "datalake"))


def _refuse_str(self: pulumi.Output) -> str:
    raise TypeError("an Output was formatted into a string; use Output.concat or apply")


def main(argv: list[str] | None = None) -> int:
    """Print the resources a stack file would declare, grouped by component."""
    parser = argparse.ArgumentParser(prog="datalake-preview", description=main.__doc__)
    parser.add_argument("stack_file", type=Path, help="Pulumi.<stack>.yaml")
    parser.add_argument(
        "--program",
        type=Path,
        default=None,
        help="the program to run (default: __main__.py beside the stack file, else this "
        "repository's)",
    )
    args = parser.parse_args(argv)
    stack = stack_name(args.stack_file)
    config = yaml.safe_load(args.stack_file.read_text()).get("config") or {}
    beside = args.stack_file.resolve().parent / "__main__.py"
    program = args.program or (beside if beside.is_file() else PROGRAM)
    project = _project_name(program.resolve().parent)
    try:
        resources = run_program(stack, config, program, project)
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    components = {r.urn: r for r in resources if not r.custom}
    print(f"stack {stack}: {len(resources)} resources (offline preview, placeholder account)")
    for urn, component in components.items():
        print(f"\n{component.type}  {component.name}")
        children = sorted((r for r in resources if r.parent == urn), key=lambda r: r.name)
        for child in children:
            kind = child.type.split(":")[1]
            physical = child.inputs.get("name") or child.inputs.get("bucket") or ""
            flags = "  [protected]" if child.protect else ""
            print(f"  {child.name:<42} {kind:<40} {physical}{flags}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
