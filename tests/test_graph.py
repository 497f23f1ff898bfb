"""The kNN graph: equal to brute force on real vectors, bounded memory, files that read back."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from embscope import EmbeddingSpace, InvalidParameterError
from embscope.cli import main
from embscope.search.graph import KnnGraph, knn_graph


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def sample(glove) -> EmbeddingSpace:
    """5,000 GloVe rows spread over the vocabulary, 20 of them twice, and two zero vectors."""
    rows = np.sort(np.random.default_rng(7).choice(len(glove), 5000, replace=False))
    vectors = np.asarray(glove.vectors[rows], dtype=np.float32)
    keys = [glove.keys[r] for r in rows]
    vectors = np.concatenate([vectors, vectors[:20], np.zeros((2, glove.dim), np.float32)])
    keys += [f"{k}-twin" for k in keys[:20]] + ["zero-a", "zero-b"]
    return EmbeddingSpace(vectors, keys)


def brute_force(space: EmbeddingSpace, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 scores of every pair, each row itself excluded, ties to the lower row."""
    vectors = np.asarray(space.vectors, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(vectors, axis=1)
        unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
        closeness = unit @ unit.T
    elif metric == "dot":
        closeness = vectors @ vectors.T
    else:
        squares = (vectors**2).sum(axis=1)
        closeness = -np.sqrt(
            np.maximum(squares[:, None] + squares[None, :] - 2 * vectors @ vectors.T, 0)
        )
    np.fill_diagonal(closeness, -np.inf)
    # every row at or above the k-th best score (ties included), then sorted: best first,
    # equal scores by row
    kth = -np.partition(-closeness, k - 1, axis=1)[:, k - 1]
    order = np.empty((len(space), k), dtype=np.int64)
    for row, line in enumerate(closeness):
        candidates = np.flatnonzero(line >= kth[row])
        order[row] = candidates[np.lexsort((candidates, -line[candidates]))[:k]]
    return order, closeness


def assert_same_up_to_ties(ids, scores, expected_ids, expected_scores, atol):
    """Equal scores, and ids equal wherever the scores do not tie: a row may swap two
    neighbours whose scores agree to ``atol`` (float32 rounding differs with blocking)."""
    np.testing.assert_allclose(scores, expected_scores, atol=atol)
    for row, rank in zip(*np.nonzero(ids != expected_ids), strict=True):
        tied = np.abs(expected_scores[row] - scores[row, rank]) <= atol
        assert tied.sum() > 1 or rank == ids.shape[1] - 1, (row, rank)
        assert ids[row, rank] in expected_ids[row][tied] or tied[-1], (row, rank)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_graph_equals_brute_force(sample, metric):
    graph = knn_graph(sample, top_k=15, metric=metric, progress=False)
    expected, closeness = brute_force(sample, metric, 15)
    assert graph.ids.shape == (len(sample), 15) and graph.ids.dtype == np.int64
    assert graph.scores.dtype == np.float32
    wanted = np.take_along_axis(closeness, expected, axis=1)
    atol = 1e-5 * (np.abs(wanted).max() if metric == "dot" else 1.0)
    scores = -graph.scores if metric == "euclidean" else graph.scores
    assert_same_up_to_ties(graph.ids, scores, expected, wanted, atol)
    # the ids found score, in float64, what the brute force's ids score
    ours = closeness[np.arange(len(sample))[:, None], graph.ids]
    np.testing.assert_allclose(ours, wanted, atol=atol)
    assert (graph.ids != expected).mean() < 0.01
    assert not (graph.ids == np.arange(len(sample))[:, None]).any()


def test_a_row_is_excluded_by_index_not_by_rank(sample):
    graph = knn_graph(sample, top_k=5, progress=False)
    for row in range(20):
        twin = sample.row(f"{sample.keys[row]}-twin")
        # the twin scores exactly as high as the row itself: it stays, the row goes
        assert graph.ids[row, 0] == twin and graph.ids[twin, 0] == row
        assert graph.scores[row, 0] == pytest.approx(1.0)
    zero_a, zero_b = sample.row("zero-a"), sample.row("zero-b")
    # a zero vector has cosine 0 with every row: its neighbours are the first rows, no NaN
    assert graph.ids[zero_a].tolist() == [0, 1, 2, 3, 4]
    assert np.all(graph.scores[zero_a] == 0) and not np.isnan(graph.scores).any()
    euclidean = knn_graph(sample, top_k=1, metric="euclidean", progress=False)
    assert euclidean.ids[zero_a, 0] == zero_b and euclidean.scores[zero_a, 0] == 0


@pytest.mark.parametrize("block_rows", [1, 7, 333, 10_000])
def test_block_size_does_not_change_the_answer(glove, block_rows):
    small = glove.subset(glove.keys[:700])
    reference = knn_graph(small, top_k=10, progress=False)
    graph = knn_graph(small, top_k=10, block_rows=block_rows, progress=False)
    assert_same_up_to_ties(graph.ids, graph.scores, reference.ids, reference.scores, 1e-6)


def test_float16_storage_gives_the_graph_of_its_values(sample):
    half = sample.astype("float16")
    exact = EmbeddingSpace(np.asarray(half.vectors, dtype=np.float32), half.keys)
    ours = knn_graph(half, top_k=10, progress=False)
    theirs = knn_graph(exact, top_k=10, progress=False)
    assert_same_up_to_ties(ours.ids, ours.scores, theirs.ids, theirs.scores, 1e-6)


def test_memory_stays_bounded_by_the_block(glove):
    space = glove.subset(glove.keys[:20_000])
    assert space.norms.shape == (20_000,)  # computed once per space, before the graph
    tracemalloc.start()
    try:
        knn_graph(space, top_k=15, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n = len(space)
    assert peak < n * n * 4 / 20, f"peak {peak / 2**20:.0f} MiB"  # an n x n matrix is 1.6 GB
    assert peak < 96 * 2**20  # the 8 MiB score tile, its masks and the (n, k) result


def test_progress_goes_to_stderr_and_can_be_silenced(glove, capsys):
    small = glove.subset(glove.keys[:300])
    knn_graph(small, top_k=3, progress=False)
    assert capsys.readouterr() == ("", "")
    knn_graph(small, top_k=3, progress=True)
    assert capsys.readouterr().out == ""


def test_space_method_uses_the_space_metric(glove):
    small = glove.subset(glove.keys[:500])
    by_space = small.knn_graph(top_k=4, progress=False)
    assert by_space.metric == "cosine"
    euclidean = small.knn_graph(top_k=4, metric="euclidean", progress=False)
    assert euclidean.metric == "euclidean" and np.all(np.diff(euclidean.scores, axis=1) >= 0)


def test_bad_parameters_name_the_rule(glove):
    small = glove.subset(glove.keys[:50])
    with pytest.raises(InvalidParameterError, match="less than the number of rows"):
        knn_graph(small, top_k=50, progress=False)
    for top_k in (0, True, 2.5):
        with pytest.raises(InvalidParameterError, match="top_k"):
            knn_graph(small, top_k=top_k, progress=False)
    with pytest.raises(InvalidParameterError, match="block_rows"):
        knn_graph(small, top_k=3, block_rows=0, progress=False)
    # a block of 10**11 rows would ask for terabytes before the first score
    with pytest.raises(InvalidParameterError, match="block_rows must be from 1 to 32,768"):
        knn_graph(small, top_k=3, block_rows=10**11, progress=False)
    with pytest.raises(InvalidParameterError, match="metric"):
        knn_graph(small, top_k=3, metric="manhattan", progress=False)


def test_long_table_and_files_read_back(glove, tmp_path):
    small = glove.subset(glove.keys[:400])
    graph = knn_graph(small, top_k=5, progress=False)
    frame = graph.to_pandas()
    assert list(frame.columns) == ["source", "rank", "target", "score", "source_row", "target_row"]
    assert len(frame) == 400 * 5 and frame["rank"].tolist()[:5] == [1, 2, 3, 4, 5]
    assert frame["source"].iloc[0] == small.keys[0]
    assert frame["target"].iloc[0] == small.keys[graph.ids[0, 0]]
    for name in ("graph.parquet", "graph.npz"):
        path = graph.save(tmp_path / name)
        again = KnnGraph.load(path)
        np.testing.assert_array_equal(again.ids, graph.ids)
        np.testing.assert_array_equal(again.scores, graph.scores)
        assert list(again.keys) == small.keys and again.metric == "cosine"
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic writes left nothing behind
    table = pd.read_parquet(tmp_path / "graph.parquet")
    pd.testing.assert_frame_equal(table, frame)
    with pytest.raises(InvalidParameterError, match=r"\.parquet or \.npz"):
        graph.save(tmp_path / "graph.csv")


def test_notebook_display(glove):
    small = EmbeddingSpace(np.asarray(glove.vectors[:30]), ["<b>", *glove.keys[1:30]])
    graph = knn_graph(small, top_k=3, progress=False)
    assert repr(graph) == "<KnnGraph: 30 rows x top 3 by cosine, exact>"
    shown = graph._repr_html_()
    assert "<td>&lt;b&gt;</td>" in shown and "22 more rows" in shown


def test_approximate_graph_agrees_with_exact(glove):
    space = glove.subset(glove.keys[:8000])
    exact = knn_graph(space, top_k=10, progress=False)
    approximate = knn_graph(space, top_k=10, approximate=True, progress=False)
    assert approximate.approximate and not exact.approximate
    recall = np.mean(
        [len(set(a) & set(e)) / 10 for a, e in zip(approximate.ids, exact.ids, strict=True)]
    )
    assert recall >= 0.95
    assert not (approximate.ids == np.arange(len(space))[:, None]).any()
    # rescored exactly: the shared neighbours carry the exact scores
    hit = approximate.ids[:, 0] == exact.ids[:, 0]
    np.testing.assert_allclose(approximate.scores[hit, 0], exact.scores[hit, 0], atol=1e-5)


def test_cli_writes_a_graph_that_reads_back(glove, tmp_path):
    small = glove.subset(glove.keys[:1500])
    source = tmp_path / "small.npy"
    np.save(source, np.asarray(small.vectors))
    (tmp_path / "small.vocab.txt").write_text("\n".join(small.keys) + "\n", encoding="utf-8")
    runner = CliRunner()
    expected = knn_graph(small, top_k=7, progress=False)
    for name in ("graph.parquet", "graph.npz"):
        out = tmp_path / name
        result = runner.invoke(main, ["graph", str(source), str(out), "-k", "7"])
        assert result.exit_code == 0, result.output
        assert "exact kNN graph" in result.output and "1,500 rows x 7" in result.output
        again = KnnGraph.load(out)
        np.testing.assert_array_equal(again.ids, expected.ids)
        assert list(again.keys) == small.keys
    frame = pd.read_parquet(tmp_path / "graph.parquet")
    assert frame.loc[0, "source"] == small.keys[0] and len(frame) == 1500 * 7
    result = runner.invoke(main, ["graph", str(source), str(tmp_path / "g.npz"), "--approximate"])
    assert result.exit_code == 0, result.output
    assert "approximate kNN graph" in result.output and "recall@15" in result.output
    result = runner.invoke(main, ["graph", str(source), str(tmp_path / "graph.txt")])
    assert result.exit_code == 1 and "Error: a kNN graph is written as" in result.output
    assert "Traceback" not in result.output


def test_selection_keys_order_by_score_then_lower_row():
    from embscope.search import kernels as neighbors

    values = np.array([[1.5, -2.0, 0.0, -0.0, np.inf, -np.inf, 7.0, 7.0, -1e-40]], np.float32)
    ids = np.arange(values.shape[1])[None, :]
    keys = neighbors.ranking_keys(values, ids)
    np.testing.assert_array_equal(neighbors.key_values(keys), values + np.float32(0))
    np.testing.assert_array_equal(neighbors.key_ids(keys), ids)
    best = np.sort(neighbors.top_keys(keys, 5), axis=1)[:, ::-1]
    assert neighbors.key_ids(best).tolist() == [[4, 6, 7, 0, 2]]  # 0.0 and -0.0 tie: row 2
    assert neighbors.key_ids(np.array([neighbors.EMPTY_KEY])).tolist() == [-1]
    assert neighbors.key_values(np.array([neighbors.EMPTY_KEY])).tolist() == [-np.inf]
