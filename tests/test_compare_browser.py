"""The compare view end to end: ``embscope serve A B`` in its own process, the built page in
headless Chromium (as tests/test_explorer_browser.py drives it), every request outside the
server refused. A is GloVe's 5,000 most frequent words, B a rotated copy whose 25 swapped keys
moved."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

import embscope
from test_explorer_browser import by_id, open_explorer, serving

STATIC = Path(__file__).resolve().parents[1] / "src" / "embscope" / "server" / "static"
pytestmark = pytest.mark.skipif(
    not (STATIC / "index.html").is_file(), reason="the front end is not built"
)

SWAPPED = 25


@pytest.fixture(scope="module")
def spaces(glove):
    a = glove.subset(glove.keys[:5000])
    rng = np.random.default_rng(3)
    vectors = np.asarray(a.vectors, dtype=np.float64)
    rotation = scipy.stats.ortho_group.rvs(a.dim, random_state=4)
    vectors = vectors @ rotation + rng.normal(scale=0.01 * vectors.std(), size=vectors.shape)
    swapped = np.arange(100, 5000, 180)[:SWAPPED]
    vectors[swapped] = vectors[np.roll(swapped, 1)]
    b = embscope.from_array(vectors.astype(np.float32), a.keys, name="glove-moved")
    return a, b, {a.keys[i] for i in swapped}


@pytest.fixture(scope="module")
def server(spaces, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    paths = [folder / "glove-5k.parquet", folder / "glove-moved.parquet"]
    for space, path in zip(spaces[:2], paths, strict=True):
        embscope.export(space, path, format="parquet")
    with serving(*paths) as address:
        yield address


@pytest.fixture
def page(browser, server):
    context, page = open_explorer(browser, server, points=5000, height=900)
    yield page
    context.close()


def side(page, column):
    """The keys of one side-by-side list and whether each is marked as in both."""
    return (
        by_id(page, f"compare-hits-{column}")
        .locator('[data-testid="compare-hit"]')
        .evaluate_all("rows => rows.map(row => [row.dataset.key, row.dataset.inBoth === '1'])")
    )


def shows(page, word):
    page.wait_for_function(
        "word => document.body.dataset.compareWord === word", arg=word, timeout=30_000
    )


@pytest.mark.slow
def test_two_sources_compared_side_by_side_and_moved(page, spaces):
    a, b, swapped = spaces
    comparison = embscope.compare(a, b, top_k=10, progress=False)
    panel = by_id(page, "compare")
    assert panel.is_visible()  # two sources: the panel is offered
    assert by_id(page, "compare-a").input_value() == "glove-5k-parquet"
    assert by_id(page, "compare-b").input_value() == "glove-moved-parquet"
    panel.scroll_into_view_if_needed()

    # the comparison, a server job: its figures with their chance levels
    by_id(page, "compare-go").click()
    page.wait_for_selector(
        'body[data-compared="glove-5k-parquet glove-moved-parquet"]', timeout=120_000
    )
    summary = comparison.summary()
    rows = by_id(page, "compare-summary").locator("tr[data-figure]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.figure)") == [
        name for name, *_ in summary.figures()
    ]
    overlap = rows.first.locator("td").all_text_contents()
    assert overlap == [f"{summary.overlap:.3f}", f"{summary.overlap_chance:.3f}"]
    assert "5,000 shared keys" in by_id(page, "compare-coverage").text_content()

    # no word typed yet: the key that moved most is shown side by side
    first = comparison.moved(1)["key"][0]
    shows(page, first)
    moved = by_id(page, "compare-moved").locator('[data-testid="compare-moved-word"]')
    listed = moved.evaluate_all("rows => rows.map(row => row.dataset.key)")
    assert listed == comparison.moved(20)["key"].tolist()
    assert set(listed[:SWAPPED]) <= swapped

    # a typed word: both neighbour lists, the ones both hold marked (and shown in bold)
    by_id(page, "compare-word").fill("king")
    by_id(page, "compare-word").press("Enter")
    shows(page, "king")
    expected = comparison.neighbors("king")
    left, right = side(page, "a"), side(page, "b")
    assert [k for k, _ in left] == expected.a.keys and [k for k, _ in right] == expected.b.keys
    assert [m for k, m in left + right] == [k in expected.shared for k, _ in left + right]
    assert sum(m for _, m in left) >= 8
    shared_row = by_id(page, "compare-hits-a").locator("li.shared .label").first
    assert shared_row.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert "in both lists" in by_id(page, "compare-word-status").text_content()
    assert by_id(page, "compare-stability").is_hidden()  # GloVe's order holds

    # a moved word clicked: shown side by side, its neighbours no longer the same
    third = moved.nth(2)
    key = third.get_attribute("data-key")
    third.click()
    shows(page, key)
    assert by_id(page, "compare-word").input_value() == key
    assert sum(m for _, m in side(page, "a")) <= 2
    assert f"{key}: " in by_id(page, "compare-word-status").text_content()

    # the least moved instead
    by_id(page, "compare-moved-kind").select_option("least")
    page.wait_for_function(
        "key => document.querySelector('[data-testid=compare-moved-word]').dataset.key === key",
        arg=comparison.moved(1, least=True)["key"][0],
    )

    # the joint projection: 1,000 keys twice, coloured by space, the moved ones joined
    page.wait_for_selector('body[data-compare-points="1000"]')
    plot = by_id(page, "compare-plot")
    assert plot.locator("circle[data-key]").count() == 2000
    assert plot.locator("line.moved").count() >= 19  # the marked key's line is drawn apart
    colours = set(
        plot.locator("circle[data-key]").evaluate_all("cs => cs.map(c => c.getAttribute('fill'))")
    )
    assert len(colours) == 2
    # a point clicked is shown side by side
    point = plot.locator(f'circle[data-key="{listed[5]}"]').first
    point.dispatch_event("click")
    shows(page, listed[5])

    # an unknown word: the closest keys, each a button that shows it
    by_id(page, "compare-word").fill("kingg")
    by_id(page, "compare-word").press("Enter")
    suggestion = by_id(page, "compare-word-status").locator(
        '[data-testid="compare-suggestion"]', has_text=re.compile("^king$")
    )
    suggestion.first.wait_for()
    assert "not in the vocabulary" in by_id(page, "compare-word-status").text_content()
    suggestion.first.click()
    shows(page, "king")

    if os.environ.get("EMBSCOPE_COMPARE_SCREENSHOT"):
        by_id(page, "compare-plot").scroll_into_view_if_needed()
        page.screenshot(path=os.environ["EMBSCOPE_COMPARE_SCREENSHOT"])
    assert page.refused == []
    # the browser logs the deliberate unknown word's 404; nothing else may fail
    assert [e for e in page.errors if "404" not in e] == []
