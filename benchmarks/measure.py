"""Runs one engine of a benchmark in a child process and samples its memory.

The RSS of the child's whole process tree (a Spark driver's JVM included) is sampled every
20 ms (the tree itself, which takes a scan of every process on the machine, every 0.5 s, so
that the sampler's own cost stays out of the measured run); the child prints its result as
one JSON line, last.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


def _rss(process: psutil.Process) -> int:
    """Resident bytes of ``process``; 0 once it has exited (a child of the tree may end)."""
    try:
        return process.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def measure_child(script: Path, engine: str, *arguments: str) -> dict:
    """Run ``script --engine ENGINE ARGUMENTS`` and return its JSON result, wall time, peak RSS."""
    child = subprocess.Popen(
        [sys.executable, str(script), "--engine", engine, *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        process = psutil.Process(child.pid)
        tree: list[psutil.Process] = [process]
        samples = 0
        while not done.is_set():
            try:
                if samples % 25 == 0:
                    tree = [process, *process.children(recursive=True)]
                samples += 1
                peak = max(peak, sum(_rss(p) for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    stdout, _ = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{engine} failed with exit code {child.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(engine=engine, peak_rss_mb=peak / 2**20, process_seconds=wall)
    return result
