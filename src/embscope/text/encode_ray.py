"""The encoding of ``embscope.text.encode`` as a Ray Data pipeline, for corpora beyond one machine.

Texts become a Ray dataset; ``map_batches`` runs them through model replicas (actors, one
model each, on a GPU each when the cluster has GPUs); the vectors are written as Parquet
shards (``shards=`` a folder every node can reach: local disk for a one-machine cluster, S3 or
a shared file system for a real one) and read back in the texts' order. Ray is an existing
distributed engine; embscope adds only the replica and the bookkeeping.

Without ``address`` a local Ray cluster is started (``ray.init()``); ``address="auto"`` or
``"ray://host:10001"`` joins a running one.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError
from .model import Encoder, ModelSpec

logger = logging.getLogger(__name__)

# texts handed to one replica call: large enough to keep the model busy between calls
TEXTS_PER_CALL = 1024


class EncoderReplica:
    """One model on one worker: encodes the ``text`` column of a batch into ``vector``."""

    def __init__(self, spec: dict[str, Any], device: str | None, batch_size: int) -> None:
        self.encoder = Encoder(ModelSpec(**spec), device=device)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = self.encoder.encode(batch["text"].tolist(), batch_size=self.batch_size)
        return {"position": batch["position"], "vector": vectors}


def encode_with_ray(
    texts: list[str],
    spec: ModelSpec,
    *,
    batch_size: int,
    device: str | None = None,
    address: str | None = None,
    replicas: int | None = None,
    shards: str | Path | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Vectors of ``texts`` in order, computed on a Ray cluster (see the module docstring)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", extra="ray", purpose="--engine ray") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    # Ray Data narrates every execution at INFO; keep the user's terminal to warnings
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if replicas is None:
        # one replica per GPU; on CPUs, one per two cores (torch uses several threads each)
        replicas = gpus or max(1, int(resources.get("CPU", 1)) // 2)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    dataset = ray.data.from_items(
        [{"position": i, "text": text} for i, text in enumerate(texts)],
        override_num_blocks=max(1, min(len(texts) // TEXTS_PER_CALL + 1, replicas * 4)),
    )
    encoded = dataset.map_batches(
        EncoderReplica,
        fn_constructor_kwargs={"spec": spec.to_dict(), "device": device, "batch_size": batch_size},
        batch_size=TEXTS_PER_CALL,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=replicas),
        num_gpus=1 if gpus else 0,
    )
    with tempfile.TemporaryDirectory(prefix="embscope-ray-") as scratch:
        folder = str(shards) if shards is not None else scratch
        encoded.write_parquet(folder)
        return _read_shards(ray, folder, len(texts))


def _read_shards(ray: Any, folder: str, count: int) -> np.ndarray:
    """The vectors of the shards in ``folder``, put back in the texts' order."""
    vectors: np.ndarray | None = None
    seen = 0
    for batch in ray.data.read_parquet(folder).iter_batches(
        batch_size=TEXTS_PER_CALL * 4, batch_format="numpy"
    ):
        matrix = np.asarray(batch["vector"], dtype=np.float32)
        if vectors is None:
            vectors = np.empty((count, matrix.shape[1]), dtype=np.float32)
        vectors[batch["position"]] = matrix
        seen += len(matrix)
    if vectors is None or seen != count:
        raise RuntimeError(f"the Ray pipeline returned {seen} vectors for {count} texts")
    return vectors
