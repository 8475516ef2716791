"""Running Spark jobs from Step Functions: the job run task, its retries, the machine's rights.

A :class:`SparkJob` is what every run of one layer's job shares (application, job role, code,
Iceberg catalog, logs); :func:`spark_task` makes an ``emr-serverless:startJobRun.sync`` task of
it with the mode's arguments, and every job gets the same catalog arguments::

    <mode arguments...> --catalog glue --database <the database the job writes>

The catalog's warehouse (``s3://<lake>/<layer>/``) is Spark configuration, not an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from .asl import (
    ALL_ERRORS,
    DISCARD,
    EMR_SERVERLESS_START_JOB_RUN_SYNC,
    Catch,
    JsonPath,
    Retry,
    Task,
    never_retry,
    states_array,
)
from .foundation import WorkloadDefaults
from .policies import Statement, kms_use, state_machine_log_delivery

ICEBERG_CATALOG = "glue"
ICEBERG_RUNTIME_JAR = "/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"
"""Where EMR releases ship the Iceberg Spark runtime."""
SYNC_JOB_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
"""The managed EventBridge rule Step Functions creates to wait on EMR Serverless job runs."""
NOT_RETRYABLE_JOB_ERRORS = (
    # The request itself is wrong (bad parameters, missing application, missing permission):
    # a retry fails the same way; the records are marked error at once.
    "EMRServerless.ValidationException",
    "EMRServerless.ResourceNotFoundException",
    "EMRServerless.AccessDeniedException",
    "States.Permissions",
)


@dataclass(frozen=True)
class SparkJob:
    """What every run of one layer's job shares: application, role, code, catalog and logs."""

    application_id: str
    execution_role_arn: str
    entry_point: str
    py_files: str
    database: str
    """The Glue database the job writes (``--database``)."""
    warehouse: str
    """The Iceberg warehouse of that database (``s3://<lake>/<layer>/``)."""
    log_group_name: str
    log_uri: str
    timeout_minutes: int
    """Every run's ``ExecutionTimeoutMinutes`` (``silver.emr.job_timeout_minutes``)."""

    def spark_submit_parameters(self) -> str:
        """``--py-files`` and the Iceberg catalog ``glue`` on the Glue Data Catalog."""
        conf = {
            "spark.sql.extensions": (
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
            ),
            f"spark.sql.catalog.{ICEBERG_CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
            f"spark.sql.catalog.{ICEBERG_CATALOG}.catalog-impl": (
                "org.apache.iceberg.aws.glue.GlueCatalog"
            ),
            f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse": self.warehouse,
            "spark.jars": ICEBERG_RUNTIME_JAR,
        }
        return " ".join(
            [f"--py-files {self.py_files}", *(f"--conf {k}={v}" for k, v in conf.items())]
        )

    def catalog_arguments(self) -> list[str | JsonPath]:
        """What every mode gets: the Iceberg catalog and the database the job writes."""
        return ["--catalog", ICEBERG_CATALOG, "--database", self.database]

    def parameters(
        self, name: JsonPath | str, arguments: Sequence[str | JsonPath]
    ) -> dict[str, Any]:
        """Parameters of a ``startJobRun.sync`` task: the mode's arguments, then the catalog's."""
        return {
            "ApplicationId": self.application_id,
            "ExecutionRoleArn": self.execution_role_arn,
            "Name": name,
            "ExecutionTimeoutMinutes": self.timeout_minutes,
            "JobDriver": {
                "SparkSubmit": {
                    "EntryPoint": self.entry_point,
                    "EntryPointArguments": states_array([*arguments, *self.catalog_arguments()]),
                    "SparkSubmitParameters": self.spark_submit_parameters(),
                }
            },
            "ConfigurationOverrides": {
                "MonitoringConfiguration": {
                    "CloudWatchLoggingConfiguration": {
                        "Enabled": True,
                        "LogGroupName": self.log_group_name,
                    },
                    "S3MonitoringConfiguration": {"LogUri": self.log_uri},
                }
            },
        }


def job_retry(*, max_attempts: int, interval_seconds: int, backoff_rate: float) -> list[Retry]:
    """Retry a Spark job with backoff and jitter, except when the request itself is wrong.

    ``max_attempts`` counts the first run, as the lake's ``max_attempts`` setting does.
    """
    return [
        never_retry(NOT_RETRYABLE_JOB_ERRORS),
        Retry(
            (ALL_ERRORS,),
            max_attempts=max_attempts - 1,
            interval_seconds=interval_seconds,
            backoff_rate=backoff_rate,
            jitter=True,
        ),
    ]


@dataclass(frozen=True)
class JobRetries:
    """The lake's retry policy for a job: attempts (the first run included) and backoff."""

    max_attempts: int
    interval_seconds: int
    backoff_rate: float

    @classmethod
    def of(cls, workloads: WorkloadDefaults) -> JobRetries:
        """The lake-wide retry conventions of the foundation."""
        return cls(
            workloads["max_attempts"],
            workloads["retry_interval_seconds"],
            workloads["retry_backoff_rate"],
        )

    def policy(self) -> list[Retry]:
        """The retriers of a Spark task."""
        return job_retry(
            max_attempts=self.max_attempts,
            interval_seconds=self.interval_seconds,
            backoff_rate=self.backoff_rate,
        )


def spark_task(
    job: SparkJob,
    name: JsonPath | str,
    arguments: Sequence[str | JsonPath],
    *,
    retry: Sequence[Retry],
    catch: Sequence[Catch] = (),
    next: str | None = None,
    end: bool = False,
) -> Task:
    """Run ``job`` with ``arguments`` and wait for it; its output is dropped (``ResultPath``
    null), the state's input goes on."""
    return Task(
        EMR_SERVERLESS_START_JOB_RUN_SYNC,
        parameters=job.parameters(name, arguments),
        result_path=DISCARD,
        retry=retry,
        catch=catch,
        next=next,
        end=end,
    )


def spark_run_statements(
    *,
    application_arn: pulumi.Input[str],
    job_role_arn: pulumi.Input[str],
    sync_rule_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
) -> list[pulumi.Input[Statement]]:
    """What a state machine needs to run jobs on one application with one job role."""
    return [
        {
            "Sid": "StartSparkJobs",
            "Effect": "Allow",
            "Action": "emr-serverless:StartJobRun",
            "Resource": application_arn,
        },
        {
            "Sid": "WatchSparkJobs",
            "Effect": "Allow",
            "Action": ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
            "Resource": pulumi.Output.concat(application_arn, "/jobruns/*"),
        },
        {
            "Sid": "PassJobRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": job_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
        },
        {
            "Sid": "SyncJobEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": sync_rule_arn,
        },
        kms_use(kms_key_arn, encrypt=True),
        state_machine_log_delivery(),
    ]
