"""Encoding labelled texts with the real bundled MiniLM: vectors, the cache, document spaces,
text search, the Parquet round trip and the CLI."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.errors import InvalidParameterError, SourceError
from embscope.text import encode as encode_module
from embscope.text.encode import encode_dataset_reported, encode_texts


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMBSCOPE_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def sentence_model():
    from sentence_transformers import SentenceTransformer

    from embscope.sources.bundled import minilm_path

    return SentenceTransformer(str(minilm_path()), device="cpu")


def test_vectors_equal_sentence_transformers(sentence_model, fresh_cache):
    texts = ["Stocks fell sharply.", "A new spacecraft launched.", "", "The team won the cup."]
    vectors, report = encode_texts(texts, progress=False, backend="torch")
    expected = sentence_model.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    assert report.encoded == 4 and report.from_cache == 0
    # the default CPU runtime (bf16 or ONNX Runtime here) keeps every vector within 0.9999
    fast, _ = encode_texts(texts, progress=False)
    np.testing.assert_allclose(np.linalg.norm(fast[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    assert (fast * expected).sum(axis=1)[[0, 1, 3]].min() > 0.9999


def test_the_cache_encodes_only_new_texts(fresh_cache):
    first, report = encode_texts(["alpha beta", "gamma delta"], progress=False)
    assert report.encoded == 2
    second, report = encode_texts(["gamma delta", "epsilon", "alpha beta"], progress=False)
    assert (report.encoded, report.from_cache) == (1, 2)
    np.testing.assert_array_equal(second[[2, 0]], first)
    repeated, report = encode_texts(["zeta", "zeta", "zeta"], progress=False)
    assert report.encoded == 1 and np.array_equal(repeated[0], repeated[2])
    shards = sorted(p.name for p in fresh_cache.rglob("*") if p.is_file())
    assert len(shards) == 3 and all(name.endswith(".npz") for name in shards)


def test_an_interrupted_run_resumes_where_it_stopped(fresh_cache, monkeypatch, shared_data):
    texts = read_sst_dev(shared_data)[:120]
    monkeypatch.setattr(encode_module, "CHUNK_TEXTS", 40)
    real_encode = encode_module.Encoder.encode
    calls = []

    def interrupted_after_two_chunks(self, chunk, **options):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a run
        return real_encode(self, chunk, **options)

    monkeypatch.setattr(encode_module.Encoder, "encode", interrupted_after_two_chunks)
    # ONNX Runtime: the default on a bf16 CPU first encodes a sample to check bf16 against fp32
    with pytest.raises(KeyboardInterrupt):
        encode_texts(texts, progress=False, backend="onnx")
    monkeypatch.setattr(encode_module.Encoder, "encode", real_encode)
    resumed, report = encode_texts(texts, progress=False, backend="onnx")
    assert (report.from_cache, report.encoded) == (80, 40)
    direct, _ = encode_texts(texts, progress=False, cache=False, backend="onnx")
    np.testing.assert_allclose(resumed, direct, atol=1e-6)
    assert not [p for p in fresh_cache.rglob("*.tmp")]


def read_sst_dev(shared_data):
    return embscope.read_texts(shared_data / "sst" / "stsa.binary.dev").texts


def test_ag_news_document_space(ag_news_docs):
    docs = ag_news_docs
    assert len(docs) == 400 and docs.dim == 384 and docs.metric == "cosine"
    assert docs.metadata["class"].value_counts().to_dict() == {
        "Business": 100,
        "Sci/Tech": 100,
        "Sports": 100,
        "World": 100,
    }
    assert {"title", "description", "class_id"} <= set(docs.metadata.columns)
    # a row's label is its text, whitespace collapsed and cut at 80 characters
    flat = " ".join(docs.metadata["description"].iloc[0].split())
    assert docs.labels[0] == (flat if len(flat) <= 80 else flat[:79] + "…")
    assert docs.provenance.options["label_column"] == "class"


def test_search_by_text_finds_business_news(ag_news_docs):
    hits = ag_news_docs.neighbors("stock markets fell", top_k=5)
    # AG News has label noise: with seed 0 the top hit, "Bourses set for losses after Wall St
    # falls", is filed under Sci/Tech; the other four are Business
    assert (hits["class"] == "Business").sum() >= 4
    assert "falls" in hits["title"].iloc[0] or hits["class"].iloc[0] == "Business"


def test_neighbours_of_a_row(ag_news_docs):
    key = ag_news_docs.keys[10]
    hits = ag_news_docs.neighbors(key, top_k=5)
    assert key not in hits["key"].tolist()
    label = ag_news_docs.metadata["class"].iloc[10]
    assert (hits["class"] == label).sum() >= 3


def test_parquet_round_trip_keeps_the_model(ag_news_docs, tmp_path):
    path = embscope.export(ag_news_docs, tmp_path / "docs.parquet", format="parquet")
    loaded = embscope.load(path)
    np.testing.assert_array_equal(loaded.vectors, ag_news_docs.vectors)
    assert loaded.provenance.options["label_column"] == "class"
    assert (
        loaded.neighbors("stock markets fell", top_k=3)["key"].tolist()
        == ag_news_docs.neighbors("stock markets fell", top_k=3)["key"].tolist()
    )


def test_long_and_empty_texts_are_counted(shared_data, fresh_cache, caplog):
    source = shared_data / "imdb" / "imdb_test_sample_5000.csv"
    dataset = embscope.read_texts(source, text="text", label="label").sample_per_label(15)
    with caplog.at_level(logging.WARNING, logger="embscope.text.encode"):
        space, report = encode_dataset_reported(dataset, progress=False)
    assert len(space) == 30 and report.truncated > 5 and report.max_tokens == 256
    assert (
        f"{report.truncated} texts were longer than the model's 256 tokens and were" in caplog.text
    )


def test_empty_texts_are_skipped(tmp_path, fresh_cache, caplog):
    path = tmp_path / "items.tsv"
    path.write_text(
        "text\tlabel\ngood film\tpos\n\tneg\n  \tneg\nbad film\tneg\n", encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="embscope.text.encode"):
        space = embscope.encode_dataset(path, text="text", label="label", progress=False)
    assert space.keys == ["0", "3"] and "2 empty texts were skipped" in caplog.text


def test_bad_input(tmp_path, shared_data):
    with pytest.raises(InvalidParameterError, match="engine must be one of local, ray"):
        encode_texts(["a"], engine="spark")
    with pytest.raises(InvalidParameterError, match="batch_size must be a positive integer"):
        encode_texts(["a"], batch_size=0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="holds no non-empty texts"):
        embscope.encode_dataset(empty, progress=False)


def test_cli_encode_then_query(shared_data, tmp_path, fresh_cache):
    out = tmp_path / "docs.parquet"
    runner = CliRunner()
    args = ["encode", str(shared_data / "sst" / "stsa.binary.dev"), "--out", str(out)]
    result = runner.invoke(main, [*args, "--sample-per-label", "20"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "40 texts: 40 encoded in" in result.output and "texts/s" in result.output
    assert f"wrote {out}: 40 texts x 384, 2 classes in 'label'" in result.output
    again = runner.invoke(main, [*args, "--sample-per-label", "25"], catch_exceptions=False)
    assert "50 texts: 10 encoded in" in again.output and "40 from the cache" in again.output
    query = runner.invoke(
        main, ["neighbors", "a wonderful , moving film", "-s", str(out), "-k", "3", "--json"]
    )
    assert query.exit_code == 0 and len(query.output.strip().splitlines()) == 3
    missing = runner.invoke(main, [*args, "--text", "review"])
    assert missing.exit_code == 1 and "text column 'review' is not in" in missing.output
    assert "its columns are text, label" in missing.output


@pytest.mark.parametrize("backend", ["onnx", "torch-bf16"])
def test_the_fast_cpu_runtimes_give_torchs_vectors(shared_data, fresh_cache, backend):
    pytest.importorskip("onnxruntime")
    texts = ["Stocks fell sharply.", "A new spacecraft launched.", "The team won the cup."]
    fast, report = encode_texts(texts, progress=False, backend=backend)
    assert report.runtime == backend
    assert encode_module.RUNTIME_NAMES[backend] in str(report)
    plain, torch_report = encode_texts(texts, progress=False, backend="torch")
    # the cache keeps each runtime's vectors apart: torch encoded its own
    assert torch_report.runtime == "torch" and torch_report.encoded == 3
    cosines = (fast * plain).sum(axis=1)
    assert cosines.min() > 0.9999
    space, _ = encode_dataset_reported(
        shared_data / "ag_news" / "test.csv",
        text=2,
        label=0,
        sample_per_label=5,
        progress=False,
        backend=backend,
    )
    assert space.provenance.options["model"]["runtime"] == backend
    # a text query is encoded by the same runtime as the rows
    first_text = space.metadata[space.provenance.options["text_column"]].iloc[0]
    hits = space.search(first_text, top_k=1)
    assert hits.keys[0] == space.keys[0]


def test_auto_picks_the_fastest_exact_cpu_runtime_and_says_so(shared_data, fresh_cache, caplog):
    pytest.importorskip("onnxruntime")
    from embscope.text.model import bf16_cpu

    texts = embscope.read_texts(shared_data / "ag_news" / "test.csv", text=2, label=0).texts[:100]
    with caplog.at_level(logging.INFO, logger="embscope.text"):
        _, report = encode_texts(texts, progress=False)
    if bf16_cpu():  # native bfloat16 (AMX): checked against fp32 on a sample, then used
        assert report.runtime == "torch-bf16"
        assert "in bfloat16 on this CPU's native bf16 units" in caplog.text
        check = report.precision_check
        assert check.precision == "bf16" and check.sampled == 64
        assert 0.9999 <= check.cosine_min < 1 and str(check) in str(report)
    else:
        assert report.runtime == "onnx" and "with ONNX Runtime on the CPU" in caplog.text


def test_bf16_gives_way_to_fp32_when_a_vector_strays(fresh_cache, monkeypatch, caplog):
    """The guard itself: a bar no bfloat16 vector clears sends the run to fp32, and says so."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(encode_module, "BF16_MIN_COSINE", 1.5)
    texts = ["Stocks fell sharply.", "A new spacecraft launched.", "The team won the cup."]
    with caplog.at_level(logging.WARNING):
        vectors, report = encode_texts(texts, progress=False, backend="torch-bf16")
    assert report.runtime == "onnx" and report.encoded == 3
    assert "bf16 against fp32 on 3 of the texts" in caplog.text
    assert "encoding in fp32 with ONNX Runtime instead" in caplog.text
    exact, _ = encode_texts(texts, progress=False, backend="onnx")
    assert np.array_equal(vectors, exact)


def test_backend_choices_are_checked():
    pytest.importorskip("onnxruntime")
    with pytest.raises(
        InvalidParameterError,
        match="backend must be one of auto, torch, torch-bf16, onnx, onnx-int8",
    ):
        encode_texts(["a"], backend="tensorrt", progress=False)
    with pytest.raises(InvalidParameterError, match="runs on the CPU"):
        encode_texts(["a"], backend="onnx", device="cuda", progress=False)
    # a hub id is downloaded first; here there is no hub, and the message says what to do
    with pytest.raises(SourceError, match=r"cannot download the hub model .org/some-model..*local"):
        encode_texts(["a"], model="org/some-model", backend="onnx", progress=False)
    with pytest.raises(InvalidParameterError, match="labels must give one label per text"):
        encode_texts(["a", "b"], labels=["x"], progress=False)


def test_without_onnxruntime_auto_encodes_with_torch(tmp_path):
    """`make run` installs no onnx extra: the default then runs torch, and asking for ONNX says
    what to install. A fresh process in which onnxruntime cannot be imported."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['onnxruntime'] = None  # not installed\n"
        "import embscope\n"
        "from embscope.errors import MissingDependencyError\n"
        "vectors, report = embscope.encode_texts(['Stocks fell.', 'A rover landed.'], "
        "progress=False)\n"
        "print(report.runtime, vectors.shape, report)\n"
        "try:\n"
        "    embscope.encode_texts(['a'], backend='onnx', progress=False)\n"
        "except MissingDependencyError as error:\n"
        "    print('refused:', error)\n"
    )
    environment = {**os.environ, "EMBSCOPE_CACHE": str(tmp_path)}
    finished = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    # torch, in bfloat16 where the CPU has native bf16 (checked against fp32 first)
    assert re.match(r"torch(-bf16)? \(2, 384\) 2 texts: 2 encoded", finished.stdout)
    assert re.search(r"texts/s, torch( bfloat16)?\)", finished.stdout.splitlines()[0])
    assert "refused:" in finished.stdout and "pip install 'embscope[onnx]'" in finished.stdout
