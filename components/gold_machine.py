"""The gold state machine, in Amazon States Language (built with ``components/asl.py``).

gold-marts
  Plan λ (claims the pending gold records, writes the manifest of marts and partitions,
         returns the marts to build: those of the views with pending partitions)
    ──Choice: nothing to build──▶ NothingPending
    ──▶ BuildMarts (Map over the marts to build):
          BuildMart (Spark --mode marts) ──▶ MartBuilt
             └─Catch─▶ MartFailed (kept in the Map output; the other marts go on)
    ──Choice: a mart failed──▶ MartsFailed ──▶ RecordFailure λ ──▶ Failed
    ──▶ Finish λ (records success)
"""

from __future__ import annotations

from .asl import (
    DISCARD,
    LAMBDA_SERVICE_RETRY,
    Catch,
    Choice,
    ChoiceRule,
    Fail,
    JsonPath,
    Map,
    Pass,
    StateMachine,
    Succeed,
    lambda_invoke,
)
from .spark_tasks import JobRetries, SparkJob, spark_task

MART_FAILED = "GoldMartFailed"


def _build_marts(
    job: SparkJob, source_database: str, retries: JobRetries, max_concurrency: int
) -> Map:
    """One mart per item, on Spark; a failed mart is kept with its error, the others go on."""
    per_mart = StateMachine(
        start_at="BuildMart",
        states={
            "BuildMart": spark_task(
                job,
                JsonPath("States.Format('gold-{}', $.mart)"),
                [
                    *("--mode", "marts"),
                    *("--mart", JsonPath("$.mart")),
                    *("--manifest", JsonPath("$.manifest")),
                    *("--source-database", source_database),
                ],
                retry=retries.policy(),
                catch=[Catch("MartFailed", result_path="$.failure")],
                next="MartBuilt",
            ),
            "MartBuilt": Pass({"mart": JsonPath("$.mart"), "status": "success"}, end=True),
            "MartFailed": Pass(
                {"mart": JsonPath("$.mart"), "status": "error", "error": JsonPath("$.failure")},
                end=True,
            ),
        },
    )
    return Map(
        items_path="$.plan.marts",
        item_selector={
            "mart": JsonPath("$$.Map.Item.Value"),
            "manifest": JsonPath("$.plan.manifest"),
        },
        processor=per_mart,
        max_concurrency=max_concurrency,
        # Every mart's outcome, and the failed ones apart for the Choice below.
        result_selector={
            "results": JsonPath("$"),
            "failed": JsonPath("$[?(@.status == 'error')]"),
        },
        result_path="$.marts",
        next="AnyMartFailed",
    )


def gold_definition(
    *,
    plan_function_arn: str,
    finish_function_arn: str,
    fail_function_arn: str,
    job: SparkJob,
    source_database: str,
    max_concurrency: int,
    retries: JobRetries,
) -> StateMachine:
    """The gold run (Standard: it waits on Spark jobs).

    The plan Lambda reads the domain: it returns the marts of every view with pending
    partitions, and writes each view's partitions into the run's manifest (never into the
    state, whose payload is limited to 256 KiB), where the Spark job reads its view's.
    """
    run = {"run_id": JsonPath("$.plan.run_id"), "control_ids": JsonPath("$.plan.control_ids")}
    return StateMachine(
        comment="Rebuild the view partitions of the pending gold records in their marts",
        start_at="Plan",
        states={
            "Plan": lambda_invoke(
                plan_function_arn,
                {"execution_name": JsonPath("$$.Execution.Name")},
                result_selector={
                    "run_id": JsonPath("$.Payload.run_id"),
                    "marts": JsonPath("$.Payload.marts"),
                    "control_ids": JsonPath("$.Payload.control_ids"),
                    "manifest": JsonPath("$.Payload.manifest"),
                },
                result_path="$.plan",
                retry=[LAMBDA_SERVICE_RETRY],
                next="AnyPending",
            ),
            "AnyPending": Choice(
                [ChoiceRule("$.plan.marts[0]", "IsPresent", True, "BuildMarts")],
                default="NothingPending",
            ),
            "NothingPending": Succeed(),
            "BuildMarts": _build_marts(job, source_database, retries, max_concurrency),
            "AnyMartFailed": Choice(
                [ChoiceRule("$.marts.failed[0]", "IsPresent", True, "MartsFailed")],
                default="Finish",
            ),
            "MartsFailed": Pass(
                {"Error": MART_FAILED, "Cause": JsonPath("States.JsonToString($.marts.failed)")},
                result_path="$.failure",
                next="RecordFailure",
            ),
            "Finish": lambda_invoke(
                finish_function_arn,
                run,
                result_path=DISCARD,
                retry=[LAMBDA_SERVICE_RETRY],
                catch=[Catch("RecordFailure", result_path="$.failure")],
                end=True,
            ),
            # The run's records are marked error with the cause (every failed mart), then the
            # execution fails: the failed-runs alarm sees it.
            "RecordFailure": lambda_invoke(
                fail_function_arn,
                {**run, "error": JsonPath("$.failure")},
                result_path=DISCARD,
                retry=[LAMBDA_SERVICE_RETRY],
                catch=[Catch("Failed", result_path="$.record_failure")],
                next="Failed",
            ),
            "Failed": Fail(error_path="$.failure.Error", cause_path="$.failure.Cause"),
        },
    )
