"""The command line's two-space answers: ``neighbors -s A -s B`` side by side and
``embscope compare`` (its figures, moved keys, words and report files), on GloVe files, a
rotated copy, the bundled spaces and the sentiment model's near-tie lists."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from click.testing import CliRunner

import embscope
from embscope.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def glove_files(glove, tmp_path_factory):
    """GloVe's 3,000 most frequent words as word2vec text, and a copy rotated by a random
    orthogonal matrix with 100 keys' vectors swapped in pairs."""
    folder = tmp_path_factory.mktemp("pair")
    original = glove.subset(glove.keys[:3000])
    vectors = np.asarray(original.vectors, dtype=np.float64)
    rotation = scipy.stats.ortho_group.rvs(original.dim, random_state=5)
    moved = vectors @ rotation
    swapped = np.arange(1000, 1100)
    moved[swapped] = moved[swapped[::-1]]
    copy = embscope.from_array(moved.astype(np.float32), original.keys, name="rotated")
    paths = folder / "glove.vec", folder / "rotated.vec"
    embscope.export(original, paths[0], format="word2vec-text")
    embscope.export(copy, paths[1], format="word2vec-text")
    return paths, {original.keys[i] for i in swapped}


def test_two_sources_print_side_by_side_with_the_shared_rows_marked(run, glove, minilm):
    result = run("neighbors", "king", "queen", "-s", "glove-6b-50d", "-s", "minilm", "-k", "5")
    assert result.exit_code == 0, result.output
    for word in ("king", "queen"):
        expected_a = glove.search(word, top_k=5).keys
        expected_b = minilm.search(word, top_k=5).keys
        shared = set(expected_a) & set(expected_b)
        assert f"Neighbours of {word!r}: glove-6b-50d | minilm ({len(shared)} of 5" in (
            result.output
        )
        for key in shared:
            assert f"*{key}" in result.output
    assert "* in both lists" in result.output


def test_side_by_side_json_equals_the_api(run, glove, minilm):
    result = run("neighbors", "bank", "-s", "glove-6b-50d", "-s", "minilm", "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    a, b = glove.search("bank"), minilm.search("bank")
    assert [r["key_a"] for r in records] == a.keys and [r["key_b"] for r in records] == b.keys
    np.testing.assert_allclose([r["score_b"] for r in records], b.scores)
    shared = set(a.keys) & set(b.keys)
    assert [r["in_both_a"] for r in records] == [k in shared for k in a.keys]
    assert {r["space_a"] for r in records} == {"glove-6b-50d"}


def test_one_space_twice_is_named_a_and_b(run):
    result = run("neighbors", "bank", "-s", "minilm", "-s", "minilm", "-k", "3")
    assert "minilm (A) | minilm (B) (3 of 3 in both" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-s", "minilm", "-s", "minilm", "-s", "glove-6b-50d"), "two sources are shown side"),
        (("-s", "minilm", "-s", "glove-6b-50d", "--vector-file", "x.npy"), "one --source"),
    ],
)
def test_more_than_two_sources_or_vectors_for_two_are_refused(run, args, message):
    result = CliRunner().invoke(main, ["neighbors", "bank", *args])
    assert result.exit_code == 2 and message in result.output


def test_a_word_one_space_lacks_names_that_space(run):
    result = CliRunner().invoke(
        main, ["neighbors", "embeddings", "-s", "glove-6b-50d", "-s", "minilm"]
    )
    assert result.exit_code != 0
    assert "minilm" in result.output and "Traceback" not in result.output


@pytest.mark.slow  # trains the sentiment model (shared with tests/test_compare.py)
def test_a_near_tie_is_said_under_the_list(run, sentiment_seeds, tmp_path):
    path = embscope.export(sentiment_seeds[0], tmp_path / "sentiment.vec", format="word2vec-text")
    result = run("neighbors", "horrible", "-s", path, "--restrict-vocab", "2000")
    line = sentiment_seeds[0].search("horrible", restrict_vocab=2000).stability.line()
    assert line.startswith("near tie") and line in " ".join(result.output.split())
    glove_result = run("neighbors", "frog", "-s", "glove-6b-50d")
    assert "near tie" not in glove_result.output


def test_compare_prints_the_apis_figures_and_finds_the_swapped_keys(run, glove_files):
    (a_path, b_path), swapped = glove_files
    result = run("compare", a_path, b_path, "--top", "100", "--json", "--no-cache")
    record = json.loads(result.stdout)
    comparison = embscope.compare(
        embscope.load(a_path), embscope.load(b_path), cache=False, progress=False
    )
    summary = comparison.summary()
    assert record["shared_keys"] == 3000
    assert record["overlap"] == pytest.approx(summary.overlap, abs=1e-12)
    assert record["cka"] == pytest.approx(summary.cka, abs=1e-12)
    # a rotation is undone by the alignment; the swapped keys are what moved
    assert len(set(record["moved"]) & swapped) >= 95
    assert not set(record["least_moved"]) & swapped


def test_compare_table_words_and_reports(run, glove_files, tmp_path):
    (a_path, b_path), swapped = glove_files
    html, parquet = tmp_path / "report.html", tmp_path / "words.parquet"
    result = run("compare", a_path, b_path, "--word", "good", "--top", "5", "--out", html)
    assert result.exit_code == 0, result.output
    assert f"{a_path} vs {b_path}: 3,000 shared keys" in result.output
    assert "overlap@10" in result.output and "(chance 0.003)" in result.output
    assert "The 5 most moved keys" in result.output and "The 5 least moved keys" in result.output
    # "sure" swapped its vector with "produced": one of the ten moved
    assert f"Neighbours of 'good': {a_path} | {b_path} (9 of 10 in both" in result.output
    assert "*better" in result.output and " sure " in result.output
    page = html.read_text(encoding="utf-8")
    assert f"<h1>{a_path} vs {b_path}</h1>" in page and "Plotly.newPlot" in page
    assert "Neighbours of &#x27;good&#x27;" in page and "most moved keys" in page
    run("compare", a_path, b_path, "--out", parquet)
    words = pd.read_parquet(parquet)
    assert len(words) == 3000 and words["key"].iloc[0] == "the"
    assert set(words.nsmallest(100, "shared_neighbors")["key"]) & swapped


def test_compare_refuses_bad_input_before_the_work(run, glove_files, tmp_path):
    (a_path, b_path), _ = glove_files
    wrong = CliRunner().invoke(main, ["compare", str(a_path), str(b_path), "--out", "r.txt"])
    assert wrong.exit_code != 0 and ".html or .parquet" in wrong.output
    unknown = CliRunner().invoke(main, ["compare", str(a_path), str(b_path), "-w", "qwzx"])
    assert unknown.exit_code != 0 and "qwzx" in unknown.output
    assert "Traceback" not in unknown.output
    empty = tmp_path / "anchors.txt"
    empty.write_text("\n")
    refused = CliRunner().invoke(
        main, ["compare", str(a_path), str(b_path), "--anchors", str(empty)]
    )
    assert refused.exit_code == 2 and "holds no keys" in refused.output


def test_compare_fits_the_alignment_on_anchors(run, glove_files, tmp_path):
    (a_path, b_path), _ = glove_files
    anchors = tmp_path / "anchors.txt"
    a, b = embscope.load(a_path), embscope.load(b_path)
    anchors.write_text("\n".join(a.keys[:500]))  # none of them swapped
    result = run("compare", a_path, b_path, "--anchors", anchors, "--json", "--no-cache")
    record = json.loads(result.stdout)
    expected = embscope.compare(a, b, anchors=a.keys[:500], cache=False, progress=False)
    assert record["fitted_on"] == 500
    assert record["residual"] == pytest.approx(expected.summary().residual, abs=1e-9)
    # the rotation fitted on 500 unswapped keys puts every other unswapped key in place
    assert record["aligned_cosine"] > 0.95
