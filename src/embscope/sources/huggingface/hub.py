"""A checkpoint from the Hugging Face hub by id: only its config, tokenizer files, index and the
weight file(s) that hold the embedding are downloaded, through huggingface_hub's own cache."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from ...errors import SourceError
from .files import HUB_SMALL_FILES, SAFETENSORS_INDEX, TORCH_INDEX, checkpoint_root, read_weight_map
from .tensors import module_role

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def fetch_from_hub(repo_id: str, revision: str | None) -> tuple[Path, None, dict[str, str]]:
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
                allow_patterns=[*HUB_SMALL_FILES, "model.safetensors"],
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
    for index_name in (SAFETENSORS_INDEX, TORCH_INDEX):
        if (folder / index_name).is_file():
            weight_map = read_weight_map(folder / index_name, checkpoint_root(folder))
            shards = sorted({f for n, f in weight_map.items() if module_role(n) is not None})
            if not shards:
                raise SourceError(
                    f"{repo_id}: {index_name} names no tensor that looks like a token embedding "
                    "or output head; download the checkpoint and pass its directory"
                )
            return shards
    if (folder / "model.safetensors").is_file():
        return []
    return ["pytorch_model.bin"]
