"""Plotly figures from real projections and profiles: what each trace holds, and saved files."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from embscope import figures
from embscope.errors import InvalidParameterError


@pytest.fixture(scope="module")
def terrible_3d(terrible):
    return terrible.project("tsne", n_components=3, progress=False)


def test_a_neighbourhood_is_coloured_by_group(terrible_3d):
    figure = terrible_3d.figure()
    assert [trace.name for trace in figure.data] == ["query", "similar", "opposite"]
    assert [len(trace.x) for trace in figure.data] == [1, 30, 30]
    assert all(isinstance(trace, go.Scatter3d) for trace in figure.data)
    similar = figure.data[1]
    coords = terrible_3d.coords.set_index("key")
    assert list(similar.text) == coords.index[coords["group"] == "similar"].tolist()
    np.testing.assert_allclose(similar.z, coords.loc[coords["group"] == "similar", "z"])
    assert "<b>awful</b>" in " ".join(similar.hovertext)
    assert "t-SNE 3D" in figure.layout.title.text


def test_colour_by_similarity_to_a_word(glove, terrible_3d):
    figure = terrible_3d.figure(color="similarity:horrible")
    (trace,) = figure.data
    expected = [glove.similarity(key, "horrible") for key in terrible_3d.coords["key"]]
    np.testing.assert_allclose(trace.marker.color, expected, rtol=1e-5, atol=1e-6)
    assert trace.marker.colorbar.title.text == "similarity to horrible"


def test_colour_by_a_numeric_column_and_by_norm(glove, terrible_3d):
    (by_score,) = terrible_3d.figure(color="score").data
    np.testing.assert_allclose(by_score.marker.color, terrible_3d.coords["score"])
    (by_norm,) = terrible_3d.figure(color="norm").data
    keys = terrible_3d.coords["key"]
    np.testing.assert_allclose(
        by_norm.marker.color, [np.linalg.norm(glove[k]) for k in keys], rtol=1e-5
    )


def test_bad_colours_say_what_is_possible(glove, terrible_3d):
    with pytest.raises(InvalidParameterError, match=r"color must be a column \(key, label, group"):
        terrible_3d.figure(color="colour")
    words = glove.subset(glove.keys[:500]).project("pca", progress=False)
    with pytest.raises(InvalidParameterError, match=r"'label' has 500 distinct values"):
        words.figure(color="label")
    with pytest.raises(KeyError, match="closest keys"):
        terrible_3d.figure(color="similarity:horible")


def test_large_2d_projections_draw_with_webgl(glove):
    space = glove.subset(glove.keys[:6000])
    figure = space.project("pca", progress=False).figure()
    (trace,) = figure.data
    assert isinstance(trace, go.Scattergl) and len(trace.x) == 6000
    assert trace.mode == "markers"  # no text labels for thousands of points
    small = glove.subset(glove.keys[:100]).project("pca", progress=False).figure()
    assert isinstance(small.data[0], go.Scatter) and small.data[0].mode == "markers+text"


def test_distance_profile_has_the_lectures_two_panels(minilm):
    figure = figures.distance_profile(minilm, "beauty")
    by_row, by_cosine, labels = figure.data
    query = minilm.row("beauty")
    assert len(by_row.x) == len(minilm) - 1 and query not in set(by_row.x)
    assert list(by_row.x) == sorted(by_row.x)
    rows = np.asarray(by_row.x)
    vector = minilm["beauty"]
    euclidean = np.linalg.norm(np.asarray(minilm.vectors[rows], np.float64) - vector, axis=1)
    np.testing.assert_allclose(by_row.y, euclidean, rtol=1e-4)
    cosine = minilm.scores(vector, metric="cosine")[0][rows]
    np.testing.assert_allclose(by_row.marker.color, cosine, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(by_cosine.x, cosine, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(by_cosine.marker.color, minilm.norms[rows], rtol=1e-5)
    nearest = minilm.neighbors("beauty", top_k=10)["label"].tolist()
    assert list(labels.text) == nearest
    assert "top 15 agree" in figure.layout.title.text
    from_profile = minilm.distance_profile("beauty").figure()
    np.testing.assert_array_equal(from_profile.data[0].x, by_row.x)


def test_saved_html_is_self_contained(terrible_3d, tmp_path):
    path = figures.save(terrible_3d.figure(), tmp_path / "terrible.html")
    text = path.read_text()
    assert "<script src=" not in text  # plotly.js is inline, not from a CDN
    assert "Plotly.newPlot" in text and "awful" in text
    assert len(text) > 3_000_000  # plotly.js itself is in the file


def test_saved_png_is_an_image(terrible, tmp_path):
    figure = terrible.project("pca", progress=False).figure()
    path = figures.save(figure, tmp_path / "terrible.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1000)  # plotly's 700 x 500 at scale 2
    with pytest.raises(InvalidParameterError, match=r"must end in \.html or one of \.png"):
        figures.save(figure, tmp_path / "terrible.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["terrible.png"]


def test_a_figure_draws_a_stated_sample_of_a_huge_projection(glove, monkeypatch):
    monkeypatch.setattr(figures, "MAX_POINTS", 300)
    result = glove.subset(glove.keys[:1000]).project("pca", progress=False)
    figure = result.figure(color="norm")
    (trace,) = figure.data
    assert len(trace.x) == 300
    assert "showing a random 300 of 1,000 (seed 0)" in figure.layout.title.text
    shown = set(zip(trace.x, trace.y, strict=True))
    assert shown <= set(zip(result.coords["x"], result.coords["y"], strict=True))


def test_a_datasets_label_column_colours_by_class(shared_data):
    import embscope

    docs = embscope.encode_dataset(
        shared_data / "sentiment_labelled_sentences" / "yelp_labelled.txt",
        sample_per_label=20,
        progress=False,
    )
    result = docs.project("pca", progress=False)
    assert "metadata.label" in result.coords  # the readable label keeps the name "label"
    figure = result.figure(color="label")
    assert sorted(trace.name for trace in figure.data) == ["0", "1"]
    assert [len(trace.x) for trace in figure.data] == [20, 20]
