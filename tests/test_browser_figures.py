"""The HTML that `embscope project` writes, opened in a real headless Chromium with the network
refused: the page must draw every point and answer a hover, with nothing fetched."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from embscope.cli import main


def _write_projection(tmp_path, *options: str):
    out = tmp_path / "terrible.html"
    result = CliRunner().invoke(
        main,
        ["project", "glove-6b-50d", "--neighborhood", "terrible", "--out", str(out), *options],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow  # a t-SNE run and Chromium (about 14 s)
def test_a_2d_projection_shows_its_points_offline(tmp_path, offline_page):
    page = offline_page
    page.goto(_write_projection(tmp_path, "--method", "tsne", "--dims", "2").as_uri())
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point")
    assert page.locator(".scatterlayer .point").count() == 61
    shown_words = page.locator(".scatterlayer .textpoint text").all_text_contents()
    assert {"terrible", "awful", "horrible"} <= set(shown_words)
    legend = page.locator(".legend .legendtext").all_text_contents()
    assert legend == ["query", "similar", "opposite"]
    # hovering over the query's point shows its label
    box = page.locator(".scatterlayer .trace").first.locator(".point").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".hoverlayer .hovertext")
    assert "terrible" in page.locator(".hoverlayer .hovertext").first.text_content()
    assert page.refused == []


@pytest.mark.slow  # renders in headless Chromium (about 15 s)
def test_a_3d_projection_renders_with_webgl_offline(tmp_path, offline_page):
    page = offline_page
    page.goto(_write_projection(tmp_path, "--method", "umap", "--dims", "3").as_uri())
    page.wait_for_selector(".js-plotly-plot .gl-container canvas")
    page.wait_for_function(
        "() => document.querySelector('.js-plotly-plot')._fullLayout.scene._scene.glplot"
    )
    counts = page.evaluate(
        "() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.x.length)"
    )
    assert counts == [1, 30, 30]
    page.wait_for_timeout(500)  # let the WebGL frame be drawn
    pixels = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), dtype=int)
    blue = np.abs(pixels - [0x1F, 0x77, 0xB4]).sum(axis=2) < 40
    red = np.abs(pixels - [0xD6, 0x27, 0x28]).sum(axis=2) < 40
    # the legend's two swatches alone are a few dozen pixels; 30 drawn points are far more
    assert blue.sum() > 500 and red.sum() > 500
    assert page.refused == []


@pytest.mark.parametrize("dims", ["2", "3"])
def test_the_page_needs_no_network_at_all(tmp_path, offline_page, dims):
    page = offline_page
    page.goto(_write_projection(tmp_path, "--method", "pca", "--dims", dims).as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert page.evaluate("() => typeof window.Plotly") == "object"
    assert page.refused == []
