"""Point renderers in a real browser, on the sizes the explorer has to hold smoothly (200,000
points in 3D, 1,000,000 in 2D): the explorer's setup (``frontend/src/points-layer.ts``: deck.gl
drawing each point as one GL point, multisampling off, as ``frontend/src/cloud.ts`` sets it
up), deck.gl's defaults (its ScatterplotLayer, an instanced quad per point, multisampling on)
and regl-scatterplot (2D only).

For each case, a fresh headless Chromium opens the benchmark page (``frontend/bench/``, built
with ``npm run bench:build`` when missing or older than its sources), which draws seeded
synthetic points (50 Gaussian blobs of very different sizes over 10% uniform noise, coloured by
blob), and reports

- first frame: from handing the points to the renderer to the first frame drawn with them and
  finished on the GPU (a pixel read back);
- frame times: the camera moves on every animation frame (3D: the orbit turns; 2D: a pan and
  zoom in and out); after a warm-up (3 frames and 0.5 s: Chromium lets a page queue a few
  frames ahead of the GPU, which come at the display's rate however slow drawing is), each
  frame for ``--seconds`` lasts from one requestAnimationFrame to the next; median, 95th
  percentile, and frames per second over that span up to the GPU finishing the last frame;
- redraws: the frames the renderer itself says it drew meanwhile, to show that every frame was
  really redrawn.

Cases: 3D 200k (embscope, deck.gl); 2D 1M and 2D 200k (embscope, deck.gl, regl-scatterplot).
The page is served from 127.0.0.1 and any other request is refused, so it runs offline.

By default Chromium renders WebGL with SwiftShader, on the CPU, as the browser tests do: the
numbers compare the renderers' work but understate any real GPU. On a laptop, ``--gpu`` uses
its GPU instead (the WebGL renderer in use is printed), and ``--uncapped`` lifts the 60 Hz
frame cap so that renderers faster than the display can still be told apart.

Run: .venv/bin/python benchmarks/bench_renderer.py [--seconds 10] [--points-2d 1000000 200000]
[--points-3d 200000] [--gpu] [--uncapped] [--json]   (about 4 minutes with SwiftShader on 2 cores;
needs npm for the first build, and Chromium: ``make browser``)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

from common import table

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
BENCH_PAGE = FRONTEND / "bench"
BUILT_PAGE = BENCH_PAGE / "dist"
# what the built page depends on: its sources and the installed library versions
PAGE_SOURCES = (
    BENCH_PAGE / "index.html",
    BENCH_PAGE / "renderer.ts",
    BENCH_PAGE / "vite.config.ts",
    FRONTEND / "src" / "points-layer.ts",
    FRONTEND / "package-lock.json",
)
VIEWPORT = {"width": 1280, "height": 800}
RENDERER_NAMES = {
    "sprites": "embscope PointsLayer",
    "deckgl": "deck.gl ScatterplotLayer",
    "regl": "regl-scatterplot",
}
# the first frame of 1M points under SwiftShader takes seconds; this only guards against a hang
FIRST_FRAME_ALLOWANCE_S = 300


@dataclasses.dataclass(frozen=True)
class Case:
    renderer: str  # "sprites", "deckgl" or "regl", as the page's URL parameter
    dims: int
    points: int


@dataclasses.dataclass(frozen=True)
class Outcome:
    case: Case
    first_frame_ms: float
    frames: int
    redraws: int
    median_ms: float
    p95_ms: float
    fps: float
    heap_mib: float | None
    webgl: str
    # deck.gl's main-thread milliseconds per redraw (None for regl-scatterplot)
    deck_render_ms: float | None
    durations: tuple[float, ...]

    @property
    def mean_ms(self) -> float:
        return 1000 / self.fps if self.fps else float("nan")


def _build_page_if_stale() -> None:
    built = BUILT_PAGE / "index.html"
    newest_source = max(path.stat().st_mtime for path in PAGE_SOURCES)
    if built.exists() and built.stat().st_mtime >= newest_source:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "the benchmark page needs building and npm is not installed: install Node.js "
            "(with npm), then run `npm install` in frontend/"
        )
    if not (FRONTEND / "node_modules" / "regl-scatterplot").exists():
        raise SystemExit("frontend/node_modules lacks regl-scatterplot: run `npm install` there")
    print("building the benchmark page (npm run bench:build)", file=sys.stderr, flush=True)
    subprocess.run([npm, "run", "bench:build"], cwd=FRONTEND, check=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # module scripts load only with a JavaScript MIME type, whatever /etc/mime.types says
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def log_message(self, format, *args):  # one line per asset would bury the results
        pass


@contextmanager
def _serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _chromium_path() -> str:
    """Debian's Chromium, or the one $EMBSCOPE_CHROMIUM names (as tests/conftest.py finds it)."""
    configured = os.environ.get("EMBSCOPE_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("the benchmark needs Chromium: run `make browser` (apt-get install chromium)")


def _browser_args(*, gpu: bool, uncapped: bool) -> list[str]:
    # the browser tests' flags (tests/conftest.py), so the numbers describe that setup
    args = [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    if gpu:
        # headless Chromium may otherwise refuse a GPU it has not vetted
        args += ["--enable-gpu", "--ignore-gpu-blocklist"]
    else:
        args += ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    if uncapped:
        args += ["--disable-gpu-vsync", "--disable-frame-rate-limit"]
    return args


def _run_case(playwright, base_url: str, case: Case, *, seconds: float, args: list[str]) -> Outcome:
    # a fresh browser per case: no GPU memory, shader cache or warm JIT carried from the last one
    browser = playwright.chromium.launch(executable_path=_chromium_path(), args=args)
    try:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        refused: list[str] = []
        console_errors: list[str] = []
        local = urlsplit(base_url).netloc

        def refuse_remote(route):
            if urlsplit(route.request.url).netloc == local:
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        page.route("**/*", refuse_remote)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: console_errors.append(str(error)))
        query = urlencode(
            {
                "renderer": case.renderer,
                "points": case.points,
                "dims": case.dims,
                "seconds": seconds,
            }
        )
        page.goto(f"{base_url}/index.html?{query}")
        page.wait_for_function(
            "document.body.dataset.done === '1'",
            timeout=(seconds + FIRST_FRAME_ALLOWANCE_S) * 1000,
            polling=500,
        )
        error = page.evaluate("window.benchError ?? null")
        if error:
            raise RuntimeError(f"{case} failed in the page: {error}\nconsole: {console_errors[:5]}")
        if refused:
            raise RuntimeError(f"the benchmark page asked the network for {refused[:3]}")
        result = page.evaluate("window.benchResult")
    finally:
        browser.close()
    return Outcome(
        case=case,
        first_frame_ms=result["firstFrameMs"],
        frames=result["frames"],
        redraws=result["redraws"],
        median_ms=result["medianMs"],
        p95_ms=result["p95Ms"],
        fps=result["fps"],
        heap_mib=result["heapMiB"],
        webgl=result["webgl"],
        deck_render_ms=result["deckRenderMs"],
        durations=tuple(result["durations"]),
    )


def _cases(points_2d: list[int], points_3d: list[int]) -> list[Case]:
    cases = [Case(renderer, 3, n) for n in points_3d for renderer in ("sprites", "deckgl")]
    for n in points_2d:
        cases += [Case(renderer, 2, n) for renderer in ("sprites", "deckgl", "regl")]
    return cases


def _report(outcomes: list[Outcome], *, seconds: float, gpu: bool, uncapped: bool) -> None:
    webgl = sorted({outcome.webgl for outcome in outcomes})
    print(
        f"WebGL renderer: {', '.join(webgl)}; viewport {VIEWPORT['width']}x{VIEWPORT['height']}; "
        f"{seconds:g} s of camera motion per case; {os.cpu_count()} CPU cores"
        + ("; frame rate uncapped" if uncapped else "")
    )
    rows = [
        (
            RENDERER_NAMES[o.case.renderer],
            f"{o.case.dims}D",
            f"{o.case.points:,}",
            f"{o.first_frame_ms:,.0f}",
            o.frames,
            o.redraws,
            f"{o.median_ms:.1f}",
            f"{o.p95_ms:.1f}",
            f"{o.fps:.2f}" if o.fps < 10 else f"{o.fps:.1f}",
            "-" if o.deck_render_ms is None else f"{o.deck_render_ms:.1f}",
            "-" if o.heap_mib is None else f"{o.heap_mib:.0f}",
        )
        for o in outcomes
    ]
    header = (
        "renderer",
        "dims",
        "points",
        "first frame ms",
        "frames",
        "redraws",
        "median frame ms",
        "p95 frame ms",
        "fps",
        "deck.gl JS ms/draw",
        "JS heap MiB",
    )
    print(table(rows, header))

    by_case = {(o.case.renderer, o.case.dims, o.case.points): o for o in outcomes}
    ratios = []
    for (renderer, dims, points), ours in by_case.items():
        if renderer != "sprites":
            continue
        for other in ("deckgl", "regl"):
            theirs = by_case.get((other, dims, points))
            if theirs is None:
                continue
            ratios.append(
                (
                    f"{dims}D",
                    f"{points:,}",
                    RENDERER_NAMES[other],
                    f"{theirs.first_frame_ms / ours.first_frame_ms:.2f}",
                    f"{ours.fps / theirs.fps:.2f}",
                )
            )
    if ratios:
        print()
        print("embscope's PointsLayer against each (above 1: embscope is faster)")
        header = ("dims", "points", "against", "first frame: theirs / ours", "fps: ours / theirs")
        print(table(ratios, header))

    print()
    print("regl-scatterplot draws 2D points only: the 3D case has no regl-scatterplot contestant.")
    few = [o for o in outcomes if o.frames < 20]
    for o in few:
        print(
            f"{RENDERER_NAMES[o.case.renderer]} {o.case.dims}D {o.case.points:,}: only "
            f"{o.frames} frame(s) in {seconds:g} s, so its percentiles rest on few samples."
        )
    # deck.gl draws in its own animation frame, one behind the camera move: one frame short
    unredrawn = [o for o in outcomes if o.redraws < 0.9 * o.frames - 1]
    for o in unredrawn:
        print(
            f"{RENDERER_NAMES[o.case.renderer]} {o.case.dims}D {o.case.points:,}: drew "
            f"{o.redraws} of {o.frames} frames: its frame times flatter it."
        )
    if any(o.median_ms < o.mean_ms / 2 for o in outcomes):
        print(
            "Where frames take longer than the display's interval, Chromium still lets the page "
            "run a frame ahead of the GPU now and then, so some intervals read 16.7 ms and the "
            "median can land on them: fps (up to the GPU finishing) is the throughput to trust."
        )
    print(
        "deck.gl JS ms/draw is its main-thread time per redraw (JavaScript and issuing WebGL "
        "calls); the rest of a frame is the GPU's work."
    )
    if any("swiftshader" in name.lower() for name in webgl):
        print(
            "SwiftShader renders WebGL in software on the CPU: absolute numbers understate a real "
            "GPU by far, and so may the ratios: a ScatterplotLayer frame costs the same with "
            "0.5 px as with 1.5 px points (a per-point cost: an instanced four-vertex quad per "
            "point, where the PointsLayer and regl-scatterplot draw one GL point), and "
            "per-vertex work is what a CPU renderer pays most for. --gpu measures a real GPU."
        )
    elif not gpu:
        print("Note: SwiftShader was asked for but the page reports another WebGL renderer.")
    if not uncapped and outcomes and statistics.median(o.fps for o in outcomes) > 55:
        print(
            "Most cases reach the display's frame rate (16.7 ms at 60 Hz): --uncapped shows "
            "the headroom beyond it."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="camera motion per case")
    parser.add_argument(
        "--points-2d",
        type=int,
        nargs="+",
        default=[1_000_000, 200_000],
        help="2D sizes, each drawn by all three renderers",
    )
    parser.add_argument(
        "--points-3d", type=int, nargs="*", default=[200_000], help="3D sizes (no regl-scatterplot)"
    )
    parser.add_argument(
        "--gpu", action="store_true", help="render with the machine's GPU instead of SwiftShader"
    )
    parser.add_argument(
        "--uncapped",
        action="store_true",
        help="lift the 60 Hz frame cap (vsync off), to see past the display's frame rate",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON line per case (every frame's duration too)"
    )
    arguments = parser.parse_args()
    if arguments.seconds <= 0:
        parser.error("--seconds must be positive")
    if any(n < 1 for n in arguments.points_2d + arguments.points_3d):
        parser.error("point counts must be positive")

    _build_page_if_stale()
    from playwright.sync_api import sync_playwright

    args = _browser_args(gpu=arguments.gpu, uncapped=arguments.uncapped)
    outcomes = []
    with _serve(BUILT_PAGE) as base_url, sync_playwright() as playwright:
        for case in _cases(arguments.points_2d, arguments.points_3d):
            print(
                f"running {RENDERER_NAMES[case.renderer]} {case.dims}D {case.points:,}",
                file=sys.stderr,
                flush=True,
            )
            outcomes.append(
                _run_case(playwright, base_url, case, seconds=arguments.seconds, args=args)
            )
    if arguments.json:
        for outcome in outcomes:
            print(json.dumps(dataclasses.asdict(outcome)))
        return
    _report(outcomes, seconds=arguments.seconds, gpu=arguments.gpu, uncapped=arguments.uncapped)


if __name__ == "__main__":
    main()
