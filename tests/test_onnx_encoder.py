"""The ONNX Runtime sentence encoder against sentence-transformers on real texts: all-MiniLM-L6-v2
exported here, 300 AG News descriptions (long and short, so batches pad), every vector within
cosine 0.9999 of sentence-transformers' own, in the order given; the export is cached."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def descriptions(shared_data):
    with (shared_data / "ag_news" / "test.csv").open(newline="", encoding="utf-8") as file:
        return [row[2] for _, row in zip(range(300), csv.reader(file), strict=False)]


@pytest.mark.slow  # exports MiniLM (a few seconds) and encodes 300 texts twice
def test_vectors_equal_sentence_transformers_and_the_export_is_cached(minilm_dir, descriptions):
    from sentence_transformers import SentenceTransformer

    from embscope.text.onnx_runtime import OnnxSentenceEncoder, exported_model

    encoder = OnnxSentenceEncoder(minilm_dir)
    assert (encoder.pooling, encoder.normalize, encoder.max_length) == ("mean", True, 256)
    texts = [*descriptions, "", "a", "word " * 400]  # empty, one token, past max_seq_length
    ours = encoder.encode(texts, batch_size=32)
    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(
        texts, batch_size=64, convert_to_numpy=True
    )
    assert ours.shape == reference.shape == (303, 384) and ours.dtype == np.float32
    cosines = (ours * reference).sum(axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    assert cosines.min() > 0.9999, cosines.min()
    # the export is made once: asked again, the same file, not rewritten
    path = exported_model(minilm_dir)
    written = path.stat().st_mtime_ns
    assert exported_model(minilm_dir) == path and path.stat().st_mtime_ns == written
    from embscope._io.cache import cache_root

    assert path.parent == cache_root() / "onnx"


def test_a_folder_that_is_no_sentence_transformers_model_is_refused(tmp_path):
    from embscope.errors import SourceError
    from embscope.text.onnx_runtime import OnnxSentenceEncoder

    with pytest.raises(SourceError, match="not a sentence-transformers model"):
        OnnxSentenceEncoder(tmp_path)


@pytest.fixture(scope="module")
def minilm_copy(tmp_path_factory, minilm_dir):
    """The bundled MiniLM in a folder of its own (weights linked), whose pipeline files the
    tests below rewrite: pooling and normalisation as other sentence-transformers models set
    them."""
    import shutil

    folder = tmp_path_factory.mktemp("minilm-copy")
    for item in minilm_dir.iterdir():
        if item.name == "model.safetensors":
            (folder / item.name).symlink_to(item)
        elif item.is_dir():
            shutil.copytree(item, folder / item.name)
        else:
            shutil.copy(item, folder / item.name)
    return folder


def _rewrite_pipeline(folder, *, pooling: str, normalize: bool) -> None:
    import json

    modules = json.loads((folder / "modules.json").read_text())
    modules = [m for m in modules if not m["type"].endswith("Normalize")]
    if normalize:
        modules.append(
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
    (folder / "modules.json").write_text(json.dumps(modules))
    config_file = folder / "1_Pooling" / "config.json"
    config = json.loads(config_file.read_text())
    for mode in ("cls_token", "mean_tokens", "max_tokens"):
        config[f"pooling_mode_{mode}"] = mode.startswith(pooling)
    config_file.write_text(json.dumps(config))


@pytest.mark.slow  # exports the copy once and loads sentence-transformers per pipeline
@pytest.mark.parametrize(("pooling", "normalize"), [("cls", False), ("max", True), ("mean", False)])
def test_pooling_and_normalisation_follow_the_model_config(
    minilm_copy, descriptions, pooling, normalize
):
    from sentence_transformers import SentenceTransformer

    from embscope.text.onnx_runtime import OnnxSentenceEncoder

    _rewrite_pipeline(minilm_copy, pooling=pooling, normalize=normalize)
    encoder = OnnxSentenceEncoder(minilm_copy)
    assert (encoder.pooling, encoder.normalize) == (pooling, normalize)
    texts = [*descriptions[:40], "", "word " * 400]
    ours = encoder.encode(texts)
    reference = SentenceTransformer(str(minilm_copy), device="cpu").encode(
        texts, convert_to_numpy=True
    )
    # not only the direction: without Normalize the lengths are the model's own
    norms = np.linalg.norm(reference, axis=1)
    assert np.allclose(np.linalg.norm(ours, axis=1), norms, rtol=1e-4)
    assert np.allclose(norms, 1.0, atol=1e-4) == normalize
    cosines = (ours * reference).sum(axis=1) / (np.linalg.norm(ours, axis=1) * norms)
    assert cosines.min() > 0.9999, cosines.min()


def test_a_pipeline_onnx_cannot_reproduce_stays_on_torch(minilm_copy):
    import json

    from embscope.errors import InvalidParameterError
    from embscope.text.model import fp32_cpu_runtime, model_spec
    from embscope.text.onnx_runtime import unsupported_reason

    _rewrite_pipeline(minilm_copy, pooling="mean", normalize=True)
    assert fp32_cpu_runtime(str(minilm_copy)) == "onnx"
    modules = json.loads((minilm_copy / "modules.json").read_text())
    dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    (minilm_copy / "modules.json").write_text(json.dumps([*modules, dense]))
    try:
        # full precision on a CPU (auto without native bf16, or bf16's fallback) is torch's
        assert fp32_cpu_runtime(str(minilm_copy)) == "torch"
        assert "Transformer → Pooling → Normalize → Dense" in unsupported_reason(minilm_copy)
        with pytest.raises(InvalidParameterError, match=r"Dense.*use backend='torch'"):
            model_spec(str(minilm_copy), backend="onnx")
        (minilm_copy / "modules.json").write_text(json.dumps(modules))
        config_file = minilm_copy / "1_Pooling" / "config.json"
        config = json.loads(config_file.read_text())
        config["pooling_mode_weightedmean_tokens"] = True
        config_file.write_text(json.dumps(config))
        with pytest.raises(InvalidParameterError, match=r"weightedmean_tokens.*not exactly one"):
            model_spec(str(minilm_copy), backend="onnx-int8")
    finally:
        _rewrite_pipeline(minilm_copy, pooling="mean", normalize=True)
        (minilm_copy / "modules.json").write_text(json.dumps(modules))


@pytest.mark.slow  # a fresh process exports the hub snapshot's model once
def test_a_hub_id_is_fetched_into_the_hub_cache_then_encoded_with_onnx(
    minilm_dir, shared_data, tmp_path
):
    """The hub path as users take it, with the hub cache laid out as huggingface_hub leaves it
    after a download (offline here: the snapshot is already there)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pyarrow.parquet

    import embscope

    commit = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for item in minilm_dir.iterdir():
        (snapshot / item.name).symlink_to(item)  # the hub cache links snapshots to blobs too
    out = tmp_path / "docs.parquet"
    data = shared_data / "ag_news" / "test.csv"
    environment = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "EMBSCOPE_CACHE": str(tmp_path / "cache"),
    }
    command = [str(Path(sys.executable).parent / "embscope"), "encode", str(data), "--text", "2"]
    command += ["--label", "0", "--sample-per-label", "5", "--out", str(out)]
    command += ["--model", "sentence-transformers/all-MiniLM-L6-v2", "--backend", "onnx"]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "20 texts: 20 encoded" in finished.stdout and "ONNX Runtime" in finished.stdout
    # the file names the hub model, and the snapshot it was read from, and the runtime
    marker = json.loads(pyarrow.parquet.read_schema(out).metadata[b"embscope"])
    named = marker["documents"]["model"]
    assert named["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert named["location"] == str(snapshot) and named["runtime"] == "onnx"
    hub_docs = embscope.load(out)
    bundled = embscope.encode_dataset(data, text=2, label=0, sample_per_label=5, progress=False)
    assert hub_docs.keys == bundled.keys
    cosines = np.einsum("ij,ij->i", hub_docs.vectors, bundled.vectors)
    assert cosines.min() > 0.9999
