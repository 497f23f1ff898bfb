"""Helpers the benchmarks share: fresh-process timing and peak memory, and read bandwidth."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import numpy as np

_CHILD_FOOTER = """
import json as _json, resource as _resource, time as _time
print("BENCH_RESULT " + _json.dumps({
    "seconds": _time.perf_counter() - _bench_start,
    "peak_mib": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_mib: float


def fresh_process(code: str, *, repeats: int = 3) -> ProcessRun:
    """Run ``code`` in new interpreters; best wall time (imports included) and its peak RSS."""
    script = "import time as _t\n_bench_start = _t.perf_counter()\n" + textwrap.dedent(code)
    script += _CHILD_FOOTER
    runs = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"benchmark child failed:\n{completed.stderr[-2000:]}")
        line = next(x for x in completed.stdout.splitlines() if x.startswith("BENCH_RESULT "))
        runs.append(ProcessRun(**json.loads(line.removeprefix("BENCH_RESULT "))))
    return min(runs, key=lambda run: run.seconds)


def best_time(function, *, repeats: int = 30, warmup: int = 3) -> float:
    """Median seconds of ``function()`` over ``repeats`` calls after a warm-up."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def read_bandwidth(mib: int = 512) -> float:
    """Bytes per second BLAS reads from memory here (a dot product of two large vectors)."""
    first = np.ones(mib * 1024 * 1024 // 8, dtype=np.float32)
    second = np.ones_like(first)
    seconds = min(best_time(lambda: float(first @ second), repeats=5, warmup=1) for _ in range(3))
    return 2 * first.nbytes / seconds


def table(rows: list[tuple], header: tuple) -> str:
    """A Markdown table, so results paste into the README unchanged."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
