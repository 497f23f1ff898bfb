"""Projections on real GloVe vectors: quality asserted (never coordinates), seeds, the cache,
sampling, the neighbourhood subspace and every parameter rule."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score

import embscope
from embscope.errors import InvalidParameterError, MissingDependencyError, UnknownKeyError
from embscope.projection import pipeline as projection_module
from embscope.projection.quality import projection_quality


@pytest.mark.parametrize("method", ["tsne", "umap"])
@pytest.mark.parametrize("n_components", [2, 3])
def test_tsne_and_umap_keep_neighbours(glove_1000, method, n_components):
    result = glove_1000.project(method, n_components=n_components, progress=False)
    assert result.coordinates.shape == (1000, n_components)
    assert result.quality.trustworthiness >= 0.9
    # a random placement recalls about k / n = 1% of the neighbours
    assert result.quality.knn_recall >= 0.3


def test_quality_equals_scikit_learn_trustworthiness(glove_1000):
    result = glove_1000.project("umap", n_components=2, progress=False)
    expected = trustworthiness(
        np.asarray(glove_1000.vectors), result.coordinates, n_neighbors=10, metric="cosine"
    )
    assert result.quality.rows_measured == 1000
    assert result.quality.trustworthiness == pytest.approx(expected, abs=1e-9)


def test_quality_equals_scikit_learn_on_a_sample_of_a_large_space(glove):
    """300 sampled rows of 60,000, each ranked against all of them (in blocks of query rows):
    their trustworthiness and kNN recall equal those counted from scikit-learn's neighbours."""
    from sklearn.neighbors import NearestNeighbors

    space = glove.subset(glove.keys[:60_000])
    vectors = np.asarray(space.vectors, dtype=np.float64)
    # a "projection" onto the first 25 of GloVe's 50 axes keeps a part of the neighbours (a 2D
    # PCA of 60,000 rows keeps almost none: nothing to compare)
    coordinates = vectors[:, :25]
    quality = projection_quality(
        space, np.arange(60_000), coordinates, metric="euclidean", sample_size=300
    )
    queries = np.sort(np.random.default_rng(0).choice(60_000, size=300, replace=False))
    k, n = 10, 60_000
    original = NearestNeighbors(n_neighbors=n).fit(vectors)
    ranked = original.kneighbors(vectors[queries], return_distance=False)[:, 1:]
    projected = NearestNeighbors(n_neighbors=k + 1).fit(coordinates)
    found = projected.kneighbors(coordinates[queries], return_distance=False)[:, 1:]
    penalty = recalled = 0
    for order, neighbours in zip(ranked, found, strict=True):
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(1, n)
        penalty += int(np.clip(rank[neighbours] - k, 0, None).sum())
        recalled += len(np.intersect1d(order[:k], neighbours))
    expected = 1.0 - (penalty / 300) * 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))
    assert quality.rows_measured == 300 and 0.1 < recalled / (300 * k) < 0.9
    assert quality.trustworthiness == pytest.approx(expected, abs=1e-6)
    assert quality.knn_recall == pytest.approx(recalled / (300 * k), abs=1e-9)


def test_sampled_quality_estimates_the_exact_one(glove):
    space = glove.subset(glove.keys[:3000])
    result = space.project("pca", n_components=2, progress=False)
    exact = projection_quality(
        space, result.rows, result.coordinates, metric="cosine", sample_size=3000
    )
    estimate = projection_quality(
        space, result.rows, result.coordinates, metric="cosine", sample_size=1000
    )
    assert estimate.rows_measured == 1000 and exact.rows_measured == 3000
    assert estimate.trustworthiness == pytest.approx(exact.trustworthiness, abs=0.01)
    assert estimate.knn_recall == pytest.approx(exact.knn_recall, abs=0.02)


def test_pca_follows_the_metric(glove_1000):
    raw = np.asarray(glove_1000.vectors, dtype=np.float64)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    for metric, data in (("cosine", unit), ("euclidean", raw)):
        result = glove_1000.project("pca", n_components=3, metric=metric, progress=False)
        expected = PCA(3, random_state=0).fit(data)
        np.testing.assert_allclose(
            result.parameters["explained_variance_ratio"],
            expected.explained_variance_ratio_,
            atol=1e-4,
        )
        # coordinates agree with scikit-learn's up to the sign of each component
        theirs = expected.transform(data)
        for axis in range(3):
            ours = result.coordinates[:, axis]
            assert (
                min(np.abs(ours - theirs[:, axis]).max(), np.abs(ours + theirs[:, axis]).max())
                < 1e-3
            )


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_a_seeded_run_reproduces_its_coordinates(glove, method):
    space = glove.subset(glove.keys[1000:1400])
    first = space.project(method, n_components=2, random_state=7, cache=False, progress=False)
    second = space.project(method, n_components=2, random_state=7, cache=False, progress=False)
    np.testing.assert_array_equal(first.coordinates, second.coordinates)
    if method != "pca":
        other = space.project(method, n_components=2, random_state=8, cache=False, progress=False)
        assert not np.allclose(first.coordinates, other.coordinates)


def test_auto_parameters_are_recorded(glove, glove_1000):
    tsne = glove_1000.project("tsne", n_components=3, progress=False).parameters
    assert tsne["perplexity"] == 30.0 and tsne["n_iter"] == 750
    assert tsne["early_exaggeration_iter"] == 250 and tsne["gradient"] == "barnes-hut"
    assert tsne["learning_rate_used"] == [pytest.approx(1000 / 12, abs=1e-3), 1000.0]
    assert tsne["library"].startswith("openTSNE ") and tsne["metric"] == "cosine"
    small = glove.subset(glove.keys[:40]).project("tsne", progress=False).parameters
    assert small["perplexity"] == 13.0 and small["gradient"] == "barnes-hut"  # (40 - 1) / 3
    umap = glove.subset(glove.keys[:12]).project("umap", progress=False).parameters
    assert umap["n_neighbors"] == 11 and umap["n_epochs"] == 500


def test_high_dimensional_spaces_are_reduced_by_pca_first(minilm):
    space = minilm.subset(minilm.keys[2000:2600])
    kept = space.project("tsne", progress=False)
    assert kept.parameters["pca_components"] is None  # 384 dimensions are kept
    reduced = space.project("tsne", pca_components=30, progress=False)
    assert reduced.parameters["pca_components"] == 30
    assert 0 < reduced.parameters["pca_explained_variance"] < 1
    # both measured against all 384 dimensions
    assert reduced.quality.trustworthiness >= 0.85
    assert kept.quality.knn_recall > reduced.quality.knn_recall  # why 384 are kept
    wide = embscope.from_array(np.asarray(minilm.vectors[:600]).repeat(2, axis=1))
    assert wide.project("umap", progress=False).parameters["pca_components"] == 100


def test_a_second_identical_call_comes_from_the_cache(glove):
    space = glove.subset(glove.keys[2000:2500])
    first = space.project("tsne", random_state=3, progress=False)
    again = space.project("tsne", random_state=3, progress=False)
    assert not first.from_cache and again.from_cache
    assert again.cache_file == first.cache_file and first.cache_file.exists()
    np.testing.assert_array_equal(first.coordinates, again.coordinates)
    assert again.parameters == json.loads(json.dumps(first.parameters))
    other = space.project("tsne", random_state=3, perplexity=10, progress=False)
    assert not other.from_cache and other.cache_file != first.cache_file
    # the quality measured once is kept beside the coordinates
    measured = first.quality
    assert first.cache_file.with_suffix(".quality.json").exists()
    assert space.project("tsne", random_state=3, progress=False).quality == measured


def test_a_broken_cache_file_is_recomputed(glove, caplog):
    space = glove.subset(glove.keys[2500:2800])
    first = space.project("umap", progress=False)
    first.cache_file.write_bytes(b"not an npz file")
    with caplog.at_level(logging.WARNING, logger="embscope._io.cache"):
        again = space.project("umap", progress=False)
    assert not again.from_cache and "cached projection" in caplog.text
    assert "was unreadable" in caplog.text
    np.testing.assert_array_equal(first.coordinates, again.coordinates)
    assert space.project("umap", progress=False).from_cache


@pytest.mark.slow  # two full t-SNEs (about 23 s); test_atomic.py forces the overlap
def test_two_processes_writing_one_cache_entry(tmp_path):
    code = textwrap.dedent(
        """
        import embscope
        glove = embscope.load("glove-6b-50d")
        space = glove.subset(glove.keys[3000:4500])
        result = space.project("tsne", n_components=2, progress=False)
        print(result.cache_file)
        """
    )
    environment = {**__import__("os").environ, "EMBSCOPE_CACHE": str(tmp_path)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [writer.communicate(timeout=300)[0].strip() for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    assert outputs[0] == outputs[1]
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert len(files) == 1 and files[0].endswith(".npz")  # no temporary file left behind
    with np.load(outputs[0], allow_pickle=False) as stored:
        assert stored["coordinates"].shape == (1500, 2)


def test_large_spaces_are_sampled_with_a_stated_seed(glove, monkeypatch, caplog):
    monkeypatch.setattr(projection_module, "SAMPLE_THRESHOLD", 1000)
    space = glove.subset(glove.keys[:1500])
    with caplog.at_level(logging.WARNING, logger="embscope.projection.pipeline"):
        result = space.project("umap", random_state=5, progress=False)
    assert len(result) == 1000 and len(set(result.rows.tolist())) == 1000
    assert "random sample of 1,000 of 1,500 rows (seed 5)" in caplog.text
    assert "seed 5" in result.parameters["sample"]
    expected = np.sort(np.random.default_rng(5).choice(1500, size=1000, replace=False))
    np.testing.assert_array_equal(result.rows, expected)
    assert result.coords["key"].tolist() == [space.keys[r] for r in expected]
    # PCA never samples; sample=None projects every row
    assert len(space.project("pca", progress=False)) == 1500
    everything = space.project("pca", sample=None, progress=False)
    assert len(everything) == 1500
    missing = next(k for k in space.keys if k not in set(result.coords["key"]))
    with pytest.raises(InvalidParameterError, match="not among the 1,000 projected rows"):
        result.distance(missing, "the")


def test_all_rows_of_a_large_space_says_how_long(glove, monkeypatch, caplog):
    monkeypatch.setattr(projection_module, "SAMPLE_THRESHOLD", 100)
    space = glove.subset(glove.keys[:150])
    with caplog.at_level(logging.WARNING, logger="embscope.projection.pipeline"):
        result = space.project("tsne", sample=None, progress=False)
    assert len(result) == 150
    assert "t-SNE of all 150 rows will take roughly" in caplog.text


def test_coords_distance_and_save(terrible, tmp_path):
    result = terrible.project("tsne", n_components=3, progress=False)
    coords = result.coords
    assert list(coords.columns[:5]) == ["key", "label", "x", "y", "z"]
    assert {"group", "score", "rank"} <= set(coords.columns)
    by_key = coords.set_index("key")[["x", "y", "z"]]
    expected = np.linalg.norm(by_key.loc["awful"] - by_key.loc["terrible"])
    assert result.distance("awful", "terrible") == pytest.approx(expected)
    with pytest.raises(UnknownKeyError, match="closest keys"):
        result.distance("terible", "awful")
    for suffix in (".parquet", ".csv", ".tsv"):
        path = result.save(tmp_path / f"coords{suffix}")
        read = (
            pd.read_parquet(path)
            if suffix == ".parquet"
            else pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False)
        )
        assert read["key"].tolist() == coords["key"].tolist()
        np.testing.assert_allclose(read[["x", "y", "z"]].to_numpy(), coords[["x", "y", "z"]])
    with pytest.raises(InvalidParameterError, match=r"\.parquet, \.csv or \.tsv"):
        result.save(tmp_path / "coords.xlsx")


def test_the_terrible_neighbourhood(glove, terrible):
    groups = terrible.metadata["group"].tolist()
    assert groups.count("query") == 1 and groups.count("similar") == 30
    assert groups.count("opposite") == 30 and terrible.keys[0] == "terrible"
    similar = terrible.metadata["group"] == "similar"
    assert [terrible.keys[i] for i in np.flatnonzero(similar)] == glove.neighbors(
        "terrible", top_k=30
    )["key"].tolist()
    opposite = terrible.metadata["group"] == "opposite"
    assert [terrible.keys[i] for i in np.flatnonzero(opposite)] == glove.opposites(
        "terrible", top_k=30
    )["key"].tolist()
    np.testing.assert_allclose(
        terrible.metadata.loc[similar, "score"],
        glove.neighbors("terrible", top_k=30)["score"],
        rtol=1e-6,
    )


def test_the_terrible_neighbourhood_separates_in_3d(terrible):
    result = terrible.project("tsne", n_components=3, progress=False)
    coords = result.coords[result.coords["group"] != "query"]
    features = coords[["x", "y", "z"]].to_numpy()
    target = (coords["group"] == "similar").to_numpy()
    accuracy = cross_val_score(LogisticRegression(), features, target, cv=5).mean()
    assert accuracy >= 0.95


def test_restricted_neighbourhood_looks_only_among_frequent_words(glove):
    sub = glove.neighborhood("terrible", similar=5, opposite=5, restrict_vocab=20_000)
    assert all(glove.row(key) < 20_000 for key in sub.keys)
    assert sub.metadata["group"].tolist() == ["query"] + ["similar"] * 5 + ["opposite"] * 5


SMALL = 20  # rows of the space the parameter rules are checked on


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.project("tsne", perplexity=40),
            r"perplexity must be less than the number of rows \(20\); got 40",
        ),
        (lambda s: s.project("pca", n_components=4), r"n_components must be 2 or 3; got 4"),
        (lambda s: s.project("isomap"), r"method must be one of pca, tsne, umap; got 'isomap'"),
        (
            lambda s: s.project("umap", perplexity=5),
            r"UMAP has no option 'perplexity'; it accepts n_neighbors",
        ),
        (
            lambda s: s.project("umap", n_neighbors=20),
            r"n_neighbors must be less than the number of rows \(20\)",
        ),
        (lambda s: s.project("umap", min_dist=2.0), r"min_dist must be less than or equal to"),
        (
            lambda s: s.project("tsne", n_iter=0),
            r"n_iter must be 'auto' or an integer from 1 to 100,000",
        ),
        (lambda s: s.project("tsne", sample=0), r"sample must be 'auto', None or a positive"),
        (lambda s: s.project("tsne", random_state="x"), r"random_state must be an integer"),
    ],
)
def test_bad_parameters_name_the_rule(glove, call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call(glove.subset(glove.keys[:SMALL]))


def test_bad_neighbourhoods_name_the_rule(glove):
    with pytest.raises(UnknownKeyError, match=r"'terible' is not in.*closest keys: terrible"):
        glove.neighborhood("terible")
    with pytest.raises(InvalidParameterError, match=r"similar must be a non-negative integer"):
        glove.neighborhood("terrible", similar=-1)
    with pytest.raises(InvalidParameterError, match=r"cannot both be 0"):
        glove.neighborhood("terrible", similar=0, opposite=0)


def test_a_missing_optional_library_names_the_extra(glove, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    space = glove.subset(glove.keys[:50])
    with pytest.raises(MissingDependencyError, match=r"pip install 'embscope\[viz\]'"):
        space.project("umap", cache=False, progress=False)


def test_exports_and_repr(terrible):
    result = terrible.project("pca", progress=False)
    assert repr(result).startswith('<Projection PCA 2D of "glove-6b-50d: neighbourhood of')
    assert result.to_pandas() is result.coords
    assert "from cache" in repr(terrible.project("pca", progress=False))


def test_subsets_of_different_arrays_never_share_a_cache_entry():
    generator = np.random.default_rng(0)
    first = embscope.from_array(generator.normal(size=(60, 8)).astype(np.float32))
    second = embscope.from_array(generator.normal(size=(60, 8)).astype(np.float32))
    keys = [str(i) for i in range(50)]
    one = first.subset(keys).project("pca", progress=False)
    other = second.subset(keys).project("pca", progress=False)
    assert not other.from_cache and one.cache_file != other.cache_file
    assert not np.allclose(np.abs(one.coordinates), np.abs(other.coordinates))


def test_a_neighbourhood_is_drawn_around_the_row_a_word_resolves_to(glove):
    # GloVe is lowercase: "Terrible" is answered by "terrible", as a query is
    around = glove.neighborhood("Terrible", similar=5, opposite=0)
    assert around.keys[0] == "terrible"
    assert around.keys == glove.neighborhood("terrible", similar=5, opposite=0).keys
