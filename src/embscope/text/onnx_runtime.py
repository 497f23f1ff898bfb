"""Sentence embeddings with ONNX Runtime on CPU: the model's transformer exported once to ONNX
(or the ``onnx/model.onnx`` its repository ships), tokenized with ``tokenizers`` and pooled in
numpy exactly as the model's sentence-transformers configuration says (mean / CLS / max of the
token vectors, normalised when the pipeline has a Normalize module).

Issue 19 measured, on two cores, 3.9x the texts per second of sentence-transformers' torch
encoder with every vector within cosine 1e-5 of it. Encoding needs only ``onnxruntime`` and
``tokenizers``; exporting needs torch and transformers once, and the export is cached under the
cache folder, keyed by the model's weights and the exporting versions, written atomically.

``encode_texts(backend="auto")`` uses it on a CPU when onnxruntime is installed and the
model's pipeline is one it reproduces exactly (``unsupported_reason``: a transformer, then
mean / CLS / max pooling, then optionally Normalize); any other pipeline stays on torch.
``backend="onnx-int8"`` runs a dynamically quantised copy (``quantized_model``), faster and
less exact: ``text.precision`` measures what it costs on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._io.atomic import atomic_path
from .._io.cache import cache_root
from ..errors import MissingDependencyError, SourceError

logger = logging.getLogger(__name__)

ONNX_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# the sentence-transformers modules this encoder reproduces; a Dense layer, a second pooling or
# anything custom after the transformer would be skipped silently, so such models stay on torch
_REPRODUCED_MODULES = {"Transformer", "Pooling", "Normalize"}
_POOLING_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
}
_OTHER_POOLING_MODES = (
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


def unsupported_reason(model_dir: str | Path) -> str | None:
    """Why the ONNX encoder cannot reproduce the sentence-transformers model in ``model_dir``,
    or None when it can (weights or a shipped ONNX file, tokenizer.json, and a pipeline of
    transformer → one of mean / CLS / max pooling → optionally Normalize)."""
    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        return "it has no tokenizer.json"
    has_weights = any(model_dir.glob("*.safetensors")) or (model_dir / "onnx/model.onnx").is_file()
    if not has_weights:
        return "it has neither safetensors weights nor onnx/model.onnx"
    try:
        _pipeline_config(model_dir)
    except SourceError as error:
        return str(error).split(": ", 1)[-1]
    return None


def quantized_model(model_dir: str | Path) -> Path:
    """An int8 copy of the model's ONNX file (onnxruntime's dynamic quantisation of the
    weights), cached beside the export and keyed by it and onnxruntime's version."""
    import onnxruntime

    source = exported_model(model_dir)
    stat = source.stat()
    identity = f"{source.resolve()}:{stat.st_size}:{int(stat.st_mtime)}:{onnxruntime.__version__}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = cache_root() / "onnx" / f"{Path(model_dir).name}-int8-{digest}.onnx"
    if not target.is_file():
        logger.info("quantising %s to int8 (once; cached at %s)", source.name, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary, warnings.catch_warnings(), _root_logger_kept():
            warnings.simplefilter("ignore")
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per channel: one scale per output column keeps MiniLM's minimum cosine to fp32 at
            # 0.98 on AG News, where one scale per tensor fell to 0.89 (issue 19)
            quantize_dynamic(
                str(source), str(temporary), weight_type=QuantType.QInt8, per_channel=True
            )
    return target


@contextmanager
def _root_logger_kept():
    """onnxruntime's quantisation logs through the root logger (``logging.warning``, which
    installs a stderr handler when the root has none) and one of its modules calls
    ``logging.basicConfig`` at INFO: either would make every library's log lines print from
    then on. The root logger is put back as it was, and its advice ("consider pre-processing")
    is not shown."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def exported_model(model_dir: str | Path) -> Path:
    """The ONNX file of the sentence-transformers model in ``model_dir``: the repository's own
    ``onnx/model.onnx`` when it ships one, else an export cached under the cache folder."""
    model_dir = Path(model_dir)
    shipped = model_dir / "onnx" / "model.onnx"
    if shipped.is_file():
        return shipped
    target = cache_root() / "onnx" / f"{_export_key(model_dir)}.onnx"
    if not target.is_file():
        logger.info("exporting %s to ONNX (once; cached at %s)", model_dir.name, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            _export(model_dir, temporary)
    return target


class OnnxSentenceEncoder:
    """Encodes texts as the sentence-transformers model in ``model_dir`` does, with ONNX
    Runtime on CPU; ``quantized`` runs the int8 copy; ``threads`` sets its intra-op threads
    (default: its own choice)."""

    def __init__(
        self, model_dir: str | Path, *, quantized: bool = False, threads: int | None = None
    ) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise MissingDependencyError(
                error.name or "onnxruntime", extra="onnx", purpose="the ONNX encoder"
            ) from None
        self.model_dir = Path(model_dir)
        config = _pipeline_config(self.model_dir)
        self.pooling, self.normalize = config["pooling"], config["normalize"]
        self.max_length, self.lowercase = config["max_length"], config["lowercase"]
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        model_file = quantized_model(self.model_dir) if quantized else exported_model(model_dir)
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_length)
        self._tokenizer.no_padding()

    def too_long(self, texts: list[str]) -> int:
        """How many texts have more tokens than the model reads (they are truncated)."""
        counting = self._tokenizer.__class__.from_str(self._tokenizer.to_str())
        counting.no_truncation()
        encodings = counting.encode_batch(self._as_read(texts))
        return sum(len(e.ids) > self.max_length for e in encodings)

    def _as_read(self, texts: list[str]) -> list[str]:
        # sentence-transformers lowercases before tokenizing when its config says do_lower_case
        return [t.lower() for t in texts] if self.lowercase else list(texts)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """One float32 row per text, in the order given. Texts go in batches of similar length
        (sorted by token count), so little of each batch is padding."""
        encodings = self._tokenizer.encode_batch(self._as_read(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        rows = np.empty((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            pooled = self._run([encodings[i] for i in chosen])
            if rows.shape[1] == 0:
                rows = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            rows[chosen] = pooled
        return rows

    def _run(self, batch: list) -> np.ndarray:
        width = max(len(e.ids) for e in batch)
        arrays = {name: np.zeros((len(batch), width), dtype=np.int64) for name in _INPUTS}
        for i, encoding in enumerate(batch):
            n = len(encoding.ids)
            arrays["input_ids"][i, :n] = encoding.ids
            arrays["attention_mask"][i, :n] = encoding.attention_mask
            arrays["token_type_ids"][i, :n] = encoding.type_ids
        feed = {name: arrays[name] for name in self._inputs}
        tokens = self._session.run(None, feed)[0].astype(np.float32)
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        elif self.pooling == "max":
            pooled = np.where(mask > 0, tokens, -np.inf).max(axis=1)
        else:
            pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.clip(norms, 1e-12, None)
        return pooled.astype(np.float32)


def _pipeline_config(model_dir: Path) -> dict:
    """Pooling, normalisation and the longest input, from the model's sentence-transformers
    files (modules.json, the pooling module's config.json, sentence_bert_config.json)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
    except (OSError, ValueError) as error:
        raise SourceError(
            f"{model_dir}: not a sentence-transformers model (modules.json: {error})"
        ) from None
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise SourceError(f"{model_dir}: modules.json is not a list of modules")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    others = [kind for kind in kinds if kind not in _REPRODUCED_MODULES]
    if others or kinds[:1] != ["Transformer"] or kinds.count("Pooling") != 1:
        raise SourceError(
            f"{model_dir}: its pipeline ({' → '.join(kinds)}) is not a transformer with one "
            "mean, CLS or max pooling and an optional Normalize"
        )
    pooling_path = modules[kinds.index("Pooling")].get("path", "")
    config = _json_file(model_dir / str(pooling_path) / "config.json", model_dir)
    modes = [mode for key, mode in _POOLING_MODES.items() if config.get(key)]
    other_modes = [key for key in _OTHER_POOLING_MODES if config.get(key)]
    if len(modes) != 1 or other_modes:
        chosen = [key for key in (*_POOLING_MODES, *_OTHER_POOLING_MODES) if config.get(key)]
        raise SourceError(
            f"{model_dir}: its pooling ({', '.join(chosen) or 'none'}) is not exactly one of "
            "mean, CLS or max"
        )
    settings_file = model_dir / "sentence_bert_config.json"
    settings = _json_file(settings_file, model_dir) if settings_file.is_file() else {}
    return {
        "pooling": modes[0],
        "normalize": "Normalize" in kinds,
        "max_length": int(settings.get("max_seq_length") or _longest_input(model_dir)),
        "lowercase": bool(settings.get("do_lower_case", False)),
    }


def _longest_input(model_dir: Path) -> int:
    """What sentence-transformers reads without a max_seq_length: the tokenizer's limit,
    bounded by the model's position embeddings."""
    limits = []
    for name, field in (
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        path = model_dir / name
        value = _json_file(path, model_dir).get(field) if path.is_file() else None
        if isinstance(value, int | float) and 0 < value < 1_000_000:
            limits.append(int(value))
    return min(limits, default=512)


def _json_file(path: Path, model_dir: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SourceError(f"{model_dir}: cannot read {path.name} ({error})") from None
    if not isinstance(value, dict):
        raise SourceError(f"{model_dir}: {path.name} is not a JSON object")
    return value


def _export_key(model_dir: Path) -> str:
    import torch

    parts = [f"torch {torch.__version__}", f"opset {ONNX_OPSET}", "eager attention"]
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{int(stat.st_mtime)}")
    digest = hashlib.sha256("\n".join([str(model_dir.resolve()), *parts]).encode())
    return f"{model_dir.name}-{digest.hexdigest()[:16]}"


def _export(model_dir: Path, target: Path) -> None:
    import inspect

    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.disable_progress_bar()  # a weights bar would say nothing here
    # eager attention exports as plain matrix products, which ONNX Runtime runs 10% faster on
    # CPU than the exported scaled-dot-product path (MiniLM, AG News)
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    # DistilBERT, MPNet, RoBERTa-likes take no token types: export only what forward reads
    accepted = inspect.signature(model.forward).parameters
    names = [name for name in _INPUTS if name in accepted]

    class LastHiddenState(torch.nn.Module):
        # the transformer's keyword-only forward as positional inputs the exporter can trace
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    samples = tuple(torch.zeros_like(sample) if n == "token_type_ids" else sample for n in names)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*names, "last_hidden_state")}
    # the TorchScript exporter: torch's newer one needs onnxscript, another package to install;
    # its deprecation and tracer notes say nothing to a user encoding texts
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(model),
            samples,
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


__all__ = [
    "ONNX_OPSET",
    "OnnxSentenceEncoder",
    "exported_model",
    "quantized_model",
    "unsupported_reason",
]
