"""``embscope.report`` on the two bundled spaces: the whole report's time and the share each
section takes (no other tool makes this page, so there is no ratio to print; the goal is under
a minute on two cores).

Run: .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import time

import embscope
from common import table


def main() -> None:
    rows = []
    for name in ("glove-6b-50d", "minilm"):
        space = embscope.load(name)
        start = time.perf_counter()
        found = embscope.report(space, progress=False)
        total = time.perf_counter() - start
        shares = ", ".join(
            f"{section} {seconds / total:.0%}" for section, seconds in found.seconds.items()
        )
        rows.append((f"{name} {len(space):,} x {space.dim}", f"{total:.1f} s", shares))
    print("embscope.report (sample 10,000 rows), on this machine")
    print(table(rows, ("space", "report", "share of each section")))


if __name__ == "__main__":
    main()
