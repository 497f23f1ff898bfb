"""The explorer inline in a real JupyterLab: a Jupyter server on loopback, the notebook opened in
headless Chromium, a cell shows the widget over GloVe's 400,000 words (the page of ``embscope
serve``, its requests answered in the kernel), Python sets the query and the page searches it,
a rectangle drawn on the cloud comes back to Python as the selection, and the user's own
search comes back as ``query``.

Set EMBSCOPE_SCREENSHOT_NOTEBOOK=docs/notebook.png to keep the screenshot (the README's)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from jupyter_lab import output_of, run_cell, running_jupyter_lab

pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")

CELLS = [
    "import embscope\n"
    "space = embscope.load('glove-6b-50d')\n"
    "explorer = space.explore(height=620)\n"
    "explorer",
    "seen = []\n"
    "explorer.on_select(lambda selection: seen.append(len(selection)))\n"
    "explorer.query = 'good'",
    "chosen = explorer.selection\n"
    "print('SELECTED', len(chosen), 'CALLED', seen[-1:], 'KEYS', sorted(chosen['key'])[:3], "
    "'HAS', {'key', 'x', 'y'} <= set(chosen.columns))",
    "print('QUERY', explorer.query, 'DRAWN', len(explorer.projection))",
]


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory):
    """A JupyterLab on loopback with a notebook of ``CELLS``; yields the notebook's URL."""
    with running_jupyter_lab(tmp_path_factory.mktemp("jupyter"), CELLS) as url:
        yield url


def space_keys(word: str, count: int) -> list[str]:
    """What the library lists for ``word`` in GloVe: the page must list the same."""
    import embscope

    return embscope.load("glove-6b-50d").search(word, top_k=count).keys


@pytest.mark.slow  # a Jupyter server, a kernel and GloVe's 400,000-point cloud: about 40 s
def test_the_explorer_in_jupyterlab_talks_both_ways(jupyter_lab, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(jupyter_lab)
    page.wait_for_selector("text=| Idle", timeout=90_000)  # the kernel is ready

    run_cell(page, 0)
    frame = page.frame_locator(".jp-OutputArea-output iframe").first
    frame.locator('body[data-ready="1"]').wait_for(state="attached", timeout=90_000)
    # the whole vocabulary is drawn, as the served page draws it
    frame.locator("body[data-points]").wait_for(state="attached", timeout=120_000)
    points = int(frame.locator("body").get_attribute("data-points"))
    assert points == 400_000

    run_cell(page, 1)  # Python sets the query; the page searches it
    frame.locator('body[data-query="good"]').wait_for(state="attached", timeout=60_000)
    hits = frame.locator('[data-testid="neighbors"] [data-testid="hit"]')
    hits.first.wait_for()
    shown = hits.evaluate_all("rows => rows.map(row => row.dataset.key)")
    assert shown == space_keys("good", len(shown))

    # a rectangle drawn on the cloud comes back to Python as the selection
    cloud = frame.locator('[data-testid="cloud"]')
    box = cloud.bounding_box()
    left, top = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45
    right, bottom = box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55
    page.keyboard.down("Shift")
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(right, bottom, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    frame.locator("body").evaluate(
        "body => new Promise(done => { const check = () => body.dataset.selected && "
        "body.dataset.selected !== String(body.dataset.points) ? done() : "
        "setTimeout(check, 100); check(); })"
    )
    selected_in_page = int(frame.locator("body").get_attribute("data-selected"))
    assert 0 < selected_in_page < points
    time.sleep(0.5)  # the page sends the selection after a short debounce
    run_cell(page, 2)
    printed = output_of(page, 2, "SELECTED")
    assert printed.startswith(f"SELECTED {selected_in_page} CALLED [{selected_in_page}] KEYS")
    assert printed.endswith("HAS True")

    # the user's own search in the page comes back as the widget's query
    search = frame.locator('[data-testid="query"]')
    search.fill("music")
    search.press("Enter")
    frame.locator('body[data-query="music"]').wait_for(state="attached", timeout=60_000)
    time.sleep(0.3)
    run_cell(page, 3)
    assert output_of(page, 3, "QUERY") == "QUERY music DRAWN 400000"

    page.locator(".jp-OutputArea-output iframe").first.evaluate(
        "frame => frame.scrollIntoView({block: 'start'})"
    )
    screenshot = tmp_path / "notebook.png"
    page.screenshot(path=str(screenshot))
    if os.environ.get("EMBSCOPE_SCREENSHOT_NOTEBOOK"):
        shutil.copyfile(screenshot, os.environ["EMBSCOPE_SCREENSHOT_NOTEBOOK"])
    assert errors == []
    context.close()
