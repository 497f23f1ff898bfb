"""Memory of the notebook explorer: a Jupyter kernel that loaded GloVe (400,000 x 50), the same
kernel once ``space.explore()`` has drawn all 400,000 points in JupyterLab (in headless
Chromium), against what a user runs otherwise: ``embscope serve glove-6b-50d`` in its own
process with the served page drawing the same cloud. Peak resident memory (VmHWM) of the kernel
and of the server process; the browser's own memory is the page's in both and is left out.

Run: .venv/bin/python benchmarks/bench_notebook.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from jupyter_lab import (  # noqa: E402
    free_port,
    output_of,
    run_cell,
    running_jupyter_lab,
    wait_until_answering,
)

# the kernel's resident and peak memory, in KiB, in that order
MEMORY = (
    "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
    "print('MEMORY', status['VmRSS'].split()[0], status['VmHWM'].split()[0])"
)
CELLS = [
    f"import embscope\nspace = embscope.load('glove-6b-50d')\n{MEMORY}",
    "explorer = space.explore(height=600)\nexplorer",
    MEMORY,
]


def _browser(playwright):
    return playwright.chromium.launch(
        executable_path=shutil.which("chromium"),
        args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
    )


def kernel_memory() -> tuple[float, float, float]:
    """The kernel's RSS after loading GloVe, then its RSS and peak once the widget drew the
    cloud (MiB)."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as home,
        running_jupyter_lab(Path(home), CELLS) as url,
        sync_playwright() as playwright,
    ):
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("text=| Idle", timeout=90_000)
        run_cell(page, 0)
        loaded = output_of(page, 0, "MEMORY", timeout=120_000).split()
        run_cell(page, 1)
        frame = page.frame_locator(".jp-OutputArea-output iframe").first
        frame.locator('body[data-points="400000"]').wait_for(state="attached", timeout=180_000)
        time.sleep(1)
        run_cell(page, 2)
        drawn = output_of(page, 2, "MEMORY").split()
        browser.close()
    return int(loaded[1]) / 1024, int(drawn[1]) / 1024, int(drawn[2]) / 1024


def server_memory() -> tuple[float, float]:
    """``embscope serve``'s RSS and peak once the served page drew the same cloud (MiB)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("embscope")), "serve", "glove-6b-50d",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/sources", server, seconds=120)
        with sync_playwright() as playwright:
            browser = _browser(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector('body[data-points="400000"]', timeout=180_000, state="attached")
            time.sleep(1)
            status = Path(f"/proc/{server.pid}/status").read_text().splitlines()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    kib = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
    return int(kib["VmRSS"]) / 1024, int(kib["VmHWM"]) / 1024


def main() -> None:
    loaded, widget_rss, widget_peak = kernel_memory()
    serve_rss, serve_peak = server_memory()
    rows = [
        ("kernel, GloVe loaded", f"{loaded:,.0f}", ""),
        ("kernel, explorer drawn (400,000 points)", f"{widget_rss:,.0f}", f"{widget_peak:,.0f}"),
        ("embscope serve, page drawn", f"{serve_rss:,.0f}", f"{serve_peak:,.0f}"),
    ]
    print("GloVe 400,000 x 50: memory (MiB) of the process that answers the explorer's page")
    print(table(rows, ("process", "resident", "peak")))
    print(
        f"the widget adds {widget_rss - loaded:,.0f} MiB to the kernel; "
        f"kernel / served process peak: {widget_peak / serve_peak:.2f}"
    )


if __name__ == "__main__":
    main()
