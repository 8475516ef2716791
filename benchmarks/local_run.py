"""Benchmark: ``datalake local run`` of the default (beer) domain, arrow engine, by size.

    .venv/bin/python benchmarks/local_run.py [--rows 20000,100000,400000] [--changes 400]
        [--files 4] [--json FILE]

Each size runs ``workloads.local.runner.run_local`` in its own process, as ``datalake local
run --rows N`` does (the CLI's default of streamed changes; no HTML report, which is written
after the summary). Printed per size: the runner's stage times plus the summary (the re-scan
of every table that the CLI's printed "total" leaves out), timed separately; per stage the
requests the emulator served, by service (counted on the emulator's side, so S3 calls of
pyarrow's own S3 filesystem are counted as well as boto3's) and the Iceberg commits (Glue
``UpdateTable`` calls: one per commit of pyiceberg's Glue catalog); after the run the control
records per layer and the Iceberg snapshots per layer; wall clock from the start of the run to
the end of the summary, and from the start of the process (imports included); the peak RSS of
the process tree (the emulator runs in it and holds every object in memory, as it does in
``datalake local run``); the CPU seconds of the process (less sensitive than wall clock to a
busy machine) and the load average at the end. Stages are told apart by the live lake's
dispatcher stages (each botocore request names its thread's stage in a header; pyarrow's
belong to the silver or gold stage in progress), the main thread's by the runner's ``_timed``
calls, the summary by wrapping ``summarise``; the dispatcher's polling outside any stage and
the main thread's idle checks are rows of their own. ``--json FILE`` writes every number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import measure_child  # noqa: E402

SIZES = (20_000, 100_000, 400_000)
TARGET_SECONDS = {20_000: 6.0, 100_000: 12.0, 400_000: 25.0}
"""Issue 15's wall-clock targets (start to summary, arrow engine, on the 2-core machines)."""
TARGET_RSS_MB = {400_000: 1536.0}
SUMMARY = "summary"
SETUP = "seed + emulator"
SERVICES = ("s3", "dynamodb", "glue")
"""Services with a column of their own; the rest are summed as "other"."""


STAGE_HEADER = "x-benchmark-stage"
"""Set by the patched botocore on every request: the sending thread's stage, or its name."""
MAIN_THREAD = "thread:MainThread"
POLLING = "dispatcher polling"
"""The dispatcher threads' requests outside any stage: queues, stream, idle checks."""
WAITING = "waiting for idle"
"""The main thread's requests while it waits for the dispatcher (idle checks)."""


class RequestLog:
    """Requests the emulator serves, by stage, service and operation (thread-safe).

    A request names its stage in :data:`STAGE_HEADER` (the dispatcher's stage the sending
    thread is in); the main thread's requests count towards ``pending`` until :meth:`close`
    names the stage they belong to (the runner's ``_timed`` calls); requests without the
    header (pyarrow's S3 filesystem) belong to the silver or gold stage in progress, or to
    the summary, and otherwise count as the main thread's, as do other threads' (the
    stream's delivery).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: Counter[tuple[str, str]] = Counter()
        self.stages: dict[str, Counter[tuple[str, str]]] = {}
        self.counting = True
        self.layer: str | None = None
        """The silver or gold stage in progress, or the summary (pyarrow reads and writes)."""

    def record(self, environ: dict[str, Any]) -> None:
        kind = request_kind(environ)
        tag = environ.get("HTTP_" + STAGE_HEADER.upper().replace("-", "_"))
        with self.lock:
            if not self.counting:
                return
            if tag == MAIN_THREAD:
                self.pending[kind] += 1
                return
            if tag is not None and tag.startswith("stage:"):
                stage = tag.removeprefix("stage:")
            elif tag is not None and tag.startswith("thread:dispatcher"):
                stage = POLLING
            elif self.layer is not None:  # pyarrow, or a worker thread of pyiceberg
                stage = self.layer
            else:  # pyarrow or another thread (the delivery's) outside silver and gold
                self.pending[kind] += 1
                return
            self.stages.setdefault(stage, Counter())[kind] += 1

    def close(self, stage: str) -> None:
        """The main thread's requests since the last call were the work of ``stage``."""
        with self.lock:
            if self.pending:
                self.stages.setdefault(stage, Counter()).update(self.pending)
            self.pending.clear()

    def stop(self) -> None:
        with self.lock:
            self.counting = False
            self.pending.clear()


def request_kind(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of one request: the service from the SigV4 credential scope, the
    operation from ``X-Amz-Target`` (JSON protocols) or the method and query (S3)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = "unsigned"
    with contextlib.suppress(IndexError):
        service = auth.split(",")[0].split()[1].split("/")[3].lower()
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    method, query = environ.get("REQUEST_METHOD", ""), environ.get("QUERY_STRING", "")
    if service == "s3":
        if "partNumber=" in query:
            return service, "UploadPart"
        if "uploads" in query.split("&"):
            return service, "CreateMultipartUpload"
        if "uploadId=" in query:
            return service, "CompleteMultipartUpload" if method == "POST" else method
        if "delete" in query.split("&"):
            return service, "DeleteObjects"
        bucket_only = len(environ.get("PATH_INFO", "/").strip("/").split("/", 1)) < 2
        names = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject"}
        if bucket_only:
            return service, f"{method} bucket"  # ListObjects(V2), GetBucket*, CreateBucket...
        return service, names.get(method, method)
    return service, method


def count_requests(log: RequestLog) -> None:
    """Wrap moto's server application: every request the emulator serves is logged."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    served = DomainDispatcherApplication.__call__

    def counted(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        log.record(environ)
        return served(self, environ, start_response)

    DomainDispatcherApplication.__call__ = counted  # type: ignore[method-assign]


def tag_requests(log: RequestLog) -> None:
    """Every botocore request names its thread's stage (or the thread), and the dispatcher's
    stages (``workloads/local/dispatcher.py``) set it; none when there is no dispatcher."""
    from botocore.endpoint import Endpoint

    local = threading.local()
    sent = Endpoint.make_request

    def tagged(self: Any, operation_model: Any, request_dict: dict[str, Any]) -> Any:
        stage = getattr(local, "stage", None)
        label = f"stage:{stage}" if stage else f"thread:{threading.current_thread().name}"
        request_dict.setdefault("headers", {})[STAGE_HEADER] = label
        return sent(self, operation_model, request_dict)

    Endpoint.make_request = tagged
    try:
        from workloads.local.dispatcher import Dispatcher
    except ImportError:  # the runner before the live lake: the main thread does everything
        return
    entered = Dispatcher._stage

    @contextlib.contextmanager
    def staged(self: Any, stage: str) -> Iterator[None]:
        previous, local.stage = getattr(local, "stage", None), stage
        layer = stage in ("silver", "gold")
        if layer:
            log.layer = stage
        try:
            with entered(self, stage):
                yield
        finally:
            local.stage = previous
            if layer:
                log.layer = None

    Dispatcher._stage = staged  # type: ignore[method-assign]


def run_child(rows: int, files: int, changes: int, seed: int) -> dict[str, Any]:
    """One run, in this process: stage times, requests and commits per stage, records."""
    import psutil

    from datalake.naming import Layer
    from datalake.operations import status_summary
    from workloads.local import runner

    log = RequestLog()
    count_requests(log)
    tag_requests(log)
    timings: dict[str, float] = {}
    finished: dict[str, float] = {}
    after: dict[str, Any] = {}

    timed = getattr(runner, "_timed", None)  # None: the requests before the summary are one

    def timed_and_counted(report: Any, stage: str, started: float) -> None:
        assert timed is not None
        timed(report, stage, started)
        log.close(WAITING if waiting else stage)

    waiting = False
    dispatched = getattr(runner, "_dispatched", None)

    def dispatched_and_counted(*args: Any) -> None:
        """The dispatcher's stage times: the main thread was waiting for them."""
        nonlocal waiting
        assert dispatched is not None
        waiting = True
        try:
            dispatched(*args)
        finally:
            waiting = False

    summarise = runner.summarise

    def timed_summary(lake: Any, report: Any, tables: Any) -> None:
        log.close("stages" if timed is None else "after the stages")
        started = time.perf_counter()
        log.layer = SUMMARY
        summarise(lake, report, tables)
        log.layer = None
        timings[SUMMARY] = time.perf_counter() - started
        log.close(SUMMARY)
        cpu = psutil.Process().cpu_times()
        finished.update(perf=time.perf_counter(), epoch=time.time(), cpu=cpu.user + cpu.system)
        log.stop()

    def inspect(lake: Any, report: Any) -> None:
        """After the measured run, before the emulator stops: records and snapshots."""
        records: Counter[str] = Counter()
        for count in status_summary(lake.store, errors=0).counts:
            records[count.layer] += count.count
        snapshots: Counter[str] = Counter()
        for layer in (Layer.SILVER, Layer.GOLD):
            for identifier in lake.catalog.list_tables(lake.database(layer)):
                table = lake.catalog.load_table(identifier)
                snapshots[layer.value] += len(table.metadata.snapshots)
        after.update(records=dict(records), snapshots=dict(snapshots))

    if timed is not None:
        runner._timed = timed_and_counted
    if dispatched is not None:
        runner._dispatched = dispatched_and_counted  # type: ignore[assignment]
    runner.summarise = timed_summary
    started = time.perf_counter()
    report = runner.run_local(rows=rows, files=files, changes=changes, seed=seed, serve=inspect)
    stages = {**report.timings, **timings}
    requests = {
        stage: {
            "by_service": dict(_by_service(counts)),
            "operations": {f"{s}:{o}": n for (s, o), n in sorted(counts.items())},
            "iceberg_commits": counts[("glue", "UpdateTable")],
        }
        for stage, counts in log.stages.items()
    }
    return {
        "rows": rows,
        "files": files,
        "changes": changes,
        "stages": stages,
        "printed_total": sum(report.timings.values()),
        "wall_seconds": finished["perf"] - started,
        "process_wall_seconds": finished["epoch"] - psutil.Process().create_time(),
        "cpu_seconds": finished["cpu"],
        "load_average": list(psutil.getloadavg()),
        "requests": requests,
        "control_records": after.get("records", {}),
        "snapshots": after.get("snapshots", {}),
        "errors": [list(error) for error in report.errors],
    }


def _by_service(counts: Counter[tuple[str, str]]) -> Counter[str]:
    services: Counter[str] = Counter()
    for (service, _), n in counts.items():
        services[service] += n
    return services


def print_run(result: dict[str, Any]) -> None:
    print(
        f"\n{result['rows']:,} reviews ({result['files']} files, {result['changes']} streamed "
        f"changes): {result['wall_seconds']:.1f} s start to summary, "
        f"{result['process_wall_seconds']:.1f} s with the process start, "
        f"printed total {result['printed_total']:.1f} s, peak RSS {result['peak_rss_mb']:,.0f} MB; "
        f"CPU {result['cpu_seconds']:.1f} s (user + system, to the summary's end), load average "
        f"{result['load_average'][0]:.1f} at the end"
    )
    header = ("stage", "seconds", *SERVICES, "other", "all", "commits")
    print("{:<18} {:>8} {:>7} {:>9} {:>6} {:>6} {:>7} {:>8}".format(*header))
    totals: Counter[str] = Counter()
    untimed = [stage for stage in result["requests"] if stage not in result["stages"]]
    for stage in [*result["stages"], *untimed]:
        seconds = result["stages"].get(stage)
        counts = result["requests"].get(stage, {"by_service": {}, "iceberg_commits": 0})
        services = Counter(counts["by_service"])
        other = sum(n for s, n in services.items() if s not in SERVICES)
        row = [services[s] for s in SERVICES]
        everything = sum(services.values())
        totals.update({**{s: services[s] for s in SERVICES}, "other": other, "all": everything})
        totals["commits"] += counts["iceberg_commits"]
        print(
            f"{stage:<18} {'-' if seconds is None else f'{seconds:.2f}':>8} {row[0]:>7,} "
            f"{row[1]:>9,} {row[2]:>6,} {other:>6,} "
            f"{everything:>7,} {counts['iceberg_commits']:>8,}"
        )
    print(
        f"{'all (sum)':<18} {sum(result['stages'].values()):>8.2f} {totals['s3']:>7,} "
        f"{totals['dynamodb']:>9,} {totals['glue']:>6,} {totals['other']:>6,} "
        f"{totals['all']:>7,} {totals['commits']:>8,}"
    )
    records = result["control_records"]
    snapshots = result["snapshots"]
    print(
        "control records: "
        + ", ".join(f"{layer} {n:,}" for layer, n in records.items())
        + f" (total {sum(records.values()):,}); Iceberg snapshots: "
        + ", ".join(f"{layer} {n:,}" for layer, n in snapshots.items())
    )
    if result["errors"]:
        print(f"errors: {result['errors']}")


def print_targets(results: list[dict[str, Any]]) -> None:
    print(
        "\n{:>8} {:>8} {:>8} {:>9} {:>10} {:>9}".format(
            "reviews", "wall s", "target", "RSS MB", "RSS target", "met"
        )
    )
    for r in results:
        target = TARGET_SECONDS.get(r["rows"])
        rss_target = TARGET_RSS_MB.get(r["rows"])
        met = (target is None or r["wall_seconds"] < target) and (
            rss_target is None or r["peak_rss_mb"] < rss_target
        )
        print(
            f"{r['rows']:>8,} {r['wall_seconds']:>8.1f} "
            f"{'' if target is None else f'< {target:.0f}':>8} {r['peak_rss_mb']:>9,.0f} "
            f"{'' if rss_target is None else f'< {rss_target:,.0f}':>10} "
            f"{'yes' if met else 'no':>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        default=",".join(str(n) for n in SIZES),
        help="Comma-separated numbers of reviews, one run each.",
    )
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--changes", type=int, default=None, help="Default: the CLI's.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="Write every number to this file.")
    parser.add_argument("--engine", choices=["arrow"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.changes is None:
        from datalake.streaming import LOCAL_RUN_CHANGES

        args.changes = LOCAL_RUN_CHANGES
    if args.engine:
        print(json.dumps(run_child(args.size, args.files, args.changes, args.seed)))
        return
    sizes = [int(n.replace("_", "")) for n in args.rows.split(",") if n.strip()]
    results = []
    for size in sizes:
        result = measure_child(
            Path(__file__),
            "arrow",
            "--size",
            str(size),
            "--files",
            str(args.files),
            "--changes",
            str(args.changes),
            "--seed",
            str(args.seed),
        )
        print_run(result)
        results.append(result)
    print_targets(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
