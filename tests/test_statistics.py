"""The correlations the benchmarks and the distance profile report, checked against scipy.stats
in the same run: on GloVe's cosines for the wordsim353 pairs, and on hand-made ties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from embscope import MissingDependencyError
from embscope.analysis.benchmark_data import dataset_path, read_word_pairs
from embscope.analysis.statistics import average_ranks, correlation_pvalue, pearson, spearman

stats = pytest.importorskip("scipy.stats")


@pytest.fixture(scope="module")
def wordsim(glove):
    """Human scores, cosines and Euclidean distances of the wordsim353 pairs GloVe knows."""
    try:
        _, path = dataset_path("wordsim353", kind="pairs")
    except MissingDependencyError:
        pytest.skip("the wordsim353 file comes with gensim")
    first, second, human = read_word_pairs(path)
    known = [
        i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a in glove and b in glove
    ]
    assert len(known) > 300
    pairs = [(first[i], second[i]) for i in known]
    cosine = np.array([glove.similarity(a, b) for a, b in pairs], dtype=np.float64)
    euclidean = np.array(
        [glove.similarity(a, b, metric="euclidean") for a, b in pairs], dtype=np.float64
    )
    return human[known], cosine, euclidean


def _assert_like_scipy(x: np.ndarray, y: np.ndarray) -> None:
    n = len(x)
    r, p = stats.pearsonr(x, y)
    assert pearson(x, y) == pytest.approx(float(r), rel=1e-12, abs=1e-15)
    assert correlation_pvalue(pearson(x, y), n) == pytest.approx(float(p), rel=1e-9)
    rho, p_rank = stats.spearmanr(x, y)
    assert spearman(x, y) == pytest.approx(float(rho), rel=1e-12, abs=1e-15)
    assert correlation_pvalue(spearman(x, y), n) == pytest.approx(float(p_rank), rel=1e-9)


def test_glove_against_human_scores_with_ties(wordsim):
    human, cosine, _ = wordsim
    assert len(np.unique(human)) < len(human)  # the human scores repeat: ties are exercised
    _assert_like_scipy(human, cosine)
    np.testing.assert_array_equal(average_ranks(human), stats.rankdata(human))


def test_glove_cosine_against_euclidean_without_ties(wordsim):
    _, cosine, euclidean = wordsim
    # a pair listed twice would tie with itself; keep one of each so no value repeats
    _, once = np.unique(cosine, return_index=True)
    cosine, euclidean = cosine[np.sort(once)], euclidean[np.sort(once)]
    assert len(np.unique(cosine)) == len(cosine) and len(np.unique(euclidean)) == len(euclidean)
    _assert_like_scipy(cosine, euclidean)
    np.testing.assert_array_equal(average_ranks(cosine), stats.rankdata(cosine))


def test_glove_rounded_to_heavy_ties(wordsim):
    human, cosine, euclidean = wordsim
    # a tenth of the scale leaves a handful of distinct values, each shared by many pairs
    coarse_cosine, coarse_human = np.round(cosine, 1), np.round(human, 0)
    _assert_like_scipy(coarse_human, coarse_cosine)
    _assert_like_scipy(coarse_cosine, np.round(euclidean, 0))
    np.testing.assert_array_equal(average_ranks(coarse_cosine), stats.rankdata(coarse_cosine))


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1, 1, 2, 2, 3, 3], [1, 2, 3, 4, 5, 6]),
        ([3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]),
        ([0.5, 0.5, 0.5, 0.1, 0.9], [1.0, 3.0, 2.0, 2.0, 2.0]),
        ([1, 2, 3, 4, 5, 6, 7], [7, 7, 1, 1, 4, 4, 4]),
        ([-1.0, 0.0, 0.0, 0.0, 2.0, 2.0, -1.0, 5.0], [0, 1, 0, 1, 0, 1, 0, 1]),
    ],
)
def test_hand_made_ties(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    _assert_like_scipy(x, y)
    for values in (x, y):
        np.testing.assert_array_equal(average_ranks(values), stats.rankdata(values))


def test_orderings_that_agree_up_to_ties_correlate_fully():
    # the same order with ties on both sides: average ranks make the two rank vectors equal
    x = np.array([1, 2, 2, 3, 5, 5, 5, 8], dtype=np.float64)
    y = x**3
    assert spearman(x, y) == pytest.approx(float(stats.spearmanr(x, y)[0])) == pytest.approx(1.0)
    assert spearman(x, -y) == pytest.approx(float(stats.spearmanr(x, -y)[0]))
    assert spearman(x, -y) == pytest.approx(-1.0)


def test_constant_or_nan_input_has_no_correlation_as_in_scipy():
    varying = np.array([1.0, 2.0, 3.0, 4.0])
    constant = np.full(4, 2.5)
    with_nan = np.array([1.0, np.nan, 3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that the input is constant
        assert np.isnan(stats.pearsonr(constant, varying)[0]) and np.isnan(
            pearson(constant, varying)
        )
        assert np.isnan(stats.spearmanr(constant, varying)[0])
        assert np.isnan(stats.spearmanr(with_nan, varying)[0])
    assert np.isnan(spearman(constant, varying)) and np.isnan(spearman(varying, constant))
    assert np.isnan(spearman(with_nan, varying)) and np.isnan(spearman(varying, with_nan))
    assert np.isnan(correlation_pvalue(float("nan"), 4))


def test_word_pair_evaluation_reports_scipys_figures(glove):
    try:
        result = glove.evaluate_word_pairs("wordsim353")
    except MissingDependencyError:
        pytest.skip("the wordsim353 file comes with gensim")
    used = result.pairs[result.pairs["known"]]
    human, cosine = used["human"].to_numpy(), used["cosine"].to_numpy()
    r, p = stats.pearsonr(human, cosine)
    rho, p_rank = stats.spearmanr(human, cosine)
    assert result.pearson == pytest.approx(float(r), rel=1e-12)
    assert result.pearson_pvalue == pytest.approx(float(p), rel=1e-9)
    assert result.spearman == pytest.approx(float(rho), rel=1e-12)
    assert result.spearman_pvalue == pytest.approx(float(p_rank), rel=1e-9)


def test_distance_profile_reports_scipys_spearman(glove):
    # float32 cosines over 20,000 rows repeat: the profile's correlation must treat the ties as
    # scipy does, although its rank columns break them by row
    small = glove.subset(glove.keys[:20000])
    for query in ("beauty", "the"):
        profile = small.distance_profile(query, top_k=10)
        table = profile.to_pandas()
        assert table["cosine"].nunique() < len(table)
        rho, _ = stats.spearmanr(-table["cosine"].to_numpy(), table["euclidean"].to_numpy())
        assert profile.rank_correlation == pytest.approx(float(rho), rel=1e-12)
