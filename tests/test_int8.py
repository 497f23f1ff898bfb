"""int8 encoding (backend="onnx-int8") is never silent about what it costs: every run measures
its vectors against fp32 ONNX on a sample of the texts (cosine, and kNN accuracy when labelled)
and prints it; its vectors are cached apart from fp32's. Real model, real AG News."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.text.precision import _knn_accuracy, compare

pytest.importorskip("onnxruntime")


def test_leave_one_out_knn_agrees_with_knn_classify(ag_news_docs):
    labels = ag_news_docs.metadata["class"].tolist()
    voted = [
        embscope.knn_classify(ag_news_docs, "class", key, k=5, metric="cosine").label
        for key in ag_news_docs.keys
    ]
    expected = np.mean([v == label for v, label in zip(voted, labels, strict=True)])
    assert _knn_accuracy(ag_news_docs.vectors, labels) == pytest.approx(expected)
    # the same vectors cost nothing; noise costs cosine
    same = compare(ag_news_docs.vectors, ag_news_docs.vectors, labels)
    assert same.cosine_min == pytest.approx(1.0) and same.knn_change == 0
    noisy = ag_news_docs.vectors + np.random.default_rng(0).normal(
        0, 0.05, ag_news_docs.vectors.shape
    )
    assert compare(noisy, ag_news_docs.vectors).cosine_min < 0.9


@pytest.mark.slow  # quantises MiniLM once and encodes 200 texts both ways
def test_int8_reports_its_measured_quality(shared_data, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path / "cache"))
    data = shared_data / "ag_news" / "test.csv"
    options = dict(text=2, label=0, sample_per_label=50, progress=False)
    root_handlers = logging.getLogger().handlers[:]
    with caplog.at_level(logging.WARNING):
        space, report = embscope.text.encode.encode_dataset_reported(
            data, backend="onnx-int8", **options
        )
    quality = report.precision_check
    # onnxruntime's quantiser configures the root logger; embscope puts it back
    assert logging.getLogger().handlers == root_handlers
    assert report.runtime == "onnx-int8" and quality is not None and quality.sampled == 200
    assert 0.5 < quality.cosine_min < quality.cosine_mean < 0.9999
    assert 0.5 < quality.knn_fp32 <= 1 and 0.5 < quality.knn_int8 <= 1
    assert str(quality) in str(report) and str(quality) in caplog.text
    assert space.provenance.options["model"]["runtime"] == "onnx-int8"
    # the fp32 vectors it measured against are ONNX fp32's own, so they equal the default's
    fp32, fp32_report = embscope.text.encode.encode_dataset_reported(
        data, backend="onnx", **options
    )
    assert fp32_report.encoded == 0  # cached by the check
    cosines = np.einsum("ij,ij->i", space.vectors, fp32.vectors) / np.linalg.norm(
        space.vectors, axis=1
    )
    assert cosines.min() == pytest.approx(quality.cosine_min, abs=1e-5)
    assert list((tmp_path / "cache" / "onnx").glob("model-int8-*.onnx"))
    # the CLI prints the measurement too
    result = CliRunner().invoke(
        main,
        [
            "encode",
            str(data),
            "--text",
            "2",
            "--label",
            "0",
            "--sample-per-label",
            "50",
            "--backend",
            "onnx-int8",
            "--out",
            str(tmp_path / "int8.parquet"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "int8 against fp32 on 200 of the texts: cosine min" in result.output
    assert "kNN accuracy (k=5)" in result.output
