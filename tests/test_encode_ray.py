"""`engine="ray"` on a small local Ray cluster: a Ray Data pipeline over model replicas whose
output equals the local engine's: exactly in fp32, within bfloat16's rounding in bf16 (its
replicas run on one thread each, whose kernels round differently)."""

from __future__ import annotations

import numpy as np
import pytest

import embscope
from embscope.text.encode import encode_texts
from embscope.text.precision import BF16_MIN_COSINE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_equals_the_local_engine(local_ray_cluster, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path / "cache"))
    dataset = embscope.read_texts(
        shared_data / "ag_news" / "test.csv",
        columns=["class", "title", "description"],
        text="description",
        label="class",
    ).sample_per_label(60, random_state=2)
    texts = dataset.texts
    local, _ = encode_texts(texts, cache=False, progress=False, backend="torch")
    distributed, report = encode_texts(texts, engine="ray", progress=False, backend="torch")
    assert report.engine == "ray" and report.encoded == len(texts) == 240
    np.testing.assert_allclose(distributed, local, atol=1e-5)
    # the Ray run filled the cache like a local one
    _, again = encode_texts(texts, progress=False, backend="torch")
    assert again.from_cache == 240 and again.encoded == 0


def test_ray_engine_from_encode_dataset(local_ray_cluster, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBSCOPE_CACHE", str(tmp_path / "cache"))
    source = shared_data / "sentiment_labelled_sentences" / "amazon_cells_labelled.txt"
    space = embscope.encode_dataset(
        source, sample_per_label=30, engine="ray", cache=False, progress=False
    )
    local = embscope.encode_dataset(source, sample_per_label=30, cache=False, progress=False)
    assert space.keys == local.keys and len(space) == 60
    # the default runtime, whichever this machine gets, ran on the replicas too
    runtime = local.provenance.options["model"]["runtime"]
    assert space.provenance.options["model"]["runtime"] == runtime
    if runtime == "torch-bf16":
        cosines = np.einsum("ij,ij->i", space.vectors, local.vectors) / (
            np.linalg.norm(space.vectors, axis=1) * np.linalg.norm(local.vectors, axis=1)
        )
        assert cosines.min() >= BF16_MIN_COSINE
    else:
        np.testing.assert_allclose(space.vectors, local.vectors, atol=1e-5)
