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
