"""The web explorer end to end: the real server in its own process, the built page in headless
Chromium (Debian's, driven by Playwright), every request outside the server refused.

Set EMBSCOPE_SCREENSHOT=docs/explorer.png to keep the screenshot this test takes (the README's).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STATIC = Path(__file__).resolve().parents[1] / "src" / "embscope" / "server" / "static"
pytestmark = pytest.mark.skipif(
    not (STATIC / "index.html").is_file(), reason="the front end is not built"
)


@contextlib.contextmanager
def serving(*sources):
    """``embscope serve SOURCES --port 0`` in its own process: yields its address, stops it
    with Ctrl-C, and checks it ended without a traceback."""
    command = [sys.executable, "-m", "embscope", "serve", *map(str, sources), "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        line = process.stdout.readline()
        address = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert address, line + process.stderr.read()
        try:
            yield address.group(0)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def server(glove, tmp_path_factory):
    """``embscope serve`` on the 20,000 most frequent GloVe words (a Parquet space)."""
    import embscope

    source = tmp_path_factory.mktemp("explorer") / "glove-20k.parquet"
    embscope.export(glove.subset(glove.keys[:20_000]), source, format="parquet")
    with serving(source) as address:
        yield address


def open_explorer(browser, server: str, *, points: int, height: int, **options):
    """A fresh browser context on the explorer at ``server``, once its ``points`` are drawn:
    every request elsewhere is refused and kept in ``page.refused``, console errors in
    ``page.errors``. Returns the context (to close) and the page."""
    context = browser.new_context(viewport={"width": 1280, "height": height}, **options)
    page = context.new_page()
    page.refused, page.errors = [], []

    def only_the_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            page.refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server)
    page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
    page.wait_for_selector(f'body[data-points="{points}"]', timeout=120_000)
    return context, page


@pytest.fixture
def page(browser, server):
    context, page = open_explorer(browser, server, points=20_000, height=800, accept_downloads=True)
    yield page
    context.close()


def by_id(page, test_id):
    return page.locator(f'[data-testid="{test_id}"]')


def hit_keys(page, list_id):
    return (
        by_id(page, list_id)
        .locator('[data-testid="hit"]')
        .evaluate_all("rows => rows.map(row => row.dataset.key)")
    )


def compare_words(page, a, b, pattern):
    """Types two words into the similarity form and waits for a result matching ``pattern``
    (a JavaScript regular expression)."""
    by_id(page, "sim-a").fill(a)
    by_id(page, "sim-b").fill(b)
    by_id(page, "sim-go").click()
    page.wait_for_function(
        f"() => /{pattern}/.test(document.querySelector('[data-testid=sim-result]').textContent)"
    )


def cloud_pixels(page):
    from PIL import Image

    image = Image.open(io.BytesIO(by_id(page, "cloud").screenshot())).convert("RGB")
    return np.asarray(image).astype(int)


def reds(pixels):
    """Pixels of the colour scale's red end (similar rows): red well above green and blue."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 120) & (r - np.maximum(g, b) > 50)


def blues(pixels):
    """Pixels of its blue end (opposite rows): blue well above red."""
    r, b = pixels[..., 0], pixels[..., 2]
    return (b > 110) & (b - r > 50)


def third_category(pixels):
    """Pixels of the category palette's third colour (salmon, 225 87 89)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (r > 195) & (g > 60) & (g < 120) & (b > 60) & (b < 120)


@pytest.mark.slow  # the whole search-project-export path in Chromium (about 11 s)
def test_search_metric_similarity_projection_click_and_export(page, tmp_path):
    # one source: nothing to compare it with, so the compare panel is not offered
    assert by_id(page, "compare").is_hidden()

    # search a word: its neighbours and opposites, as ranked lists
    by_id(page, "query").fill("beauty")
    by_id(page, "query").press("Enter")
    page.wait_for_selector('body[data-query="beauty"]')
    assert "beautiful" in hit_keys(page, "neighbors")[:3]
    assert len(hit_keys(page, "opposites")) > 0
    # GloVe's lists are no near ties: no note under them
    assert by_id(page, "neighbors-stability").is_hidden()

    # switch metric: the list now ranks by Euclidean distance
    by_id(page, "metric").select_option("euclidean")
    # (cosines are at most 1; these GloVe distances are 2 and more)
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'[data-testid=neighbors] [data-testid=hit] .score')?.textContent) > 1.5"
    )
    by_id(page, "metric").select_option("cosine")

    # an unknown word: a message with the closest vocabulary matches
    by_id(page, "query").fill("beautyy")
    by_id(page, "query").press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=message]').textContent.includes('beauty')"
    )

    # the similarity of two typed words
    compare_words(page, "king", "queen", "0\\.78")

    # a 2D t-SNE of the query's neighbourhood, computed on the server
    by_id(page, "query").fill("terrible")
    by_id(page, "query").press("Enter")
    page.wait_for_selector('body[data-query="terrible"]')
    assert by_id(page, "parameter-label").is_hidden()  # PCA has nothing to set
    by_id(page, "method").select_option("tsne")
    assert by_id(page, "parameter-label").is_visible()
    by_id(page, "parameter").fill("10")  # perplexity
    by_id(page, "dims").select_option("2")
    by_id(page, "neighborhood").check()
    by_id(page, "project").click()
    page.wait_for_selector('body[data-points="61"]', timeout=120_000)
    assert "61 points" in by_id(page, "projection-status").text_content()

    # the drawn cloud holds the colour scale's red (similar) and blue (opposite) points
    pixels = cloud_pixels(page)
    red, blue = reds(pixels), blues(pixels)
    assert red.sum() > 50 and blue.sum() > 50

    # cluster names on the map: the similar and the opposite words make separate regions
    by_id(page, "cluster-labels").check()
    page.wait_for_function("() => Number(document.body.dataset.clusters) >= 2")
    by_id(page, "cluster-labels").uncheck()
    page.wait_for_function("() => document.body.dataset.clusters === undefined")

    # colour by a metadata column: the neighbourhood's groups as categories, with a legend
    colours = by_id(page, "color").locator("option").all_text_contents()
    assert {"group", "score"} <= set(colours)
    by_id(page, "color").select_option("group")
    legend = by_id(page, "legend")
    legend.wait_for(state="visible")
    assert "similar" in legend.text_content() and "opposite" in legend.text_content()
    pixels = cloud_pixels(page)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    orange = (r > 200) & (g > 110) & (g < 175) & (b < 90)  # the second category's colour
    assert orange.sum() > 20
    # clicking a legend entry filters the cloud: that category's points go
    assert third_category(pixels).sum() > 20
    legend.locator('[data-testid="legend-entry"]', has_text="opposite").click()
    page.wait_for_timeout(300)
    assert third_category(cloud_pixels(page)).sum() < 5
    legend.locator('[data-testid="legend-entry"]', has_text="opposite").click()
    by_id(page, "color").select_option("score")  # numeric: a ramp from lowest to highest
    page.wait_for_function(
        "() => document.querySelector('[data-testid=legend]').textContent.includes('lowest')"
    )
    by_id(page, "color").select_option("")
    legend.wait_for(state="hidden")

    # click a point: hover red pixels until one shows its label, click it, it becomes the query
    box = by_id(page, "cloud").bounding_box()
    rows, columns = np.nonzero(red)
    clicked = None
    tooltip = page.locator(".cloud-tip")
    for index in np.linspace(0, len(rows) - 1, 40).astype(int):
        x, y = box["x"] + float(columns[index]), box["y"] + float(rows[index])
        # off every point first, so the tooltip read below is this pixel's, not the last one's
        page.mouse.move(box["x"] + 3, box["y"] + 3)
        page.wait_for_function(
            "() => { const t = document.querySelector('.cloud-tip');"
            " return !t || t.style.display === 'none' || !t.textContent.trim(); }"
        )
        page.mouse.move(x, y)
        try:  # deck.gl picks on the next frame
            page.wait_for_function(
                "() => { const t = document.querySelector('.cloud-tip');"
                " return t && t.style.display !== 'none' && t.textContent.trim(); }",
                timeout=1000,
            )
        except Exception:  # no point under this pixel: a label's outline, say
            continue
        label = tooltip.first.text_content().split()[0]
        if label != "terrible":
            page.mouse.click(x, y)
            clicked = label
            break
    assert clicked is not None, "no point answered a hover"
    page.wait_for_selector(f'body[data-query="{clicked}"]')

    # export the coordinates: the projection's 61 rows as CSV
    with page.expect_download() as download:
        by_id(page, "export-csv").click()
    saved = tmp_path / "coordinates.csv"
    download.value.save_as(saved)
    rows_read = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows_read) == 61 and {"key", "x", "y"} <= set(rows_read[0])
    assert "terrible" in {row["key"] for row in rows_read}

    # the view as a PNG: the canvas on the page's background, the points drawn
    with page.expect_download() as download:
        by_id(page, "export-png").click()
    picture = tmp_path / "view.png"
    download.value.save_as(picture)
    from PIL import Image

    image = np.asarray(Image.open(picture).convert("RGB")).astype(int)
    cloud_box = by_id(page, "cloud").bounding_box()
    assert image.shape[:2] == (round(cloud_box["height"]), round(cloud_box["width"]))
    assert reds(image).sum() > 50 and blues(image).sum() > 50

    # and as Parquet, written by the server
    with page.expect_download() as download:
        by_id(page, "export-parquet").click()
    saved = tmp_path / "coordinates.parquet"
    download.value.save_as(saved)
    frame = pd.read_parquet(saved)
    assert len(frame) == 61 and {"key", "x", "y", "group"} <= set(frame.columns)
    assert sorted(frame["key"]) == sorted(row["key"] for row in rows_read)

    # and as a self-contained interactive HTML file to share
    with page.expect_download() as download:
        by_id(page, "export-html").click()
    shared = tmp_path / "shared.html"
    download.value.save_as(shared)
    html = shared.read_text()
    assert "plotly" in html.lower() and "terrible" in html
    assert not re.search(r"<script[^>]+src=.https?:", html)  # plotly.js is inside

    # the README's screenshot: cluster names on, the clicked word as the query
    by_id(page, "cluster-labels").check()
    page.wait_for_function("() => Number(document.body.dataset.clusters) >= 2")
    page.wait_for_timeout(300)
    screenshot = tmp_path / "explorer.png"
    page.screenshot(path=str(screenshot))
    if os.environ.get("EMBSCOPE_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["EMBSCOPE_SCREENSHOT"])

    # the token scan: a server job; its candidates become queries when clicked
    by_id(page, "tokens-go").click()
    page.wait_for_selector('body[data-tokens="20"]', timeout=120_000)
    assert "candidates by input_norm" in by_id(page, "tokens-status").text_content()
    first = by_id(page, "token-candidates").locator('[data-testid="token-candidate"]').first
    candidate = first.get_attribute("data-key")
    first.click()
    page.wait_for_selector(f'body[data-query="{candidate}"]')

    assert page.refused == []  # nothing outside the server: it works offline
    # the browser logs the deliberate unknown word's 404; nothing else may fail
    assert [e for e in page.errors if "404" not in e] == []


def drag(page, path):
    """Presses the mouse at the path's first point, moves through the rest, releases."""
    (x, y), *rest = path
    page.mouse.move(x, y)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(x, y, steps=5)
    page.mouse.up()


def table_keys(page):
    return (
        by_id(page, "row-table")
        .locator('[data-testid="row"]')
        .evaluate_all("rows => rows.map(row => row.dataset.key)")
    )


def selected(page):
    return int(page.evaluate("document.body.dataset.selected"))


def test_histograms_table_and_rectangle_select_the_same_rows(page, glove):
    space = glove.subset(glove.keys[:20_000])
    # the page opened on "good": its cosine and Euclidean top lists, as the library ranks them
    page.wait_for_selector('body[data-profile="good"]')
    profile = space.distance_profile("good", top_k=10)
    assert "Spearman" in by_id(page, "profile-summary").text_content()
    listed = by_id(page, "profile-euclidean").locator("li")
    assert listed.evaluate_all("items => items.map(i => i.dataset.key)") == profile.top_euclidean

    # every row is selected, the table holds the first ones, the query's scores first
    assert selected(page) == 20_000
    assert "all 20,000 rows" in by_id(page, "selection-count").text_content()
    assert table_keys(page)[:3] == space.neighbors("good", top_k=3)["key"].tolist()

    # a bar of the norm histogram: only the rows of that bar stay selected
    norm = page.locator('[data-testid="histogram"][data-column="norm"]')
    bars = norm.locator('[data-testid="histogram-bar"]')
    low, high = bars.first, bars.last
    low_count = int(low.get_attribute("data-count"))
    high_count = int(high.get_attribute("data-count"))
    edge = float(low.get_attribute("data-high"))
    low.click()
    page.wait_for_function(f"() => document.body.dataset.selected === '{low_count}'")
    norms = space.norms.astype(np.float32)  # what the server sends
    expected = {k for k, n in zip(space.keys, norms, strict=True) if n < edge}
    assert len(expected) == low_count
    assert set(table_keys(page)) <= expected
    # Ctrl-click adds the highest bar
    high.click(modifiers=["Control"])
    page.wait_for_function(f"() => document.body.dataset.selected === '{low_count + high_count}'")
    by_id(page, "clear-selection").click()
    page.wait_for_function("() => document.body.dataset.selected === '20000'")

    # a lasso, then a rectangle over the cloud: without a query, selected points keep their
    # blue, the rest fade, and no blue is left outside the rectangle
    by_id(page, "query").fill("")
    by_id(page, "query").press("Enter")
    page.wait_for_function("() => document.body.dataset.query === undefined")
    box = by_id(page, "cloud").bounding_box()
    left, top = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    right, bottom = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6
    by_id(page, "drag-mode").select_option("lasso")
    # a lasso: the triangle in the rectangle's lower-left half holds fewer points than it
    drag(page, [(left, top), (left, bottom), (right, bottom), (left, top)])
    page.wait_for_function("() => Number(document.body.dataset.selected) < 20000")
    in_triangle = selected(page)
    by_id(page, "drag-mode").select_option("rectangle")
    drag(page, [(left, top), (right, bottom)])
    page.wait_for_function(f"() => document.body.dataset.selected !== '{in_triangle}'")
    inside = selected(page)
    assert 0 < in_triangle < inside < 20_000
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    pixels = cloud_pixels(page)
    r, b = pixels[..., 0], pixels[..., 2]
    plain = (b > 120) & (b - r > 40) & (r < 140)  # the points' blue (70 110 160)
    ys, xs = np.nonzero(plain)
    margin = 8  # a point drawn at the rectangle's edge overhangs it by its radius
    assert len(xs) > 50
    assert xs.min() >= left - box["x"] - margin and xs.max() <= right - box["x"] + margin
    assert ys.min() >= top - box["y"] - margin and ys.max() <= bottom - box["y"] + margin
    # the table follows: clicking a row makes it the query
    first = by_id(page, "row-table").locator('[data-testid="row"]').first
    key = first.get_attribute("data-key")
    first.click()
    page.wait_for_selector(f'body[data-query="{key}"]')
    # a click without a drag drops the rectangle
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.wait_for_function("() => document.body.dataset.selected === '20000'")
    # while a drag moves the view, Shift-drag still draws the rectangle
    by_id(page, "drag-mode").select_option("move")
    page.keyboard.down("Shift")
    drag(page, [(left, top), (right, bottom)])
    page.keyboard.up("Shift")
    page.wait_for_function(f"() => document.body.dataset.selected === '{inside}'")
    by_id(page, "clear-selection").click()
    page.wait_for_function("() => document.body.dataset.selected === '20000'")

    # the token scan's candidates are ringed in the cloud (the whole vocabulary is projected)
    by_id(page, "tokens-go").click()
    page.wait_for_selector('body[data-tokens="20"]', timeout=120_000)
    flagged = int(page.evaluate("document.body.dataset.flagged"))
    from embscope.tokens import scan

    found = scan(space, progress=False)
    assert flagged == min(500, len(found.candidates))
    assert "ringed" in by_id(page, "tokens-flagged").text_content()
    assert page.errors == []


def test_the_page_is_served_only_from_the_package(server):
    import urllib.request

    with urllib.request.urlopen(server, timeout=30) as response:
        page = response.read().decode()
    assert "<script" in page and "http://" not in page.replace(server, "")
    assert "https://" not in page


@pytest.fixture(scope="module")
def document_server(ag_news_docs, shared_data, tmp_path_factory):
    """``embscope serve`` on 400 AG News articles encoded by MiniLM (a document space) and
    on a sentiment model trained here (a few epochs of SST-2)."""
    import embscope
    import embscope.train

    folder = tmp_path_factory.mktemp("documents")
    source = folder / "news.parquet"
    embscope.export(ag_news_docs, source, format="parquet")
    run = embscope.train.sentiment(
        shared_data / "sst" / "stsa.binary.train",
        vocab_size=4000,
        epochs=4,
        random_state=1,
        progress=False,
    )
    run.save(folder / "sentiment")
    with serving(source, folder / "sentiment") as address:
        yield address


def test_a_document_space_shows_its_classes_and_searches_typed_text(
    browser, document_server, ag_news_docs
):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(document_server)
        page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
        page.wait_for_selector('body[data-points="400"]', timeout=120_000)
        # the class-similarity matrix: four classes, each closest to itself
        page.wait_for_selector('body[data-classes="4"]')
        matrix = by_id(page, "class-matrix")
        assert {"World", "Sports", "Business", "Sci/Tech"} <= set(
            matrix.locator("tr").first.locator("th").all_text_contents()
        )
        # a typed sentence is encoded by the space's own model
        by_id(page, "query").fill("stock markets fell")
        by_id(page, "query").press("Enter")
        page.wait_for_selector('body[data-query="stock markets fell"]', timeout=60_000)
        found = hit_keys(page, "neighbors")[:5]
        classes = [ag_news_docs.metadata["class"].iloc[ag_news_docs.row(k)] for k in found]
        assert classes.count("Business") >= 4, classes
        # colour by class: a legend of the four
        by_id(page, "color").select_option("class")
        legend = by_id(page, "legend")
        legend.wait_for(state="visible")
        assert len(legend.locator('[data-testid="legend-entry"]').all()) == 4
        # the class histogram selects a class: the table then lists only its articles
        sports = page.locator(
            '[data-testid="histogram"][data-column="class"] [data-testid="histogram-bar"]'
            '[data-name="Sports"]'
        )
        sports.click()
        page.wait_for_function("() => document.body.dataset.selected === '100'")
        listed = table_keys(page)
        assert len(listed) == 100
        assert {ag_news_docs.metadata["class"].iloc[ag_news_docs.row(k)] for k in listed} == {
            "Sports"
        }

        # the model trained with embscope train is a source too: its sentiment geometry
        options = by_id(page, "source").locator("option").all_text_contents()
        trained = next(o for o in options if "(trained)" in o)
        by_id(page, "source").select_option(label=trained)
        rows = page.evaluate(
            "fetch('api/sources').then(r => r.json())"
            ".then(all => all.find(s => s.kind === 'trained').rows)"
        )
        assert 3000 < rows <= 4000  # the vocabulary, less padding and out-of-vocabulary rows
        page.wait_for_selector(f'body[data-points="{rows}"]', timeout=120_000)
        compare_words(page, "good", "bad", "-0\\.9")
        by_id(page, "query").fill("bad")
        by_id(page, "query").press("Enter")
        page.wait_for_selector('body[data-query="bad"]')
        negative = {"dull", "mess", "stupid", "stale", "worst", "boring", "awful", "lame"}
        assert len(negative & set(hit_keys(page, "neighbors")[:10])) >= 3
        # a 16-d sentiment space ranks near-ties: the note under the list says so
        note = by_id(page, "neighbors-stability")
        note.wait_for(state="visible")
        assert note.text_content().startswith("near tie: the 15 listed span")
        assert "inside that band" in note.text_content()
    finally:
        context.close()


@pytest.fixture(scope="module")
def byte_level_server(shared_data, tmp_path_factory):
    """``embscope serve`` on GPT-2's byte-level vocabulary (50,257 tokens, random weights)."""
    from test_source_huggingface import gpt2_weights, write_json

    directory = tmp_path_factory.mktemp("gpt2")
    gpt2_weights(directory, 50_257)
    shutil.copy(shared_data / "gpt2_tokenizer" / "gpt2.tiktoken", directory / "gpt2.tiktoken")
    write_json(
        directory / "tokenizer_config.json",
        {"added_tokens_decoder": {"50256": {"content": "<|endoftext|>", "special": True}}},
    )
    with serving(directory) as address:
        yield address


def asked(page, shown, keys):
    """Waits until the page's query shows ``shown`` and was answered by ``keys``."""
    page.wait_for_function(
        "([shown, keys]) => document.body.dataset.query === shown"
        " && document.body.dataset.queryKeys === keys",
        arg=[shown, " ".join(keys)],
    )


def message(page):
    return by_id(page, "message").text_content()


def test_a_byte_level_vocabulary_answers_the_token_meant(browser, byte_level_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        page.goto(byte_level_server)
        page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
        page.wait_for_selector('body[data-points="50257"]', timeout=120_000)
        query = by_id(page, "query")

        # a plain word is its word-start token, and the page says so
        query.fill("king")
        query.press("Enter")
        asked(page, "king", ["Ġking"])
        assert "looked up as ␣king" in message(page)

        # the label as the lists show it is that token: nothing to say
        query.fill("␣king")
        query.press("Enter")
        asked(page, "␣king", ["Ġking"])
        assert message(page) == ""

        # ##king is the piece inside words
        query.fill("##king")
        query.press("Enter")
        asked(page, "##king", ["king"])

        # a listed row clicked is exactly its token, shown as one would type it
        row = by_id(page, "neighbors").locator('[data-testid="hit"]').first
        key = row.get_attribute("data-key")
        row.click()
        page.wait_for_function(
            "key => document.body.dataset.queryKeys === key", arg=key, timeout=30_000
        )
        assert "Ġ" not in query.input_value()  # it shows as ␣word, ##piece or the key

        # typing a prefix offers the words first, each as it is typed, the label beside it
        query.fill("")
        query.press_sequentially("kin", delay=30)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#completions option')]"
            ".some(o => o.value === '␣king')"
        )
        offered = page.eval_on_selector_all(
            "#completions option", "options => options.map(o => [o.value, o.dataset.key])"
        )
        assert offered[0][0].startswith("␣kin") and ["␣king", "Ġking"] in offered
        # picking an entry (Chromium reports it as a replacement of the text) asks for its key
        page.eval_on_selector(
            '[data-testid="query"]',
            "input => { input.value = '␣king'; input.dispatchEvent(new InputEvent('input',"
            " {inputType: 'insertReplacementText', bubbles: true})); }",
        )
        asked(page, "␣king", ["Ġking"])

        # a word of several tokens: its pieces as labels, and a button for their mean
        query.fill("embeddings")
        query.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=pieces]')?.textContent"
            " === '␣embed + d + ings'"
        )
        assert "Ġ" not in message(page)
        by_id(page, "use-mean").click()
        asked(page, "embeddings", ["Ġembed", "d", "ings"])
        assert "mean of ␣embed + d + ings" in message(page)

        # two words compared: a word and its label are the same token
        compare_words(page, "king", "␣king", "1\\.0000")
        assert by_id(page, "sim-result").get_attribute("data-looked-up") == "king = ␣king"

        # the browser logs the deliberate split word's 404; nothing else may fail
        assert [e for e in page.errors if "404" not in e] == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def minilm_server():
    """``embscope serve minilm``: a WordPiece vocabulary with special tokens and [unused] slots."""
    with serving("minilm") as address:
        yield address


def test_the_lists_leave_out_kinds_of_rows(browser, minilm_server, minilm):
    context, page = open_explorer(browser, minilm_server, points=len(minilm), height=800)
    try:
        # MiniLM's Euclidean neighbours of "beauty" hold [MASK] and [unused] slots
        by_id(page, "metric").select_option("euclidean")
        by_id(page, "query").fill("beauty")
        by_id(page, "query").press("Enter")
        page.wait_for_function(
            "() => document.body.dataset.query === 'beauty' && [...document.querySelectorAll("
            "'[data-testid=neighbors] [data-testid=hit]')].some(r => r.dataset.key === '[MASK]')"
        )
        assert by_id(page, "skip").is_visible()
        # ticking two boxes asks again: the list is the library's with those rows left out
        by_id(page, "skip-special").check()
        page.wait_for_function(
            "() => ![...document.querySelectorAll('[data-testid=neighbors] [data-testid=hit]')]"
            ".some(r => r.dataset.key === '[MASK]')"
        )
        by_id(page, "skip-unused").check()
        expected = minilm.neighbors(
            "beauty", metric="euclidean", top_k=15, skip=["special", "unused"]
        )
        page.wait_for_function(
            "keys => [...document.querySelectorAll('[data-testid=neighbors] [data-testid=hit]')]"
            ".map(r => r.dataset.key).join(' ') === keys",
            arg=" ".join(expected["key"]),
        )
        assert page.errors == [] and page.refused == []
    finally:
        context.close()


def test_the_axes_projection_places_rows_on_two_word_directions(browser, minilm_server, minilm):
    context, page = open_explorer(browser, minilm_server, points=len(minilm), height=800)
    try:
        assert by_id(page, "axes-label").is_hidden()
        by_id(page, "method").select_option("axes")
        # two word pairs instead of a parameter, and only 2D
        assert by_id(page, "axes-label").is_visible() and by_id(page, "parameter-label").is_hidden()
        assert by_id(page, "dims").input_value() == "2" and by_id(page, "dims").is_disabled()
        by_id(page, "axis-x").fill("good")  # one end only: nothing asked, the status says why
        by_id(page, "project").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=projection-status]')"
            ".textContent.includes('good : bad')"
        )
        by_id(page, "axis-x").fill("good+great : bad")
        by_id(page, "axis-y").fill("man : woman")
        by_id(page, "project").click()
        page.wait_for_selector(f'body[data-points="{len(minilm)}"]', timeout=120_000)
        status = by_id(page, "projection-status").text_content()
        assert status.startswith("x: good+great − bad · y: man − woman"), status
        assert f"{len(minilm)} points" in status
        assert page.errors == [] and page.refused == []
    finally:
        context.close()


def test_similarity_to_the_query_colours_every_point(page):
    by_id(page, "query").fill("beauty")
    by_id(page, "query").press("Enter")
    page.wait_for_selector('body[data-query="beauty"]')
    # every one of the 20,000 points gets its score, not only the hits fetched for the lists
    page.wait_for_selector('body[data-scored="20000"]', timeout=60_000)
    pixels = cloud_pixels(page)
    coloured = reds(pixels) | blues(pixels)
    assert coloured.sum() > 5000
    # another query: the scores are asked for again
    by_id(page, "query").fill("terrible")
    by_id(page, "query").press("Enter")
    page.wait_for_selector('body[data-query="terrible"]')
    page.wait_for_selector('body[data-scored="20000"]', timeout=60_000)
    # a metadata column's colours replace them
    by_id(page, "color").select_option("norm")
    page.wait_for_function("() => document.body.dataset.scored === undefined")
    assert page.errors == [] and page.refused == []
