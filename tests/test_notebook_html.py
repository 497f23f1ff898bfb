"""What a notebook shows for each result (``_repr_html_``): the facts it must carry, every key
escaped (keys can hold ``<script>``), nothing fetched from elsewhere, and a size that stays
bounded however large the result is."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

import embscope
from embscope import notebook_html

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "a&b",
]
# a tag that would load something: the fragments must need no network
EXTERNAL = re.compile(r"<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href|data)\s*=", re.I)


def assert_safe(fragment: str) -> None:
    for payload in HOSTILE[:3]:
        assert payload not in fragment, f"unescaped: {payload!r}"
    assert "<script" not in fragment
    assert not EXTERNAL.search(fragment), EXTERNAL.search(fragment)


@pytest.fixture(scope="module")
def hostile() -> embscope.EmbeddingSpace:
    """Keys that are markup, beside ordinary words, in a small cosine space."""
    rng = np.random.default_rng(0)
    keys = [*HOSTILE, *(f"word{i}" for i in range(196))]
    return embscope.from_array(rng.normal(size=(200, 8)).astype(np.float32), keys, name="<b>x</b>")


@pytest.fixture(scope="module")
def run(shared_data):
    return embscope.train.sentiment(
        shared_data / "sst" / "stsa.binary.train", epochs=2, random_state=0, progress=False
    )


# ---- escaping ---------------------------------------------------------------------------------
def test_the_space_card_escapes_keys_and_name(hostile):
    card = hostile._repr_html_()  # what a notebook shows for a space
    assert card == notebook_html.space_card(hostile)
    assert_safe(card)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "&lt;b&gt;x&lt;/b&gt;" in card and "200 x 8" in card


def test_neighbour_lists_escape_labels_and_queries(hostile):
    query = HOSTILE[0]
    assert_safe(hostile.search(query, top_k=5)._repr_html_())
    assert_safe(hostile.search_many([query, HOSTILE[1]], top_k=5)._repr_html_())
    assert_safe(hostile.distance_profile(query, top_k=5)._repr_html_())


def test_a_direction_escapes_its_words_and_ends(hostile):
    fragment = hostile.direction(HOSTILE[0], HOSTILE[1])._repr_html_()
    assert_safe(fragment)
    assert "Both ends among the first 200 rows" in fragment


def test_a_projection_escapes_labels_inside_its_figure(hostile):
    notebook_html.reset_plotlyjs()
    notebook_html.figure_html(_small_figure())  # plotly.js sent: only the figure below
    fragment = hostile.project("pca", progress=False)._repr_html_()
    # plotly writes its data as JSON with <, > and / escaped, so no key closes the script
    assert "</script><script>alert" not in fragment
    assert "<img src=x" not in fragment
    assert not EXTERNAL.search(fragment)


def test_a_token_scan_escapes_labels(hostile):
    fragment = embscope.tokens.scan(hostile, progress=False)._repr_html_()
    assert_safe(fragment)
    assert "Token scan of &lt;b&gt;x&lt;/b&gt;" in fragment


# ---- content ----------------------------------------------------------------------------------
def test_the_space_card_names_shape_storage_provenance_and_first_keys(glove, minilm, terrible):
    card = notebook_html.space_card(glove)
    assert "400,000 x 50" in card and "float32, memory-mapped" in card
    assert "cosine" in card and "bundled: glove-6b-50d" in card
    assert "the, ,, ., of, to, and, in, a, … 399,992 more" in card
    tokens = notebook_html.space_card(minilm)
    assert "yes: words it splits" in tokens and "token_id, special, kind" in tokens
    part = notebook_html.space_card(terrible)
    assert "glove-6b-50d (61 of its 400,000 rows)" in part


def test_a_training_run_shows_its_curves_and_history(run):
    fragment = run._repr_html_()
    assert fragment.count("<svg") == 2 and "loss by epoch" in fragment
    assert "accuracy by epoch" in fragment
    assert f"{run.best_epoch} of {len(run.history)}" in fragment
    assert "Embedding(10,000, 16) → mean pooling → Dense(16, relu) → 2 classes" in fragment
    assert "val_accuracy" in fragment and "6,229 to train" in fragment
    for svg in re.findall(r"<svg.*?</svg>", fragment, flags=re.S):
        ElementTree.fromstring(svg)  # well-formed
    assert not EXTERNAL.search(fragment) and "<script" not in fragment


def test_a_score_shows_accuracy_and_the_confusion_matrix(run, shared_data):
    score = run.score(shared_data / "sst" / "stsa.binary.test")
    fragment = score._repr_html_()
    assert f"{score.accuracy:.4f}" in fragment and "1,821" in fragment
    assert "predicted 0" in fragment and "true 1" in fragment


def test_a_token_scan_shows_summary_histogram_and_candidates(minilm):
    report = embscope.tokens.scan(minilm, progress=False)
    fragment = report._repr_html_()
    assert "994 placeholder tokens" in fragment
    assert f"Candidates, most likely first ({len(report.candidates):,})" in fragment
    assert "… 569 more rows" in fragment  # 584 candidates, 15 shown
    assert fragment.count("<svg") == 1 and "caution" not in fragment
    first = report.candidates["label"].iloc[0]
    assert first in fragment


def test_a_ranking_without_references_carries_its_caution(glove):
    fragment = embscope.tokens.scan(glove, progress=False)._repr_html_()
    assert "caution: no reference tokens" in fragment
    assert len(fragment) < 40_000  # 400,000 tokens, 8,000 candidates: 15 shown


def test_projection_quality_and_direction(glove, terrible):
    quality = terrible.project("pca", progress=False).quality._repr_html_()
    assert "trustworthiness@10" in quality and "every row" in quality
    axis = glove.direction("good", "bad")._repr_html_()
    assert "Direction good − bad" in axis and "2.0%" in axis
    assert "excellent" in axis and "scandals" in axis  # both ends among 10,000 rows


def test_a_batch_shows_its_first_ten_queries(glove):
    batch = glove.search_many(glove.keys[100:150], top_k=3)
    fragment = batch._repr_html_()
    assert fragment.count("<table>") == 10 and "… 40 more queries" in fragment


def test_svg_charts_are_well_formed_and_escaped():
    chart = notebook_html.line_chart(
        [1, 2, 3], [("<b>", [0.5, 0.4, np.nan], "#000")], title="<t>", marker=2, marker_label="&"
    )
    root = ElementTree.fromstring(chart)
    assert root.tag.endswith("svg") and "<b>" not in chart and "&lt;t&gt;" in chart
    histogram = notebook_html.histogram(np.array([1.0, 2.0, np.nan, 2.5]), title="x", threshold=2)
    ElementTree.fromstring(histogram)
    ElementTree.fromstring(notebook_html.histogram(np.array([np.nan]), title="empty"))


# ---- plotly figures: plotly.js once, sizes bounded --------------------------------------------
def _small_figure():
    import plotly.graph_objects as go

    return go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))


def test_plotlyjs_goes_with_the_first_figure_of_the_session_only():
    notebook_html.reset_plotlyjs()
    first = notebook_html.figure_html(_small_figure())
    second = notebook_html.figure_html(_small_figure())
    assert len(first) > 3_000_000 and "plotly.js v" in first  # the library, inline
    assert len(second) < 20_000
    # the later one draws with the page's plotly.js, or says why it cannot
    assert "Plotly.newPlot" in second and "if (!window.Plotly)" in second
    assert "reset_plotlyjs()" in second
    notebook_html.reset_plotlyjs()
    assert len(notebook_html.figure_html(_small_figure())) > 3_000_000
    for fragment in (first, second):
        assert not EXTERNAL.search(fragment)


def test_a_large_projection_draws_a_sample(glove):
    # 60,000 rows: past the 10,000 points a notebook figure draws, and quick to measure
    projection = glove.subset(glove.keys[:60_000]).project("pca", progress=False)
    assert len(projection) == 60_000
    notebook_html.figure_html(_small_figure())  # plotly.js already in the page
    fragment = projection._repr_html_()
    assert len(fragment) < 2_000_000, len(fragment)
    assert "showing a random 10,000 of 60,000 (seed 0)" in fragment
    assert "Trustworthiness@10" in fragment and "60,000 rows" in fragment
    # the sample's figure carries the whole projection's quality, measured once
    assert f"{projection.quality.trustworthiness:.3f}" in fragment


def test_a_neighbourhood_projection_in_a_notebook(terrible):
    notebook_html.figure_html(_small_figure())
    projection = terrible.project("tsne", random_state=0, progress=False)
    fragment = projection._repr_html_()
    assert "t-SNE 2D" in fragment and "61 rows fitted to these 61 rows alone" in fragment
    assert "showing a random" not in fragment and "horrible" in fragment
    assert len(fragment) < 100_000


def test_in_colab_every_figure_loads_plotlyjs_itself(monkeypatch):
    import sys
    import types

    notebook_html.reset_plotlyjs()
    notebook_html.figure_html(_small_figure())
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    # each Colab output is a frame of its own, which cannot see another's plotly.js
    for _ in range(2):
        fragment = notebook_html.figure_html(_small_figure())
        assert '<script charset="utf-8" src="https://cdn.plot.ly/plotly-' in fragment
        assert len(fragment) < 20_000
