"""The gold state machine, in Amazon States Language (built with ``components/asl.py``).

gold-marts
  Plan λ (claims the pending gold records, writes the manifest of marts)
    ──Choice: nothing pending──▶ NothingPending
    ──▶ BuildMarts (Map over the declared marts):
          BuildMart (Spark --mode marts) ──▶ MartBuilt
             └─Catch─▶ MartFailed (kept in the Map output; the other marts go on)
    ──Choice: a mart failed──▶ MartsFailed ──▶ RecordFailure λ ──▶ Failed
    ──▶ Finish λ (records success)
"""

from __future__ import annotations

from collections.abc import Sequence

from components.asl import (
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
from components.spark_tasks import JobRetries, SparkJob, spark_task

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
                    *("--months", JsonPath("States.JsonToString($.months)")),
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
            "months": JsonPath("$.plan.months"),
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
    marts: Sequence[str],
    max_concurrency: int,
    retries: JobRetries,
) -> StateMachine:
    """The gold run (Standard: it waits on Spark jobs)."""
    run = {"run_id": JsonPath("$.plan.run_id"), "control_ids": JsonPath("$.plan.control_ids")}
    return StateMachine(
        comment="Rebuild the months of the pending gold records in every mart",
        start_at="Plan",
        states={
            "Plan": lambda_invoke(
                plan_function_arn,
                {"execution_name": JsonPath("$$.Execution.Name")},
                result_selector={
                    "run_id": JsonPath("$.Payload.run_id"),
                    "months": JsonPath("$.Payload.months"),
                    "control_ids": JsonPath("$.Payload.control_ids"),
                    "manifest": JsonPath("$.Payload.manifest"),
                    # The declared marts, as a literal: the Map iterates over exactly these.
                    "marts": list(marts),
                },
                result_path="$.plan",
                retry=[LAMBDA_SERVICE_RETRY],
                next="AnyPending",
            ),
            "AnyPending": Choice(
                [ChoiceRule("$.plan.months[0]", "IsPresent", True, "BuildMarts")],
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
