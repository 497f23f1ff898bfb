"""`embscope project` on the bundled GloVe: files written, the cache, clean errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from embscope.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.mark.slow  # about 12 s
def test_html_png_and_coordinates(run, tmp_path, glove):
    out, coords = tmp_path / "terrible.html", tmp_path / "terrible.parquet"
    args = ["project", "glove-6b-50d", "--method", "umap", "--dims", "3"]
    args += ["--neighborhood", "terrible", "--out", str(out), "--png", "--coords", str(coords)]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "UMAP 3D of \"glove-6b-50d: neighbourhood of 'terrible'\": 61 rows" in result.output
    assert "parameters: metric=cosine, random_state=0, n_neighbors=15" in result.output
    assert "quality: trustworthiness@10 0.9" in result.output
    for path in (out, out.with_suffix(".png"), coords):
        assert f"wrote {path}" in result.output and path.stat().st_size > 0
    table = pd.read_parquet(coords)
    assert table["key"].tolist()[:3] == ["terrible", *glove.neighbors("terrible")["key"][:2]]
    assert set(table["group"]) == {"query", "similar", "opposite"}
    again = run(*args)
    assert "from cache" in again.output


def test_words_and_json(run, tmp_path):
    out = tmp_path / "words.html"
    result = run(
        "project", "glove-6b-50d", "--words", "good,bad", "--words", "great,awful,fine",
        "--out", str(out), "--json",
    )  # fmt: skip
    summary = json.loads(result.output)
    assert summary["rows"] == 5 and summary["method"] == "pca" and summary["files"] == [str(out)]
    assert 0 <= summary["trustworthiness"] <= 1 and summary["parameters"]["metric"] == "cosine"


def test_default_output_name(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("project", "glove-6b-50d", "--words", "good,bad,great", "--dims", "3")
    assert result.exit_code == 0
    assert (tmp_path / "glove-6b-50d-pca-3d.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--words", "good,terriblle"], "'terriblle' is not in the vocabulary of glove-6b-50d"),
        (["--neighborhood", "terible"], "'terible' is not in the vocabulary of glove-6b-50d"),
        (["--words", "good,bad,great,fine", "--method", "tsne", "--perplexity", "9"],
         "perplexity must be less than the number of rows (4); got 9"),
        (["--words", "good,bad,great", "--color", "similarity:goood"], "'goood' is not in"),
        (["--words", "good,bad", "--out", "x.gif"], "figure file must end in .html"),
        (["--words", "good,bad", "--coords", "x.xlsx"], "coordinates file must end in .parquet"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(run, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("project", "glove-6b-50d", *args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "umap", "--perplexity", "5"], "--perplexity applies to --method tsne"),
        (["--words", "a", "--neighborhood", "b"], "give --words or --neighborhood, not both"),
        (["--sample", "10", "--all-rows"], "give --sample or --all-rows, not both"),
        (["--dims", "4"], "'--dims': 4 is not in the range 2<=x<=3"),
    ],
)
def test_usage_errors(run, args, message):
    result = CliRunner().invoke(main, ["project", "glove-6b-50d", *args])
    assert result.exit_code == 2 and message in result.output


def test_ctrl_c_leaves_no_broken_cache(tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "big.html"
    stderr_file = tmp_path / "stderr.txt"
    command = [
        sys.executable, "-m", "embscope", "-v", "project", "glove-6b-50d", "--method", "tsne",
        "--dims", "3", "--sample", "20000", "--iterations", "5000", "--out", str(out),
    ]  # fmt: skip
    with stderr_file.open("w") as stderr_sink:
        process = subprocess.Popen(
            command,
            env={**os.environ, "EMBSCOPE_CACHE": str(cache)},
            stdout=subprocess.DEVNULL,
            stderr=stderr_sink,
            text=True,
            # a shell's background job starts with SIGINT ignored, and a child inherits that:
            # give the command Ctrl-C's default, as a terminal would
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        # Interrupt the optimisation itself, whatever the machine's load: wait for the note
        # that says it has started (-v) instead of guessing how long loading takes.
        deadline = time.monotonic() + 120
        while "t-SNE 3D of" not in stderr_file.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, stderr_file.read_text()
            time.sleep(0.2)
        time.sleep(3)
        assert process.poll() is None, "the projection ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    stderr = stderr_file.read_text()
    assert process.returncode == 130, (process.returncode, stderr)
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not out.exists()
    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert left == []
