"""Texts → sentence embeddings with a sentence-transformers model, cached per (model, text).

``encode_dataset`` reads a labelled dataset (``embscope.text.datasets``), encodes its texts and
returns a document space: one row per text, the dataset's columns as metadata, and the model
attached so that ``space.search("free text")`` encodes the query the same way.

The encoding cache lives under ``<cache root>/encodings/<model key>/`` as shards, each holding
the hashes of the texts it encoded and their vectors, written atomically after every chunk of
texts. Re-running after adding rows encodes only the new ones; an interrupted run keeps every
chunk it finished and resumes there. A shard is named by a digest of the model and its texts:
two runs at once encoding the same texts replace one shard instead of writing two, and a
shard that cannot be read is deleted and its texts encoded again (``embscope._io.cache``).

Texts are encoded longest first in chunks, so a batch holds texts of similar length and
padding costs little; the model runs on the GPU when there is one (``device=None``). On a CPU,
``backend="auto"`` runs it in bfloat16 where the CPU has native bf16 (checked against fp32 on a
sample of each run: ``text.precision``), else on ONNX Runtime (``text.onnx_runtime``).
``engine="ray"`` runs the same encoding as a Ray Data pipeline (``embscope.text.encode_ray``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from .._io.atomic import atomic_path
from .._io.cache import BrokenEntry, cache_root, check_array, open_arrays, read_entry
from .._io.progress import progress_bar, quiet_tqdm_notice
from ..errors import InvalidParameterError
from .model import DEFAULT_BATCH_SIZE, Encoder, ModelSpec, fp32_cpu_runtime, model_spec
from .precision import BF16_MIN_COSINE, BF16_SAMPLE, PrecisionCheck, compare, quality_sample

if TYPE_CHECKING:
    from ..space import EmbeddingSpace
    from .datasets import TextDataset

logger = logging.getLogger(__name__)

VALID_ENGINES = ("local", "ray")
RUNTIME_NAMES = {
    "torch": "torch",
    "torch-bf16": "torch bfloat16",
    "onnx": "ONNX Runtime",
    "onnx-int8": "ONNX Runtime int8",
}
# texts encoded between two cache shards: what an interruption can cost at most
CHUNK_TEXTS = 2048
# labels of a document space show this many characters of the text
LABEL_CHARACTERS = 80
# the bf16 check's batches: its sample is drawn at random, so lengths vary widely
_CHECK_BATCH_SIZE = 8
_HASH_BYTES = 16


# ---- the cache ----------------------------------------------------------------------------
def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """A fixed-width digest per text: the cache's key (the model is the folder)."""
    return np.asarray(
        [
            hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=_HASH_BYTES).digest()
            for t in texts
        ],
        dtype=f"S{_HASH_BYTES}",
    )


class EncodingCache:
    """Shards of (text hash, vector) for one model; see the module docstring."""

    def __init__(self, spec: ModelSpec) -> None:
        self.key = spec.key
        self.folder = cache_root() / "encodings" / self.key

    def lookup(
        self, hashes: np.ndarray, dim: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(found, vectors): which hashes are cached, and a matrix with their vectors filled in."""
        found = np.zeros(len(hashes), dtype=bool)
        vectors: np.ndarray | None = None
        if not self.folder.is_dir() or not len(hashes):
            return found, vectors
        position = {h: i for i, h in enumerate(hashes.tolist())}

        def read(shard: Path) -> tuple[np.ndarray, np.ndarray] | None:
            with open_arrays(shard) as stored:
                shard_hashes = check_array(stored["hashes"], "hashes", kind="S", ndim=1)
                if shard_hashes.dtype != hashes.dtype:
                    raise BrokenEntry(f"hashes are {shard_hashes.dtype}, not {hashes.dtype}")
                wanted = [
                    (position[h], j)
                    for j, h in enumerate(shard_hashes.tolist())
                    if h in position and not found[position[h]]
                ]
                if not wanted:
                    return None
                shard_vectors = check_array(stored["vectors"], "vectors", kind="f", ndim=2)
            if len(shard_vectors) != len(shard_hashes) or not np.isfinite(shard_vectors).all():
                raise BrokenEntry(
                    f"{len(shard_vectors)} vectors for {len(shard_hashes)} hashes, or not finite"
                )
            targets, sources = (np.asarray(x) for x in zip(*wanted, strict=True))
            return targets, shard_vectors[sources]

        for shard in sorted(self.folder.glob("*.npz")):
            read_back = read_entry(shard, read, what="the encoding cache shard")
            if read_back is None:
                continue
            targets, shard_vectors = read_back
            if vectors is None:
                vectors = np.zeros((len(hashes), shard_vectors.shape[1]), dtype=np.float32)
            if shard_vectors.shape[1] != vectors.shape[1]:
                logger.warning("ignoring a cache shard of another dimension: %s", shard)
                continue
            vectors[targets] = shard_vectors
            found[targets] = True
        return found, vectors

    def add(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        """One shard, written atomically; its name is a digest of the model and the texts, so
        two processes encoding the same texts replace one file instead of writing two."""
        digest = hashlib.blake2b(self.key.encode(), digest_size=16)
        digest.update(np.ascontiguousarray(hashes).tobytes())
        try:
            with (
                atomic_path(self.folder / f"{digest.hexdigest()}.npz") as temporary,
                temporary.open("wb") as handle,
            ):
                np.savez(handle, hashes=hashes, vectors=np.asarray(vectors, np.float32))
        except OSError as error:  # a full or read-only cache must not lose the encodings
            logger.warning("could not cache encodings in %s: %s", self.folder, error)


# ---- encoding -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodingReport:
    """What an encoding run did: texts encoded now and found in the cache, truncated texts,
    seconds, and throughput of the texts encoded now."""

    texts: int
    encoded: int
    from_cache: int
    truncated: int
    seconds: float
    engine: str
    model: str
    max_tokens: int | None = None
    device: str | None = field(default=None)
    runtime: str = "torch"  # which ran the model: a key of RUNTIME_NAMES
    # int8 and bf16: what reduced precision cost against fp32 on a sample of these texts
    precision_check: PrecisionCheck | None = None

    @property
    def texts_per_second(self) -> float:
        return self.encoded / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        parts = [f"{self.texts:,} texts: {self.encoded:,} encoded"]
        if self.encoded:
            parts[-1] += f" in {self.seconds:.1f} s ({self.texts_per_second:,.0f} texts/s"
            parts[-1] += f", {RUNTIME_NAMES.get(self.runtime, self.runtime)})"
        parts.append(f"{self.from_cache:,} from the cache")
        if not self.encoded:  # say whose vectors the cache gave
            parts[-1] += f" ({RUNTIME_NAMES.get(self.runtime, self.runtime)}'s)"
        if self.truncated:
            parts.append(
                f"{self.truncated:,} longer than the model's {self.max_tokens} tokens "
                "were truncated"
            )
        if self.precision_check is not None:
            parts.append(str(self.precision_check))
        return "; ".join(parts)

    def _repr_html_(self) -> str:
        from ..notebook_html import escape

        return (
            f"<div>Encoding with {escape(self.model)} ({escape(self.engine)}): {escape(self)}</div>"
        )


def encode_texts(
    texts: Sequence[str],
    model: str = "minilm",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    normalize: bool | str = "auto",
    engine: str = "local",
    cache: bool = True,
    progress: bool = True,
    ray_address: str | None = None,
    backend: str = "auto",
    labels: Sequence[object] | None = None,
) -> tuple[np.ndarray, EncodingReport]:
    """Vectors of ``texts`` (float32, in order) and a report of the run.

    ``backend``: "auto" (torch on a GPU; on a CPU, bfloat16 where the CPU has native bf16 and
    the vectors of a sample of the texts stay within cosine 0.9999 of fp32, else ONNX Runtime
    when it is installed and reproduces the model, else torch), "torch", "torch-bf16",
    "onnx", or "onnx-int8" (faster, less exact: the report measures its cosine to fp32 on a
    sample of the texts, and with ``labels``, one per text, None for unlabelled, the kNN
    accuracy it costs; a warning prints it). The report's ``runtime`` says which ran and its
    ``precision_check`` what bf16 or int8 cost; the cache keeps each runtime's vectors apart."""
    batch_size = positive_int(batch_size, "batch_size")
    if engine not in VALID_ENGINES:
        raise InvalidParameterError(
            f"engine must be one of {', '.join(VALID_ENGINES)}; got {engine!r}"
        )
    texts = [str(t) for t in texts]
    if labels is not None and len(labels) != len(texts):
        raise InvalidParameterError(
            f"labels must give one label per text: {len(labels):,} for {len(texts):,} texts"
        )
    quiet_tqdm_notice()  # sentence-transformers imports tqdm's notebook chooser
    spec = model_spec(model, normalize=normalize, backend=backend, device=device)
    encoder = Encoder(spec, device=device)
    logger.info("encoding with %s", RUNTIME_NAMES[spec.runtime])
    started = time.perf_counter()
    hashes = text_hashes(texts)
    store = EncodingCache(spec) if cache else None
    found, vectors = (
        store.lookup(hashes) if store is not None else (np.zeros(len(texts), bool), None)
    )
    # the same text twice is encoded once
    _, first_rows = np.unique(hashes[~found], return_index=True)
    missing_rows = np.flatnonzero(~found)[first_rows]
    order = sorted(missing_rows.tolist(), key=lambda r: -len(texts[r]))
    truncated = 0
    checked = None
    if order:
        missing_texts = [texts[r] for r in order]
        if spec.runtime == "torch-bf16":
            checked = bf16_check(encoder, missing_texts, batch_size=batch_size)
            if checked.cosine_min < BF16_MIN_COSINE:
                fallback = fp32_cpu_runtime(spec.location)
                logger.warning(
                    "%s, below %s: encoding in fp32 with %s instead",
                    checked,
                    BF16_MIN_COSINE,
                    RUNTIME_NAMES[fallback],
                )
                return encode_texts(
                    texts,
                    model,
                    batch_size=batch_size,
                    device=device,
                    normalize=normalize,
                    engine=engine,
                    cache=cache,
                    progress=progress,
                    ray_address=ray_address,
                    backend=fallback,
                    labels=labels,
                )
        truncated = encoder.too_long(missing_texts)
        if engine == "ray":
            from .encode_ray import encode_with_ray

            new_vectors = encode_with_ray(
                missing_texts,
                spec,
                batch_size=batch_size,
                device=device,
                address=ray_address,
                progress=progress,
            )
            if store is not None:
                store.add(text_hashes(missing_texts), new_vectors)
        else:
            new_vectors = _encode_in_chunks(encoder, missing_texts, batch_size, store, progress)
        if vectors is None:
            vectors = np.zeros((len(texts), new_vectors.shape[1]), dtype=np.float32)
        vectors[np.asarray(order)] = new_vectors
    if vectors is None:
        vectors = np.zeros((0, 0), dtype=np.float32)
    duplicates = ~found
    duplicates[np.asarray(order, dtype=np.int64)] = False
    if duplicates.any():  # repeated texts take their first occurrence's vector
        first_of = {
            h: r
            for r, h in zip(order, hashes[np.asarray(order, dtype=np.int64)].tolist(), strict=True)
        }
        for row in np.flatnonzero(duplicates):
            vectors[row] = vectors[first_of[hashes[row]]]
    seconds = time.perf_counter() - started
    report = EncodingReport(
        texts=len(texts),
        encoded=len(order),
        from_cache=int(found.sum()),
        truncated=truncated,
        seconds=seconds,
        engine=engine,
        model=spec.name,
        max_tokens=encoder.max_tokens if order else None,
        device=device,
        runtime=spec.runtime,
        precision_check=checked,
    )
    if spec.runtime == "onnx-int8" and texts:
        quality = int8_quality(
            texts, vectors, spec, labels=labels, batch_size=batch_size, cache=cache
        )
        report = replace(report, precision_check=quality)
        logger.warning("%s", report.precision_check)
    logger.info("%s", report)
    return vectors, report


def bf16_check(
    encoder: Encoder, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> PrecisionCheck:
    """A "torch-bf16" encoder's vectors of a seeded sample of ``texts`` against its fp32 ones."""
    sample = [texts[r] for r in quality_sample(len(texts), size=BF16_SAMPLE)]
    # a random sample in one batch is padded to its longest text, which cost 4 s of a 9 s run
    # on two cores; small batches of similar length (sentence-transformers sorts) cost 0.5 s
    batch_size = min(batch_size, _CHECK_BATCH_SIZE)
    reduced = encoder.encode(sample, batch_size=batch_size)
    return compare(
        reduced, encoder.encode(sample, batch_size=batch_size, fp32=True), precision="bf16"
    )


def int8_quality(
    texts: Sequence[str],
    vectors: np.ndarray,
    spec: ModelSpec,
    *,
    labels: Sequence[object] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: bool = True,
) -> PrecisionCheck:
    """int8 ``vectors`` of ``texts`` against fp32 ONNX vectors of a sample of them (cached
    like any encoding), and kNN accuracy of both when ``labels`` (one per text) are given."""
    rows = quality_sample(len(texts))
    reference_spec = replace(spec, runtime="onnx")  # fp32 ONNX: torch's vectors within 1e-5
    store = EncodingCache(reference_spec) if cache else None
    sampled = [texts[r] for r in rows]
    hashes = text_hashes(sampled)
    found, reference = (
        store.lookup(hashes) if store is not None else (np.zeros(len(rows), bool), None)
    )
    if not found.all():
        missing = np.flatnonzero(~found)
        encoded = Encoder(reference_spec).encode(
            [sampled[r] for r in missing], batch_size=batch_size
        )
        if store is not None:
            store.add(hashes[missing], encoded)
        if reference is None:
            reference = np.zeros((len(rows), encoded.shape[1]), dtype=np.float32)
        reference[missing] = encoded
    if labels is None:
        return compare(vectors[rows], reference)
    labelled = [i for i, r in enumerate(rows) if not _missing(labels[r])]
    cosines_only = compare(vectors[rows], reference)
    voted = compare(
        vectors[rows[labelled]], reference[labelled], [labels[rows[i]] for i in labelled]
    )
    return replace(
        voted,
        sampled=cosines_only.sampled,
        cosine_min=cosines_only.cosine_min,
        cosine_mean=cosines_only.cosine_mean,
    )


def _missing(label: object) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_scalar(label) and pd.isna(label))


def _encode_in_chunks(
    encoder: Encoder,
    texts: list[str],
    batch_size: int,
    store: EncodingCache | None,
    progress: bool,
) -> np.ndarray:
    chunks = []
    with progress_bar(len(texts), f"encoding {len(texts):,} texts", enabled=progress) as advance:
        for start in range(0, len(texts), CHUNK_TEXTS):
            chunk = texts[start : start + CHUNK_TEXTS]
            vectors = encoder.encode(chunk, batch_size=batch_size)
            if store is not None:
                store.add(text_hashes(chunk), vectors)
            chunks.append(vectors)
            advance(len(chunk))
    return np.concatenate(chunks)


def encode_dataset(source: str | Path | TextDataset, **options: Any) -> EmbeddingSpace:
    """A document space from a labelled text dataset: one row per (non-empty) text.

    Keys are the texts' row numbers in the source (``"0"``, ``"1"``, …), labels the first
    characters of each text, metadata every column of the dataset; ``search("any text")``
    encodes the query with the same model. Options: ``text``, ``label``, ``columns``,
    ``label_names``, ``format`` (see ``embscope.read_texts``), ``model`` (default
    ``"minilm"``), ``sample_per_label`` (at most N rows per label, seeded by
    ``random_state``), ``batch_size``, ``device``, ``normalize``, ``engine`` (``"local"`` or
    ``"ray"``), ``backend`` (what runs the model: see ``encode_texts``),
    ``ray_address``, ``cache``, ``progress``; with ``"onnx-int8"`` the report also gives the
    kNN accuracy the quantisation costs on a sample of the labelled texts.
    """
    return encode_dataset_reported(source, **options)[0]


def encode_dataset_reported(
    source: str | Path | TextDataset,
    *,
    text: str | int | None = None,
    label: str | int | None = None,
    model: str = "minilm",
    columns: Sequence[str] | None = None,
    label_names: Any = None,
    format: str = "auto",
    sample_per_label: int | None = None,
    random_state: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    normalize: bool | str = "auto",
    engine: str = "local",
    cache: bool = True,
    progress: bool = True,
    ray_address: str | None = None,
    backend: str = "auto",
) -> tuple[EmbeddingSpace, EncodingReport]:
    """``encode_dataset``, and the report of what the run encoded and how fast."""
    from ..sources.vocabulary import file_fingerprint
    from ..space import EmbeddingSpace, Provenance
    from .datasets import ROW_COLUMN, TextDataset, read_texts

    if isinstance(source, TextDataset):
        dataset = source
    else:
        dataset = read_texts(
            source, text=text, label=label, columns=columns, label_names=label_names, format=format
        )
    if sample_per_label is not None:
        dataset = dataset.sample_per_label(sample_per_label, random_state=random_state)
    if not len(dataset):
        raise InvalidParameterError(f"{dataset.source} holds no non-empty texts to encode")
    if dataset.empty_dropped:
        logger.warning("%s: %d empty texts were skipped", dataset.source, dataset.empty_dropped)
    texts = dataset.texts
    vectors, report = encode_texts(
        texts,
        model,
        batch_size=batch_size,
        device=device,
        normalize=normalize,
        engine=engine,
        cache=cache,
        progress=progress,
        ray_address=ray_address,
        backend=backend,
        labels=None if dataset.label is None else dataset.frame[dataset.label].tolist(),
    )
    if report.truncated:
        logger.warning(
            "%d %s longer than the model's %s tokens and %s truncated",
            report.truncated,
            "text was" if report.truncated == 1 else "texts were",
            report.max_tokens,
            "was" if report.truncated == 1 else "were",
        )
    frame = dataset.frame
    # the runtime that ran (bf16 may have given way to fp32), for provenance and queries
    spec = model_spec(model, normalize=normalize, backend=report.runtime, device=device)
    row_column = ROW_COLUMN if ROW_COLUMN in frame else "source_row"
    keys = [str(r) for r in frame[row_column].tolist()]
    labels = [_short(t) for t in texts]
    source_path = Path(dataset.source)
    options = {
        "model": spec.to_dict(),
        "text_column": dataset.text,
        "label_column": dataset.label,
        "sample_per_label": sample_per_label,
        "random_state": random_state if sample_per_label is not None else None,
        "empty_dropped": dataset.empty_dropped,
    }
    fingerprint = file_fingerprint(source_path) if source_path.is_file() else dataset.source
    space = EmbeddingSpace(
        vectors,
        keys,
        labels=labels,
        # every column but the row number, which is the key
        metadata={str(c): frame[c].to_numpy() for c in frame.columns if c != row_column},
        metric="cosine",
        provenance=Provenance(
            source=dataset.source,
            kind="documents",
            options=options,
            fingerprint=f"{fingerprint}:{spec.key}",
        ),
        name=source_path.name,
        encode=Encoder(spec, device=device).encode_one,
    )
    return space, report


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_CHARACTERS else flat[: LABEL_CHARACTERS - 1] + "…"
