"""A layer's Lambda function, written once: the code bundle, runtime, logs and failure routing.

Every Lambda of the lake runs the one deterministic bundle (``components/code.py``) on the
runtime and architecture of the settings, logs JSON to its own KMS-encrypted log group, and,
when it is invoked asynchronously, sends failed events to a dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from datalake.naming import layer_tags

from .options import child_options
from .workloads import WorkloadRole

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""How long a dead-letter queue keeps a failed event: two weeks to notice and replay it."""
ASYNC_RETRY_ATTEMPTS = 2


@dataclass(frozen=True)
class LambdaRuntime:
    """What every Lambda of a layer shares: code, Python runtime, architecture, layers."""

    code: pulumi.Archive
    runtime: str
    architecture: str
    layers: Sequence[pulumi.Input[str]] = field(default_factory=tuple)


def layer_function(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    description: str,
    handler: str,
    runtime: LambdaRuntime,
    role: WorkloadRole,
    logs: aws.cloudwatch.LogGroup,
    layer: str,
    timeout_seconds: int,
    memory_mb: int | None = None,
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
    ephemeral_storage_mb: int | None = None,
    kms_key_arn: pulumi.Input[str] | None = None,
) -> aws.lambda_.Function:
    """A function of ``layer`` on the shared bundle, logging JSON to ``logs``; its environment
    variables encrypted with ``kms_key_arn`` (the lake key: its role must be able to decrypt
    with it) instead of the AWS-managed ``aws/lambda`` key."""
    return aws.lambda_.Function(
        logical,
        name=name,
        description=description,
        role=role.arn,
        runtime=runtime.runtime,
        architectures=[runtime.architecture],
        handler=handler,
        code=runtime.code,
        timeout=timeout_seconds,
        layers=list(runtime.layers) or None,
        memory_size=memory_mb,
        ephemeral_storage=(
            {"size": ephemeral_storage_mb} if ephemeral_storage_mb is not None else None
        ),
        environment={"variables": environment} if environment is not None else None,
        kms_key_arn=kms_key_arn,
        logging_config={"log_format": "JSON", "log_group": logs.name},
        tags=layer_tags(layer),
        opts=child_options(parent, depends_on=[logs]),
    )


def dead_letter_queue(
    parent: pulumi.Resource, logical: str, *, name: str, kms_key_arn: pulumi.Input[str], layer: str
) -> aws.sqs.Queue:
    """A KMS-encrypted queue keeping failed events for two weeks."""
    return aws.sqs.Queue(
        logical,
        name=name,
        kms_master_key_id=kms_key_arn,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        tags=layer_tags(layer),
        opts=child_options(parent),
    )


def async_failures_to(
    parent: pulumi.Resource,
    logical: str,
    *,
    function: aws.lambda_.Function,
    queue: aws.sqs.Queue,
) -> aws.lambda_.FunctionEventInvokeConfig:
    """Asynchronous invocations of ``function`` that fail their retries land in ``queue``."""
    return aws.lambda_.FunctionEventInvokeConfig(
        logical,
        function_name=function.name,
        maximum_retry_attempts=ASYNC_RETRY_ATTEMPTS,
        destination_config={"on_failure": {"destination": queue.arn}},
        opts=child_options(parent),
    )
