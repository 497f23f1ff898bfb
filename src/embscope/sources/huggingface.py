"""Hugging Face checkpoints: the token-embedding matrix (and an untied output head) read straight
from the weight files, without building the model.

A checkpoint is a local directory, one ``.safetensors`` file inside one, or a hub id
(``org/name``), for which only the config, the tokenizer files, the safetensors index and the
shard(s) holding the embedding are downloaded. ``*.safetensors`` files are memory-mapped: the
header is parsed here and ``np.memmap`` opens the tensor in place, so F32, F16 and BF16 matrices
are never copied (BF16, which numpy lacks, stays mapped as its 16-bit patterns and is read as
float32 a block at a time: ``embscope.search.kernels.BFloat16Rows``).
``pytorch_model.bin`` needs torch and is read with ``torch.load(weights_only=True, mmap=True)``.

The tensor is found by shape: a 2-D float tensor of ``vocab_size`` rows and ``hidden_size``
columns (under the names various configs use), preferring module names that look like an input
embedding over ones that look like an output head. Whether the head is tied is detected from
the files (a separate head tensor, compared on sampled rows) and config.json, never assumed; an
encoder without a language-model head (``BertModel``, a sentence-transformers checkpoint) has no
output matrix at all, and says so (``tied`` is None).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import os
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .._io.json_input import parse_json
from ..errors import InvalidParameterError, MalformedFileError, MissingDependencyError, SourceError
from ..search.kernels import BFloat16Rows, bfloat16_to_float32
from ..space import EmbeddingSpace, Provenance
from .hf_tokenizer import TokenizerVocabulary, read_tokenizer, token_table

logger = logging.getLogger(__name__)

#: Values of ``matrix=``: the input embedding, or the output (unembedding) matrix.
MATRICES = ("input", "output")

_SAFETENSORS_INDEX = "model.safetensors.index.json"
_TORCH_INDEX = "pytorch_model.bin.index.json"
# Small files fetched first from the hub: they say which (large) weight files are needed.
_HUB_SMALL_FILES = (
    "config.json", "params.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "*.tiktoken",
    _SAFETENSORS_INDEX, _TORCH_INDEX,
)  # fmt: skip
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")

# Config keys that hold the vocabulary size and the embedding width, across architectures;
# multimodal and encoder-decoder configs keep the text model's in a nested config.
_VOCAB_KEYS = ("vocab_size", "n_vocab", "padded_vocab_size")
_WIDTH_KEYS = (
    "hidden_size", "d_model", "n_embd", "dim", "embedding_size", "word_embed_proj_dim", "embed_dim",
)  # fmt: skip
_NESTED_CONFIGS = ("text_config", "llm_config", "language_config", "decoder")
# Module names (the part before ".weight"), most telling first.
_INPUT_MODULES = (
    "word_embeddings", "embed_tokens", "wte", "tok_embeddings", "shared", "embed_in",
    "token_embedding", "word_embedding", "embeddings", "embedding",
)  # fmt: skip
_OUTPUT_MODULES = ("lm_head", "embed_out", "output", "output_layer", "proj_out", "decoder")

DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
    "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
# How numpy reads each float dtype as stored; BF16 as its raw 16 bits.
STORAGE_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
_CONVERSION_BLOCK_BYTES = 1 << 24
_TIE_SAMPLE_ROWS = 64


@dataclass(frozen=True)
class WeightTensor:
    """One tensor of a weight file, not read yet. ``stored()`` gives its values as stored
    (BF16 as uint16 bits) without copying: a memory map, or a view of a mapped torch tensor."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    stored: Callable[[], np.ndarray]

    @property
    def is_float_matrix(self) -> bool:
        return len(self.shape) == 2 and self.dtype in STORAGE_DTYPES

    def describe(self) -> str:
        return f"{self.name} {list(self.shape)} {self.dtype}"


def load_huggingface(
    source: str,
    *,
    name: str | None = None,
    matrix: str = "input",
    revision: str | None = None,
) -> EmbeddingSpace:
    """The token-embedding space of a Hugging Face checkpoint.

    ``source`` is a checkpoint directory, a ``.safetensors`` file inside one, or a hub id.
    ``matrix="output"`` gives the output (unembedding) matrix: the head tensor when it is
    untied, the input matrix when it is tied. ``revision`` (branch, tag or commit) applies to
    hub ids. Keys are the raw token strings, labels their readable form, and the metadata has
    ``token_id``, ``special`` and ``kind`` columns.
    """
    if matrix not in MATRICES:
        raise InvalidParameterError(f"matrix must be 'input' or 'output'; got {matrix!r}")
    parts = read_checkpoint(source, revision=revision)
    provenance_source = parts.origin.get("repo_id") or str(Path(source).expanduser().resolve())
    return checkpoint_space(parts, matrix=matrix, name=name or source, source=provenance_source)


def checkpoint_space(
    parts: Checkpoint, *, matrix: str, name: str, source: str, kind: str = "huggingface"
) -> EmbeddingSpace:
    """The space of one matrix of an opened checkpoint (a folder, or one inside a zip)."""
    directory, embedding, head, tied = parts.directory, parts.embedding, parts.head, parts.tied
    vocabulary, tied_basis, origin = parts.vocabulary, parts.tied_basis, parts.origin
    config_digest, weights_digest = parts.config_digest, parts.weights_digest
    if matrix == "output" and tied is None:
        raise SourceError(f"{directory}: {tied_basis}; use matrix='input'")
    if matrix == "input" or tied:
        selected = embedding
    elif head is not None:
        selected = head
    else:
        raise SourceError(
            f"{directory}: config.json unties the output matrix (tie_word_embeddings=false) but "
            f"no output tensor was found; 2-D tensors seen: {_listing(parts.tensors)}"
        )
    logger.info(
        "%s: %s matrix is %s (tied=%s: %s)", source, matrix, selected.describe(), tied, tied_basis
    )
    vectors = float_matrix(selected)
    table = token_table(vocabulary, vectors.shape[0])
    options: dict[str, Any] = {
        "matrix": matrix,
        "tensor": selected.name,
        "file": selected.file.name,
        "dtype": selected.dtype,
        "tied": tied,
        "tied_basis": tied_basis,
        "input_tensor": embedding.name,
        "head_tensor": head.name if head is not None else None,
        "tokenizer": vocabulary.description if vocabulary else "none: keys are row numbers",
        "padding_rows": table.padding_rows,
        **origin,
    }
    if vocabulary is not None and vocabulary.notes:
        options["tokenizer_notes"] = list(vocabulary.notes)
    fingerprint = hashlib.sha256(
        "|".join(
            [weights_digest, config_digest, vocabulary.fingerprint if vocabulary else ""]
        ).encode()
    ).hexdigest()[:16]
    return table.space(
        vectors,
        provenance=Provenance(source=source, kind=kind, options=options, fingerprint=fingerprint),
        name=name,
    )


@dataclass(frozen=True)
class Checkpoint:
    """The weights and tokenizer of a checkpoint, located and opened but not read: the input
    embedding, the output head tensor (None when none is stored; equal to the input when
    ``tied``), the head's bias, and the tokenizer's vocabulary. ``tied`` is None when the
    checkpoint has no output head at all (an encoder without a language-model head)."""

    directory: Path
    config: dict[str, Any]
    vocabulary: TokenizerVocabulary | None
    tensors: Mapping[str, WeightTensor]
    embedding: WeightTensor
    head: WeightTensor | None
    bias: WeightTensor | None
    tied: bool | None
    tied_basis: str
    origin: dict[str, str]
    config_digest: str
    weights_digest: str

    def matrix(self, which: str) -> np.ndarray | BFloat16Rows:
        """``"input"`` or ``"output"`` rows, memory-mapped: float32/float16 arrays, or
        ``BFloat16Rows`` that read as float32."""
        if which == "output" and self.tied is None:
            raise SourceError(f"{self.directory}: {self.tied_basis}; use the input matrix")
        tensor = self.embedding if which == "input" or self.tied else self.head
        if tensor is None:
            raise SourceError(f"{self.directory}: no output matrix is stored")
        return float_matrix(tensor)

    def bias_vector(self) -> np.ndarray | None:
        if self.bias is None:
            return None
        stored = self.bias.stored()
        if self.bias.dtype == "BF16":
            return bfloat16_to_float32(stored).reshape(-1)
        return np.asarray(stored, dtype=np.float32).reshape(-1)


def read_checkpoint(source: str | os.PathLike, *, revision: str | None = None) -> Checkpoint:
    """Locate (or download the embedding files of) a checkpoint and open its tensors."""
    source = os.fspath(source)
    directory, only_file, origin = _locate(source, revision)
    confine_checkpoint(directory)
    config, config_digest = read_config(directory)
    vocabulary = read_tokenizer(directory)
    tensors, missing_files, weights_digest = _open_weights(directory, only_file)
    return assemble_checkpoint(
        directory,
        config,
        vocabulary,
        tensors,
        origin=origin,
        config_digest=config_digest,
        weights_digest=weights_digest,
        missing_files=missing_files,
    )


def assemble_checkpoint(
    directory: Path,
    config: dict[str, Any],
    vocabulary: TokenizerVocabulary | None,
    tensors: Mapping[str, WeightTensor],
    *,
    origin: dict[str, str],
    config_digest: str,
    weights_digest: str,
    missing_files: list[str] | None = None,
) -> Checkpoint:
    """A checkpoint from its opened parts: the embedding and head chosen, tying detected. A
    folder and a zipped folder (``hf_zip``) both end here."""
    embedding, head = _choose_tensors(
        tensors, config, vocabulary.size if vocabulary else None, missing_files or [], directory
    )
    bias = _head_bias(tensors, embedding.shape[0])
    without_head = _no_output_head(config, tensors, head, bias)
    if without_head is not None:
        tied, tied_basis = None, without_head
    else:
        tied, tied_basis = _tie_state(embedding, head, _config_tie(config))
    return Checkpoint(
        directory=directory,
        config=config,
        vocabulary=vocabulary,
        tensors=tensors,
        embedding=embedding,
        head=head,
        bias=bias,
        tied=tied,
        tied_basis=tied_basis,
        origin=origin,
        config_digest=config_digest,
        weights_digest=weights_digest,
    )


# the output layer's bias, where a model has one (BERT's MLM head, BART's final_logits_bias)
_BIAS_NAMES = ("lm_head.bias", "cls.predictions.bias", "final_logits_bias", "embed_out.bias")


def _head_bias(tensors: Mapping[str, WeightTensor], rows: int) -> WeightTensor | None:
    for name, tensor in tensors.items():
        if any(name == n or name.endswith("." + n) for n in _BIAS_NAMES) and (
            tensor.dtype in STORAGE_DTYPES and int(np.prod(tensor.shape)) == rows
        ):
            return tensor
    return None


# ---- where the files are ---------------------------------------------------------------------
# Every file a checkpoint reader may open: the small files fetched first, the weights.
_READ_PATTERNS = (*_HUB_SMALL_FILES, "*.safetensors", "pytorch_model.bin")


def checkpoint_root(directory: Path) -> Path:
    """The folder no file of a checkpoint may lead out of: the directory itself, after
    symlinks; for a snapshot in the Hugging Face cache (``models--org--name/snapshots/<commit>``,
    whose files are links into ``../../blobs``), the cached repository's folder."""
    resolved = directory.resolve()
    if resolved.parent.name == "snapshots" and resolved.parent.parent.name.startswith("models--"):
        return resolved.parent.parent
    return resolved


def confine_checkpoint(directory: Path) -> None:
    """Refuse a checkpoint whose files lead outside it.

    A crafted checkpoint can hold ``config.json -> /etc/passwd`` or a shard named
    ``../../secret``; reading either would open a file the user never pointed at (and an
    error message might quote it). Symlinks among the files a reader opens must resolve
    inside ``checkpoint_root``; shard names are checked where the index is read.
    """
    root = checkpoint_root(directory)
    for pattern in _READ_PATTERNS:
        for path in directory.glob(pattern):
            inside_checkpoint(root, path, named_by=directory)


def inside_checkpoint(root: Path, path: Path, *, named_by: Path) -> Path:
    """``path`` when it resolves inside ``root``; otherwise one line, and nothing is read."""
    if not path.resolve().is_relative_to(root):
        raise SourceError(
            f"{named_by}: {path.name!r} leads outside the checkpoint directory (an absolute "
            "path, '..' or a symlink); refusing to read it. Copy the checkpoint's real files "
            "into one directory"
        )
    return path


def _locate(source: str, revision: str | None) -> tuple[Path, Path | None, dict[str, str]]:
    """(checkpoint directory, the one weight file asked for or None, hub details)."""
    path = Path(source).expanduser()
    if path.is_dir() or path.is_file():
        if revision is not None:
            raise InvalidParameterError(
                f"revision applies to hub ids only; {source} is a local path"
            )
        if path.is_dir():
            return path, None, {}
        if path.suffix in (".safetensors", ".bin"):
            return path.parent, path, {}
        raise SourceError(f"{source}: not a checkpoint directory, .safetensors or .bin file")
    if _HUB_ID.match(source) and not source.startswith((".", "~")):
        return _fetch_from_hub(source, revision)
    raise SourceError(f"{source}: no such directory or file, and not a hub id (org/name)")


def _fetch_from_hub(repo_id: str, revision: str | None) -> tuple[Path, None, dict[str, str]]:
    """Downloads (or finds in the cache) the small files, then only the weight file(s) that
    hold the embedding, through huggingface_hub's own cache."""
    from huggingface_hub import hf_hub_download, snapshot_download

    cache_dir, offline = _hub_settings()

    def failure(step: str, error: Exception) -> SourceError:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        if offline:
            hint = (
                f"offline mode is on (HF_HUB_OFFLINE) and the files are not in the cache at "
                f"{cache_dir}: unset it to download, or pass a local checkpoint directory"
            )
        else:
            hint = (
                "check the id and revision, your network and HF token, or pass a local "
                "checkpoint directory"
            )
        return SourceError(
            f"could not {step} of {repo_id!r} from the Hugging Face hub "
            f"({type(error).__name__}: {first_line}); {hint}{_local_near_misses(repo_id)}"
        )

    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=offline,
                allow_patterns=[*_HUB_SMALL_FILES, "model.safetensors"],
            )
        )
    except Exception as error:  # any hub failure becomes one line naming what to do
        raise failure("get the config and tokenizer files", error) from error
    commit = folder.name  # snapshots/<commit>: pin the weight files to the same commit
    for filename in _hub_weight_files(folder, repo_id):
        # Called even when the file is in the folder: the hub checks the cached copy is current.
        try:
            hf_hub_download(
                repo_id, filename, revision=commit, cache_dir=cache_dir, local_files_only=offline
            )
        except Exception as error:
            step = f"get {filename}"
            if filename == "pytorch_model.bin":
                step += " (there is no model.safetensors nor a sharded index)"
            raise failure(step, error) from error
    return folder, None, {"repo_id": repo_id, "revision": revision or "main", "commit": commit}


def _local_near_misses(text: str) -> str:
    """For a hub id that may be a mistyped local path: the files beside it with close names
    (a folder ``models/bert-base`` typed as ``models/bert-bse`` went to the hub)."""
    folder = Path(text).parent
    try:
        names = [entry.name for entry in os.scandir(folder)] if folder.is_dir() else []
    except OSError:
        return ""
    close = difflib.get_close_matches(Path(text).name, names, n=3, cutoff=0.75)
    if not close:
        return ""
    shown = ", ".join(repr(str(folder / name)) for name in close)
    return f"; no local path {text!r} exists either (close: {shown})"


def _hub_settings() -> tuple[str | None, bool]:
    """The cache directory and offline flag as the environment says *now*.

    huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE once, when it is first imported, so a
    later change (a test, a notebook cell) would be missed; they are read again here and passed
    explicitly, falling back to the library's values when the variables are unset.
    """
    from huggingface_hub import constants

    env = os.environ
    cache = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not cache and env.get("HF_HOME"):
        cache = os.path.join(env["HF_HOME"], "hub")
    cache_dir = os.path.expanduser(os.path.expandvars(cache)) if cache else constants.HF_HUB_CACHE
    flag = env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE")
    if flag:
        return cache_dir, flag.strip().upper() in {"1", "ON", "YES", "TRUE"}
    return cache_dir, bool(constants.HF_HUB_OFFLINE)


def _hub_weight_files(folder: Path, repo_id: str) -> list[str]:
    """The weight files to fetch: for a sharded checkpoint only the shards whose tensor names
    look like an embedding or a head (their shapes are checked once they are here)."""
    for index_name in (_SAFETENSORS_INDEX, _TORCH_INDEX):
        if (folder / index_name).is_file():
            weight_map = _weight_map(folder / index_name, checkpoint_root(folder))
            shards = sorted({f for n, f in weight_map.items() if _module_role(n) is not None})
            if not shards:
                raise SourceError(
                    f"{repo_id}: {index_name} names no tensor that looks like a token embedding "
                    "or output head; download the checkpoint and pass its directory"
                )
            return shards
    if (folder / "model.safetensors").is_file():
        return []
    return ["pytorch_model.bin"]


# ---- config.json -----------------------------------------------------------------------------
def read_config(directory: Path) -> tuple[dict[str, Any], str]:
    """config.json, or the params.json of checkpoints in Meta's and Mistral's own layout."""
    path = next(
        (directory / n for n in ("config.json", "params.json") if (directory / n).is_file()), None
    )
    if path is None:
        return {}, ""
    raw = path.read_bytes()
    config = parse_json(raw, path)
    if not isinstance(config, dict):
        raise MalformedFileError(path, "expected a JSON object")
    return config, hashlib.sha256(raw).hexdigest()[:16]


def _config_scopes(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [config, *(config[k] for k in _NESTED_CONFIGS if isinstance(config.get(k), dict))]


def _config_sizes(config: Mapping[str, Any]) -> tuple[set[int], set[int]]:
    scopes = _config_scopes(config)
    vocab = {s[k] for s in scopes for k in _VOCAB_KEYS if type(s.get(k)) is int}
    width = {s[k] for s in scopes for k in _WIDTH_KEYS if type(s.get(k)) is int}
    return vocab, width


def _config_tie(config: Mapping[str, Any]) -> bool | None:
    for scope in _config_scopes(config):
        if isinstance(scope.get("tie_word_embeddings"), bool):
            return scope["tie_word_embeddings"]
    return None


# ---- weight files ----------------------------------------------------------------------------
def _open_weights(
    directory: Path, only_file: Path | None
) -> tuple[dict[str, WeightTensor], list[str], str]:
    """(tensors by name, shard files the index names but the directory lacks, fingerprint)."""
    missing: list[str] = []
    if only_file is not None:
        files = [only_file]
    elif (directory / _SAFETENSORS_INDEX).is_file() or (directory / _TORCH_INDEX).is_file():
        index = directory / (
            _SAFETENSORS_INDEX if (directory / _SAFETENSORS_INDEX).is_file() else _TORCH_INDEX
        )
        names = sorted(set(_weight_map(index, checkpoint_root(directory)).values()))
        files = [directory / n for n in names if (directory / n).is_file()]
        missing = [n for n in names if not (directory / n).is_file()]
    elif (directory / "model.safetensors").is_file():
        files = [directory / "model.safetensors"]
    elif safetensors_files := sorted(directory.glob("*.safetensors")):
        files = safetensors_files
    elif (directory / "pytorch_model.bin").is_file():
        files = [directory / "pytorch_model.bin"]
    else:
        raise SourceError(
            f"{directory}: no weight files (model.safetensors, {_SAFETENSORS_INDEX}, "
            "*.safetensors or pytorch_model.bin)"
        )
    tensors: dict[str, WeightTensor] = {}
    digests = []
    for file in files:
        if file.suffix == ".safetensors":
            found, digest = read_safetensors_header(file)
        else:
            found = read_torch_weights(file)
            stat = file.stat()
            digest = f"{stat.st_size}-{stat.st_mtime_ns}"
        digests.append(f"{file.name}:{digest}")
        for tensor_name, tensor in found.items():
            tensors.setdefault(tensor_name, tensor)
    fingerprint = hashlib.sha256("|".join(digests).encode()).hexdigest()[:16]
    return tensors, missing, fingerprint


def _weight_map(index: Path, root: Path) -> dict[str, str]:
    """Tensor name -> shard file name; every shard named must lie inside ``root``."""
    try:
        weight_map = parse_json(index.read_bytes(), index)["weight_map"]
    except (KeyError, TypeError):
        raise MalformedFileError(index, "expected JSON with a 'weight_map' object") from None
    if not isinstance(weight_map, dict) or not all(
        isinstance(v, str) and v for v in weight_map.values()
    ):
        raise MalformedFileError(index, "'weight_map' must map tensor names to file names")
    for shard in set(weight_map.values()):
        if "\0" in shard or Path(shard).is_absolute() or ".." in Path(shard).parts:
            raise MalformedFileError(
                index, f"the shard {shard!r} is not a file name inside the checkpoint; refusing"
            )
        inside_checkpoint(root, index.parent / shard, named_by=index)
    return {str(k): v for k, v in weight_map.items()}


def read_safetensors_header(path: str | Path) -> tuple[dict[str, WeightTensor], str]:
    """The tensors a ``.safetensors`` file holds, and a digest of its header.

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the data. Nothing past the header is read here; a
    header or byte range that runs past the end of the file is a MalformedFileError.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise MalformedFileError(
                path, f"only {size} bytes: no safetensors header; the file is truncated"
            )
        (length,) = struct.unpack("<Q", prefix)
        if 8 + length > size:
            raise MalformedFileError(
                path,
                f"the header claims {length:,} bytes but the file has {size:,}; "
                "the file is truncated or not safetensors, download it again",
            )
        header_bytes = handle.read(length)
    data_start = 8 + length
    tensors = {
        name: WeightTensor(
            name, dtype, shape, path, partial(_memory_map, path, data_start + begin, dtype, shape)
        )
        for name, (dtype, shape, begin, _end) in safetensors_entries(
            header_bytes, path, size=size, what="file"
        ).items()
    }
    return tensors, hashlib.sha256(header_bytes).hexdigest()[:16]


def safetensors_entries(
    header_bytes: bytes, where: str | Path, *, size: int, what: str
) -> dict[str, tuple[str, tuple[int, ...], int, int]]:
    """Tensor name -> (dtype, shape, begin, end) from a safetensors header (offsets count
    from the end of the header), every entry checked: a dtype, a shape of non-negative
    sizes, a byte range that fits the shape and lies within the ``size`` bytes of the
    ``what`` ("file", "member") that holds it."""
    try:
        header = json.loads(header_bytes)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise MalformedFileError(
            where, "the header is not valid JSON; not a safetensors file"
        ) from None
    if not isinstance(header, dict):
        raise MalformedFileError(where, "the header is not a JSON object; not a safetensors file")
    data_start = 8 + len(header_bytes)
    entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(entry["dtype"])
            shape = tuple(int(n) for n in entry["shape"])
            begin, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise MalformedFileError(
                where, f"tensor {name!r}: the header entry needs dtype, shape and data_offsets"
            ) from None
        itemsize = DTYPE_SIZES.get(dtype)
        if (
            begin < 0
            or end < begin
            or any(n < 0 for n in shape)
            or (itemsize is not None and end - begin != math.prod(shape) * itemsize)
        ):
            raise MalformedFileError(
                where,
                f"tensor {name!r}: byte range {begin}-{end} does not fit {list(shape)} {dtype}",
            )
        if data_start + end > size:
            raise MalformedFileError(
                where,
                f"tensor {name!r} needs bytes up to {data_start + end:,} but the {what} has "
                f"{size:,}; it is truncated or damaged, download it again",
            )
        entries[name] = (dtype, shape, begin, end)
    return entries


def _memory_map(path: Path, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if math.prod(shape) == 0:  # mmap cannot map zero bytes
        return np.zeros(shape, dtype=STORAGE_DTYPES[dtype])
    return np.memmap(path, dtype=STORAGE_DTYPES[dtype], mode="r", offset=offset, shape=shape)


def read_torch_weights(path: str | Path) -> dict[str, WeightTensor]:
    """The tensors of a ``pytorch_model.bin``, loaded with ``weights_only=True`` (no code from
    the file runs) and memory-mapped where the file's format allows."""
    path = Path(path)
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "torch", extra="torch", purpose=f"reading {path.name} (safetensors files need no torch)"
        ) from None
    try:
        try:
            state = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
        except RuntimeError as error:
            if "zip" not in str(error) and "mmap" not in str(error):
                raise
            # Files saved in torch's legacy (pre-zip) format cannot be memory-mapped.
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise MalformedFileError(
            path, f"torch.load(weights_only=True) failed: {type(error).__name__}: {first_line}"
        ) from None
    if not isinstance(state, Mapping):
        raise MalformedFileError(path, f"expected a state dict; got {type(state).__name__}")
    dtypes = {
        torch.float32: "F32",
        torch.float16: "F16",
        torch.bfloat16: "BF16",
        torch.float64: "F64",
    }
    tensors = {}
    for name, tensor in _flat_tensors(state, torch.Tensor):
        dtype = dtypes.get(tensor.dtype, str(tensor.dtype))
        tensors[name] = WeightTensor(
            name, dtype, tuple(tensor.shape), path, partial(_torch_stored, tensor, dtype)
        )
    return tensors


def _flat_tensors(
    state: Mapping[str, Any], tensor_type: type, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for key, value in state.items():
        if isinstance(value, tensor_type):
            yield f"{prefix}{key}", value
        elif isinstance(value, Mapping):
            yield from _flat_tensors(value, tensor_type, f"{prefix}{key}.")


def _torch_stored(tensor: Any, dtype: str) -> np.ndarray:
    import torch

    if dtype == "BF16":  # numpy has no bfloat16: hand over the raw bits
        return tensor.view(torch.int16).numpy().view("<u2")
    return tensor.numpy()


# ---- which tensor ----------------------------------------------------------------------------
def _module_role(name: str) -> tuple[str, int] | None:
    """("input" | "output", preference) from the module a tensor belongs to."""
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] == "weight":
        parts = parts[:-1]
    module = parts[-1]
    if module in _INPUT_MODULES:
        return "input", _INPUT_MODULES.index(module)
    if module in _OUTPUT_MODULES:
        return "output", _OUTPUT_MODULES.index(module)
    return None


def _preference(tensor: WeightTensor) -> tuple[int, bool, int, str]:
    role = _module_role(tensor.name)
    parts = tensor.name.split(".")
    # An encoder-decoder's decoder copy comes after the shared or encoder one.
    return (role[1] if role else 99, "decoder" in parts[:-2], len(parts), tensor.name)


def _choose_tensors(
    tensors: Mapping[str, WeightTensor],
    config: Mapping[str, Any],
    vocabulary_size: int | None,
    missing_files: list[str],
    directory: Path,
) -> tuple[WeightTensor, WeightTensor | None]:
    """(input embedding, separate output head or None), chosen by shape, then by name."""
    vocab_sizes, widths = _config_sizes(config)
    matrices = [t for t in tensors.values() if t.is_float_matrix]

    def rows_fit(tensor: WeightTensor) -> bool:
        if vocab_sizes:
            return tensor.shape[0] in vocab_sizes
        return vocabulary_size is None or tensor.shape[0] >= vocabulary_size

    def width_fits(tensor: WeightTensor) -> bool:
        return not widths or tensor.shape[1] in widths

    candidates = [t for t in matrices if rows_fit(t) and width_fits(t)]
    named_inputs = [t for t in candidates if _role_is(t, "input")]
    if not named_inputs and vocab_sizes:
        # A config whose vocab_size went stale after the embedding was resized.
        named_inputs = [t for t in matrices if _role_is(t, "input") and width_fits(t)]
        if named_inputs:
            logger.warning(
                "%s: no embedding has the %s rows config.json states; using %s by its name",
                directory,
                sorted(vocab_sizes),
                min(named_inputs, key=_preference).describe(),
            )
            candidates = [t for t in matrices if width_fits(t)]
    unnamed = [t for t in candidates if _module_role(t.name) is None]
    if named_inputs:
        embedding = min(named_inputs, key=_preference)
    elif len(unnamed) == 1:
        embedding = unnamed[0]
        logger.info("%s: %s is the only matrix of the embedding's shape", directory, embedding.name)
    else:
        expected = f"{sorted(vocab_sizes) or 'any'} rows x {sorted(widths) or 'any'} columns"
        lacking = (
            f"; the index names files not present: {', '.join(missing_files)}"
            if (missing_files)
            else ""
        )
        raise SourceError(
            f"{directory}: no token-embedding tensor ({expected}) found; 2-D tensors seen: "
            f"{_listing(tensors)}{lacking}"
        )
    heads = [
        t
        for t in candidates
        if _role_is(t, "output") and t.name != embedding.name and t.shape[1] == embedding.shape[1]
    ]
    return embedding, min(heads, key=_preference) if heads else None


def _role_is(tensor: WeightTensor, role: str) -> bool:
    found = _module_role(tensor.name)
    return found is not None and found[0] == role


def _listing(tensors: Mapping[str, WeightTensor]) -> str:
    shown = [t.describe() for t in tensors.values() if len(t.shape) == 2]
    if not shown:
        return "none"
    more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
    return ", ".join(shown[:20]) + more


# Architectures with a language-model head (whose output matrix may be tied to the input), and
# the modules such a head stores even when its matrix is tied (BERT's MLM transform and bias).
_LM_ARCHITECTURE = re.compile(
    r"(CausalLM|LMHead|MaskedLM|ConditionalGeneration|PreTraining|Seq2SeqLM|ForSpeechSeq2Seq)"
)
_HEAD_MODULES = ("cls.predictions", "lm_head", "embed_out", "generator_lm_head", "lm_loss")
# model types whose plain checkpoint is an encoder: no head unless its tensors are stored
_ENCODER_TYPES = (
    "bert", "roberta", "xlm-roberta", "camembert", "distilbert", "mpnet", "electra", "albert",
    "deberta", "deberta-v2", "modernbert", "nomic_bert", "new", "e5", "xlm", "flaubert",
)  # fmt: skip


def _no_output_head(
    config: Mapping[str, Any],
    tensors: Mapping[str, WeightTensor],
    head: WeightTensor | None,
    bias: WeightTensor | None,
) -> str | None:
    """Why the checkpoint has no output (unembedding) matrix at all, or None when it has one
    (stored, or tied to the input): no head tensor, bias or head module is stored, and
    config.json names only architectures without a language-model head (``BertModel``), or,
    naming none, an encoder model type."""
    if head is not None or bias is not None:
        return None
    if any(f".{module}." in f".{name}" for name in tensors for module in _HEAD_MODULES):
        return None
    architectures = [
        str(a)
        for scope in _config_scopes(config)
        if isinstance(scope.get("architectures"), list)
        for a in scope["architectures"]
        if a
    ]
    if architectures:
        if any(_LM_ARCHITECTURE.search(a) for a in architectures):
            return None
        named = f"config.json names {', '.join(architectures)}"
    elif config.get("model_type") in _ENCODER_TYPES:
        named = f"config.json names no architecture and model_type {config['model_type']!r}"
    else:
        return None
    return (
        f"no output head: {named}, a model without a language-model head, and no head "
        "tensor is stored"
    )


def _tie_state(
    embedding: WeightTensor, head: WeightTensor | None, config_tie: bool | None
) -> tuple[bool, str]:
    """(tied, why): a stored head is compared with the embedding on sampled rows; without one,
    the output matrix is the input one unless config.json says otherwise."""
    if head is None:
        if config_tie is False:
            return False, "config.json sets tie_word_embeddings=false; no head tensor found"
        return True, "no separate head tensor stored"
    if head.shape != embedding.shape:
        return False, f"head {head.name} has shape {list(head.shape)}"
    rows = np.unique(np.linspace(0, embedding.shape[0] - 1, _TIE_SAMPLE_ROWS).astype(np.int64))
    same = head.dtype == embedding.dtype and np.array_equal(
        np.asarray(embedding.stored()[rows]), np.asarray(head.stored()[rows])
    )
    if same:
        return True, f"head {head.name} equals the embedding on {len(rows)} sampled rows"
    note = " although config.json ties them" if config_tie else ""
    return False, f"head {head.name} differs from the embedding{note}"


def float_matrix(tensor: WeightTensor) -> np.ndarray | BFloat16Rows:
    """The tensor as float32, float16 or bfloat16 rows read as float32: F32, F16 and BF16 as
    stored (no copy), F64 narrowed to float32 in blocks so the conversion never holds two full
    copies."""
    stored = tensor.stored()
    if tensor.dtype in ("F32", "F16"):
        return stored
    if tensor.dtype == "BF16" and stored.ndim == 2:
        return BFloat16Rows(stored)
    matrix = np.empty(tensor.shape, dtype=np.float32)
    step = max(1, _CONVERSION_BLOCK_BYTES // max(1, tensor.shape[1] * 4))
    for start in range(0, tensor.shape[0], step):
        block = np.asarray(stored[start : start + step])
        if tensor.dtype == "BF16":  # bfloat16 is the upper half of a float32
            matrix[start : start + step] = (block.astype(np.uint32) << 16).view(np.float32)
        else:
            matrix[start : start + step] = block
    return matrix


__all__ = [
    "MATRICES",
    "Checkpoint",
    "WeightTensor",
    "assemble_checkpoint",
    "checkpoint_space",
    "load_huggingface",
    "read_checkpoint",
    "read_safetensors_header",
    "read_torch_weights",
]
