"""Commands that operate a deployed lake: ``seed upload``, ``process``, ``status``, ``reprocess``,
``verify``.

Resource names come from the stack outputs (``--outputs FILE`` or ``pulumi stack output``);
``--endpoint-url`` sends every AWS call to an emulator instead of AWS, and without ``--outputs``
or ``--stack`` operates the local lake running there (``datalake local run --serve``, ``datalake
local up``), whose names derive from the local settings (``datalake/local_outputs.py``), no
Pulumi needed. Attach them with :func:`register`; ``datalake/cli_status.py`` prints what
``status`` reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from datalake.cli_status import print_status
from datalake.control import ControlRecordError
from datalake.inputs import InputError, generate_input
from datalake.local_outputs import LOCAL_REGION, local_lake_outputs
from datalake.operations import (
    Aws,
    execution_failure,
    operated_domain,
    parse_tables,
    reprocess,
    start_ingestion,
    start_processing,
    status_summary,
    stream_error_counts,
    upload_input,
    wait_for,
)
from datalake.stack_outputs import LakeOutputs, OperationsError, load_output_mapping, load_outputs
from datalake.verify import verify_main

EXPECTED_ERRORS = (
    OperationsError,
    ControlRecordError,
    InputError,
    ClientError,
    BotoCoreError,
    Boto3Error,
)
"""Failures reported as one ``error:`` line; anything else is a bug and keeps its traceback."""

OutputsFile = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        dir_okay=False,
        help="Stack outputs as JSON (`pulumi stack output --json > FILE`); "
        "default: run `pulumi stack output`, or with --endpoint-url (and no --stack) the "
        "names of the local lake on that endpoint.",
    ),
]
StackName = Annotated[
    str | None, typer.Option("--stack", help="Pulumi stack to read the outputs from.")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="Send every AWS call to this endpoint (an emulator); without --outputs or --stack, "
        "operate the local lake there (`datalake local up`, `datalake local run --serve`).",
    ),
]
VerifiedEndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call to this endpoint (an emulator)."),
]
Region = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region; default: the stack's region output, then boto3's (the local lake: "
        f"{LOCAL_REGION}).",
    ),
]
DomainFile = Annotated[
    Path | None,
    typer.Option(
        "--domain",
        exists=True,
        dir_okay=False,
        help="The lake's domain file; default: the one --stack-file names, else the shipped "
        "example domain.",
    ),
]
StackFile = Annotated[
    Path | None,
    typer.Option(
        "--stack-file",
        exists=True,
        dir_okay=False,
        help="The stack file (Pulumi.<stack>.yaml) whose datalake:lake.domain names the domain.",
    ),
]


class ProcessLayer(StrEnum):
    SILVER = "silver"
    GOLD = "gold"


def _console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _fail(message: str) -> NoReturn:
    """Print ``error: <message>`` on one line to stderr and exit with code 1."""
    _console(stderr=True).print(f"[red]error:[/red] {escape(' '.join(message.split()))}")
    raise typer.Exit(code=1)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except EXPECTED_ERRORS as error:
        _fail(str(error))


def _connect(
    outputs_file: Path | None, stack: str | None, endpoint_url: str | None, region: str | None
) -> tuple[LakeOutputs, Aws]:
    if endpoint_url is not None and outputs_file is None and stack is None:
        # The local lake on the emulator: its names from the local settings, no Pulumi.
        aws = Aws(region=region or LOCAL_REGION, endpoint_url=endpoint_url)
        account = aws.client("sts").get_caller_identity()["Account"]
        return local_lake_outputs(region, account), aws
    outputs = load_outputs(outputs_file, stack)
    return outputs, Aws(region=region or outputs.region, endpoint_url=endpoint_url)


def upload(
    input_dir: Annotated[
        Path | None,
        typer.Option(
            "--input",
            exists=True,
            file_okay=False,
            help="A folder of <table>/ folders to upload; default: what the domain's example "
            "generator writes.",
        ),
    ] = None,
    rows: Annotated[
        int,
        typer.Option(
            "--rows", "--reviews", min=1, help="Rows to generate (--reviews: its older name)."
        ),
    ] = 100_000,
    files: Annotated[int, typer.Option(min=1, help="Files to split them into.")] = 4,
    seed: Annotated[int, typer.Option(help="Generator seed: same seed, same bytes.")] = 7,
    first_id: Annotated[
        int, typer.Option(min=1, help="First generated key (raise it to add rows).")
    ] = 1,
    domain_file: DomainFile = None,
    stack_file: StackFile = None,
    outputs_file: OutputsFile = None,
    stack: StackName = None,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
) -> None:
    """Upload an input folder (or the example generator's) to landing raw/, in landing order."""
    with _one_line_errors():
        domain = operated_domain(domain_file, stack_file)
        outputs, aws = _connect(outputs_file, stack, endpoint_url, region)
        with tempfile.TemporaryDirectory(prefix="datalake-seed-") as workdir:
            summary = f"{input_dir}"
            if input_dir is None:
                input_dir = Path(workdir)
                generated = generate_input(
                    domain, input_dir, rows=rows, files=files, seed=seed, first_id=first_id
                )
                summary = generated.summary
            keys = upload_input(aws.client("s3"), outputs.landing_bucket, domain, input_dir)
    for key in keys:
        typer.echo(f"s3://{outputs.landing_bucket}/{key}")
    _console(stderr=True).print(
        f"[green]ok[/green] uploaded {len(keys)} objects of domain {escape(domain.name)}: "
        f"{escape(summary)}"
    )


def process(
    layer: Annotated[ProcessLayer, typer.Option(help="Pipeline to start.", case_sensitive=False)],
    tables: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated tables (silver) or marts (gold) of the domain to limit the "
            "run to."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until it ends.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0, help="With --wait: give up after this many seconds.")
    ] = 3600,
    poll: Annotated[
        float, typer.Option(min=0.01, help="With --wait: seconds between status checks.")
    ] = 10,
    domain_file: DomainFile = None,
    stack_file: StackFile = None,
    outputs_file: OutputsFile = None,
    stack: StackName = None,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
) -> None:
    """Start a silver or gold run; print its execution ARN (with --wait, fail if the run does)."""
    with _one_line_errors():
        selected = None
        if tables is not None:
            selected = parse_tables(layer.value, tables, operated_domain(domain_file, stack_file))
        outputs, aws = _connect(outputs_file, stack, endpoint_url, region)
        arn = (
            outputs.silver_state_machine_arn
            if layer is ProcessLayer.SILVER
            else outputs.gold_state_machine_arn
        )
        sfn = aws.client("stepfunctions")
        execution = start_processing(sfn, arn, tables=selected)
        typer.echo(execution)
        if not wait:
            return
        status = wait_for(sfn, execution, poll, timeout)
        if status != "SUCCEEDED":
            _fail(f"{layer.value} run {status}: {execution_failure(sfn, execution)}")
    typer.echo(status)


def status(
    errors: Annotated[int, typer.Option(min=0, help="Most recent failures to list.")] = 10,
    outputs_file: OutputsFile = None,
    stack: StackName = None,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
) -> None:
    """Count control records per layer, table and status, list the latest failures, and count
    the records the delivery stream could not deliver (``stream-errors/`` of landing), the
    records bronze skipped (DMS control records, DMS's own tables) and the quarantine rules
    (reasons without their values) with the most rows."""
    with _one_line_errors():
        outputs, aws = _connect(outputs_file, stack, endpoint_url, region)
        summary = status_summary(aws.control_store(outputs), errors=errors)
        stream_errors = stream_error_counts(aws.client("s3"), outputs.landing_bucket)
    print_status(_console(), outputs, summary, stream_errors)


def reprocess_command(
    control_id: Annotated[str, typer.Option("--control-id", help="Record in error to retry.")],
    start: Annotated[
        bool,
        typer.Option(
            "--start/--no-start",
            help="For a bronze record, start its ingestion (the next silver or gold run "
            "claims other layers' records).",
        ),
    ] = True,
    outputs_file: OutputsFile = None,
    stack: StackName = None,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
) -> None:
    """Put a failed control record back to pending, with its attempts reset."""
    with _one_line_errors():
        outputs, aws = _connect(outputs_file, stack, endpoint_url, region)
        record = reprocess(aws.control_store(outputs), control_id)
        console = _console()
        console.print(
            f"[green]ok[/green] {record.layer} record {record.control_id} "
            f"({escape(record.table_name)}, {escape(record.object_key)}) is pending again"
        )
        if record.layer != "bronze":
            console.print(
                f"the next {record.layer} run claims it "
                f"(`datalake process --layer {record.layer}` starts one now)"
            )
        elif start:
            execution = start_ingestion(
                aws.client("stepfunctions"), outputs.bronze_ingestion_state_machine_arn, record
            )
            console.print(f"started bronze ingestion: {execution}")
        else:
            console.print(
                "not started: start the bronze ingestion state machine with "
                f'{{"control_id": "{record.control_id}", '
                f'"record_count": {record.record_count or 0}}}'
            )


def verify(
    outputs_file: OutputsFile = None,
    stack: StackName = None,
    endpoint_url: VerifiedEndpointUrl = None,
    region: Region = None,
    deployer: Annotated[
        str | None,
        typer.Option("--deployer", help="Role ARN that runs `pulumi up` (checked as LF admin)."),
    ] = None,
    start_role: Annotated[
        list[str] | None,
        typer.Option(
            "--start-role",
            help="Start role ARN to simulate (repeatable; default: the stack's "
            "state_machine_start_role_arns output).",
        ),
    ] = None,
    iam_compatible: Annotated[
        bool, typer.Option("--iam-compatible", help="The lake runs in iam-compatible mode.")
    ] = False,
) -> None:
    """Check a deployed lake: LF admins, no IAM_ALLOWED_PRINCIPALS, buckets, start roles."""
    with _one_line_errors():
        data = load_output_mapping(outputs_file, stack)
        aws = Aws(region=region or data.get("region"), endpoint_url=endpoint_url)
        report = verify_main(
            data,
            clients=aws,
            deployer_arn=deployer,
            start_role_arns=start_role or None,
            iam_compatible=iam_compatible,
        )
    typer.echo(report.render())
    raise typer.Exit(code=report.exit_code)


def register(app: typer.Typer, seed_app: typer.Typer) -> None:
    """Add ``upload`` to ``seed_app`` and ``process``, ``status``, ``reprocess``, ``verify``
    to ``app``."""
    seed_app.command("upload")(upload)
    app.command("process")(process)
    app.command("status")(status)
    app.command("reprocess")(reprocess_command)
    app.command("verify")(verify)
