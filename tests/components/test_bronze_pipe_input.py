"""The pipe's input template against a real DynamoDB stream record, run into the machine.

The controller registers a control record with :class:`ControlStore`; moto's stream gives the
record exactly as EventBridge Pipes receives it (``record_count`` is ``{"N": "150000"}``, a
string); the template is rendered the way Pipes does; the rendered input must parse as JSON and
moto's Step Functions interpreter (``execute_state_machine``) must take the Fargate branch for a
large file and the Lambda branch for a small one.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from jsonpath_ng import parse as jsonpath
from moto import mock_aws

from components.bronze_dispatch import PIPE_INPUT_TEMPLATE, Dispatch, ingestion_definition
from datalake.control import ControlRecord, ControlStore, control_id_for
from datalake.control_table import create_control_table

REGION = "eu-west-1"
TABLE = "datalake-dev-processing-control"
THRESHOLD = 100_000
ROLE = "arn:aws:iam::123456789012:role/ingestion"
DISPATCH_STATES = ("ReadRecordCount", "ParseRecordCount", "ChooseCompute")
"""The states between the pipe and the compute: run as they are deployed."""
_PLACEHOLDER = re.compile(r"<(\$[^>]*)>")


def render_pipe_template(template: str, event: dict[str, Any]) -> str:
    """Substitute each ``<$.path>`` with the value at that JSONPath, as EventBridge Pipes does:
    a string is inserted as its characters (inside the template's own quotes, if any), any other
    value as its JSON."""

    def value(match: re.Match[str]) -> str:
        (found,) = jsonpath(match.group(1)).find(event)
        return found.value if isinstance(found.value, str) else json.dumps(found.value)

    return _PLACEHOLDER.sub(value, template)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def stream_record(record_count: int) -> dict[str, Any]:
    """The stream record of a pending bronze record registered like the controller does."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = create_control_table(dynamodb, TABLE)
    key = f"raw/beer/beer-{record_count}.csv.gz"
    checksum = f"{record_count:064d}"
    ControlStore(table).register(
        ControlRecord(
            control_id=control_id_for("bronze", "landing", key, checksum),
            layer="bronze",
            table_name="beer",
            bucket="landing",
            object_key=key,
            format="csv",
            size_bytes=1234,
            record_count=record_count,
            checksum=checksum,
            compute_target="ecs" if record_count >= THRESHOLD else "lambda",
        )
    )
    # moto serves the regional endpoint, not botocore's account-based one.
    streams = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
    )
    stream_arn = table.latest_stream_arn
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (record,) = streams.get_records(ShardIterator=iterator)["Records"]
    # Pipes receives the record as JSON (boto3 turned the timestamp into a datetime).
    return dict(json.loads(json.dumps(record, default=str)))


def dispatch_definition() -> dict[str, Any]:
    """The deployed definition's dispatch states; the compute states become stand-ins."""
    full = ingestion_definition(
        Dispatch(THRESHOLD, 3, 1, 2.0, assign_public_ip=False),
        lite_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:lite",
        cluster_arn="cluster",
        task_definition_arn="task",
        subnet_ids=["subnet-1"],
        security_group_ids=["sg-1"],
        control_table_name=TABLE,
    ).to_asl()
    states = {name: full["States"][name] for name in DISPATCH_STATES}
    states.update(IngestOnFargate={"Type": "Succeed"}, IngestOnLambda={"Type": "Succeed"})
    return {"StartAt": full["StartAt"], "States": states}


def run(execution_input: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Run the dispatch states on moto: the states entered and the execution's output."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"ingestion-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(dispatch_definition()),
        roleArn=ROLE,
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "StateEntered" in e["type"]]
    return entered, json.loads(described["output"])


def test_the_stream_record_holds_the_count_as_a_string(aws):
    image = stream_record(150_000)["dynamodb"]["NewImage"]
    assert image["record_count"] == {"N": "150000"}
    assert image["status"] == {"S": "pending"} and image["layer"] == {"S": "bronze"}


@pytest.mark.parametrize(
    ("record_count", "compute"), [(150_000, "IngestOnFargate"), (5, "IngestOnLambda")]
)
def test_the_rendered_input_reaches_the_choice_as_a_number(aws, record_count, compute):
    rendered = json.loads(render_pipe_template(PIPE_INPUT_TEMPLATE, stream_record(record_count)))
    assert rendered["record_count"] == str(record_count)
    entered, output = run(rendered)
    assert entered == [*DISPATCH_STATES, compute]
    assert output == {"control_id": rendered["control_id"], "record_count": record_count}


def test_a_replay_with_a_numeric_count_skips_the_parse(aws):
    # `datalake reprocess` starts the machine directly with a JSON number.
    entered, output = run({"control_id": "c", "record_count": 150_000})
    assert entered == ["ReadRecordCount", "ChooseCompute", "IngestOnFargate"]
    assert output["record_count"] == 150_000
