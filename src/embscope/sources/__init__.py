"""Every kind of source becomes one EmbeddingSpace; ``load`` picks the reader (``formats``, the
registry of kinds, names it).

How a source string is read, first match wins:

1. a bundled alias (``minilm``, ``glove-6b-50d``; see ``embscope sources``);
2. an existing directory: a model ``embscope train`` saved (``embscope-train.json``), a
   Hugging Face checkpoint (``config.json``, ``*.safetensors``, ``pytorch_model.bin``), an ONNX
   export (``*.onnx`` and no other weights) or a TensorBoard projector export (``vectors.tsv``);
3. an existing file, first by its bytes (``sources/sniff.py``: GGUF, zip archives told apart by
   their members, ONNX, safetensors, pickle, HDF5, ``.npy``, Parquet; a PDF, an image, an
   executable or a pickle on its own is refused in one line saying what it is), then by the
   suffix a kind claims in ``sources/formats.py``: ``.safetensors``; ``.keras`` / ``.h5``;
   ``.npy`` / ``.npz``; ``.onnx``; ``.parquet`` / ``.csv``; ``vectors.tsv``; ``.bin`` (word2vec
   binary); ``.vec`` (fastText); other text (``.txt``, ``.gz``…) is word2vec text when its
   first line is ``<count> <dim>``, GloVe text otherwise;
4. anything else shaped like a hub id (``org/name`` or ``name``): downloaded from the
   Hugging Face hub (only the files that hold the embedding and the tokenizer).

``kind=`` overrides the guess.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError, SourceError
from ..space import EmbeddingSpace
from .bundled import BUNDLED, bundled_sources
from .formats import BY_KIND, KINDS, kind_of_suffix
from .trained import is_trained_model

#: Prefixes of models named in a local model store (``ollama:gemma3:270m``).
STORE_PREFIXES = ("ollama:", "lmstudio:")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def load(source: str | Path, *, kind: str | None = None, **options: Any) -> EmbeddingSpace:
    """Load any supported source as an EmbeddingSpace.

    Options go to the reader:

    - checkpoints: ``matrix="input" | "output"`` (an untied head), ``revision=`` (hub ids);
    - GGUF files, and models in Ollama's or LM Studio's store by name (``ollama:gemma3:270m``,
      ``lmstudio:publisher/repo[/file.gguf]``): ``matrix="input" | "output"``, ``progress=``
      (the bar while a quantized matrix is dequantized into the cache, on first load only);
    - word-vector files: ``on_duplicate="error" | "first" | "last"``, ``limit=`` (first N rows),
      ``encoding=``, ``unicode_errors=``, ``max_inflation=`` (``.gz`` files);
    - Keras: ``layer=`` (the Embedding layer's name), ``vocabulary=`` (vocabulary file),
      ``extra_rows="error" | "drop"`` (matrix rows the vocabulary does not name),
      ``max_inflation=``;
    - arrays: ``vocabulary=``, ``key=`` (which array of an ``.npz``), ``max_inflation=``;
    - tables: ``column=`` (vector column), ``key_column=``, ``model=`` (the sentence model that
      encodes text queries), ``max_inflation=`` (Parquet);
    - projector files: ``metadata=`` (the metadata file), ``key_column=``;
    - ONNX models: ``tokenizer=`` (a folder or ``tokenizer.json``, when none is beside the
      model), ``initializer=`` (the embedding's name, when the graph does not show it);
    - zipped checkpoint folders: ``folder=`` (the one inside the archive), ``matrix=``,
      ``max_inflation=``;
    - every reader: ``name=`` (how the space calls itself in tables and errors).

    ``vocabulary=`` defaults to the vocabulary file beside the matrix: ``<stem>.vocab.txt``,
    else the only ``*vocab*.txt`` in its folder (several are an error naming them). A
    vocabulary must name every row (a shorter one is an error; Keras' ``extra_rows="drop"``
    leaves the unnamed rows out with a warning), and an empty first token, Keras' padding,
    leaves row 0 out. ``vocab=`` is the older name of ``vocabulary=`` and still works.

    ``max_inflation`` (default 100) bounds how many times the bytes a file stores for an array
    it may take in memory, judged from the sizes the file declares before anything is read (at
    least 64 MiB is always allowed); a file past it is refused with the value that would let it
    through, and ``max_inflation=None`` lifts the bound for a file you trust.

    ``model=`` is how a user confirms the model a Parquet file from ``embscope encode`` names:
    a data file never picks a model to load, so text queries on such a file use its model only
    when it is a bundled one (``minilm``) or ``model=`` names it, and fail saying so otherwise.
    """
    if kind is not None and kind not in KINDS:
        raise SourceError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    text = str(source)
    if text.startswith(STORE_PREFIXES) and kind in (None, "gguf"):
        # a model in Ollama's or LM Studio's store, by name: the store says which GGUF file
        from .stores import resolve_store

        source, kind = resolve_store(text), "gguf"
        options.setdefault("name", text)
    bundled = kind == "bundled" or (kind is None and text in BUNDLED)
    path = Path(source).expanduser()
    chosen = "bundled" if bundled else kind or _guess_kind(path, text)
    format_ = BY_KIND[chosen]
    try:
        return format_.read(text if format_.source_as_given else path, **options)
    except SourceError as error:
        # "glove" read as a hub id fails on the hub; the user meant a bundled name
        close = _close_bundled_names(text) if chosen == "huggingface" else []
        if close and not path.exists():
            raise SourceError(f"{error}; or did you mean the bundled {', '.join(close)}?") from None
        raise
    except TypeError as error:
        # an option this kind of reader does not take (vocabulary= for a checkpoint): one
        # line naming it, where Python would say "unexpected keyword argument"
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unknown is None or unknown.group(1) not in options:
            raise
        raise InvalidParameterError(
            f"{unknown.group(1)}= does not apply to {text} (read as {chosen})"
        ) from None


def _close_bundled_names(text: str) -> list[str]:
    import difflib

    lowered = text.lower()
    close = [name for name in BUNDLED if name.startswith(lowered)]
    return close or difflib.get_close_matches(lowered, list(BUNDLED), n=2, cutoff=0.6)


def _guess_kind(path: Path, text: str) -> str:
    if path.is_dir():
        if is_trained_model(path):
            return "trained"
        if (path / "vectors.tsv").is_file():
            return "projector"
        weights = any((path / name).exists() for name in _HF_MARKERS[1:])
        if not (weights or any(path.glob("*.safetensors"))) and (
            any(path.glob("*.onnx")) or (path / "onnx" / "model.onnx").is_file()
        ):
            return "onnx"  # an ONNX export (HF's onnx/ folders), even beside a config.json
        if weights or (path / "config.json").exists() or any(path.glob("*.safetensors")):
            return "huggingface"
        raise SourceError(
            f"{path}: a directory, but neither a Hugging Face checkpoint (config.json, "
            "*.safetensors), an ONNX export (*.onnx) nor a projector export (vectors.tsv); "
            "point at a file inside it"
        )
    if path.is_file():
        return _kind_of_file(path)
    if path.suffix or text.startswith((".", "/", "~")) or "\\" in text:
        raise SourceError(
            f"{text}: no such file or directory; run 'embscope sources' for the bundled names"
        )
    if _HUB_ID.match(text):
        return "huggingface"
    raise SourceError(f"{text!r} is neither a bundled name, a path, nor a Hugging Face hub id")


_HF_MARKERS = ("config.json", "model.safetensors.index.json", "pytorch_model.bin")


def _kind_of_file(path: Path) -> str:
    from .sniff import sniff_file

    # the bytes first: a GGUF, zip, pickle or PDF says what it is whatever its name
    found = sniff_file(path)
    if found is not None:
        if found.kind is None:
            raise SourceError(found.refusal(path))
        if found.kind not in BY_KIND:
            raise SourceError(f"{path}: {found.what}, which this embscope cannot read yet")
        return found.kind
    if path.suffix == ".bin" and (path.parent / "config.json").is_file():
        return "huggingface"  # pytorch_model.bin, not a word2vec file
    by_suffix = kind_of_suffix(path)
    if by_suffix is not None:
        return by_suffix
    from .word_vectors import has_word2vec_header

    return "word2vec-text" if has_word2vec_header(path) else "glove"


def from_array(vectors: np.ndarray, keys: list[str] | None = None, **kwargs: Any) -> EmbeddingSpace:
    """A space from an in-memory matrix; keys default to ``"0"``, ``"1"``, …"""
    keys = keys if keys is not None else [str(i) for i in range(len(vectors))]
    return EmbeddingSpace(vectors, keys, **kwargs)


__all__ = ["KINDS", "bundled_sources", "from_array", "load"]
