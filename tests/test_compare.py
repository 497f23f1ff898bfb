"""embscope.compare on real spaces: each figure against a plain numpy / scipy computation, and
the cases a user meets (a rotated copy, swapped keys, a float16 copy, shuffled rows, two
widths, a checkpoint's two matrices, two seeds of the sentiment model)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import embscope
from embscope.errors import InvalidParameterError, UnknownKeyError


def numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA as Kornblith et al. write it, in float64 on whole matrices."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def numpy_top_k(vectors: np.ndarray, k: int) -> list[set[int]]:
    """Each row's k most cosine-similar other rows, from the whole similarity matrix."""
    scores = unit(vectors) @ unit(vectors).T
    np.fill_diagonal(scores, -np.inf)
    return [set(np.argsort(-row, kind="stable")[:k].tolist()) for row in scores]


@pytest.fixture(scope="module")
def glove_5000(glove) -> embscope.EmbeddingSpace:
    return glove.subset(glove.keys[:5000])


@pytest.fixture(scope="module")
def rotated(glove_5000):
    """GloVe's 5,000 most frequent words rotated by a random orthogonal matrix, plus noise of
    1% of a component's spread."""
    rng = np.random.default_rng(7)
    rotation = scipy.stats.ortho_group.rvs(glove_5000.dim, random_state=3)
    vectors = np.asarray(glove_5000.vectors, dtype=np.float64)
    noise = rng.normal(scale=0.01 * vectors.std(), size=vectors.shape)
    copy = embscope.from_array((vectors @ rotation + noise).astype(np.float32), glove_5000.keys)
    return copy, rotation, noise


def test_a_rotated_noisy_copy_is_recognised_and_the_rotation_recovered(glove_5000, rotated):
    copy, rotation, _ = rotated
    comparison = embscope.compare(glove_5000, copy, progress=False)
    summary = comparison.summary()
    assert summary.shared_keys == 5000 and summary.only_a == summary.only_b == 0
    assert summary.alignment == "orthogonal"
    # B = A R + noise, so the map of B onto A is R's inverse, its transpose
    assert np.abs(comparison.alignment.mapping - rotation.T).max() < 0.01
    assert summary.overlap > 0.9 and summary.cka > 0.999
    # what is left after the fit is the noise: measured on the unit rows the fit uses
    a = unit(glove_5000.vectors)
    noise_level = np.linalg.norm(unit(copy.vectors) @ rotation.T - a) / np.linalg.norm(a)
    assert 0.8 * noise_level < summary.residual < 1.2 * noise_level
    assert summary.residual < 0.1 * summary.residual_chance
    assert summary.aligned_cosine > 0.99 > summary.aligned_cosine_chance


def test_alignment_and_cka_agree_with_scipy_and_a_plain_cka(glove_5000, rotated):
    copy = rotated[0]
    comparison = embscope.compare(glove_5000, copy, progress=False)
    expected, _ = scipy.linalg.orthogonal_procrustes(unit(copy.vectors), unit(glove_5000.vectors))
    assert np.abs(comparison.alignment.mapping - expected).max() < 1e-6
    fitted = unit(copy.vectors) @ expected
    target = unit(glove_5000.vectors)
    residual = np.linalg.norm(fitted - target) / np.linalg.norm(target)
    assert comparison.alignment.residual == pytest.approx(residual, abs=1e-6)
    cosines = (fitted * target).sum(1) / np.linalg.norm(fitted, axis=1)
    np.testing.assert_allclose(comparison.alignment.cosines, cosines, atol=1e-6)
    assert comparison.cka == pytest.approx(numpy_cka(glove_5000.vectors, copy.vectors), abs=1e-6)


def test_overlap_and_per_key_spearman_agree_with_numpy_and_scipy(glove):
    a = glove.subset(glove.keys[1000:1600])
    b = glove.subset(glove.keys[1000:1600][::-1])  # the same words, rows in another order
    rng = np.random.default_rng(0)
    moved = embscope.from_array(
        np.asarray(b.vectors) + rng.normal(scale=0.3, size=b.vectors.shape).astype(np.float32),
        b.keys,
    )
    # every key a reference: each key's Spearman is over its similarities to all the others
    comparison = embscope.compare(a, moved, reference_keys=600, progress=False)
    order = [moved.row(key) for key in a.keys]
    tops_a = numpy_top_k(a.vectors, 10)
    tops_b = numpy_top_k(np.asarray(moved.vectors)[order], 10)
    expected = np.array([len(x & y) for x, y in zip(tops_a, tops_b, strict=True)])
    np.testing.assert_array_equal(comparison.overlap, expected)
    words = comparison.words()
    np.testing.assert_allclose(words["overlap"], expected / 10)
    np.testing.assert_allclose(words["jaccard"], expected / (20 - expected))
    sims_a = unit(a.vectors) @ unit(a.vectors).T
    sims_b = unit(np.asarray(moved.vectors)[order]) @ unit(np.asarray(moved.vectors)[order]).T
    for i in (0, 17, 599):
        others = np.arange(600) != i
        rho = scipy.stats.spearmanr(sims_a[i, others], sims_b[i, others]).statistic
        assert words["rank_correlation"][i] == pytest.approx(rho, abs=1e-6)
    assert 0 < comparison.summary().overlap < 1


def test_the_swapped_keys_lead_the_moved_list(glove):
    a = glove.subset(glove.keys[:20000])
    rng = np.random.default_rng(1)
    swapped = rng.choice(20000, size=100, replace=False)
    vectors = np.asarray(a.vectors).copy()
    vectors[swapped] = vectors[np.roll(swapped, 1)]  # each takes another's vector
    b = embscope.from_array(vectors, a.keys)
    comparison = embscope.compare(a, b, progress=False)
    assert set(comparison.moved(100)["key"]) == {a.keys[i] for i in swapped}
    steady = comparison.moved(20, least=True)
    assert (steady["overlap"] == 1).all() and not set(steady["key"]) & set(
        a.keys[i] for i in swapped
    )


@pytest.mark.slow
def test_minilm_against_its_float16_copy_agrees(minilm):
    comparison = embscope.compare(minilm, minilm.astype("float16"), progress=False)
    summary = comparison.summary()
    assert summary.shared_keys == len(minilm)
    assert summary.overlap >= 0.95
    assert summary.cka > 0.9999 and summary.similarity_spearman > 0.999
    assert summary.space_a == "minilm (A)" and summary.space_b == "minilm (B)"
    side = comparison.neighbors("bank")
    assert len(side.shared) >= 9
    frame = side.to_pandas()
    assert frame["in_both_a"].sum() == len(side.shared) == frame["in_both_b"].sum()


def test_shuffled_rows_sit_at_every_stated_chance_level(minilm):
    a = minilm.subset(minilm.keys[2000:12000])
    order = np.random.default_rng(5).permutation(len(a))
    b = embscope.from_array(np.asarray(a.vectors)[order], a.keys)
    summary = embscope.compare(a, b, progress=False).summary()
    assert abs(summary.overlap - summary.overlap_chance) < 0.002
    assert abs(summary.jaccard - summary.jaccard_chance) < 0.002
    assert abs(summary.similarity_spearman) < 0.03
    assert abs(summary.reference_spearman) < 0.03
    assert abs(summary.cka - summary.cka_chance) < 0.01
    assert abs(summary.residual - summary.residual_chance) < 0.02
    assert abs(summary.aligned_cosine - summary.aligned_cosine_chance) < 0.02
    table = embscope.compare(a, b, progress=False).summary().to_pandas()
    assert list(table.columns) == ["figure", "value", "chance", "meaning"]


def test_two_widths_are_aligned_by_least_squares_and_say_so(glove, minilm):
    comparison = embscope.compare(glove, minilm, restrict_vocab=3000, progress=False)
    summary = comparison.summary()
    assert summary.alignment == "least-squares" and summary.dims == (50, 384)
    assert "widths differ" in str(summary)
    assert comparison.alignment.mapping.shape == (384, 50)
    # two models of English agree far beyond chance, and far from fully
    assert summary.overlap_chance * 20 < summary.overlap < 0.6
    assert summary.cka_chance < summary.cka < 0.9
    assert summary.only_a == 3000 - summary.shared_keys > 0
    # the aligned space is B at A's width: a question of it answers with B's keys
    aligned = comparison.aligned
    assert aligned.shape == (len(minilm), 50)
    np.testing.assert_allclose(
        aligned["king"], minilm["king"].astype(np.float64) @ comparison.alignment.mapping,
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    assert aligned.neighbors("king", top_k=5)["key"].tolist()


def test_a_word_space_meets_a_sub_word_one_through_its_pieces(glove, minilm):
    plain = embscope.compare(glove, minilm, restrict_vocab=2000, progress=False).summary()
    pieces = embscope.compare(
        glove, minilm, restrict_vocab=2000, pieces="mean", progress=False
    ).summary()
    assert pieces.composed_keys == 2000 - plain.shared_keys > 0
    assert pieces.shared_keys == 2000
    with pytest.raises(InvalidParameterError, match="needs a tokenizer"):
        embscope.compare(minilm, glove, pieces="mean", progress=False)


def test_anchors_fit_the_map_on_those_keys_alone(glove_5000, rotated):
    copy = rotated[0]
    anchors = glove_5000.keys[:200]
    comparison = embscope.compare(glove_5000, copy, anchors=anchors, progress=False)
    expected, _ = scipy.linalg.orthogonal_procrustes(unit(copy[anchors]), unit(glove_5000[anchors]))
    assert comparison.summary().fitted_on == 200
    assert np.abs(comparison.alignment.mapping - expected).max() < 1e-6
    with pytest.raises(InvalidParameterError, match="anchors must be keys both spaces hold"):
        embscope.compare(glove_5000, copy, anchors=["the", "zzzqqq"], progress=False)


def test_a_checkpoints_input_and_output_matrices_compare(planted):
    embedding = embscope.load(planted.directory)
    head = embscope.load(planted.directory, matrix="output")
    summary = embscope.compare(embedding, head, progress=False).summary()
    assert summary.shared_keys == len(embedding)
    # an untied head trained 300 steps shares a little of the input's geometry, no more
    assert summary.overlap_chance < summary.overlap < 0.5
    assert summary.cka_chance < summary.cka < 0.5


def test_two_seeds_of_the_sentiment_model_share_the_geometry_not_the_lists(sentiment_seeds):
    comparison = embscope.compare(*sentiment_seeds, restrict_vocab=2000, progress=False)
    summary = comparison.summary()
    # the sentiment direction is learned by both seeds...
    assert summary.similarity_spearman > 0.6 and summary.cka > 0.6
    # ...while a word's ten nearest, all within a hair of each other, are mostly chance
    assert summary.overlap < 0.3
    assert summary.overlap > summary.overlap_chance


def test_figure_draws_the_overlap_and_the_joint_projection(glove_5000, rotated):
    comparison = embscope.compare(glove_5000, rotated[0], progress=False)
    figure = comparison.figure(moved=10, sample=500)
    names = [trace.name for trace in figure.data]
    assert "10 most moved" in names
    bars = figure.data[0]
    assert int(np.sum(bars.y)) == 5000
    points = [t for t in figure.data if getattr(t, "mode", None) == "markers"]
    assert [len(t.x) for t in points] == [500, 500]
    assert "<table>" in comparison._repr_html_() and "overlap@10" in repr(comparison)


def test_a_comparison_is_cached_and_a_broken_entry_measured_again(
    glove, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path))
    a = glove.subset(glove.keys[:3000])
    b = a.astype("float16")
    first = embscope.compare(a, b, progress=False)
    entries = list((tmp_path / "comparisons").glob("*.npz"))
    assert len(entries) == 1
    again = embscope.compare(a, b, progress=False)
    assert again.summary() == first.summary()
    np.testing.assert_array_equal(again.ids_b, first.ids_b)
    entries[0].write_bytes(b"not an archive")
    with caplog.at_level("WARNING", logger="embscope"):
        repaired = embscope.compare(a, b, progress=False)
    assert "cached comparison" in caplog.text and "unreadable" in caplog.text
    assert repaired.summary() == first.summary()
    embscope.compare(a, b, cache=False, progress=False)
    assert len(list((tmp_path / "comparisons").glob("*.npz"))) == 1
    embscope.compare(a, b, top_k=5, progress=False)  # another parameter, another entry
    assert len(list((tmp_path / "comparisons").glob("*.npz"))) == 2


def test_bad_requests_are_refused_with_the_reason(glove, minilm):
    few = glove.subset(["king", "queen", "man"])
    with pytest.raises(InvalidParameterError, match="too few to compare top 10"):
        embscope.compare(few, glove, progress=False)
    with pytest.raises(UnknownKeyError):
        embscope.compare(glove, minilm, keys=["king", "zzzqqqx"], progress=False)
    with pytest.raises(InvalidParameterError, match="top_k"):
        embscope.compare(glove, minilm, top_k=0, progress=False)
