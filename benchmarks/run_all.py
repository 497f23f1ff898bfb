"""Every benchmark in one run, so the ratios compare numbers measured together.

(``bench_index.py``, the measurement behind the choice of approximate index, takes several
minutes more and runs on its own.)
"""

from __future__ import annotations

import bench_load
import bench_query
import bench_scale

if __name__ == "__main__":
    bench_load.main()
    print()
    bench_query.main()
    print()
    bench_scale.main()
