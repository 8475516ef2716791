"""Mass ingestion on Fargate: the image, its registry, the cluster and the task definition.

    workloads/bronze/Dockerfile ──docker build (Lambda's architecture)──▶ ECR (KMS, last 10 images,
        immutable tags: each image is tagged with the digest of its build context)
    ECS cluster (container insights) ── task definition: one read-only container, /tmp volume
        task role: the workers' statements (+ the PII policy)   execution role: pull, log

The task runs the same ingest code as the lite Lambda; the state machine sets ``CONTROL_ID``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from datalake.naming import layer_tags
from datalake.settings import IngestionSettings

from .bronze_dispatch import CONTAINER_NAME
from .bronze_scope import LAYER, BronzeScope
from .bundle import (
    CONSTRAINTS,
    DATALAKE_DIR,
    INSTALLED,
    NESTED_DIRS,
    PROJECT_FILES_DIR,
    ROOT,
    WORKLOADS_DIR,
    staged_tree,
)
from .options import child_options
from .policies import kms_use, logs_write
from .workloads import WorkloadRole

IMAGE_TAG = "bronze-ingest"
"""The tag's prefix; the digest of the build context follows (``bronze-ingest-<sha256[:20]>``)."""
IMAGE_CONTEXT = ("constraints.txt", "datalake", "workloads")
"""What the Dockerfile copies (and ``.dockerignore`` lets in)."""
IMAGES_KEPT = 10
LIFECYCLE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"keep the last {IMAGES_KEPT} images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": IMAGES_KEPT,
            },
            "action": {"type": "expire"},
        }
    ]
}


@dataclass(frozen=True)
class IngestTask:
    """What the state machine needs to run the task, and the image it runs."""

    image: docker_build.Image
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    task_role: WorkloadRole
    execution_role: WorkloadRole


def ingest_task(
    scope: BronzeScope,
    ingestion: IngestionSettings,
    *,
    worker_statements: tuple[pulumi.Input[dict[str, Any]], ...],
    pii_worker_policy_arn: pulumi.Input[str],
    environment: pulumi.Input[Mapping[str, str]],
    logs: aws.cloudwatch.LogGroup,
    force_delete_images: bool,
) -> IngestTask:
    """Registry, image, cluster, roles and task definition of the Fargate ingest task."""
    arm = ingestion.lambda_architecture == "arm64"
    repository = aws.ecr.Repository(
        scope.logical("image-repository"),
        name=scope.names.resource("bronze-ingest"),
        # A pushed tag never moves: the tag is content-addressed (image_tag).
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": scope.kms_key_arn}],
        force_delete=force_delete_images,
        tags=layer_tags(LAYER),
        opts=child_options(scope.parent),
    )
    aws.ecr.LifecyclePolicy(
        scope.logical("image-lifecycle"),
        repository=repository.name,
        policy=json.dumps(LIFECYCLE_POLICY),
        opts=child_options(scope.parent),
    )
    image = _image(scope, repository, platform="linux/arm64" if arm else "linux/amd64")
    cluster = aws.ecs.Cluster(
        scope.logical("cluster"),
        name=scope.names.resource("bronze-ingest"),
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=layer_tags(LAYER),
        opts=child_options(scope.parent),
    )
    task_role = scope.role("bronze-ingest-mass-task", "ecs-tasks.amazonaws.com", *worker_statements)
    scope.attach_pii_policy("ingest-mass", task_role, pii_worker_policy_arn)
    # ECS names the task (aws:SourceArn) when it assumes the task role, not the execution role.
    execution_role = scope.role(
        "bronze-ingest-mass-execution",
        "ecs-tasks.amazonaws.com",
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository.arn,
        },
        {
            # Registry-wide by design of ECR: the token call has no resource to scope to.
            "Sid": "RegistryToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        kms_use(scope.kms_key_arn, encrypt=False),
        logs_write(logs.arn),
        source_arns=False,
    )
    region = scope.names.region
    task_definition = aws.ecs.TaskDefinition(
        scope.logical("task"),
        family=scope.names.resource("bronze-ingest-mass"),
        cpu=str(ingestion.ecs_cpu),
        memory=str(ingestion.ecs_memory_mb),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform={
            "operating_system_family": "LINUX",
            "cpu_architecture": "ARM64" if arm else "X86_64",
        },
        execution_role_arn=execution_role.arn,
        task_role_arn=task_role.arn,
        volumes=[{"name": "tmp"}],
        container_definitions=pulumi.Output.all(
            image.ref, logs.name, pulumi.Output.from_input(environment)
        ).apply(lambda v: json.dumps([container_definition(v[0], v[1], region, v[2])])),
        tags=layer_tags(LAYER),
        opts=child_options(scope.parent),
    )
    return IngestTask(image, cluster, task_definition, task_role, execution_role)


def container_definition(
    image_ref: str, log_group: str, region: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    """The ingest container: read-only root, a writable ``/tmp``, logs to ``log_group``."""
    return {
        "name": CONTAINER_NAME,
        "image": image_ref,
        "essential": True,
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER_NAME,
            },
        },
    }


def image_context() -> Path:
    """The image's build context: the repository, or (from an installed wheel) a copy of what
    the Dockerfile copies, staged under the build cache with the same relative paths."""
    if not INSTALLED:
        return ROOT
    files = {".dockerignore": PROJECT_FILES_DIR / ".dockerignore", "constraints.txt": CONSTRAINTS}
    for name, directory in (("datalake", DATALAKE_DIR), ("workloads", WORKLOADS_DIR)):
        for path in sorted(directory.rglob("*")):
            parts = path.relative_to(directory).parts
            if (
                path.is_file()
                and "__pycache__" not in parts
                and path.suffix != ".pyc"
                and not (name == "datalake" and parts[0] in NESTED_DIRS)
            ):
                files["/".join((name, *parts))] = path
    return staged_tree("ingest-image", files)


def image_tag(root: Path = ROOT) -> str:
    """``bronze-ingest-<digest>``: changes with any file of the build context, so a redeploy
    with changed code pushes a new tag (an immutable repository refuses to move one)."""
    digest = hashlib.sha256()
    dockerfile = root / "workloads" / "bronze" / "Dockerfile"
    files = [dockerfile, root / ".dockerignore"]
    for entry in IMAGE_CONTEXT:
        path = root / entry
        files += [path] if path.is_file() else sorted(path.rglob("*"))
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{IMAGE_TAG}-{digest.hexdigest()[:20]}"


def _image(
    scope: BronzeScope, repository: aws.ecr.Repository, *, platform: str
) -> docker_build.Image:
    token = aws.ecr.get_authorization_token_output(
        registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=scope.parent)
    )
    context = image_context()
    tag = image_tag(context)
    return docker_build.Image(
        scope.logical("image"),
        context={"location": str(context)},
        dockerfile={"location": str(context / "workloads" / "bronze" / "Dockerfile")},
        platforms=[docker_build.Platform(platform)],
        push=True,
        tags=[repository.repository_url.apply(lambda url: f"{url}:{tag}")],
        registries=[
            {
                "address": repository.repository_url,
                "username": token.user_name,
                "password": token.password,
            }
        ],
        opts=child_options(scope.parent),
    )
