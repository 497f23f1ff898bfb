"""The explorer's lists a learner can read and views that say what they are, in headless
Chromium against the real server: "frequent words only" on all 400,000 GloVe words, and the
cloud's axes named by the words (or the PCA components' shares) that define them."""

from __future__ import annotations

import re

import pytest

from embscope.figures import axis_titles
from test_explorer_browser import STATIC, by_id, hit_keys, open_explorer, serving

pytestmark = pytest.mark.skipif(
    not (STATIC / "index.html").is_file(), reason="the front end is not built"
)

GLOVE = "glove-6b-50d"
GLOVE_ROWS = 400_000
SMALL_ROWS = 1000


@pytest.fixture(scope="module")
def glove_server(glove, tmp_path_factory):
    """``embscope serve`` on GloVe's 1,000 most frequent words (the page's first source: too
    few rows to offer a smaller part) and on the whole of GloVe, ordered by frequency."""
    import embscope

    small = tmp_path_factory.mktemp("lists") / "glove-first-1k.parquet"
    embscope.export(glove.subset(glove.keys[:SMALL_ROWS]), small, format="parquet")
    with serving(small, GLOVE) as address:
        yield address


@pytest.fixture
def glove_page(browser, glove_server):
    context, page = open_explorer(browser, glove_server, points=SMALL_ROWS, height=800)
    yield page
    context.close()


def choose_source(page, source: str, points: int) -> None:
    by_id(page, "source").select_option(source)
    page.wait_for_selector(f'body[data-points="{points}"]', timeout=120_000)
    page.wait_for_selector('body[data-query="good"]')


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.slow  # 400,000 points projected and drawn in Chromium (20 to 30 s)
def test_frequent_words_only_leaves_the_rare_junk_out_of_the_lists(glove_page, glove):
    page = glove_page
    # 1,000 rows: no smaller part of them is offered
    page.wait_for_selector('body[data-query="good"]')
    assert by_id(page, "restrict-vocab-label").is_hidden()
    small = by_id(page, "source").input_value()
    # all of GloVe: the page asks "good" again; its opposites among 400,000 rows are rare junk
    choose_source(page, GLOVE, GLOVE_ROWS)
    assert by_id(page, "restrict-vocab-label").is_visible()
    offered = by_id(page, "restrict-vocab").locator("option")
    assert offered.evaluate_all("o => o.map(x => x.value)") == [
        "",
        "1000",
        "10000",
        "30000",
        "100000",
    ]
    assert "most frequent words" in by_id(page, "restrict-vocab-label").get_attribute("title")
    everything = hit_keys(page, "opposites")
    assert any(glove.row(key) >= 100_000 for key in everything), everything

    # the first 10,000 rows only: both lists are the library's restricted search
    by_id(page, "restrict-vocab").select_option("10000")
    page.wait_for_selector('body[data-restrict-vocab="10000"]')
    neighbours, opposites = hit_keys(page, "neighbors"), hit_keys(page, "opposites")
    assert len(neighbours) == len(opposites) == 15
    assert max(glove.row(key) for key in neighbours + opposites) < 10_000
    expected = glove.search("good", top_k=len(opposites), opposite=True, restrict_vocab=10_000)
    assert opposites == list(expected.keys)
    expected = glove.search("good", top_k=len(neighbours), restrict_vocab=10_000)
    assert neighbours == list(expected.keys)
    # the cloud keeps every point coloured by its own score against the query
    page.wait_for_selector(f'body[data-scored="{GLOVE_ROWS}"]', timeout=60_000)

    # a clicked row is asked within the same rows
    page.locator('[data-testid="opposites"] [data-testid="hit"]').first.click()
    page.wait_for_function(
        "key => document.body.dataset.queryKeys === key && document.body.dataset.restrictVocab"
        " === '10000'",
        arg=opposites[0],
    )
    assert max(glove.row(key) for key in hit_keys(page, "opposites")) < 10_000

    # all rows again: the junk is back
    by_id(page, "restrict-vocab").select_option("")
    page.wait_for_function("() => document.body.dataset.restrictVocab === undefined")
    assert max(glove.row(key) for key in hit_keys(page, "opposites")) >= 10_000

    # another source starts with all rows, and so does GloVe when chosen again
    by_id(page, "restrict-vocab").select_option("1000")
    page.wait_for_selector('body[data-restrict-vocab="1000"]')
    by_id(page, "query").fill("good")
    by_id(page, "query").press("Enter")
    page.wait_for_selector('body[data-query="good"][data-restrict-vocab="1000"]')
    choose_source(page, small, SMALL_ROWS)
    assert by_id(page, "restrict-vocab-label").is_hidden()
    assert page.evaluate("() => document.body.dataset.restrictVocab") is None
    choose_source(page, GLOVE, GLOVE_ROWS)
    assert by_id(page, "restrict-vocab").input_value() == ""
    assert page.evaluate("() => document.body.dataset.restrictVocab") is None
    assert page.errors == [] and page.refused == []


def axis_names(page) -> dict[str, str]:
    names = page.locator('[data-testid="axis-names"] .axis-name')
    found = names.evaluate_all("s => s.map(n => [n.dataset.testid, n.textContent])")
    return {testid.removeprefix("axis-name-"): normalised(text) for testid, text in found}


def project(page, points: int) -> None:
    by_id(page, "project").click()
    page.wait_for_selector(f'body[data-points="{points}"]', timeout=120_000)


@pytest.mark.slow  # four projections; a fresh server's first t-SNE compiles (3 to 10 s)
def test_the_cloud_names_its_axes(glove_page, glove_1000):
    page, glove = glove_page, glove_1000
    # the first view, a 3D PCA: each component's share of the variance, by its letter
    pca3 = axis_titles(glove.project("pca", n_components=3))
    lettered = [normalised(f"{axis}: {title}") for axis, title in zip("xyz", pca3, strict=True)]
    assert axis_names(page) == dict(zip("xyz", lettered, strict=True))
    assert pca3[0].startswith("PC1 (")

    # the axes projection: each axis named by the words that define it, along its edge
    by_id(page, "method").select_option("axes")
    by_id(page, "axis-x").fill("good : bad")
    by_id(page, "axis-y").fill("man : woman")
    project(page, SMALL_ROWS)
    expected = axis_titles(glove.project("axes", x=("good", "bad"), y=("man", "woman")))
    names = axis_names(page)
    assert names == {"x": normalised(expected[0]), "y": normalised(expected[1])}
    assert names["x"].startswith("good − bad") and names["y"].startswith("man − woman")
    cloud = by_id(page, "cloud").bounding_box()
    x = by_id(page, "axis-name-x").bounding_box()
    y = by_id(page, "axis-name-y").bounding_box()
    # x along the bottom edge, in the middle; y up the left edge, written upwards
    assert cloud["y"] + cloud["height"] - (x["y"] + x["height"]) < 60
    middle = cloud["x"] + cloud["width"] / 2
    assert abs(x["x"] + x["width"] / 2 - middle) < 5
    assert y["x"] - cloud["x"] < 20 and y["height"] > 3 * y["width"]
    assert abs(y["y"] + y["height"] / 2 - (cloud["y"] + cloud["height"] / 2)) < 5

    # a 2D PCA replaces the words with its components' shares
    by_id(page, "method").select_option("pca")
    assert by_id(page, "dims").input_value() == "2"
    project(page, SMALL_ROWS)
    pca2 = axis_titles(glove.project("pca", n_components=2))
    assert axis_names(page) == {"x": normalised(pca2[0]), "y": normalised(pca2[1])}

    # a t-SNE's axes mean nothing: no names
    page.wait_for_selector('body[data-query="good"]')
    by_id(page, "method").select_option("tsne")
    by_id(page, "parameter").fill("10")
    by_id(page, "neighborhood").check()
    project(page, 61)
    assert by_id(page, "axis-names").is_hidden() and axis_names(page) == {}
    assert page.errors == [] and page.refused == []
