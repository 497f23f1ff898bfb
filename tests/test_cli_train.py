"""`embscope train` in a real process, then the saved model as a source of other commands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

import embscope

pytest.importorskip("torch")


def embscope_command(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "embscope", *args],
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "sentiment-16"
    sst = shared_data / "sst"
    completed = embscope_command(
        "train", str(sst / "stsa.binary.train"), str(shared_data / "rt_polarity"),
        "--label-names", "neg,pos", "--held-out", str(sst / "stsa.binary.dev"),
        "--held-out", str(sst / "stsa.binary.test"), "--epochs", "6", "--out", str(out),
    )  # fmt: skip
    return out, completed


def test_train_prints_each_epoch_and_saves(trained):
    out, completed = trained
    assert completed.returncode == 0, completed.stderr
    epochs = [line for line in completed.stderr.splitlines() if line.startswith("epoch ")]
    assert 1 <= len(epochs) <= 6
    assert all("val_loss" in line and "val_accuracy" in line for line in epochs)
    assert "rt_polarity: removed" in completed.stderr  # the leak removal is reported
    assert f"saved to {out}" in completed.stdout
    config = json.loads((out / "embscope-train.json").read_text())
    assert config["classes"] == ["neg", "pos"] and config["best_epoch"] >= 1
    assert "Traceback" not in completed.stderr


def test_saved_model_is_a_source_for_neighbors(trained):
    out, _ = trained
    completed = embscope_command(
        "neighbors", "horrible", "--source", str(out), "--restrict-vocab", "2000", "--json"
    )
    assert completed.returncode == 0, completed.stderr
    rows = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(rows) == 10 and all(row["token_id"] <= 2001 for row in rows)
    similarity = embscope_command("similarity", "good", "bad", "--source", str(out), "--json")
    assert json.loads(similarity.stdout.splitlines()[-1])["score"] < 0


def test_reading_a_trained_model_needs_no_torch(trained):
    out, _ = trained
    probe = (
        "import sys, embscope; embscope.load(sys.argv[1]).neighbors('horrible'); "
        "print('torch' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dim", "0"], "dim must be a positive integer of at most 8,192; got 0"),
        (["--classes", "0"], "classes must name two or more distinct classes"),
    ],
)
def test_bad_options_are_one_line_errors(shared_data, tmp_path, args, message):
    completed = embscope_command(
        "train", str(shared_data / "sst" / "stsa.binary.dev"), "--out", str(tmp_path / "m"), *args
    )
    assert completed.returncode == 1
    assert message in completed.stderr and "Traceback" not in completed.stderr
    assert not (tmp_path / "m").exists()


def test_refuses_an_output_directory_of_other_files_before_training(shared_data, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    completed = embscope_command(
        "train", str(shared_data / "sst" / "stsa.binary.dev"), "--out", str(tmp_path)
    )
    assert completed.returncode == 1 and "holds other files" in completed.stderr
    assert "epoch" not in completed.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_ctrl_c_leaves_the_best_model_so_far(shared_data, tmp_path):
    out = tmp_path / "interrupted"
    stderr_file = tmp_path / "stderr.txt"
    command = [
        sys.executable, "-m", "embscope", "train", str(shared_data / "sst" / "stsa.binary.train"),
        "--epochs", "1000", "--patience", "1000", "--out", str(out),
    ]  # fmt: skip
    with stderr_file.open("w") as stderr_sink:
        # a shell's background job starts with SIGINT ignored, and a child inherits that:
        # give the command Ctrl-C's default, as a terminal would
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=stderr_sink,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while "epoch    3/1000" not in stderr_file.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, stderr_file.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    stderr = stderr_file.read_text()
    assert process.returncode == 130, stderr
    assert "holds the best model so far" in stderr and "Traceback" not in stderr
    assert stderr.splitlines().count("interrupted") == 1, stderr
    saved = embscope.train.load(out)
    assert saved.best_epoch >= 1
    assert len(saved.history) == saved.best_epoch  # saved right after its best epoch
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
