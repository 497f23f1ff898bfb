"""Directions defined by words: positions along an axis equal numpy's projection onto the
normalised difference, the axes projection puts words where a hand computation does, the
space without a direction holds none of it, and the sentiment model's good−bad axis separates
positive from negative words."""

from __future__ import annotations

import numpy as np
import pytest

import embscope
from embscope.errors import InvalidParameterError, UnknownKeyError


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def test_positions_are_numpys_projection_onto_the_normalised_difference(glove):
    axis = glove.direction("good", "bad")
    expected_axis = unit(glove["good"]) - unit(glove["bad"])
    expected_axis /= np.linalg.norm(expected_axis)
    np.testing.assert_allclose(axis.vector, expected_axis, atol=1e-12)
    expected = unit(glove.vectors) @ expected_axis  # a cosine space: rows at unit length
    np.testing.assert_allclose(axis.positions(), expected, atol=1e-9)
    assert axis.position("excellent") == pytest.approx(expected[glove.row("excellent")])
    scores = axis.scores()
    assert len(scores) == len(glove)
    np.testing.assert_allclose(scores.scores, np.sort(expected)[::-1], atol=1e-9)
    assert scores.keys[0] == glove.keys[int(np.argmax(expected))]
    frame = scores.to_pandas()
    assert frame.attrs["direction"] == "good − bad"
    assert "Positions along the axis of 'good − bad'" in scores.title()


def test_a_group_at_each_end_is_the_mean_of_its_unit_rows(glove):
    axis = glove.direction(["good", "great"], ["bad", "awful"])
    difference = unit(glove[["good", "great"]]).mean(0) - unit(glove[["bad", "awful"]]).mean(0)
    np.testing.assert_allclose(axis.vector, difference / np.linalg.norm(difference), atol=1e-12)
    assert axis.name == "good+great − bad+awful"
    assert repr(axis) == "<Direction good+great − bad+awful in 'glove-6b-50d' (unit rows)>"


def test_a_dot_space_uses_its_rows_as_stored(glove_1000):
    dot = embscope.EmbeddingSpace(
        np.asarray(glove_1000.vectors), glove_1000.keys, metric="dot", name="dot"
    )
    axis = dot.direction("good", "bad")
    difference = dot["good"].astype(np.float64) - dot["bad"]
    difference /= np.linalg.norm(difference)
    np.testing.assert_allclose(axis.positions(), dot.vectors @ difference, atol=1e-5)
    assert axis.scores().metric == "dot" and not axis.unit_rows


def test_the_axes_projection_puts_four_words_where_a_hand_computation_does(glove):
    words = ["king", "queen", "good", "bad"]
    x_axis = unit(glove["good"]) - unit(glove["bad"])
    y_axis = unit(glove["man"]) - unit(glove["woman"])
    rows = unit(glove[words])
    frequent = glove.subset(glove.keys[:5000])  # a figure of 400,000 points takes a while
    projection = frequent.project("axes", x=("good", "bad"), y=("man", "woman"))
    placed = projection.coords.set_index("key").loc[words, ["x", "y"]].to_numpy()
    hand = np.stack(
        [rows @ (x_axis / np.linalg.norm(x_axis)), rows @ (y_axis / np.linalg.norm(y_axis))], 1
    )
    np.testing.assert_allclose(placed, hand, atol=1e-6)
    assert (
        projection.parameters["x"] == "good − bad" and projection.parameters["y"] == "man − woman"
    )
    expected_cosine = float(unit(x_axis) @ unit(y_axis))
    assert projection.parameters["axes_cosine"]["xy"] == pytest.approx(expected_cosine, abs=1e-4)
    figure = projection.figure()
    assert figure.layout.xaxis.title.text.startswith("good − bad")
    assert figure.layout.yaxis.title.text.startswith("man − woman")
    # a space that lacks a word of an axis says which
    with pytest.raises(UnknownKeyError, match="man"):
        glove.subset(words).project("axes", x=("good", "bad"), y=("man", "woman"))
    three = frequent.project("axes", x=("good", "bad"), y=("man", "woman"), z=("king", "queen"))
    assert three.n_components == 3
    assert three.figure().layout.scene.zaxis.title.text.startswith("king − queen")


def test_pca_axes_say_how_much_variance_they_hold_and_the_figure_its_quality(glove_1000):
    projection = glove_1000.project("pca", cache=False, progress=False)
    shares = projection.parameters["explained_variance_ratio"]
    figure = projection.figure()
    assert figure.layout.xaxis.title.text == f"PC1 ({shares[0]:.1%} of the variance)"
    assert figure.layout.yaxis.title.text == f"PC2 ({shares[1]:.1%} of the variance)"
    # every projection figure carries its quality in a corner
    quality = projection.quality
    (corner,) = [a.text for a in figure.layout.annotations if "trustworthiness" in a.text]
    assert f"trustworthiness@10 {quality.trustworthiness:.3f}" in corner
    assert f"kNN recall@10 {quality.knn_recall:.3f}" in corner


def test_without_a_direction_nothing_of_it_is_left(glove):
    axis = glove.direction("he", "she")
    neutral = glove.without(axis)
    assert neutral.name == "glove-6b-50d without he − she" and neutral.shape == glove.shape
    stored = np.asarray(neutral.vectors, dtype=np.float64)
    assert np.abs(stored @ axis.vector).max() < 1e-5
    assert np.abs(axis.positions()).max() > 0.3
    # what is left of a row is its own vector minus its component along the axis
    row = np.asarray(glove["nurse"], dtype=np.float64)
    np.testing.assert_allclose(neutral["nurse"], row - (row @ axis.vector) * axis.vector, atol=1e-5)
    # "he" and "she" differ only along the axis... and in what the axis does not hold
    assert neutral.similarity("he", "she") > glove.similarity("he", "she")
    assert neutral.provenance.options["without"] == "he − she"


def test_bad_directions_are_refused_with_the_reason(glove, minilm):
    with pytest.raises(InvalidParameterError, match="both ends"):
        glove.direction(["good", "bad"], "bad")
    with pytest.raises(UnknownKeyError, match="closest keys"):
        glove.direction("goood", "bad")
    with pytest.raises(InvalidParameterError, match="at least one word"):
        glove.direction([], "bad")
    with pytest.raises(InvalidParameterError, match="needs x and y"):
        glove.project("axes", x=("good", "bad"))
    with pytest.raises(InvalidParameterError, match="dimensions"):
        minilm.without(glove.direction("good", "bad"))
    with pytest.raises(InvalidParameterError, match="takes x, y and z"):
        glove.project("axes", x=("good", "bad"), y=("man", "woman"), w=("a", "b"))


@pytest.mark.slow  # trains the sentiment model (shared with tests/test_compare.py)
def test_the_sentiment_axis_separates_positive_from_negative_words(sentiment_seeds):
    space = sentiment_seeds[0]
    axis = space.direction("good", "bad")
    positive = ["wonderful", "best", "beautiful", "great", "fun"]
    negative = ["horrible", "worst", "boring", "dull", "awful"]
    assert min(axis.position(w) for w in positive) > 0 > max(axis.position(w) for w in negative)
    ranked = axis.scores(restrict_vocab=2000).keys
    assert set(positive) & set(ranked[:200]) and set(negative) & set(ranked[-200:])
    # without the sentiment axis the two ends are no longer opposites
    assert space.similarity("wonderful", "horrible") < -0.5
    assert space.without(axis).similarity("wonderful", "horrible") > -0.5
    # the axis the notebook is about holds most of the variance, and no more than PCA's first
    first_component = space.project("pca", cache=False, progress=False).explained_variance[0]
    assert 0.3 < axis.variance_share() <= first_component + 1e-6


def test_an_axis_says_what_share_of_the_variance_it_holds(glove_1000):
    axis = glove_1000.direction("good", "bad")
    rows = unit(glove_1000.vectors)
    along = rows @ axis.vector
    expected = along.var() / rows.var(axis=0).sum()
    assert axis.variance_share() == pytest.approx(expected, rel=1e-9)
    projection = glove_1000.project("axes", x=axis, y=("man", "woman"))
    shares = projection.explained_variance
    assert shares[0] == pytest.approx(expected, abs=1e-4)
    assert projection.figure().layout.xaxis.title.text == (
        f"good − bad  → ({shares[0]:.1%} of the variance)"
    )
    assert glove_1000.project("tsne", n_iter=250, sample=200).explained_variance is None


def test_an_axis_places_the_rows_of_a_part_of_its_space(glove):
    axis, other = glove.direction("good", "bad"), glove.direction("man", "woman")
    part = glove.neighborhood("terrible", similar=10, opposite=10)  # holds neither end word
    projection = part.project("axes", x=axis, y=other)
    expected = axis.positions(rows=[glove.row(key) for key in part.keys])
    np.testing.assert_allclose(projection.coordinates[:, 0], expected, atol=1e-6)


def test_the_cli_projects_on_word_axes(tmp_path):
    import json

    from click.testing import CliRunner

    from embscope.cli import main

    out = tmp_path / "axes.html"
    args = ["project", "glove-6b-50d", "--axes", "good+great:bad,man:woman", "--json"]
    result = CliRunner().invoke(main, [*args, "--neighborhood", "terrible", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[-1])
    assert record["parameters"]["x"] == "good+great − bad" and record["n_components"] == 2
    assert "good+great \\u2212 bad" in out.read_text(encoding="utf-8")  # the axis title
    for wrong, message in (("good", "not POS:NEG"), ("good:bad", "two or three")):
        refused = CliRunner().invoke(main, ["project", "glove-6b-50d", "--axes", wrong])
        assert refused.exit_code == 2 and message in refused.output
    mixed = CliRunner().invoke(
        main, ["project", "glove-6b-50d", "--axes", "good:bad,man:woman", "--method", "tsne"]
    )
    assert mixed.exit_code == 2 and "leave out --method" in mixed.output
