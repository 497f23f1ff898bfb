"""Every benchmark in one run, so the ratios compare numbers measured together."""

from __future__ import annotations

import bench_load
import bench_query

if __name__ == "__main__":
    bench_load.main()
    print()
    bench_query.main()
