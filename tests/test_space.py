"""EmbeddingSpace questions on real spaces, checked against gensim and brute force."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import embscope
from embscope import EmbeddingSpace, InvalidParameterError, UnknownKeyError

# 50 words across parts of speech, frequencies and topics
_PARITY_TEXT = (
    "good bad beauty king queen man woman horrible wonderful terrible film movie music paris "
    "france london computer software science physics water fire river mountain dog cat horse "
    "red blue green happy sad angry run walk eat money bank market stock war peace "
    "president government law court hospital doctor school teacher"
)
PARITY_WORDS = _PARITY_TEXT.split()


@pytest.fixture(scope="module")
def glove_gensim(glove):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=glove.dim)
    keyed.add_vectors(glove.keys, np.asarray(glove.vectors))
    return keyed


def test_similarity_matches_gensim(glove, glove_gensim):
    assert len(PARITY_WORDS) == 50
    for first, second in zip(PARITY_WORDS, PARITY_WORDS[1:] + PARITY_WORDS[:1], strict=True):
        assert glove.similarity(first, second) == pytest.approx(
            float(glove_gensim.similarity(first, second)), abs=1e-5
        )


def test_neighbors_match_gensim_most_similar(glove, glove_gensim):
    for word in PARITY_WORDS:
        ours = glove.neighbors(word, top_k=15)
        theirs = glove_gensim.most_similar(word, topn=15)
        assert ours["key"].tolist() == [key for key, _ in theirs], word
        np.testing.assert_allclose(ours["score"], [score for _, score in theirs], atol=1e-5)


def test_neighbor_frame_shape_and_order(glove):
    frame = glove.neighbors("beauty", top_k=15)
    assert list(frame.columns[:4]) == ["rank", "key", "label", "score"]
    assert frame["rank"].tolist() == list(range(1, 16))
    assert "beauty" not in frame["key"].tolist()
    assert frame["score"].is_monotonic_decreasing
    assert frame.attrs["metric"] == "cosine" and frame.attrs["query_keys"] == ["beauty"]


def test_euclidean_neighbors_equal_brute_force(glove):
    rows = np.asarray(glove.vectors[:20000], dtype=np.float64)
    small = EmbeddingSpace(rows.astype(np.float32), glove.keys[:20000])
    for word in ("beauty", "paris", "computer", "river"):
        frame = small.neighbors(word, top_k=15, metric="euclidean")
        distances = np.sqrt(((rows - rows[small.row(word)]) ** 2).sum(axis=1))
        distances[small.row(word)] = np.inf
        expected = np.argsort(distances, kind="stable")[:15]
        assert frame["key"].tolist() == [small.keys[i] for i in expected]
        np.testing.assert_allclose(frame["score"], distances[expected], rtol=1e-9)
        assert frame["score"].is_monotonic_increasing


def test_opposites_are_the_lowest_cosines(glove):
    frame = glove.opposites("horrible", top_k=5)
    vectors = np.asarray(glove.vectors, dtype=np.float64)
    query = vectors[glove.row("horrible")]
    cosines = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    expected = np.argsort(cosines, kind="stable")[:5]
    assert frame["key"].tolist() == [glove.keys[i] for i in expected]
    assert frame["score"].is_monotonic_increasing
    assert (frame["score"] < 0).all()


def test_search_gives_the_neighbours_as_arrays(glove):
    hits = glove.search("beauty", top_k=15)
    frame = glove.neighbors("beauty", top_k=15)
    assert hits.keys == frame["key"].tolist() and len(hits) == 15
    np.testing.assert_array_equal(hits.scores, frame["score"].to_numpy())
    assert [glove.keys[r] for r in hits.rows] == hits.keys
    opposite = glove.search("beauty", top_k=5, opposite=True)
    assert opposite.keys == glove.opposites("beauty", top_k=5)["key"].tolist()


def test_dot_metric(glove):
    expected = float(np.dot(glove["good"].astype(np.float64), glove["bad"].astype(np.float64)))
    assert glove.similarity("good", "bad", metric="dot") == pytest.approx(expected, rel=1e-6)
    frame = glove.neighbors("good", top_k=5, metric="dot")
    assert frame["score"].is_monotonic_decreasing


def test_similarity_table_covers_every_other_row(glove):
    small = glove.subset(glove.keys[:12000])
    table = small.similarity_table("horrible")
    assert len(table) == 11999 and "horrible" not in set(table["key"])
    assert table["score"].is_monotonic_decreasing
    assert table.iloc[0]["key"] == small.neighbors("horrible", top_k=1).iloc[0]["key"]
    with_query = small.similarity_table("horrible", include_query=True)
    assert with_query.iloc[0]["key"] == "horrible"
    assert with_query.iloc[0]["score"] == pytest.approx(1.0, abs=1e-6)


def test_zero_vectors_give_zero_not_nan():
    vectors = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32)
    space = EmbeddingSpace(vectors, ["zero", "x", "y", "xy"])
    assert space.similarity("zero", "x") == 0.0
    assert space.similarity("zero", "zero") == 0.0
    # every row would score 0 against it: refused with the reason, not ranked arbitrarily
    with pytest.raises(InvalidParameterError, match="'zero' is a zero vector"):
        space.neighbors("zero", top_k=3)
    assert space.neighbors("zero", top_k=3, metric="euclidean")["key"].tolist() == ["x", "y", "xy"]
    frame = space.neighbors("xy", top_k=3)
    assert not frame["score"].isna().any()
    assert frame["key"].tolist() == ["x", "y", "zero"]
    table = space.similarity_table("x", metric="euclidean")
    assert not table["score"].isna().any()


def test_unknown_word_names_the_closest_keys(glove):
    with pytest.raises(UnknownKeyError) as caught:
        glove.neighbors("beautyy")
    assert caught.value.suggestions[0] == "beauty"
    assert "closest keys" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UnknownKeyError, match="beautiful"):
        glove.similarity("beautifull", "good")
    with pytest.raises(KeyError):  # still a KeyError for code that catches those
        glove["qwzxqwzx"]


def test_empty_query_is_a_clear_error(glove):
    with pytest.raises(UnknownKeyError, match="empty query"):
        glove.neighbors("")


def test_container_protocol(glove):
    assert len(glove) == 400_000 and glove.shape == (400_000, 50)
    assert "king" in glove and "qwzxqwzx" not in glove and 3 not in glove
    king = glove["king"]
    assert king.shape == (50,) and not king.flags.writeable
    both = glove[["king", "queen"]]
    assert both.shape == (2, 50)
    np.testing.assert_array_equal(both[0], king)
    assert repr(glove) == "<EmbeddingSpace 'glove-6b-50d': 400,000 x 50 float32, metric=cosine>"
    with pytest.raises(ValueError):
        glove.vectors[0, 0] = 1.0


def test_same_word_twice(glove):
    assert glove.similarity("good", "good") == pytest.approx(1.0, abs=1e-6)
    assert glove.similarity("good", "good", metric="euclidean") == 0.0


def test_raw_vector_query(glove):
    by_vector = glove.neighbors(glove["king"], top_k=5)
    by_word = glove.neighbors("king", top_k=6)
    # a raw vector excludes nothing, so the word itself comes first
    assert by_vector["key"].tolist() == ["king", *by_word["key"].tolist()[:4]]


def test_parameters_are_checked(glove):
    with pytest.raises(InvalidParameterError, match="metric must be one of cosine"):
        glove.neighbors("good", metric="manhattan")
    with pytest.raises(InvalidParameterError, match="top_k must be a positive integer"):
        glove.neighbors("good", top_k=0)
    with pytest.raises(InvalidParameterError, match="pieces must be"):
        glove.neighbors("good", pieces="sum")
    with pytest.raises(InvalidParameterError, match="shape"):
        glove.neighbors(np.zeros(3))


def test_duplicate_keys_are_refused():
    with pytest.raises(InvalidParameterError, match="'a' is at rows 0 and 2"):
        EmbeddingSpace(np.eye(3, dtype=np.float32), ["a", "b", "a"])


def test_float16_and_memory_mapped_storage_give_float32_answers(glove, tmp_path):
    half = glove.vectors[:30000].astype(np.float16)
    path = tmp_path / "half.npy"
    np.save(path, half)
    mapped = EmbeddingSpace(np.load(path, mmap_mode="r"), glove.keys[:30000])
    reference = EmbeddingSpace(half.astype(np.float32), glove.keys[:30000])
    assert mapped.vectors.dtype == np.float16
    assert mapped.summary()["memory_mapped"]
    pd.testing.assert_frame_equal(
        mapped.neighbors("film", top_k=10), reference.neighbors("film", top_k=10)
    )


def test_multi_piece_word_in_a_subword_vocabulary(minilm):
    with pytest.raises(UnknownKeyError) as caught:
        minilm.neighbors("embeddings")
    pieces = caught.value.pieces
    assert len(pieces) > 1 and all(p in minilm for p in pieces)
    assert "pieces='mean'" in str(caught.value)
    frame = minilm.neighbors("embeddings", top_k=5, pieces="mean")
    assert frame.attrs["query_keys"] == pieces
    assert not set(pieces) & set(frame["key"])
    expected = np.asarray(minilm[pieces], dtype=np.float32).mean(axis=0)
    np.testing.assert_allclose(minilm.resolve("embeddings", pieces="mean").vector, expected)


def test_model_normalisation_resolves_case(minilm):
    # the uncased BERT tokenizer lowercases, so "Beauty" is the token "beauty"
    resolved = minilm.resolve("Beauty")
    assert resolved.keys == ("beauty",) and resolved.used_pieces
    assert minilm.similarity("Beauty", "beauty") == pytest.approx(1.0, abs=1e-6)


def test_minilm_neighbours_make_sense(minilm):
    frame = minilm.neighbors("beauty", top_k=15)
    assert {"beautiful", "beauties"} & set(frame["key"])
    assert minilm.similarity("good", "bad") > minilm.similarity("good", "[unused5]")


def test_public_api_is_pinned():
    assert sorted(embscope.__all__) == sorted(
        [
            "EXPORT_FORMATS",
            "VALID_METHODS",
            "VALID_METRICS",
            "ClassSimilarity",
            "Comparison",
            "ComparisonSummary",
            "Direction",
            "EmbeddingSpace",
            "EmbscopeError",
            "EncodingReport",
            "Hits",
            "HitsBatch",
            "KnnGraph",
            "InvalidParameterError",
            "MalformedFileError",
            "Metric",
            "MissingDependencyError",
            "Projection",
            "ProjectionQuality",
            "Provenance",
            "ResolvedQuery",
            "Separation",
            "SideBySide",
            "SourceError",
            "SpaceReport",
            "TextDataset",
            "UnknownKeyError",
            "__version__",
            "bundled_sources",
            "compare",
            "export",
            "from_array",
            "encode_dataset",
            "encode_texts",
            "knn_classify",
            "load",
            "read_texts",
            "report",
            "widget",
        ]
    )
    for name in embscope.__all__:
        assert hasattr(embscope, name), name


def test_metadata_columns_ride_along_with_results():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    space = EmbeddingSpace(vectors, ["a", "b", "c"], metadata={"count": [5, 7, 9]})
    frame = space.neighbors("a", top_k=2)
    assert frame["key"].tolist() == ["b", "c"] and frame["count"].tolist() == [7, 9]
    assert space.metadata["count"].tolist() == [5, 7, 9]
    with pytest.raises(InvalidParameterError, match="'count' has 2 values for 3 rows"):
        EmbeddingSpace(vectors, ["a", "b", "c"], metadata={"count": [5, 7]})


def test_several_queries_in_one_call(glove):
    stacked = glove.neighbors(["good", "great"], top_k=10)
    assert list(stacked.columns[:5]) == ["query", "rank", "key", "label", "score"]
    assert stacked["query"].tolist() == ["good"] * 10 + ["great"] * 10
    for word in ("good", "great"):
        alone = glove.neighbors(word, top_k=10)
        part = stacked[stacked["query"] == word]
        assert part["key"].tolist() == alone["key"].tolist()
        np.testing.assert_allclose(part["score"], alone["score"])
    vectors = glove[["good", "great"]]
    by_vectors = glove.search_many(vectors, top_k=3)
    assert [h.keys[0] for h in by_vectors] == ["good", "great"]  # a raw vector excludes nothing


def test_restrict_vocab_and_exclude(glove):
    restricted = glove.neighbors("horrible", top_k=10, restrict_vocab=5000)
    assert all(glove.row(key) < 5000 for key in restricted["key"])
    full = glove.neighbors("horrible", top_k=10)
    expected = [k for k in full["key"] if glove.row(k) < 5000]
    assert restricted["key"].tolist()[: len(expected)] == expected
    without = glove.neighbors("horrible", top_k=5, exclude=["terrible"])
    assert "terrible" not in set(without["key"])
    assert without["key"].tolist() == [k for k in full["key"] if k != "terrible"][:5]
    with pytest.raises(InvalidParameterError, match="restrict_vocab"):
        glove.neighbors("good", restrict_vocab=0)


def test_duplicate_vectors_are_not_dropped_as_the_query():
    # two keys with the same vector: the other one is a real neighbour at similarity 1
    vectors = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    space = EmbeddingSpace(vectors, ["a", "a-twin", "b", "ab"])
    frame = space.neighbors("a", top_k=3)
    assert frame["key"].tolist() == ["a-twin", "ab", "b"]
    assert frame["score"].iloc[0] == pytest.approx(1.0)


def test_float16_storage_halves_memory_and_keeps_answers(glove):
    small = glove.subset(glove.keys[:30000])
    half = small.astype("float16")
    assert half.vectors.dtype == np.float16 and half.vectors.nbytes * 2 == small.vectors.nbytes
    assert half.astype("float16") is half
    assert half.provenance.digest != small.provenance.digest
    ours = half.neighbors("film", top_k=10)
    assert len(set(ours["key"]) & set(small.neighbors("film", top_k=10)["key"])) >= 9
    with pytest.raises(InvalidParameterError, match="float16 or float32"):
        small.astype("int8")
    huge = EmbeddingSpace(np.array([[1e6, 0], [0, 1]], dtype=np.float32), ["a", "b"])
    with pytest.raises(InvalidParameterError, match="float16 cannot hold"):
        huge.astype("float16")


def test_a_lowercase_vocabulary_folds_case_and_says_which_key(glove):
    frame = glove.neighbors("Paris", top_k=5)
    assert frame.attrs["query_keys"] == ["paris"]
    assert frame["key"].tolist() == glove.neighbors("paris", top_k=5)["key"].tolist()
    assert glove.similarity("Paris", "LONDON") == pytest.approx(glove.similarity("paris", "london"))
    mixed = EmbeddingSpace(np.eye(3, dtype=np.float32), ["paris", "Berlin", "rome"])
    with pytest.raises(UnknownKeyError, match="closest keys: paris"):
        mixed.resolve("Paris")  # a cased vocabulary keeps case: no silent fold


def test_rows_with_nan_or_inf_are_left_out_and_said(caplog, glove):
    vectors = np.array(glove[["good", "bad", "great", "awful", "fine"]])
    vectors[1, 3] = np.nan
    vectors[3] = np.inf
    keys = ["good", "bad", "great", "awful", "fine"]
    with caplog.at_level(logging.WARNING, logger="embscope"):
        space = EmbeddingSpace(vectors, keys, metadata={"n": np.arange(5)}, name="broken")
    assert "broken: 2 of 5 rows hold NaN or infinite values and are left out: 'bad', 'awful'" in (
        caplog.text
    )
    assert space.keys == ["good", "great", "fine"] and space.non_finite_keys == ["bad", "awful"]
    assert space.metadata["n"].tolist() == [0, 2, 4]
    assert np.isfinite(space.neighbors("good", top_k=2)["score"]).all()
    opposites = space.opposites("good", top_k=5)
    assert sorted(opposites["key"]) == ["fine", "great"] and np.isfinite(opposites["score"]).all()
    with pytest.raises(UnknownKeyError, match="'bad' is not in broken: its vector holds NaN"):
        space.similarity("bad", "good")


def test_a_question_with_nothing_to_rank_says_why():
    one = EmbeddingSpace(np.ones((1, 3), np.float32), ["only"], name="tiny")
    with pytest.raises(InvalidParameterError, match="nothing to rank for 'only': tiny has 1 row"):
        one.neighbors("only")
    two = EmbeddingSpace(np.eye(2, dtype=np.float32), ["a", "b"], name="pair")
    with pytest.raises(InvalidParameterError, match="nothing to rank"):
        two.neighbors("a", exclude=["b"])
    assert two.neighbors("a", top_k=5)["key"].tolist() == ["b"]  # fewer than asked is fine


def test_metadata_named_like_a_result_column_is_kept_not_dropped(glove):
    # a data set's class column is most often called "label" (Hugging Face's default); the
    # neighbours table has a "label" of its own, and the class must not vanish under it
    words = ["good", "bad", "great", "awful", "fine"]
    classes = ["pos", "neg", "pos", "neg", "pos"]
    space = EmbeddingSpace(
        glove[words], words, metadata={"label": classes, "score": [5, 1, 5, 1, 4]}
    )
    frame = space.neighbors("good", top_k=4)
    assert frame["label"].tolist() == frame["key"].tolist()  # the table's own labels
    expected = {w: c for w, c in zip(words, classes, strict=True)}
    assert frame["metadata.label"].tolist() == [expected[k] for k in frame["key"]]
    assert "metadata.score" in frame.columns and frame["score"].between(-1, 1).all()
    several = space.neighbors(["good", "bad"], top_k=2)
    assert {"query", "metadata.label"} <= set(several.columns)
