"""The sentence-transformers model that encodes texts: its spec (name, location, whether to
normalise: what an encoding cache is keyed by) and the loaded model, once per process.

Both the local engine (``text.encode``) and the Ray engine (``text.encode_ray``) build on this
module, so neither imports the other at load time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError, MissingDependencyError, SourceError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Which sentence-transformers model encodes, and how: what the cache key is made of."""

    name: str
    location: str
    normalize: bool | None = None  # None: as the model's own pipeline does
    # "torch" (sentence-transformers), "torch-bf16" (the same under CPU bfloat16 autocast),
    # "onnx" (ONNX Runtime, CPU) or "onnx-int8" (its int8 copy)
    runtime: str = "torch"

    @property
    def key(self) -> str:
        fields: dict[str, Any] = {
            "location": self.location,
            "normalize": self.normalize,
            "fingerprint": _fingerprint(self.location),
        }
        if self.runtime != "torch":  # torch's entries keep the keys they always had
            fields["runtime"] = self.runtime
        payload = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "normalize": self.normalize,
            "runtime": self.runtime,
        }


BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
# texts per forward pass, sentence-transformers' default too: on two CPU cores batches of 32 ran
# bf16 15% faster than 64 and ONNX Runtime no slower (AG News, MiniLM; issue 19)
DEFAULT_BATCH_SIZE = 32
ONNX_RUNTIMES = ("onnx", "onnx-int8")
# CPU features that run bfloat16 matrix products natively (Intel AMX, AVX-512 BF16): there
# bf16 autocast encodes 2.5x faster than fp32 with vectors within cosine 0.99996 of it (AG News,
# MiniLM; issue 19); elsewhere bf16 is emulated and slower, so auto never picks it
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# what an ONNX encoding of a hub model downloads: configs, tokenizer, weights, a shipped export
_HUB_FILES = ["*.json", "*.txt", "*.model", "*.safetensors", "onnx/model.onnx"]


def model_spec(
    model: str,
    *,
    normalize: bool | str = "auto",
    backend: str = "auto",
    device: str | None = None,
) -> ModelSpec:
    """``"minilm"`` (the bundled all-MiniLM-L6-v2), a local model directory, or a hub id;
    ``backend`` picks the runtime (``choose_runtime``)."""
    if normalize not in ("auto", True, False):
        raise InvalidParameterError(f"normalize must be 'auto', True or False; got {normalize!r}")
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameterError(
            f"model must be a model name, directory or hub id; got {model!r}"
        )
    hub_id = False
    if model == "minilm":
        from ..sources.bundled import minilm_path

        location = str(minilm_path())
    elif Path(model).expanduser().exists():
        location = str(Path(model).expanduser().resolve())
    else:
        location, hub_id = model, True  # sentence-transformers downloads it once
    if backend not in BACKENDS:
        raise InvalidParameterError(
            f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}"
        )
    runtime = None
    if hub_id and backend != "torch" and _onnx_possible(backend, device):
        folder = _hub_folder(model, insist=backend != "auto")
        runtime = choose_runtime(folder, backend, device) if folder else "torch"
        # torch keeps the hub id: sentence-transformers fetches what else its pipeline needs
        location = folder if folder and runtime != "torch" else model
    return ModelSpec(
        name=model,
        location=location,
        normalize=None if normalize == "auto" else bool(normalize),
        runtime=runtime or choose_runtime(location, backend, device),
    )


def choose_runtime(location: str, backend: str, device: str | None) -> str:
    """The runtime for ``backend``. "auto": torch on a GPU; on a CPU with native bfloat16
    (AMX, AVX-512 BF16) torch under bf16 autocast ("torch-bf16", checked against fp32 on each
    run's texts: ``text.precision``); else ONNX Runtime ("onnx") when it is installed and
    reproduces the model's pipeline exactly; else torch. It logs which and why. The other
    backends insist, with the reason when they cannot."""
    if backend not in BACKENDS:
        raise InvalidParameterError(
            f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}"
        )
    if backend == "torch":
        return "torch"
    if backend == "torch-bf16":
        if device not in (None, "cpu"):
            raise InvalidParameterError(
                f"backend='torch-bf16' is CPU autocast; got device={device!r} "
                "(use backend='torch' on a GPU)"
            )
        return backend
    if backend != "auto":
        if device not in (None, "cpu"):
            raise InvalidParameterError(
                f"backend={backend!r} runs on the CPU; got device={device!r} "
                "(use backend='torch' on a GPU)"
            )
        if not _onnxruntime_installed():
            raise MissingDependencyError(
                "onnxruntime", extra="onnx", purpose=f"backend={backend!r}"
            )
        reason = _onnx_unsupported(location)
        if reason:
            raise InvalidParameterError(
                f"backend={backend!r} cannot encode with {location!r}: {reason} "
                "(use backend='torch')"
            )
        return backend
    if _on_gpu(device):
        logger.info("encoding with torch on the GPU")
        return "torch"
    if bf16_cpu() and importlib.util.find_spec("sentence_transformers") is not None:
        logger.info("encoding with torch in bfloat16 on this CPU's native bf16 units")
        return "torch-bf16"
    if not _onnxruntime_installed():
        logger.info(
            "encoding with torch: onnxruntime is not installed (pip install 'embscope[onnx]')"
        )
        return "torch"
    reason = _onnx_unsupported(location)
    if reason:
        logger.info("encoding with torch: ONNX Runtime cannot reproduce this model (%s)", reason)
        return "torch"
    logger.info("encoding with ONNX Runtime on the CPU")
    return "onnx"


def fp32_cpu_runtime(location: str) -> str:
    """The full-precision CPU runtime for the model at ``location``: ONNX Runtime when it is
    installed and reproduces the model, else torch."""
    return "onnx" if _onnxruntime_installed() and not _onnx_unsupported(location) else "torch"


def bf16_cpu() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (Linux reports it in cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def _onnx_unsupported(location: str) -> str | None:
    folder = Path(location)
    if not folder.is_dir():
        return f"{location!r} is not a local folder"
    if not (folder / "modules.json").is_file():
        return "it is not a sentence-transformers folder (no modules.json)"
    from .onnx_runtime import unsupported_reason

    return unsupported_reason(folder)


def _onnx_possible(backend: str, device: str | None) -> bool:
    """Whether ``backend`` may run ONNX Runtime here (so a hub model is worth downloading)."""
    if backend in ONNX_RUNTIMES:
        return True
    return backend == "auto" and _onnxruntime_installed() and not _on_gpu(device) and not bf16_cpu()


def _hub_folder(repo_id: str, *, insist: bool) -> str | None:
    """The local snapshot of the hub model ``repo_id`` (downloaded once into the Hugging Face
    cache, as sentence-transformers would), or None when it cannot be had and ``insist`` is
    false (auto then leaves the model to sentence-transformers)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, allow_patterns=_HUB_FILES)
    except Exception as error:  # offline, unknown repository, gated model: all say why
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if insist:
            raise SourceError(
                f"cannot download the hub model {repo_id!r} ({detail}): check the id and the "
                "connection, or give the model's local folder"
            ) from None
        logger.info("leaving %s to sentence-transformers: %s", repo_id, detail)
        return None


def _onnxruntime_installed() -> bool:
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):  # a broken or blocked install is no install
        return False


def _on_gpu(device: str | None) -> bool:
    return device not in (None, "cpu") or (device is None and _cuda_available())


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _fingerprint(location: str) -> str:
    """Size and modification time of a local model's weights; the location for a hub id."""
    path = Path(location)
    if not path.is_dir():
        return location
    parts = []
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return ";".join(parts) or location


# models already loaded in this process, by (location, device)
_LOADED: dict[tuple[str, str | None], Any] = {}


class Encoder:
    """A sentence-transformers model, loaded on first use and once per process."""

    def __init__(self, spec: ModelSpec, *, device: str | None = None) -> None:
        self.spec = spec
        self.device = device

    @property
    def model(self) -> Any:
        """The loaded model: sentence-transformers', or the ONNX encoder for runtime "onnx"."""
        onnx = self.spec.runtime in ONNX_RUNTIMES
        key = (self.spec.location, self.spec.runtime if onnx else self.device)
        if key not in _LOADED:
            if onnx:
                from .onnx_runtime import OnnxSentenceEncoder

                folder = self.spec.location
                if not Path(folder).is_dir():  # a Ray worker on another machine than the driver
                    folder = _hub_folder(self.spec.name, insist=True) or folder
                _LOADED[key] = OnnxSentenceEncoder(
                    folder, quantized=self.spec.runtime == "onnx-int8"
                )
            else:
                _LOADED[key] = _load_model(self.spec.location, self.device)
        return _LOADED[key]

    @property
    def max_tokens(self) -> int | None:
        if self.spec.runtime in ONNX_RUNTIMES:
            return self.model.max_length
        length = getattr(self.model, "max_seq_length", None)
        return int(length) if length else None

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        fp32: bool = False,
    ) -> np.ndarray:
        """Vectors of ``texts`` in their order (float32), normalised as the spec says;
        ``fp32`` runs a "torch-bf16" model in full precision (what bf16 is checked against)."""
        if self.spec.runtime in ONNX_RUNTIMES:
            vectors = self.model.encode(list(texts), batch_size=batch_size)
            if self.spec.normalize and not self.model.normalize:
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.clip(norms, 1e-12, None)
            return vectors.astype(np.float32)
        bf16 = self.spec.runtime == "torch-bf16" and not fp32
        with _bf16_autocast(bf16):
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=bool(self.spec.normalize),
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        if bf16 and (self.spec.normalize or _has_normalize_module(self.model)):
            # normalised in bfloat16, lengths are off by up to 0.4%: unit length again in fp32
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.clip(norms, 1e-12, None)
        if self.spec.normalize is False and _has_normalize_module(self.model):
            logger.info("normalize=False, but the model's own pipeline normalises its output")
        return vectors

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def too_long(self, texts: Sequence[str]) -> int:
        """How many texts have more tokens than the model reads (they are truncated)."""
        if self.spec.runtime in ONNX_RUNTIMES:
            return self.model.too_long(list(texts))
        limit = self.max_tokens
        tokenizer = getattr(self.model, "tokenizer", None)
        if limit is None or tokenizer is None or not texts:
            return 0
        # a text shorter than the limit in characters cannot exceed it in tokens... almost:
        # special tokens count, so check every text longer than a quarter of the limit
        candidates = [t for t in texts if len(t) > limit // 4]
        if not candidates:
            return 0
        encoded = tokenizer(candidates, add_special_tokens=True, truncation=False, verbose=False)
        return sum(len(ids) > limit for ids in encoded["input_ids"])


def _load_model(location: str, device: str | None) -> Any:
    try:
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependencyError(
            "sentence-transformers", extra="encode", purpose="encoding texts"
        ) from None
    transformers.logging.disable_progress_bar()
    if device is not None:
        from .._io.devices import torch_device

        torch_device(device)  # a typo is one line here, not a traceback from inside the model
    try:
        return SentenceTransformer(location, device=device)
    except OSError as error:
        raise SourceError(
            f"cannot load the sentence-transformers model {location!r}: "
            + str(error).splitlines()[0]
        ) from None


def _bf16_autocast(enabled: bool) -> Any:
    import contextlib

    if not enabled:
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def _has_normalize_module(model: Any) -> bool:
    return any(type(module).__name__ == "Normalize" for module in model._modules.values())
