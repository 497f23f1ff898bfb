"""k-nearest-neighbour classification: the lecture's 2-D demo, scikit-learn parity, ties."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import embscope
from embscope import EmbeddingSpace, InvalidParameterError, UnknownKeyError, knn_classify

# The lecture's picture: red points bottom left, blue points top right, a new point to label.
POINTS = np.array(
    [
        [1.0, 1.0],
        [1.5, 2.0],
        [2.0, 1.0],
        [2.5, 2.5],
        [5.0, 5.0],
        [6.0, 5.5],
        [5.5, 6.5],
        [4.0, 4.2],
    ]
)
COLOURS = ["red", "red", "red", "red", "blue", "blue", "blue", "blue"]


def test_the_lecture_demo():
    result = knn_classify(POINTS, COLOURS, [3.0, 3.0], k=3)
    assert result.label == "red"
    assert result.vote_counts == {"red": 2, "blue": 1}
    assert result.tied == ("red",)
    frame = result.neighbors
    assert list(frame.columns) == ["rank", "row", "label", "distance"]
    assert frame["row"].tolist() == [3, 7, 1]
    assert frame["label"].tolist() == ["red", "blue", "red"]
    np.testing.assert_allclose(frame["distance"], np.sqrt([0.5, 1 + 1.44, 2.25 + 1]))
    assert frame.attrs["predicted"] == "red" and frame.attrs["metric"] == "euclidean"
    # closer to the blue group, the vote turns
    assert knn_classify(POINTS, COLOURS, [4.0, 4.0], k=3).label == "blue"
    # one neighbour: the nearest point decides
    assert knn_classify(POINTS, COLOURS, [3.4, 3.6], k=1).label == "blue"


def test_equals_scikit_learn_on_random_blobs():
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [3, 0], [1.5, 2.5]])
    points = np.concatenate([rng.normal(c, 1.0, size=(40, 2)) for c in centres])
    labels = np.repeat(["a", "b", "c"], 40)
    queries = rng.uniform(-2, 5, size=(200, 2))
    for k, metric in ((3, "euclidean"), (5, "euclidean"), (7, "cosine")):
        model = neighbors.KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute")
        model.fit(points, labels)
        expected_distances, expected_rows = model.kneighbors(queries)
        predicted = model.predict(queries)
        for query, rows, distances, label in zip(
            queries, expected_rows, expected_distances, predicted, strict=True
        ):
            result = knn_classify(points, list(labels), query, k=k, metric=metric)
            np.testing.assert_allclose(result.distances, distances, atol=1e-9)
            assert sorted(result.rows.tolist()) == sorted(rows.tolist())
            if len(result.tied) == 1:  # scikit-learn breaks ties by label order, we by distance
                assert result.label == label


def test_ties_are_broken_by_the_nearest_neighbour():
    points = np.array([[0.0], [1.0], [-1.5], [2.5], [10.0]])
    labels = ["x", "y", "y", "x", "z"]
    result = knn_classify(points, labels, [0.1], k=4)
    assert result.vote_counts == {"x": 2, "y": 2}
    assert result.tied == ("x", "y") and result.label == "x"  # row 0 is nearest
    assert knn_classify(points, labels, [0.9], k=4).label == "y"  # now row 1 is
    assert knn_classify(points, labels, [0.5], k=2).label == "x"  # equal distances: lower row
    equal = knn_classify(points, labels, [0.5], k=2)
    assert equal.rows.tolist() == [0, 1] and equal.distances[0] == equal.distances[1]


def test_a_labelled_space_by_column_and_by_key(glove):
    words = {
        "animal": ["dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "wolf"],
        "country": ["france", "germany", "italy", "spain", "japan", "china", "india", "brazil"],
        "food": ["bread", "cheese", "rice", "pasta", "soup", "meat", "apple", "cake"],
    }
    keys = [w for group in words.values() for w in group]
    topics = [topic for topic, group in words.items() for _ in group]
    space = EmbeddingSpace(np.asarray(glove[keys]), keys, metadata={"topic": topics})
    by_vector = knn_classify(space, "topic", glove["rabbit"], k=5, metric="cosine")
    assert by_vector.label == "animal" and by_vector.query == "<vector>"
    assert set(by_vector.neighbors.columns) == {"rank", "row", "key", "label", "distance"}
    by_key = knn_classify(space, "topic", "tiger", k=3, metric="cosine")
    assert "tiger" not in by_key.keys and by_key.label == "animal"  # its own row does not vote
    cosines = glove.neighbors("tiger", top_k=3)
    assert by_key.query == "tiger"
    np.testing.assert_allclose(
        by_key.distances,
        [1 - space.similarity("tiger", key) for key in by_key.keys],
        atol=1e-9,
    )
    assert cosines["score"].iloc[0] <= 1
    by_list = knn_classify(space, topics, "pasta", k=3)
    assert by_list.label == "food"
    assert embscope.knn_classify is knn_classify


def test_result_is_typed_and_displays():
    result = knn_classify(POINTS, COLOURS, np.array([3.0, 3.0]), k=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = "blue"
    assert result.to_pandas().equals(result.neighbors)
    assert "<table" in result._repr_html_() and "votes red: 2, blue: 1" in result._repr_html_()
    assert repr(result).startswith("<KNNClassification '<vector>' -> 'red' by 3 nearest")
    labels = knn_classify(POINTS, np.array([0, 0, 0, 0, 1, 1, 1, 1]), [3.0, 3.0], k=3).label
    assert labels == 0 and type(labels) is int  # numpy scalars come back as Python values


def test_bad_input_names_the_parameter(glove):
    with pytest.raises(InvalidParameterError, match="metric must be one of euclidean, cosine"):
        knn_classify(POINTS, COLOURS, [3.0, 3.0], metric="dot")
    with pytest.raises(InvalidParameterError, match="k must be a positive integer"):
        knn_classify(POINTS, COLOURS, [3.0, 3.0], k=0)
    with pytest.raises(InvalidParameterError, match="k must be at most the number of points"):
        knn_classify(POINTS, COLOURS, [3.0, 3.0], k=9)
    with pytest.raises(InvalidParameterError, match="7 labels for 8 points"):
        knn_classify(POINTS, COLOURS[:7], [3.0, 3.0])
    with pytest.raises(InvalidParameterError, match="query must be a vector of shape"):
        knn_classify(POINTS, COLOURS, [3.0, 3.0, 3.0])
    with pytest.raises(InvalidParameterError, match="needs an EmbeddingSpace"):
        knn_classify(POINTS, COLOURS, "red")
    with pytest.raises(InvalidParameterError, match="column name works only"):
        knn_classify(POINTS, "colour", [3.0, 3.0])
    with pytest.raises(InvalidParameterError, match="2-D array"):
        knn_classify(np.zeros(3), COLOURS, [3.0, 3.0])
    small = EmbeddingSpace(POINTS.astype(np.float32), list("abcdefgh"), metadata={"c": COLOURS})
    with pytest.raises(InvalidParameterError, match="lacks; its columns: 'c'"):
        knn_classify(small, "colour", "a")
    with pytest.raises(InvalidParameterError, match=r"can vote \(7\)"):
        knn_classify(small, "c", "a", k=8)
    with pytest.raises(UnknownKeyError):
        knn_classify(small, "c", "z")
