"""The command line on the bundled spaces: tables, JSON lines, exports, and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_neighbors_table(run):
    result = run("neighbors", "beauty", "--source", "glove-6b-50d", "-k", "15")
    assert result.exit_code == 0, result.output
    assert "beautiful" in result.output and "cosine similarity" in result.output


def test_neighbors_json_matches_the_api(run, glove):
    result = run(
        "neighbors", "beauty", "-s", "glove-6b-50d", "-k", "15", "--metric", "euclidean", "--json"
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = glove.neighbors("beauty", top_k=15, metric="euclidean")
    assert [r["key"] for r in records] == expected["key"].tolist()
    np.testing.assert_allclose([r["score"] for r in records], expected["score"])


def test_opposite_flag(run, glove):
    result = run("neighbors", "horrible", "-s", "glove-6b-50d", "--opposite", "-k", "5", "--json")
    keys = [json.loads(line)["key"] for line in result.output.splitlines()]
    assert keys == glove.opposites("horrible", top_k=5)["key"].tolist()


def test_similarity(run, glove):
    result = run("similarity", "good", "bad", "-s", "glove-6b-50d", "--json")
    assert json.loads(result.output)["score"] == pytest.approx(glove.similarity("good", "bad"))
    text = run("similarity", "good", "bad", "-s", "glove-6b-50d").output
    assert text.strip() == f"cosine(good, bad) = {glove.similarity('good', 'bad'):.4f}"


def test_table_head_and_full_output(run, glove, tmp_path):
    out = tmp_path / "table.parquet"
    result = run("table", "horrible", "-s", "glove-6b-50d", "-n", "5", "--out", str(out), "--json")
    assert result.exit_code == 0
    import pandas as pd

    full = pd.read_parquet(out)
    assert len(full) == len(glove) - 1
    assert f"wrote {len(full):,} rows" in result.stderr
    shown = [json.loads(line)["key"] for line in result.stdout.splitlines()]
    assert shown == full["key"].head(5).tolist()


def test_info_and_sources(run):
    info = json.loads(run("info", "glove-6b-50d", "--json").output)
    assert info["rows"] == 400_000 and info["dim"] == 50 and info["memory_mapped"] is True
    sources = run("sources").output
    assert "minilm" in sources and "glove-6b-50d" in sources


@pytest.mark.parametrize("fmt", ["projector", "npy", "parquet", "word2vec", "word2vec-text"])
def test_export_round_trips(run, glove, tmp_path, fmt):
    small = glove.subset(glove.keys[:2000])
    source = tmp_path / "small.npy"
    np.save(source, np.asarray(small.vectors))
    (tmp_path / "small.vocab.txt").write_text("\n".join(small.keys) + "\n", encoding="utf-8")
    suffix = {
        "projector": "",
        "npy": ".npy",
        "parquet": ".parquet",
        "word2vec": ".bin",
        "word2vec-text": ".txt",
    }[fmt]
    out = tmp_path / f"exported{suffix}"
    result = run("export", str(source), str(out), "--format", fmt)
    assert result.exit_code == 0, result.output
    again = embscope.load(out, kind="word2vec-text" if fmt == "word2vec-text" else None)
    assert again.keys == small.keys
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(small.vectors))


def test_user_errors_are_one_line_without_traceback():
    for args in (
        ["neighbors", "Beautyy", "-s", "glove-6b-50d"],
        ["neighbors", "good", "-s", "/no/such/file.vec"],
        ["similarity", "good", "bad", "-s", "glove-6b-50d", "--metric", "manhattan"],
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "embscope", *args], capture_output=True, text=True, timeout=120
        )
        assert completed.returncode != 0, args
        assert "Traceback" not in completed.stderr, completed.stderr
        errors = [line for line in completed.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, completed.stderr
    assert "closest keys: beauty" in _stderr("neighbors", "Beautyy", "-s", "glove-6b-50d")


def _stderr(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "embscope", *args], capture_output=True, text=True, timeout=120
    ).stderr


def test_tour_on_the_bundled_default(run):
    result = run("tour")
    assert result.exit_code == 0, result.output
    assert "minilm: 30,522 vectors of 384 dimensions" in result.output
    assert "Opposites of 'horrible'" in result.output
    assert "embeddings" in result.output  # the multi-piece word is explained


def test_malformed_file_error_names_file_and_line(tmp_path):
    broken = tmp_path / "vectors.txt"
    broken.write_text("good 0.1 0.2 0.3\nbad 0.4 0.5\nugly 0.7 0.8 0.9\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "embscope", "info", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert str(broken) in completed.stderr and "line 2" in completed.stderr


def test_bracketed_tokens_print_as_themselves(run):
    # rich would read "[unused5]" as a style tag and print nothing
    result = run("neighbors", "[unused5]", "-k", "3")
    assert result.exit_code == 0
    assert "Neighbours of '[unused5]'" in result.stdout
    assert result.stdout.count("[unused") >= 4
    info = run("info", "minilm").stdout
    assert "[PAD], [unused0]" in info


def test_several_words_and_a_vector_file(run, glove, tmp_path):
    vectors = tmp_path / "queries.npy"
    np.save(vectors, glove[["paris", "river"]])
    result = run(
        "neighbors", "good", "great", "-s", "glove-6b-50d", "-k", "3", "--vector-file",
        str(vectors), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_query: dict[str, list[str]] = {}
    for record in records:
        by_query.setdefault(record["query"], []).append(record["key"])
    assert by_query["good"] == glove.neighbors("good", top_k=3)["key"].tolist()
    assert by_query["great"] == glove.neighbors("great", top_k=3)["key"].tolist()
    assert by_query["<vector 0>"][0] == "paris" and by_query["<vector 1>"][0] == "river"


def test_vector_file_with_the_wrong_width_names_the_line(tmp_path):
    text = tmp_path / "queries.txt"
    text.write_text(" ".join(["0.5"] * 50) + "\n" + "0.1 0.2\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "embscope", "neighbors", "-s", "glove-6b-50d", "--vector-file",
         str(text)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert f"{text}, line 2: 2 values where the space has 50 dimensions" in completed.stderr


def test_vocab_names_the_vocabulary_of_a_matrix(run, glove, tmp_path):
    words = ["good", "bad", "great", "awful", "fine", "terrible"]
    np.save(tmp_path / "matrix.npy", glove[words])
    (tmp_path / "tokens.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    result = run(
        "neighbors", "good", "-s", str(tmp_path / "matrix.npy"),
        "--vocab", str(tmp_path / "tokens.txt"), "-k", "2", "--json",
    )  # fmt: skip
    expected = glove.subset(words).neighbors("good", top_k=2)["key"].tolist()
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == expected
    refused = CliRunner().invoke(main, ["info", "minilm", "--vocab", str(tmp_path / "tokens.txt")])
    assert refused.exit_code == 1 and "vocabulary= does not apply to minilm" in refused.output


def test_model_confirms_the_model_a_document_file_names(minilm_dir, tmp_path):
    texts = tmp_path / "reviews.txt"
    texts.write_text("the film was wonderful\nthe soup was cold\nstocks fell sharply\n")
    encoded = tmp_path / "reviews.parquet"
    runner = CliRunner()
    made = runner.invoke(
        main, ["encode", str(texts), "--model", str(minilm_dir), "--out", str(encoded)]
    )
    assert made.exit_code == 0, made.output
    # the file names a model directory: typed text is not encoded until the user says so
    unconfirmed = runner.invoke(main, ["neighbors", "markets drop", "-s", str(encoded)])
    assert unconfirmed.exit_code == 1 and "--model" in unconfirmed.output
    confirmed = runner.invoke(
        main,
        ["neighbors", "markets drop", "-s", str(encoded), "--model", str(minilm_dir), "--json"],
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert json.loads(confirmed.stdout.splitlines()[0])["label"] == "stocks fell sharply"
