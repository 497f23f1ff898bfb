"""Helpers the benchmarks share: fresh-process timing and peak memory, and read bandwidth."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field

import numpy as np

# VmHWM, not getrusage: ru_maxrss survives exec, so a child would report its parent's peak.
_CHILD_FOOTER = """
import json as _json, time as _time
_seconds = _time.perf_counter() - _bench_start
_peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                 if line.startswith("VmHWM:"))
print("BENCH_RESULT " + _json.dumps({"seconds": _seconds, "peak_mib": _peak_kib / 1024}))
"""


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_mib: float
    # what the child printed as ``BENCH_EXTRA {json}`` (its own measurements), else empty
    extra: dict = field(default_factory=dict)


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
        lines = completed.stdout.splitlines()
        line = next(x for x in lines if x.startswith("BENCH_RESULT "))
        extra = next((x for x in lines if x.startswith("BENCH_EXTRA ")), "BENCH_EXTRA {}")
        runs.append(
            ProcessRun(
                **json.loads(line.removeprefix("BENCH_RESULT ")),
                extra=json.loads(extra.removeprefix("BENCH_EXTRA ")),
            )
        )
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


def interleaved_times(contestants: dict, *, repeats: int = 200, warmup: int = 5) -> dict:
    """Median seconds per call of each ``name: function``, taking turns call by call, so a
    slow moment of the machine hits every contestant alike."""
    names = list(contestants)
    for name in names:
        for _ in range(warmup):
            contestants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            start = time.perf_counter()
            contestants[name]()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


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
