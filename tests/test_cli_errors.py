"""The command line's failure contract, run as users run it (a real process): one line on
stderr saying what was wrong, a non-zero status, no traceback, and nothing written or computed
when the output could not be kept anyway."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main


def embscope_process(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "embscope", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        input=stdin,
    )


def one_error_line(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode != 0, completed.stdout
    assert "Traceback" not in completed.stderr and "Aborted!" not in completed.stderr, (
        completed.stderr
    )
    errors = [line for line in completed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, completed.stderr
    return errors[0]


# /sys refuses new files even to root, which os.access would wave through
UNWRITABLE = "/sys/embscope-output"


@pytest.mark.parametrize(
    "args",
    [
        ["graph", "glove-6b-50d", f"{UNWRITABLE}.parquet"],
        ["export", "minilm", f"{UNWRITABLE}.npy", "-f", "npy"],
        ["table", "good", "-s", "glove-6b-50d", "-o", f"{UNWRITABLE}.csv"],
        ["project", "minilm", "--words", "good,bad,fine", "--coords", f"{UNWRITABLE}.csv"],
    ],
)
def test_an_unwritable_output_is_refused_before_the_work(args, tmp_path):
    completed = embscope_process(*args, env={"EMBSCOPE_CACHE": str(tmp_path / "cache")})
    line = one_error_line(completed)
    assert completed.returncode == 1
    assert f"cannot write {UNWRITABLE}" in line and "permission denied" in line
    assert not (tmp_path / "cache").exists()  # nothing was computed, so nothing cached


def test_encoding_is_not_started_when_its_output_cannot_be_written(tmp_path, shared_data):
    completed = embscope_process(
        "encode", str(shared_data / "sentiment_labelled_sentences" / "amazon_cells_labelled.txt"),
        "--out", f"{UNWRITABLE}.parquet",
        env={"EMBSCOPE_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert "cannot write" in one_error_line(completed)
    assert not (tmp_path / "cache").exists()


def test_outputs_that_are_the_wrong_kind_of_path(tmp_path):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("keep me")
    inside_a_file = one_error_line(
        embscope_process("export", "minilm", str(a_file / "x.npy"), "-f", "npy")
    )
    assert f"{a_file} is a file, not a directory" in inside_a_file
    folder_over_file = one_error_line(
        embscope_process("export", "minilm", str(a_file), "-f", "projector")
    )
    assert f"{a_file} is a file; give a directory" in folder_over_file
    assert a_file.read_text() == "keep me"
    file_over_folder = one_error_line(
        embscope_process("export", "minilm", str(tmp_path), "-f", "parquet")
    )
    assert "is a directory; give a file name" in file_over_folder


def test_a_second_source_is_refused_not_dropped():
    completed = embscope_process("similarity", "good", "bad", "-s", "glove-6b-50d", "-s", "minilm")
    assert completed.returncode == 2
    assert "given 2 times (glove-6b-50d, minilm)" in completed.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["analogy", "king", "--minus", "king", "-s", "glove-6b-50d"], "king - king is the zero"),
        (["neighbors", "the", "-s", "glove-6b-50d", "--restrict-vocab", "1"], "nothing to rank"),
    ],
)
def test_a_question_without_a_meaningful_answer_says_why(args, message):
    assert message in one_error_line(embscope_process(*args))


def test_nonsense_parameters_are_refused_before_loading(tmp_path):
    iterations = embscope_process(
        "project", "glove-6b-50d", "--method", "tsne", "--iterations", str(10**12)
    )
    assert iterations.returncode == 2 and "1<=x<=100000" in iterations.stderr
    data = tmp_path / "texts.txt"
    data.write_text("a good film\na bad film\n")
    device = embscope_process(
        "encode", str(data), "--out", str(tmp_path / "x.parquet"), "--device", "tpu:9",
        env={"EMBSCOPE_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert "device 'tpu:9' cannot be used here" in one_error_line(device)
    assert not (tmp_path / "x.parquet").exists()


def test_an_empty_training_file_is_one_line(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    line = one_error_line(embscope_process("train", str(empty), "--out", str(tmp_path / "run")))
    assert f"{empty}: holds no rows" in line
    assert not (tmp_path / "run").exists()


def test_a_truncated_gzip_is_not_aborted(tmp_path):
    whole = tmp_path / "whole.txt"
    whole.write_text("good 0.1 0.2\nbad 0.3 0.4\n" * 2000)
    import gzip

    packed = gzip.compress(whole.read_bytes())
    truncated = tmp_path / "vectors.txt.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    line = one_error_line(embscope_process("info", str(truncated)))
    assert "vectors.txt.gz" in line or "ended before" in line


def test_a_closed_pipe_is_quiet():
    completed = subprocess.run(
        f"{sys.executable} -m embscope neighbors good -s glove-6b-50d -k 500 | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.stdout.startswith("Neighbours of 'good'")
    assert "Traceback" not in completed.stderr and "Error" not in completed.stderr


def test_tour_of_a_document_space_shows_its_own_rows(ag_news_docs, tmp_path):
    path = embscope.export(ag_news_docs, tmp_path / "news.parquet", format="parquet")
    result = CliRunner().invoke(main, ["tour", "-s", str(path), "-k", "3"])
    assert result.exit_code == 0, result.output
    assert "Cosine similarity of word pairs" not in result.output  # no empty section
    first = f"'{ag_news_docs.keys[0]}: {ag_news_docs.labels[0][:20]}"
    assert f"Neighbours of {first}" in result.output
    assert f"Opposites of {first}" in result.output


def test_piped_tables_keep_their_headers_whole(ag_news_docs, tmp_path):
    path = embscope.export(ag_news_docs, tmp_path / "news.parquet", format="parquet")
    result = CliRunner().invoke(main, ["separation", str(path)])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("label"))
    for column in ("knn_recall", "probe_recall", "between", "closest_mean"):
        assert column in header.split()


def test_a_broken_vector_file_is_one_line(tmp_path):
    garbage = tmp_path / "queries.npy"
    garbage.write_bytes(bytes(range(50)))
    assert "lacks NumPy's header" in one_error_line(
        embscope_process("neighbors", "--vector-file", str(garbage), "-s", "glove-6b-50d")
    )
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "Object arrays cannot be loaded" in one_error_line(
        embscope_process("neighbors", "--vector-file", str(objects), "-s", "glove-6b-50d")
    )
    nan = tmp_path / "nan.txt"
    nan.write_text(" ".join(["nan"] * 50) + "\n")
    assert "NaN or infinite" in one_error_line(
        embscope_process("neighbors", "--vector-file", str(nan), "-s", "glove-6b-50d")
    )
