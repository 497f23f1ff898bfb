"""Where a checkpoint's files are, and that none leads out of it: the files a reader may open,
config.json, and the weight files (one, a sharded index's shards, or pytorch_model.bin)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..._io.json_input import parse_json
from ...errors import MalformedFileError, SourceError
from .weights import WeightTensor, read_safetensors_header, read_torch_weights

SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_INDEX = "pytorch_model.bin.index.json"
# Small files fetched first from the hub: they say which (large) weight files are needed.
HUB_SMALL_FILES = (
    "config.json", "params.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "*.tiktoken",
    SAFETENSORS_INDEX, TORCH_INDEX,
)  # fmt: skip
# Every file a checkpoint reader may open: the small files fetched first, the weights.
_READ_PATTERNS = (*HUB_SMALL_FILES, "*.safetensors", "pytorch_model.bin")


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


# ---- weight files ----------------------------------------------------------------------------
def open_weights(
    directory: Path, only_file: Path | None
) -> tuple[dict[str, WeightTensor], list[str], str]:
    """(tensors by name, shard files the index names but the directory lacks, fingerprint)."""
    missing: list[str] = []
    if only_file is not None:
        files = [only_file]
    elif (directory / SAFETENSORS_INDEX).is_file() or (directory / TORCH_INDEX).is_file():
        index = directory / (
            SAFETENSORS_INDEX if (directory / SAFETENSORS_INDEX).is_file() else TORCH_INDEX
        )
        names = sorted(set(read_weight_map(index, checkpoint_root(directory)).values()))
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
            f"{directory}: no weight files (model.safetensors, {SAFETENSORS_INDEX}, "
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


def read_weight_map(index: Path, root: Path) -> dict[str, str]:
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
