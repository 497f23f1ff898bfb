"""Cosine against Euclidean for one query, on real spaces."""

from __future__ import annotations

import numpy as np
import pytest

from embscope import EmbeddingSpace, InvalidParameterError


def test_profile_matches_both_rankings(glove):
    small = glove.subset(glove.keys[:20000])
    profile = small.distance_profile("beauty", top_k=15)
    table = profile.to_pandas()
    assert len(table) == 19999 and "beauty" not in set(table["key"])
    assert profile.top_cosine == small.neighbors("beauty", top_k=15)["key"].tolist()
    assert (
        profile.top_euclidean
        == small.neighbors("beauty", top_k=15, metric="euclidean")["key"].tolist()
    )
    shared = set(profile.top_cosine) & set(profile.top_euclidean)
    assert profile.overlap == len(shared) and 0 < profile.overlap <= 15
    row = table.set_index("key").loc["beautiful"]
    assert row["cosine"] == pytest.approx(small.similarity("beauty", "beautiful"), abs=1e-6)
    assert row["euclidean"] == pytest.approx(
        small.similarity("beauty", "beautiful", metric="euclidean"), rel=1e-5
    )
    assert 0.0 < profile.rank_correlation < 1.0


def test_unit_vectors_rank_alike():
    # |a - b|^2 = 2 - 2 cos(a, b) for unit vectors: the two rankings agree everywhere
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    space = EmbeddingSpace(vectors, [f"w{i}" for i in range(500)])
    profile = space.distance_profile("w0", top_k=10)
    assert profile.overlap == 10
    assert profile.rank_correlation == pytest.approx(1.0)
    table = profile.to_pandas()
    np.testing.assert_allclose(table["euclidean"] ** 2, 2 - 2 * table["cosine"], atol=1e-5)


def test_profile_checks_top_k(glove):
    with pytest.raises(InvalidParameterError, match="top_k"):
        glove.distance_profile("good", top_k=0)
