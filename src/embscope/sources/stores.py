"""Models that Ollama and LM Studio keep on disk, by the names their users know them by.

- ``ollama:NAME[:TAG]``: Ollama's store (``$OLLAMA_MODELS``, else ``~/.ollama/models``) keeps a
  manifest per model at ``manifests/<registry>/<namespace>/<name>/<tag>``; its layer of media
  type ``application/vnd.ollama.image.model`` names the GGUF file by digest, stored as
  ``blobs/sha256-<hex>``. ``gemma3`` is ``registry.ollama.ai/library/gemma3:latest``,
  ``user/name:tag`` another namespace, ``hf.co/org/repo:tag`` another registry.
- ``lmstudio:PUBLISHER/REPO[/FILE.gguf]``: LM Studio's models folder (``$LMSTUDIO_MODELS``, else
  ``~/.lmstudio/models``, else the older ``~/.cache/lm-studio/models``) holds
  ``<publisher>/<repo>/*.gguf``; a repository with several GGUF files (quantizations) needs the
  file named.

Names and manifests are untrusted: name parts are plain file names, a digest must be
``sha256:`` and 64 hex digits, and every path must resolve inside its store, so neither a
crafted manifest nor a symlink leads the reader to a file the user never pointed at.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .._io.json_input import parse_json
from ..errors import MalformedFileError, SourceError

OLLAMA_PREFIX = "ollama:"
LMSTUDIO_PREFIX = "lmstudio:"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY = "registry.ollama.ai"
OLLAMA_NAMESPACE = "library"

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_MANIFEST_MAX_BYTES = 1 << 20  # real manifests are a few hundred bytes
_GGUF_MAGIC = b"GGUF"
# files beside a model that are not language models: vision projectors, LoRA adapters
_NOT_A_MODEL = re.compile(r"(^|[-_.])(mmproj|projector|lora)([-_.]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class StoredModel:
    """One GGUF model found in a store: the name that loads it, its size and its file."""

    name: str
    store: str  # "ollama" | "lmstudio"
    size: int
    path: Path


# ---- where the stores are --------------------------------------------------------------------
def ollama_root() -> Path:
    """Ollama's models folder: ``$OLLAMA_MODELS``, else ``~/.ollama/models``."""
    configured = os.environ.get("OLLAMA_MODELS")
    return Path(configured).expanduser() if configured else Path.home() / ".ollama" / "models"


def lmstudio_roots() -> list[Path]:
    """LM Studio's models folders, most current first: ``$LMSTUDIO_MODELS`` alone when set,
    else ``~/.lmstudio/models`` and the older ``~/.cache/lm-studio/models``."""
    configured = os.environ.get("LMSTUDIO_MODELS")
    if configured:
        return [Path(configured).expanduser()]
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def resolve_store(text: str) -> Path:
    """The GGUF file an ``ollama:`` or ``lmstudio:`` name stands for."""
    if text.startswith(OLLAMA_PREFIX):
        return resolve_ollama(text[len(OLLAMA_PREFIX) :])
    if text.startswith(LMSTUDIO_PREFIX):
        return resolve_lmstudio(text[len(LMSTUDIO_PREFIX) :])
    raise SourceError(f"{text!r} names no model store; use ollama:NAME[:TAG] or lmstudio:PUB/REPO")


def stored_models() -> list[StoredModel]:
    """Every GGUF model found in Ollama's store and LM Studio's folders, by name."""
    return [*_ollama_models(), *_lmstudio_models()]


# ---- Ollama ----------------------------------------------------------------------------------
def _ollama_parts(name: str) -> tuple[str, str, str, str]:
    """(registry, namespace, model, tag) of ``model``, ``ns/model`` or ``host/ns/model``, each
    with an optional ``:tag``."""
    model_part, tag = name, "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        model_part, tag = name.rsplit(":", 1)
    parts = model_part.split("/")
    if len(parts) == 1:
        parts = [OLLAMA_REGISTRY, OLLAMA_NAMESPACE, *parts]
    elif len(parts) == 2:
        parts = [OLLAMA_REGISTRY, *parts]
    if len(parts) != 3 or not all(_PART.match(p) and ".." not in p for p in [*parts, tag]):
        raise SourceError(
            f"ollama:{name} is not a model name: expected ollama:NAME[:TAG], "
            "ollama:NAMESPACE/NAME[:TAG] or ollama:REGISTRY/NAMESPACE/NAME[:TAG] "
            "(letters, digits, '.', '-' and '_')"
        )
    return parts[0], parts[1], parts[2], tag


def _ollama_display(registry: str, namespace: str, model: str, tag: str) -> str:
    """The name ``ollama list`` shows: the default registry and namespace left out."""
    if registry == OLLAMA_REGISTRY:
        prefix = "" if namespace == OLLAMA_NAMESPACE else f"{namespace}/"
    else:
        prefix = f"{registry}/{namespace}/"
    return f"{prefix}{model}:{tag}"


def resolve_ollama(name: str) -> Path:
    """The GGUF blob of an Ollama model: its manifest, then the model layer's digest."""
    registry, namespace, model, tag = _ollama_parts(name)
    root = ollama_root()
    manifest = root / "manifests" / registry / namespace / model / tag
    if not manifest.is_file():
        # Ollama writes names in lowercase; a user may not
        lowered = root / "manifests" / registry / namespace / model.lower() / tag.lower()
        if lowered.is_file():
            manifest = lowered
        else:
            wanted = _ollama_display(registry, namespace, model, tag)
            raise SourceError(_ollama_not_found(name, root, wanted))
    _inside(root, manifest, named_by=manifest)
    return _ollama_blob(root, manifest)


def _ollama_blob(root: Path, manifest: Path) -> Path:
    size = manifest.stat().st_size
    if size > _MANIFEST_MAX_BYTES:
        raise MalformedFileError(manifest, f"{size:,} bytes: too large for an Ollama manifest")
    document = parse_json(manifest.read_bytes(), manifest)
    layers = document.get("layers") if isinstance(document, dict) else None
    if not isinstance(layers, list):
        raise MalformedFileError(manifest, "no 'layers' list: not an Ollama manifest")
    models = [
        layer
        for layer in layers
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER
    ]
    if len(models) != 1:
        raise MalformedFileError(
            manifest, f"{len(models)} layers of type {OLLAMA_MODEL_LAYER}; expected one"
        )
    digest = models[0].get("digest")
    found = _DIGEST.match(digest) if isinstance(digest, str) else None
    if found is None:
        shown = repr(digest)[:80]
        raise MalformedFileError(
            manifest, f"the model layer's digest {shown} is not sha256: and 64 hex digits; refusing"
        )
    blob = root / "blobs" / f"sha256-{found.group(1)}"
    if not blob.is_file():
        raise SourceError(
            f"{manifest}: its model blob {blob.name} is missing from {root / 'blobs'}; "
            "the download is incomplete: run 'ollama pull' again"
        )
    _inside(root, blob, named_by=manifest)
    declared = models[0].get("size")
    actual = blob.stat().st_size
    if isinstance(declared, int) and not isinstance(declared, bool) and declared != actual:
        raise SourceError(
            f"{blob}: {actual:,} bytes where the manifest {manifest} says {declared:,}; the "
            "download is incomplete or the blob was changed: run 'ollama pull' again"
        )
    return blob


def _ollama_manifests(root: Path) -> list[tuple[str, Path]]:
    """(display name, manifest) of every model in the store."""
    found = []
    base = root / "manifests"
    if not base.is_dir():
        return found
    for manifest in sorted(base.glob("*/*/*/*")):
        if not manifest.is_file():
            continue
        registry, namespace, model, tag = manifest.relative_to(base).parts
        found.append((_ollama_display(registry, namespace, model, tag), manifest))
    return found


def _ollama_not_found(name: str, root: Path, wanted: str) -> str:
    installed = [display for display, _ in _ollama_manifests(root)]
    if not installed:
        where = "no manifests there" if root.is_dir() else "no such folder"
        return (
            f"ollama:{name}: not found; Ollama's store at {root} has {where} (set "
            "$OLLAMA_MODELS if Ollama keeps its models elsewhere, or run 'ollama pull')"
        )
    close = difflib.get_close_matches(wanted, installed, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join('ollama:' + c for c in close)}" if close else ""
    return (
        f"ollama:{name}: not in Ollama's store at {root}{hint}; installed: "
        f"{_few(installed)} (run 'ollama pull {wanted}' to fetch it)"
    )


def _ollama_models() -> list[StoredModel]:
    root = ollama_root()
    models = []
    for display, manifest in _ollama_manifests(root):
        try:
            blob = _ollama_blob(root, manifest)
        except SourceError:
            continue  # a broken or partial pull: loading it by name says why
        if _is_gguf(blob):
            models.append(StoredModel(f"ollama:{display}", "ollama", blob.stat().st_size, blob))
    return models


# ---- LM Studio -------------------------------------------------------------------------------
def resolve_lmstudio(name: str) -> Path:
    """``publisher/repo`` (its one GGUF model file) or ``publisher/repo/file.gguf``."""
    parts = name.strip("/").split("/")
    if not 2 <= len(parts) <= 3 or not all(_PART.match(p) and ".." not in p for p in parts):
        raise SourceError(
            f"lmstudio:{name} is not a model name: expected lmstudio:PUBLISHER/REPO or "
            "lmstudio:PUBLISHER/REPO/FILE.gguf"
        )
    roots = [root for root in lmstudio_roots() if root.is_dir()]
    for root in roots:
        folder = root / parts[0] / parts[1]
        if not folder.is_dir():
            continue
        _inside(root, folder, named_by=folder)
        if len(parts) == 3:
            file = folder / parts[2]
            if file.is_file():
                return _inside(root, file, named_by=folder)
            raise SourceError(
                f"lmstudio:{name}: {folder} has no file {parts[2]!r}; its GGUF files: "
                f"{_few([f.name for f in _gguf_files(folder)]) or 'none'}"
            )
        files = [f for f in _gguf_files(folder) if not _NOT_A_MODEL.search(f.name)]
        if len(files) == 1:
            return _inside(root, files[0], named_by=folder)
        if not files:
            raise SourceError(f"lmstudio:{name}: {folder} holds no GGUF model file")
        raise SourceError(
            f"lmstudio:{name} holds {len(files)} GGUF files; name one, e.g. "
            f"lmstudio:{parts[0]}/{parts[1]}/{files[0].name} (the others: "
            f"{_few([f.name for f in files[1:]])})"
        )
    repositories = {
        m.name.removeprefix(LMSTUDIO_PREFIX).rsplit("/", 1)[0] for m in _lmstudio_models()
    }
    installed = sorted(repositories)
    searched = ", ".join(str(r) for r in lmstudio_roots())
    if not installed:
        raise SourceError(
            f"lmstudio:{name}: not found; no GGUF models in LM Studio's folders ({searched}); "
            "set $LMSTUDIO_MODELS if LM Studio keeps them elsewhere"
        )
    close = difflib.get_close_matches("/".join(parts[:2]), installed, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join('lmstudio:' + c for c in close)}" if close else ""
    raise SourceError(
        f"lmstudio:{name}: not found in {searched}{hint}; installed: {_few(installed)}"
    )


def _gguf_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() == ".gguf" and f.is_file())


def _lmstudio_models() -> list[StoredModel]:
    models: list[StoredModel] = []
    seen: set[str] = set()
    for root in lmstudio_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
            for file in _gguf_files(folder):
                name = f"{LMSTUDIO_PREFIX}{folder.parent.name}/{folder.name}/{file.name}"
                if name in seen or _NOT_A_MODEL.search(file.name) or not _is_gguf(file):
                    continue
                if not file.resolve().is_relative_to(root.resolve()):
                    continue
                seen.add(name)
                models.append(StoredModel(name, "lmstudio", file.stat().st_size, file))
    return models


# ---- shared ----------------------------------------------------------------------------------
def _inside(root: Path, path: Path, *, named_by: Path) -> Path:
    """``path`` when it resolves inside the store ``root``; otherwise one line, nothing read."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise SourceError(
            f"{named_by}: {path.name!r} leads outside the model store {root} (a symlink or "
            "'..'); refusing to read it"
        )
    return path


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == _GGUF_MAGIC
    except OSError:
        return False


def _few(names: list[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


__all__ = [
    "StoredModel",
    "lmstudio_roots",
    "ollama_root",
    "resolve_lmstudio",
    "resolve_ollama",
    "resolve_store",
    "stored_models",
]
