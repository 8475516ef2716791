"""The silver state machines, in Amazon States Language (built with ``components/asl.py``).

silver-pipeline
  Plan λ (claims pending records, one manifest per table)
    ──Choice: no table has changes──▶ NothingToMerge
    ──▶ MergeTables (Map, per table):
          MergeTable (Spark --mode merge) ──▶ FinishTable λ ──▶ TableMerged
             └─Catch─▶ RecordTableFailure λ ──▶ TableFailed (the other tables go on)
    ──▶ Views (Spark --mode view --plan <the plan's views plan>) ──▶ RegisterGoldRecords λ
    ──▶ PublishSucceeded (EventBridge, gold listens)
silver-maintenance
  Maintain (Spark --mode maintenance: compaction, snapshot expiry)
"""

from __future__ import annotations

from .asl import (
    ALL_ERRORS,
    DISCARD,
    EVENTS_PUT_EVENTS,
    LAMBDA_SERVICE_RETRY,
    Catch,
    Choice,
    ChoiceRule,
    JsonPath,
    Map,
    Pass,
    Retry,
    StateMachine,
    Succeed,
    Task,
    lambda_invoke,
)
from .spark_tasks import JobRetries, SparkJob, spark_task

EVENT_SOURCE = "datalake.silver"
SUCCEEDED_DETAIL_TYPE = "SilverPipelineSucceeded"
PUBLISH_RETRY = Retry((ALL_ERRORS,), max_attempts=3, interval_seconds=2, backoff_rate=2.0)


def _merge_tables(
    job: SparkJob, finish_arn: str, fail_arn: str, retry: list[Retry], max_concurrency: int
) -> Map:
    """One table per item: merge on Spark, then mark its records; a failure spares the others."""
    table_failed = [Catch("RecordTableFailure", result_path="$.failure")]
    table = {
        "run_id": JsonPath("$.run_id"),
        "table": JsonPath("$.table"),
        "control_ids": JsonPath("$.control_ids"),
    }
    per_table = StateMachine(
        start_at="MergeTable",
        states={
            "MergeTable": spark_task(
                job,
                JsonPath("States.Format('silver-merge-{}', $.table)"),
                ["--mode", "merge", "--manifest", JsonPath("$.manifest")],
                retry=retry,
                catch=table_failed,
                next="FinishTable",
            ),
            "FinishTable": lambda_invoke(
                finish_arn,
                table,
                result_path=DISCARD,
                retry=[LAMBDA_SERVICE_RETRY],
                catch=table_failed,
                next="TableMerged",
            ),
            "TableMerged": Pass({"table": JsonPath("$.table"), "status": "success"}, end=True),
            # The table's records are marked error with the cause; the other tables go on.
            "RecordTableFailure": lambda_invoke(
                fail_arn,
                {**table, "error": JsonPath("$.failure")},
                result_path=DISCARD,
                retry=[LAMBDA_SERVICE_RETRY],
                catch=[Catch("TableFailed", result_path="$.record_failure")],
                next="TableFailed",
            ),
            "TableFailed": Pass({"table": JsonPath("$.table"), "status": "error"}, end=True),
        },
    )
    return Map(
        items_path="$.plan.tables",
        item_selector={
            "run_id": JsonPath("$.plan.run_id"),
            "table": JsonPath("$$.Map.Item.Value.table"),
            "manifest": JsonPath("$$.Map.Item.Value.manifest"),
            "control_ids": JsonPath("$$.Map.Item.Value.control_ids"),
        },
        processor=per_table,
        max_concurrency=max_concurrency,
        result_path="$.merged",
        next="Views",
    )


def silver_definition(
    *,
    plan_function_arn: str,
    finish_function_arn: str,
    fail_function_arn: str,
    gold_records_function_arn: str,
    job: SparkJob,
    max_concurrency: int,
    retries: JobRetries,
    event_bus_name: str = "default",
) -> StateMachine:
    """The silver pipeline (Standard: it waits on Spark jobs), publishing its success on
    ``event_bus_name`` (the lake's bus)."""
    retry = retries.policy()
    published = {
        "run_id": JsonPath("$.plan.run_id"),
        "database": job.database,
        "tables": JsonPath("$.merged"),
        "views": JsonPath("$.plan.views"),
    }
    return StateMachine(
        comment="Merge the pending bronze changes of every table into silver, then the views",
        start_at="Plan",
        states={
            "Plan": lambda_invoke(
                plan_function_arn,
                # The run's input may name the tables to process ({"tables": [...]}).
                {"execution_name": JsonPath("$$.Execution.Name"), "input": JsonPath("$")},
                result_selector={
                    "run_id": JsonPath("$.Payload.run_id"),
                    "tables": JsonPath("$.Payload.tables"),
                    "views": JsonPath("$.Payload.views"),
                },
                result_path="$.plan",
                retry=[LAMBDA_SERVICE_RETRY],
                next="AnyChanges",
            ),
            "AnyChanges": Choice(
                [ChoiceRule("$.plan.tables[0]", "IsPresent", True, "MergeTables")],
                default="NothingToMerge",
            ),
            "NothingToMerge": Succeed(),
            "MergeTables": _merge_tables(
                job, finish_function_arn, fail_function_arn, retry, max_concurrency
            ),
            # Every view of the domain, in order: the partitions the merged changes touched.
            "Views": spark_task(
                job,
                "silver-views",
                ["--mode", "view", "--plan", JsonPath("$.plan.views.plan")],
                retry=retry,
                next="RegisterGoldRecords",
            ),
            # One pending gold control record per view partition the job replaced.
            "RegisterGoldRecords": lambda_invoke(
                gold_records_function_arn,
                {
                    "run_id": JsonPath("$.plan.run_id"),
                    "views": JsonPath("$.plan.views.outputs"),
                },
                result_path=DISCARD,
                retry=[LAMBDA_SERVICE_RETRY],
                next="PublishSucceeded",
            ),
            "PublishSucceeded": Task(
                EVENTS_PUT_EVENTS,
                parameters={
                    "Entries": [
                        {
                            "EventBusName": event_bus_name,
                            "Source": EVENT_SOURCE,
                            "DetailType": SUCCEEDED_DETAIL_TYPE,
                            "Detail": published,
                        }
                    ]
                },
                retry=[PUBLISH_RETRY],
                result_path=DISCARD,
                end=True,
            ),
        },
    )


def maintenance_definition(
    *,
    job: SparkJob,
    target_file_size_mb: int,
    snapshot_retention_days: int,
    min_snapshots_to_keep: int,
    retries: JobRetries,
) -> StateMachine:
    """Compact data files and expire old snapshots of every silver table, in one Spark job."""
    arguments = [
        *("--mode", "maintenance"),
        *("--target-file-size-mb", str(target_file_size_mb)),
        *("--snapshot-retention-days", str(snapshot_retention_days)),
        *("--min-snapshots-to-keep", str(min_snapshots_to_keep)),
    ]
    return StateMachine(
        comment="Rewrite small data files and expire old snapshots of the silver tables",
        start_at="Maintain",
        states={
            "Maintain": spark_task(
                job, "silver-maintenance", arguments, retry=retries.policy(), end=True
            )
        },
    )
