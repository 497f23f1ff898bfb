"""Every file reader under fuzzing (tests/fuzz_sources.py): a valid seed file per format, then
truncations, flipped bytes and crafted lies. Each one loads, or is refused with one line; none
crashes, and the whole run stays within a memory bound far below what a lying header asks for."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).with_name("fuzz_sources.py")
# the process imports numpy, pandas, pyarrow, h5py, keras and torch (about 600 MiB); a reader
# that believed a lying header or inflated a zip bomb would need gigabytes more
PEAK_MEMORY_BOUND = 1536 << 20


def test_fuzzed_files_load_or_are_refused_in_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(FUZZER), "--seed", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    *records, peak = [json.loads(line) for line in completed.stdout.splitlines()]
    crashed = [r for r in records if r["outcome"] == "crashed"]
    assert crashed == [], "\n".join(f"{r['format']} / {r['case']}: {r['detail']}" for r in crashed)
    valid = {r["format"]: r["outcome"] for r in records if r["case"] == "valid"}
    assert len(valid) >= 15 and set(valid.values()) == {"loaded"}, valid
    outcomes = collections.Counter(r["outcome"] for r in records)
    assert outcomes["refused"] > len(records) // 3, outcomes  # the mutations did break files
    bombs = [r for r in records if r["case"].startswith(("zip bomb", "member claims"))]
    assert bombs and all(r["outcome"] == "refused" for r in bombs), bombs
    assert peak["peak_rss_bytes"] < PEAK_MEMORY_BOUND, peak
