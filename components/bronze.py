"""BronzeZone: event-driven raw -> bronze ingestion.

    landing raw/*.gz ──S3 notification──▶ processing controller λ ──▶ control table
    control table stream ──EventBridge Pipe (new pending bronze records)──▶ ingestion state machine
    state machine ──Choice: record_count ≥ threshold──▶ ingest λ ("lite") | Fargate task ("mass")
                  ──Retry with backoff, Catch──▶ record marked error, execution failed
    ingest ──▶ lake bronze/ (Parquet) + quarantine/ ; Glue bronze tables with partition projection
    alarms: files out of attempts, failed executions, dead letters

The pieces, top to bottom: ``bronze_lambdas`` (controller, lite worker), ``ingest_task``
(image, cluster, Fargate task), ``network`` (a VPC when none is given), ``bronze_dispatch``
(state machine, pipe), ``bronze_tables`` (Glue). The Lambdas run ``workloads.bronze.handlers``
from the one deterministic bundle; the Fargate task runs the same code from an image built from
``workloads/bronze/Dockerfile``. Every worker's environment is ``BronzeRuntime`` + ``PiiRuntime``
(``datalake/runtime.py``).
"""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from datalake.errors import EXHAUSTED_METRIC, METRIC_NAMESPACE
from datalake.layout import BRONZE_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX
from datalake.runtime import BronzeRuntime, PiiRuntime, combined_environment
from datalake.settings import DEV_ENVIRONMENTS, IngestionSettings, NetworkSettings

from .alarms import executions_failed_alarm, failure_alarm
from .bronze_dispatch import (
    Dispatch,
    IngestTargets,
    control_stream_pipe,
    ingestion_machine,
)
from .bronze_lambdas import bronze_lambda_runtime, lite_ingest, processing_controller
from .bronze_scope import LAYER, BronzeScope
from .bronze_tables import bronze_tables
from .foundation import (
    LakeFoundation,
    LakeIdentity,
    after_lake_formation,
    alarm_actions,
    foundation_domain,
    names_of,
    section_settings,
)
from .ingest_task import ingest_task
from .network import IngestionNetwork, IngestionNetworkArgs
from .options import child_options
from .policies import (
    control_table_access,
    domain_read,
    kms_use,
    metrics_put,
    s3_read,
    s3_write,
)

DEAD_LETTER_QUEUES = {"controller": "controller", "ingest": "bronze-ingest", "pipe": "bronze-pipe"}
"""Alarm purpose -> queue purpose of the zone's three dead-letter queues."""


class BronzeZoneArgs(TypedDict):
    """Inputs of :class:`BronzeZone`: the foundation, the bronze settings and the PII masker."""

    foundation: LakeFoundation
    """The lake's identity and foundation resources (buckets, key, control table, catalog)."""
    pii_worker_policy_arn: pulumi.Input[str]
    """Managed policy the ingest workers need to detect and mask PII (``PIIMasker``)."""
    pii_worker_environment: pulumi.Input[dict[str, str]]
    """The workers' masking variables (``PIIMasker.worker_environment``, a ``PiiRuntime``)."""
    ingestion: NotRequired[dict[str, Any]]
    """The ``ingestion`` settings section (thresholds, sizes, retries, Lambda runtime)."""
    network: NotRequired[dict[str, Any]]
    """The ``network`` settings section (subnets for the Fargate task, or a VPC is created)."""
    classification_tag_key: NotRequired[pulumi.Input[str]]
    """When given, bronze columns are tagged with their domain classification under this
    Lake Formation tag key (``PIIMasker.classification_tag_key``)."""


class BronzeZone(pulumi.ComponentResource):
    """Controller, dispatch state machine, lite Lambda, Fargate task and bronze tables."""

    controller_function_name: pulumi.Output[str]
    """The processing controller Lambda (registers a control record per raw object)."""
    ingest_function_name: pulumi.Output[str]
    """The lite ingest Lambda (files under the mass threshold)."""
    state_machine_arn: pulumi.Output[str]
    """The ingestion state machine the control-table stream starts."""
    pipe_role_arn: pulumi.Output[str]
    """The role the EventBridge Pipe assumes to start ingestions."""
    cluster_name: pulumi.Output[str]
    """The ECS cluster of the Fargate ingest task."""
    image_ref: pulumi.Output[str]
    """The ingest image, by digest."""
    bronze_table_names: pulumi.Output[list[str]]
    """The bronze Glue tables, one per table of the domain."""

    def __init__(
        self, name: str, args: BronzeZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:BronzeZone", name, None, opts)
        foundation = args["foundation"]
        lake = foundation["lake"]
        ingestion = section_settings(IngestionSettings, "ingestion", args.get("ingestion"))
        network = section_settings(NetworkSettings, "network", args.get("network"))
        names = names_of(lake)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        scope = BronzeScope(
            self,
            name,
            names,
            caller.account_id,
            foundation["kms_key_arn"],
            lake["log_retention_days"],
        )
        environment = worker_environment(ingestion, foundation, args["pii_worker_environment"])
        runtime = bronze_lambda_runtime(self, ingestion, names.region)

        # --- dead-letter queues and logs ---------------------------------------------------
        queues = {alarm: scope.dead_letter_queue(q) for alarm, q in DEAD_LETTER_QUEUES.items()}
        controller_logs = scope.log_group("processing-controller", "/aws/lambda")
        lite_logs = scope.log_group("bronze-ingest-lite", "/aws/lambda")
        mass_logs = scope.log_group("bronze-ingest-mass", "/ecs")
        machine_logs = scope.log_group("bronze-ingestion", "/aws/vendedlogs/states")

        # --- processing controller: S3 event -> control record -----------------------------
        controller = processing_controller(
            scope,
            ingestion,
            runtime,
            landing_bucket_name=foundation["landing_bucket_name"],
            landing_bucket_arn=foundation["landing_bucket_arn"],
            control_table_arn=foundation["control_table_arn"],
            artifacts_bucket_arn=foundation["artifacts_bucket_arn"],
            environment=environment,
            logs=controller_logs,
            dead_letters=queues["controller"],
        )

        # --- workers: one policy for the lite Lambda and the Fargate task ------------------
        worker_statements = (
            s3_read(foundation["landing_bucket_arn"], [RAW_PREFIX], "ReadRawObjects"),
            domain_read(foundation["artifacts_bucket_arn"]),
            s3_write(
                foundation["lake_bucket_arn"], [BRONZE_PREFIX, QUARANTINE_PREFIX], "WriteBronze"
            ),
            kms_use(foundation["kms_key_arn"], encrypt=True),
            control_table_access(foundation["control_table_arn"], update=True),
            metrics_put(METRIC_NAMESPACE),
        )
        lite = lite_ingest(
            scope,
            ingestion,
            runtime,
            worker_statements=worker_statements,
            pii_worker_policy_arn=args["pii_worker_policy_arn"],
            environment=environment,
            logs=lite_logs,
            dead_letters=queues["ingest"],
        )

        # --- mass ingestion: image, cluster, Fargate task, its network ---------------------
        task = ingest_task(
            scope,
            ingestion,
            worker_statements=worker_statements,
            pii_worker_policy_arn=args["pii_worker_policy_arn"],
            environment=environment,
            logs=mass_logs,
            force_delete_images=lake["environment"] in DEV_ENVIRONMENTS,
        )
        subnet_ids, security_group_ids = self._subnets(
            name, lake, network, foundation["kms_key_arn"]
        )

        # --- the ingestion state machine, started by the control-table stream ---------------
        machine = ingestion_machine(
            scope,
            Dispatch(
                threshold=ingestion.mass_threshold_records,
                max_attempts=ingestion.max_attempts,
                interval_seconds=ingestion.retry_interval_seconds,
                backoff_rate=ingestion.retry_backoff_rate,
                assign_public_ip=network.assign_public_ip,
            ),
            IngestTargets(
                lite=lite,
                cluster=task.cluster,
                task_definition=task.task_definition,
                task_roles=(task.task_role, task.execution_role),
                subnet_ids=subnet_ids,
                security_group_ids=security_group_ids,
            ),
            control_table_name=foundation["control_table_name"],
            control_table_arn=foundation["control_table_arn"],
            logs=machine_logs,
        )
        pipe = control_stream_pipe(
            scope,
            control_stream_arn=foundation["control_stream_arn"],
            machine=machine,
            dead_letters=queues["pipe"],
        )

        # --- bronze tables in Glue ---------------------------------------------------------
        tag_key = args.get("classification_tag_key")
        tables = bronze_tables(
            self,
            name,
            foundation_domain(foundation),
            lake_bucket_name=foundation["lake_bucket_name"],
            database_name=foundation["bronze_database_name"],
            classification_tag_key=(
                None if tag_key is None else after_lake_formation(foundation, tag_key)
            ),
        )

        # --- alarms ------------------------------------------------------------------------
        self._alarms(name, lake, machine, queues)

        self.controller_function_name = controller.name
        self.ingest_function_name = lite.name
        self.state_machine_arn = machine.arn
        self.pipe_role_arn = pipe.role_arn
        self.cluster_name = task.cluster.name
        self.image_ref = task.image.ref
        self.bronze_table_names = pulumi.Output.all(*[t.name for t in tables.values()])
        self.register_outputs(
            {
                "controller_function_name": self.controller_function_name,
                "ingest_function_name": self.ingest_function_name,
                "state_machine_arn": self.state_machine_arn,
                "pipe_role_arn": self.pipe_role_arn,
                "cluster_name": self.cluster_name,
                "image_ref": self.image_ref,
                "bronze_table_names": self.bronze_table_names,
            }
        )

    def _subnets(
        self,
        name: str,
        lake: LakeIdentity,
        network: NetworkSettings,
        kms_key_arn: pulumi.Input[str],
    ) -> tuple[pulumi.Input[list[str]], pulumi.Input[list[str]]]:
        """The task's subnets and security groups: the settings', or a VPC of its own (private
        with VPC endpoints, or public with ``network.assign_public_ip``)."""
        if network.subnet_ids:
            return list(network.subnet_ids), list(network.security_group_ids)
        created = IngestionNetwork(
            f"{name}-network",
            IngestionNetworkArgs(
                lake=lake,
                cidr=network.vpc_cidr,
                public=network.assign_public_ip,
                kms_key_arn=kms_key_arn,
            ),
            opts=child_options(self),
        )
        return created.subnet_ids, created.security_group_ids

    def _alarms(
        self,
        name: str,
        lake: LakeIdentity,
        machine: aws.sfn.StateMachine,
        queues: Mapping[str, aws.sqs.Queue],
    ) -> None:
        """Files out of attempts, failed executions, and messages in any dead-letter queue."""
        names, actions = names_of(lake), alarm_actions(lake)
        failure_alarm(
            self,
            f"{name}-files-out-of-attempts-alarm",
            name=names.resource("bronze-files-out-of-attempts"),
            description="Raw files stayed in error after every attempt",
            namespace=METRIC_NAMESPACE,
            metric=EXHAUSTED_METRIC,
            dimensions=None,
            actions=actions,
            layer=LAYER,
        )
        executions_failed_alarm(
            self,
            f"{name}-failed-ingestions-alarm",
            name=names.resource("bronze-failed-ingestions"),
            description="Ingestion state machine executions failed",
            machine=machine,
            actions=actions,
            layer=LAYER,
        )
        for purpose, queue in queues.items():
            failure_alarm(
                self,
                f"{name}-{purpose}-dead-letters-alarm",
                name=names.resource(f"bronze-{purpose}-dead-letters"),
                description=f"Messages in the {purpose} dead-letter queue",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue.name},
                actions=actions,
                layer=LAYER,
                statistic="Maximum",
            )


def worker_environment(
    ingestion: IngestionSettings,
    foundation: LakeFoundation,
    pii_environment: pulumi.Input[dict[str, str]],
) -> pulumi.Output[dict[str, str]]:
    """What every bronze worker reads: its ``BronzeRuntime`` (with the domain's URI) and the
    masker's ``PiiRuntime``."""
    return pulumi.Output.all(
        foundation["control_table_name"],
        foundation["lake_bucket_name"],
        foundation["domain_uri"],
        pii_environment,
    ).apply(
        lambda v: combined_environment(
            BronzeRuntime.for_lake(
                ingestion, control_table=v[0], lake_bucket=v[1], domain_uri=v[2]
            ),
            PiiRuntime.from_environment(v[3]),
        )
    )
