"""The on-disk cache meets damaged entries (empty, truncated, overwritten, wrong arrays inside):
each kind is deleted with one warning, computed again to the clean run's answer and left
healthy; concurrent encodings of the same texts leave one shard; atomic writes keep modes."""

from __future__ import annotations

import json
import logging
import os
import pickle
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope._io.atomic import atomic_path
from embscope.cli import main
from embscope.search.index import approximate_index
from embscope.text.encode import encode_texts

# what a disk, a crash or another program can leave in place of any cache file
DAMAGES = ("empty", "truncated", "garbage")
# and what can sit inside an .npz that still opens as one
NPZ_DAMAGES = (*DAMAGES, "missing member", "pickled", "object member", "wrong shape")


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMBSCOPE_CACHE", str(folder))
    return folder


@pytest.fixture
def cache_warnings(caplog):
    """The warnings the cache logged since the last call (each call starts afresh)."""
    caplog.set_level(logging.WARNING, logger="embscope._io.cache")

    def taken() -> list[str]:
        messages = [r.getMessage() for r in caplog.records if r.name == "embscope._io.cache"]
        caplog.clear()
        return messages

    return taken


def damage(path: Path, how: str, *, member: str = "", replacement: np.ndarray | None = None):
    """Spoil the cache file ``path`` as ``how`` says; ``member`` names the .npz array that
    "missing member", "object member" and "wrong shape" spoil (the last with ``replacement``)."""
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        if how == "pickled":
            path.write_bytes(pickle.dumps(arrays))
            return
        if how == "missing member":
            del arrays[member]
        elif how == "object member":
            arrays[member] = np.array([{"not": "an array"}] * 3, dtype=object)
        elif how == "wrong shape":
            arrays[member] = replacement
        with path.open("wb") as handle:
            np.savez(handle, **arrays)


def only_file(folder: Path, pattern: str) -> Path:
    found = [p for p in folder.rglob(pattern) if p.is_file()]
    assert len(found) == 1, found
    return found[0]


# ---- projections ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(glove):
    return glove.subset(glove.keys[:300])


@pytest.mark.parametrize("how", NPZ_DAMAGES)
def test_a_damaged_projection_is_computed_again(small, fresh_cache, cache_warnings, how):
    clean = small.project("pca", progress=False)
    assert not clean.from_cache
    measured = clean.quality  # its sidecar goes with the projection it describes
    replacement = np.asarray(clean.coordinates)[:-1]
    damage(clean.cache_file, how, member="coordinates", replacement=replacement)
    again = small.project("pca", progress=False)
    (warning,) = cache_warnings()
    assert f"the cached projection {clean.cache_file} was unreadable" in warning
    assert not again.from_cache
    np.testing.assert_array_equal(again.coordinates, clean.coordinates)
    assert not clean.cache_file.with_suffix(".quality.json").exists()
    assert again.quality == measured
    healthy = small.project("pca", progress=False)
    assert healthy.from_cache and cache_warnings() == []
    np.testing.assert_array_equal(healthy.coordinates, clean.coordinates)
    assert healthy.quality == measured and cache_warnings() == []
    assert sorted(p.name for p in clean.cache_file.parent.iterdir()) == [
        clean.cache_file.name,
        clean.cache_file.with_suffix(".quality.json").name,
    ]


@pytest.mark.parametrize("how", [*DAMAGES, "another projection's", "a list"])
def test_a_damaged_quality_record_is_measured_again(small, cache_warnings, how):
    clean = small.project("pca", progress=False)
    measured = clean.quality
    sidecar = clean.cache_file.with_suffix(".quality.json")
    if how == "another projection's":
        sidecar.write_text(json.dumps({**measured.to_dict(), "rows": 12}))
    elif how == "a list":
        sidecar.write_text(json.dumps(list(measured.to_dict().values())))
    else:
        damage(sidecar, how)
    again = small.project("pca", progress=False)
    assert again.from_cache
    assert again.quality == measured
    (warning,) = cache_warnings()
    assert f"the cached projection quality {sidecar} was unreadable" in warning
    assert clean.cache_file.exists()  # the coordinates were fine: they stay
    assert small.project("pca", progress=False).quality == measured
    assert cache_warnings() == []


# ---- encodings --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def texts(shared_data) -> list[str]:
    return embscope.read_texts(shared_data / "sst" / "stsa.binary.dev").texts[:12]


@pytest.fixture(scope="module")
def encoded(texts) -> np.ndarray:
    return encode_texts(texts, cache=False, progress=False)[0]


@pytest.mark.parametrize("how", NPZ_DAMAGES)
def test_a_damaged_encoding_shard_is_encoded_again(
    texts, encoded, fresh_cache, cache_warnings, how
):
    _, first = encode_texts(texts, progress=False)
    assert first.encoded == len(texts)
    shard = only_file(fresh_cache, "*.npz")
    damage(shard, how, member="vectors", replacement=encoded.T.copy())
    vectors, report = encode_texts(texts, progress=False)
    (warning,) = cache_warnings()
    assert f"the encoding cache shard {shard} was unreadable" in warning
    assert (report.encoded, report.from_cache) == (len(texts), 0)
    np.testing.assert_allclose(vectors, encoded, atol=1e-6)
    assert only_file(fresh_cache / "encodings", "*") == shard  # the same name: the same texts
    vectors, report = encode_texts(texts, progress=False)
    assert (report.encoded, report.from_cache) == (0, len(texts)) and cache_warnings() == []
    np.testing.assert_allclose(vectors, encoded, atol=1e-6)


def test_the_cli_says_a_note_instead_of_failing(texts, shared_data, tmp_path, fresh_cache):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    args = ["encode", str(source), "--format", "lines", "--out", str(tmp_path / "docs.parquet")]
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    shard = only_file(fresh_cache, "*.npz")
    shard.write_bytes(b"")  # what once made every later run print "Aborted!"
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"note: the encoding cache shard {shard} was unreadable" in result.output
    assert f"{len(texts)} texts: {len(texts)} encoded" in result.output
    again = runner.invoke(main, args)
    assert f"{len(texts)} from the cache" in again.output and "note:" not in again.output


def test_a_projection_run_after_an_empty_cache_file_succeeds(tmp_path):
    """The command as a user runs it, in its own process: no ``Aborted!``, no traceback."""
    environment = {**os.environ, "EMBSCOPE_CACHE": str(tmp_path / "cache")}
    command = [
        sys.executable, "-m", "embscope", "project", "glove-6b-50d", "--method", "tsne",
        "--words", "good,bad,great,awful,fine,nice,poor,superb,dreadful,lovely",
        "--out", str(tmp_path / "words.html"),
    ]  # fmt: skip

    def run(coordinates: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, "--coords", str(tmp_path / coordinates)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )

    clean = run("clean.csv")
    assert clean.returncode == 0, clean.stderr
    entry = only_file(tmp_path / "cache", "*.npz")
    entry.write_bytes(b"")
    after = run("after.csv")
    assert after.returncode == 0, after.stderr
    assert "Aborted" not in after.stderr and "Traceback" not in after.stderr
    assert f"note: the cached projection {entry} was unreadable" in after.stderr
    assert (tmp_path / "after.csv").read_text() == (tmp_path / "clean.csv").read_text()
    healthy = run("healthy.csv")
    assert "from cache" in healthy.stdout and "note:" not in healthy.stderr


def test_two_processes_encoding_the_same_texts_leave_one_shard(
    texts, encoded, tmp_path, fresh_cache
):
    ready = tmp_path / "ready"
    ready.mkdir()
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = textwrap.dedent(
        f"""
        import json, os, pathlib, sys, time
        import numpy as np
        import sentence_transformers  # imported before the start line: both start level
        from embscope.text.encode import encode_texts
        texts = json.loads(pathlib.Path({str(tmp_path / "texts.json")!r}).read_text())
        ready = pathlib.Path({str(ready)!r})
        (ready / str(os.getpid())).touch()
        deadline = time.monotonic() + 300
        while len(list(ready.iterdir())) < 2:
            if time.monotonic() > deadline:
                sys.exit("the other writer never started")
            time.sleep(0.01)
        vectors, report = encode_texts(texts, progress=False)
        np.save(sys.argv[1], vectors)
        print(report.encoded)
        """
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / f"vectors-{i}.npy")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [writer.communicate(timeout=600) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    # both looked before either wrote (the model takes seconds to load after the start line),
    # so both encoded every text: the race this test is about did happen
    assert [int(out.strip()) for out, _ in outputs] == [len(texts)] * 2, outputs
    shard = only_file(fresh_cache / "encodings", "*")
    assert shard.suffix == ".npz"
    for i in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"vectors-{i}.npy"), encoded, atol=1e-6)
    vectors, report = encode_texts(texts, progress=False)
    assert report.from_cache == len(texts)
    np.testing.assert_allclose(vectors, encoded, atol=1e-6)


# ---- the approximate index --------------------------------------------------------------------
@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("part", ["index", "record"])
def test_a_damaged_index_is_built_again(glove, cache_warnings, part, how):
    keys = glove.keys[:2000]
    clean = approximate_index(glove.subset(keys), metric="cosine", progress=False)
    record = clean.path.with_suffix(".json")
    damage(clean.path if part == "index" else record, how)
    space = glove.subset(keys)  # a new object: nothing kept open
    again = approximate_index(space, metric="cosine", progress=False)
    (warning,) = cache_warnings()
    what = "index" if part == "index" else "index record"
    spoiled = clean.path if part == "index" else record
    assert f"the cached {what} {spoiled} was unreadable" in warning
    assert again.built
    queries = np.asarray(space.vectors[:50])
    np.testing.assert_array_equal(again.query(queries, 1)[0][:, 0], np.arange(50))
    assert again.recall(space, k=10, queries=200) >= 0.95
    healthy = approximate_index(glove.subset(keys), metric="cosine", progress=False)
    assert not healthy.built and cache_warnings() == []
    assert sorted(p.name for p in clean.path.parent.iterdir()) == [record.name, clean.path.name]


# ---- atomic writes ----------------------------------------------------------------------------
def test_a_replaced_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    kept = tmp_path / "private.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    with atomic_path(kept) as temporary:
        temporary.write_text("new")
    assert kept.read_text() == "new" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    umask = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.txt"
        with atomic_path(fresh) as temporary:
            temporary.write_text("new")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.txt", "private.txt"]


def test_ctrl_c_inside_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "entry.npz"
    np.savez(target, values=np.arange(5))
    target.chmod(0o600)
    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:
        temporary.write_bytes(b"half of a new fi")
        raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a write
    assert target.read_bytes() == before and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["entry.npz"]
