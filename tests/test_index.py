"""The approximate index: recall against exact search, metrics, the on-disk cache, "auto"."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import embscope
from embscope import EmbeddingSpace, InvalidParameterError, MissingDependencyError
from embscope._io.cache import cache_root, space_cache_dir
from embscope.search import index as index_module
from embscope.search.index import approximate_index, index_path, wants_approximate


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def glove_50k(glove) -> EmbeddingSpace:
    return glove.subset(glove.keys[:50_000])


def test_recall_at_10_against_exact_search(glove_50k):
    index = approximate_index(glove_50k, metric="cosine", progress=False)
    assert index.built and index.rows == 50_000
    assert index.recall(glove_50k, k=10, queries=500) >= 0.95


def test_minilm_queries_through_the_space(minilm):
    words = ["good", "great", "music", "king", "paris", "computer", "river", "happy"]
    exact = minilm.search_many(words, top_k=10)
    found = minilm.search_many(words, top_k=10, approximate=True)
    shared = [len(set(a.rows) & set(e.rows)) / 10 for a, e in zip(found, exact, strict=True)]
    assert np.mean(shared) >= 0.95
    for hits, word in zip(found, words, strict=True):
        assert minilm.row(word) not in hits.rows
        # candidates are re-scored exactly: a row found by both has the same score
        for row, score in zip(hits.rows, hits.scores, strict=True):
            assert score == pytest.approx(minilm.similarity(word, minilm.keys[row]), abs=1e-6)


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_other_metrics_rank_and_score_like_exact_search(glove, metric):
    space = glove.subset(glove.keys[:20_000])
    index = approximate_index(space, metric=metric, progress=False)
    assert index.recall(space, k=10, queries=300) >= 0.9
    queries = np.asarray(space.vectors[:50], dtype=np.float32)
    rows, scores = index.query(queries, 5)
    exact = space.scores(queries, metric=metric)
    measured = np.take_along_axis(exact, rows, axis=1)
    np.testing.assert_allclose(scores, measured, rtol=2e-2, atol=2e-2)
    if metric == "euclidean":
        assert np.all(np.diff(scores, axis=1) >= -1e-3) and np.allclose(scores[:, 0], 0, atol=0.05)
    else:
        assert np.all(np.diff(scores, axis=1) <= 1e-2)


def test_cosine_of_zero_vectors_and_missing_results():
    vectors = np.eye(6, 4, dtype=np.float32)
    vectors[5] = 0
    space = EmbeddingSpace(vectors, list("abcdef"))
    index = approximate_index(space, metric="cosine", progress=False)
    rows, scores = index.query(vectors[:2], 10)  # more than there are rows
    assert rows.shape == (2, 10) and (rows[:, 6:] == -1).all() and np.isnan(scores[:, 6:]).all()
    assert rows[0, 0] == 0 and scores[0, 0] == pytest.approx(1.0, abs=1e-3)
    assert not np.isnan(index.query(np.zeros(4), 3)[1]).any()
    with pytest.raises(InvalidParameterError, match="columns"):
        index.query(np.zeros(3), 3)
    with pytest.raises(InvalidParameterError, match="k must be"):
        index.query(vectors, 0)


def test_cache_round_trip_loads_instead_of_building(glove):
    keys = glove.keys[:5000]
    first = approximate_index(glove.subset(keys), metric="cosine", progress=False)
    assert first.built and first.path.is_file()
    assert first.path.parent == space_cache_dir(glove.subset(keys))
    assert first.path.is_relative_to(cache_root())
    written = first.path.stat().st_mtime_ns
    recorded = json.loads(first.path.with_suffix(".json").read_text())
    assert recorded["rows"] == 5000 and recorded["metric"] == "cosine"
    again_space = glove.subset(keys)  # a new object with the same provenance
    again = approximate_index(again_space, metric="cosine", progress=False)
    assert not again.built and again.path == first.path
    assert again.path.stat().st_mtime_ns == written
    assert approximate_index(again_space, metric="cosine") is again  # kept open
    queries = np.asarray(again_space.vectors[:20])
    np.testing.assert_array_equal(again.query(queries, 5)[0], first.query(queries, 5)[0])
    rebuilt = approximate_index(again_space, metric="cosine", rebuild=True, progress=False)
    assert rebuilt.built and rebuilt.path.stat().st_mtime_ns != written
    assert not list(first.path.parent.glob(".*.tmp"))


def test_a_broken_cache_file_is_rebuilt(glove, caplog):
    keys = glove.keys[:3000]
    built = approximate_index(glove.subset(keys), metric="cosine", progress=False)
    built.path.write_bytes(b"not an index")
    with caplog.at_level(logging.WARNING, logger="embscope._io.cache"):
        again = approximate_index(glove.subset(keys), metric="cosine", progress=False)
    assert again.built and "the cached index" in caplog.text and "was unreadable" in caplog.text
    # a cache file describing other parameters is not used either
    record = json.loads(built.path.with_suffix(".json").read_text())
    built.path.with_suffix(".json").write_text(json.dumps({**record, "connectivity": 99}))
    assert approximate_index(glove.subset(keys), metric="cosine", progress=False).built


def test_spaces_from_arrays_are_cached_by_content():
    rng = np.random.default_rng(0)
    one = EmbeddingSpace(rng.standard_normal((50, 8)).astype(np.float32), list(map(str, range(50))))
    two = EmbeddingSpace(rng.standard_normal((50, 8)).astype(np.float32), list(map(str, range(50))))
    same = EmbeddingSpace(np.asarray(one.vectors).copy(), one.keys)
    assert one.provenance.digest == two.provenance.digest  # both say only "<array>"
    assert space_cache_dir(one) != space_cache_dir(two)
    assert space_cache_dir(one) == space_cache_dir(same)


def test_two_processes_building_at_once_leave_one_whole_file(glove, tmp_path, monkeypatch):
    small = glove.subset(glove.keys[:4000])
    matrix = tmp_path / "small.npy"
    np.save(matrix, np.asarray(small.vectors))
    (tmp_path / "small.vocab.txt").write_text("\n".join(small.keys) + "\n", encoding="utf-8")
    code = textwrap.dedent(
        f"""
        import embscope
        space = embscope.load({str(matrix)!r})
        print(space.approximate_index(metric="cosine").built)
        """
    )
    environment = {**os.environ, "EMBSCOPE_CACHE": str(tmp_path / "shared-cache")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    monkeypatch.setenv("EMBSCOPE_CACHE", environment["EMBSCOPE_CACHE"])
    space = embscope.load(matrix)
    index = approximate_index(space, metric="cosine", progress=False)
    assert not index.built and index.recall(space, k=10, queries=200) >= 0.95
    assert [p.name for p in sorted(index.path.parent.iterdir())] == [
        "hnsw-cosine.json",
        "hnsw-cosine.usearch",
    ]


def test_auto_uses_an_index_only_for_a_large_space_that_has_one(glove, monkeypatch, caplog):
    small = glove.subset(glove.keys[:3000])
    assert wants_approximate(small, True) and not wants_approximate(small, False)
    assert not wants_approximate(small, None)
    with pytest.raises(InvalidParameterError, match="approximate must be"):
        wants_approximate(small, "yes")
    monkeypatch.setattr(index_module, "AUTO_MIN_CELLS", 1000)  # every space is "large" now
    with caplog.at_level(logging.INFO, logger="embscope.search.index"):
        assert not wants_approximate(small, None)
    assert "no approximate cosine index: searching exactly" in caplog.text
    assert not index_path(small, "cosine").exists()  # auto never builds one
    approximate_index(small, metric="cosine", progress=False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embscope.search.index"):
        assert wants_approximate(small, None)
        assert wants_approximate(small, None)
    assert caplog.text.count("searching its cached approximate cosine index") == 1
    assert not wants_approximate(small, None, metric="euclidean")
    hits = small.search("king", top_k=5)  # auto, through the space: the index answers
    assert hits.keys[0] == "queen" or "queen" in hits.keys


def test_missing_library_names_the_extra(glove, monkeypatch):
    monkeypatch.setitem(sys.modules, "usearch", None)
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    small = glove.subset(glove.keys[:100])
    with pytest.raises(MissingDependencyError, match=r"pip install 'embscope\[ann\]'"):
        approximate_index(small, metric="cosine")
    # exact search of float16 rows does not need it (numpy casts them instead)
    half = small.astype("float16")
    assert half.search("the", top_k=3).keys == small.search("the", top_k=3).keys
    from embscope.search.kernels import scan_candidates

    assert scan_candidates(half.vectors, half["the"], 3, "cosine") is None


def test_float16_rows_are_scanned_in_place(glove):
    small = glove.subset(glove.keys[:20_000])
    half = small.astype("float16")
    cast = EmbeddingSpace(np.asarray(half.vectors, dtype=np.float32), half.keys)
    queries = np.asarray(half.vectors[:3], dtype=np.float32)
    # the kernels round the query to float16 too: scores agree to about 1e-3
    np.testing.assert_allclose(half.scores(queries), cast.scores(queries), atol=2e-3)
    for word in ("film", "king", "water"):
        ours, theirs = half.search(word, top_k=10), cast.search(word, top_k=10)
        assert ours.keys == theirs.keys
        np.testing.assert_array_equal(ours.scores, theirs.scores)  # re-measured exactly


def test_float16_candidate_scan_finds_the_exact_neighbours(glove):
    from embscope.search.kernels import exact_scores, scan_candidates

    half = glove.subset(glove.keys[:20_000]).astype("float16")
    cast = EmbeddingSpace(np.asarray(half.vectors, dtype=np.float32), half.keys)
    for metric in ("cosine", "dot", "euclidean"):
        for word in ("film", "king", "water"):
            query = np.asarray(half[word], dtype=np.float32)
            found = scan_candidates(half.vectors, query, 19, metric)[0]
            found = found[found != half.row(word)]
            measured = exact_scores(half.vectors, found, query, metric)
            ranked = found[np.lexsort((found, -measured if metric != "euclidean" else measured))]
            assert ranked[:10].tolist() == cast.search(word, top_k=10, metric=metric).rows.tolist()
    assert scan_candidates(cast.vectors, query, 5, "cosine") is None  # float32: score them all
    assert scan_candidates(half.vectors, np.zeros((9, 50)), 5, "cosine") is None  # too many
