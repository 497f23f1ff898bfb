"""Every kind of source embscope reads and every format it writes, one record each.

``load`` takes its kinds, its guesses by suffix and its readers from here; ``export`` its formats
and writers; ``sniff`` the suffixes of the zip formats. A new format is one more ``Format``.

Readers and writers are named ``"module:function"`` (the module relative to this package) and
imported on first use, so that importing embscope loads none of their libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Format:
    """One kind of source, and how embscope writes it when it does.

    ``reader`` is called with the path (or, when ``source_as_given``, the source as the user
    wrote it: a hub id, a bundled name), then ``reader_options``, then the user's options.
    ``suffixes`` name the kind when a file's bytes do not (``sniff`` is asked first);
    ``zip_suffixes`` are those of them that name a zip archive. A suffix is claimed under
    ``.gz`` too unless ``gzipped`` is False. A format embscope writes has a ``writer``, called
    with the space, the output path and ``writer_options``, and the ``export_description`` that
    ``EXPORT_FORMATS`` lists at place ``export_rank``.
    """

    kind: str
    description: str
    reader: str
    suffixes: tuple[str, ...] = ()
    zip_suffixes: tuple[str, ...] = ()
    gzipped: bool = True
    source_as_given: bool = False
    reader_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    writer: str | None = None
    writer_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    export_description: str = ""
    export_rank: int = 0

    def read(self, source: Any, /, **options: Any) -> Any:
        """The space of ``source``, read by this format's reader."""
        return _function(self.reader)(source, **self.reader_options, **options)

    def write(self, space: Any, out: Path, /) -> None:
        """``space`` written to ``out`` by this format's writer."""
        if self.writer is None:
            raise ValueError(f"embscope does not write {self.kind} files")
        _function(self.writer)(space, out, **self.writer_options)


def _function(name: str) -> Callable[..., Any]:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module, __package__), function)


_WORD_VECTORS = ".word_vectors.load:load_word_vectors"
_WORD2VEC_WRITER = ".word_vectors.writer:write_word2vec"

#: In the order ``KINDS`` lists them, which error messages and ``embscope sources`` show.
FORMATS: tuple[Format, ...] = (
    Format(
        "bundled",
        "a space that comes with embscope[bundled], by its name (minilm, glove-6b-50d)",
        reader=".bundled:load_bundled",
        source_as_given=True,
    ),
    Format(
        "huggingface",
        "a Hugging Face checkpoint: its folder, a .safetensors file in it, or a hub id",
        reader=".huggingface.checkpoint:load_huggingface",
        suffixes=(".safetensors",),
        source_as_given=True,
    ),
    Format(
        "word2vec",
        "word2vec binary",
        reader=_WORD_VECTORS,
        reader_options={"format": "word2vec"},
        suffixes=(".bin",),
        writer=_WORD2VEC_WRITER,
        writer_options={"binary": True},
        export_description="word2vec binary (.bin), readable by gensim and the original C tools",
        export_rank=4,
    ),
    Format(
        "word2vec-text",
        "word2vec text, a '<count> <dim>' header first",
        reader=_WORD_VECTORS,
        reader_options={"format": "word2vec-text"},
        writer=_WORD2VEC_WRITER,
        writer_options={"binary": False},
        export_description="word2vec text with a '<count> <dim>' header (also fastText .vec)",
        export_rank=5,
    ),
    Format(
        "glove",
        "GloVe text: a key and its values on each line, no header",
        reader=_WORD_VECTORS,
        reader_options={"format": "glove"},
    ),
    Format(
        "fasttext",
        "fastText .vec (word2vec text)",
        reader=_WORD_VECTORS,
        reader_options={"format": "fasttext"},
        suffixes=(".vec",),
    ),
    Format(
        "keras",
        "an Embedding layer of a Keras model (.keras, .h5)",
        reader=".keras.reader:load_keras",
        suffixes=(".keras", ".h5", ".hdf5"),
        zip_suffixes=(".keras",),
    ),
    Format(
        "npy",
        "a NumPy .npy matrix, keyed by the vocabulary file beside it",
        reader=".arrays.npy:load_array",
        suffixes=(".npy",),
        writer=".arrays.writers:write_npy",
        export_description="NumPy .npy matrix plus <name>.vocab.txt beside it",
        export_rank=2,
    ),
    Format(
        "npz",
        "one array of a NumPy .npz archive",
        reader=".arrays.npy:load_array",
        suffixes=(".npz",),
        zip_suffixes=(".npz",),
    ),
    Format(
        "parquet",
        "a Parquet table with a vector column",
        reader=".arrays.tables:load_table",
        suffixes=(".parquet", ".pq"),
        writer=".arrays.writers:write_parquet",
        export_description=(
            "Parquet table: key, label, metadata columns and a float32 vector column"
        ),
        export_rank=3,
    ),
    Format(
        "csv",
        "a CSV table with a vector column",
        reader=".arrays.tables:load_table",
        suffixes=(".csv",),
    ),
    Format(
        "projector",
        "a TensorBoard projector export: vectors.tsv (and metadata.tsv)",
        reader=".projector:load_projector",
        suffixes=(".tsv",),
        # a gzipped .tsv is word vectors: the projector reader reads plain text only
        gzipped=False,
        writer=".projector:write_projector",
        export_description="TensorBoard projector: a folder with vectors.tsv and metadata.tsv",
        export_rank=1,
    ),
    Format(
        "trained",
        "a model that embscope train saved (its folder)",
        reader=".trained:read_trained",
    ),
    Format(
        "gguf",
        "a GGUF model file (llama.cpp, Ollama's and LM Studio's stores)",
        reader=".gguf.reader:load_gguf",
    ),
    Format(
        "onnx",
        "the token embedding of an ONNX model",
        reader=".onnx:load_onnx",
        suffixes=(".onnx",),
    ),
    Format(
        "huggingface-zip",
        "a zipped Hugging Face checkpoint folder, read in place",
        reader=".hf_zip:load_huggingface_zip",
    ),
)

KINDS: tuple[str, ...] = tuple(f.kind for f in FORMATS)
BY_KIND: dict[str, Format] = {f.kind: f for f in FORMATS}

#: Format name -> what ``export`` writes for it.
EXPORT_FORMATS: dict[str, str] = {
    f.kind: f.export_description
    for f in sorted(FORMATS, key=lambda f: f.export_rank)
    if f.writer is not None
}

_BY_SUFFIX = {suffix: f.kind for f in FORMATS for suffix in f.suffixes}
_BY_GZIPPED_SUFFIX = {suffix: f.kind for f in FORMATS if f.gzipped for suffix in f.suffixes}
_BY_ZIP_SUFFIX = {suffix: f.kind for f in FORMATS for suffix in f.zip_suffixes}


def kind_of_suffix(path: Path) -> str | None:
    """The kind that claims the suffix of ``path`` (its inner suffix under ``.gz``), or None."""
    if path.suffix == ".gz":
        return _BY_GZIPPED_SUFFIX.get(path.with_suffix("").suffix)
    return _BY_SUFFIX.get(path.suffix)


def kind_of_zip_suffix(suffix: str) -> str | None:
    """The kind whose zip archives end in ``suffix`` (``.npz``, ``.keras``), or None."""
    return _BY_ZIP_SUFFIX.get(suffix)


__all__ = [
    "BY_KIND",
    "EXPORT_FORMATS",
    "FORMATS",
    "KINDS",
    "Format",
    "kind_of_suffix",
    "kind_of_zip_suffix",
]
