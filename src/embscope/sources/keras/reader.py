"""A Keras model file read as the space of one Embedding layer, keyed by its vocabulary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ...errors import InvalidParameterError, MalformedFileError, MissingDependencyError, SourceError
from ...space import EmbeddingSpace, Provenance
from ..vocabulary import (
    DEFAULT_MAX_INFLATION,
    check_max_inflation,
    chosen_vocabulary,
    file_fingerprint,
    find_vocabulary,
    keys_for_tokens,
    leave_out_padding,
    read_vocabulary,
    row_number_keys,
)
from .archive import ZIP_MAGIC, open_zip
from .hdf5 import HDF5_MAGIC, OpenedFile, open_hdf5
from .layers import EmbeddingLayer, choose, layers_in
from .weights import read_weights

logger = logging.getLogger(__name__)


ExtraRows = Literal["error", "drop"]


def load_keras(
    path: str | Path,
    *,
    layer: str | None = None,
    vocabulary: str | Path | None = None,
    extra_rows: ExtraRows = "error",
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
    name: str | None = None,
    vocab: str | Path | None = None,
) -> EmbeddingSpace:
    """The matrix of an Embedding layer of a Keras file, keyed by its vocabulary.

    ``layer`` names the Embedding layer (needed when the model has several). ``vocabulary``
    names the vocabulary file (``vocab`` is its older name); by default the one beside the
    model is used. The vocabulary must name every row: a shorter one is an error, since a file
    that lost lines (or its padding and ``[UNK]`` lines) would shift every key. When
    ``TextVectorization`` found fewer tokens than ``max_tokens``, the rows past the vocabulary
    are never looked up: ``extra_rows="drop"`` leaves them out, and the log warns how many
    and from which row. An empty first token (the padding) leaves row 0 out.

    ``max_inflation`` bounds how many times the bytes the file stores for the weights they may
    take in memory (at least 64 MiB is always allowed); None lifts the bound.
    """
    if extra_rows not in ("error", "drop"):
        raise InvalidParameterError(f"extra_rows must be 'error' or 'drop'; got {extra_rows!r}")
    vocab_path = chosen_vocabulary(vocabulary, vocab)
    max_inflation = check_max_inflation(max_inflation)
    h5py = _import_h5py()
    path = Path(path)
    with _open_keras_file(path, h5py, max_inflation) as opened:
        try:
            found = layers_in(opened)
            chosen = choose(found, layer, opened)
            matrix = read_weights(opened, chosen, max_inflation)
        except (RuntimeError, OSError, KeyError) as error:
            # h5py reports a damaged object tree from inside HDF5 (a visit that meets a
            # missing object, a link to nowhere) as these, deep in its own stack
            raise MalformedFileError(
                path, f"the HDF5 data is damaged ({type(error).__name__}: {error})"
            ) from None
    rows = matrix.shape[0]

    if vocab_path is None:
        vocab_path = find_vocabulary(path)
    options: dict[str, Any] = {"layer": chosen.name, "vocabulary": None}
    token_ids = np.arange(rows, dtype=np.int64)
    if vocab_path is None:
        keys = row_number_keys(
            path,
            rows,
            how_to_name="save TextVectorization.get_vocabulary() one token per line",
            numbers="token ids",
        )
    else:
        tokens = read_vocabulary(vocab_path)
        options["vocabulary"] = str(vocab_path)
        if len(tokens) < rows and extra_rows == "drop":
            logger.warning(
                "%s: the vocabulary names %s of the %s rows of layer %r; left out the %s rows "
                "from row %s on (extra_rows='drop')",
                path,
                f"{len(tokens):,}",
                f"{rows:,}",
                chosen.name,
                f"{rows - len(tokens):,}",
                f"{len(tokens):,}",
            )
            options["extra_rows"] = "drop"
            matrix, rows = matrix[: len(tokens)], len(tokens)
            token_ids = token_ids[:rows]
        if len(tokens) != rows:
            raise MalformedFileError(vocab_path, _size_mismatch(len(tokens), rows, chosen))
        if leave_out_padding(tokens, vocab_path):
            matrix, tokens, token_ids = matrix[1:], tokens[1:], token_ids[1:]
            options["padding_row"] = "left out"
        keys, empty_key = keys_for_tokens(tokens)
        if empty_key is not None:
            options["empty_token_key"] = empty_key
            logger.info("%s: the empty token has the key %r", vocab_path, empty_key)
    return EmbeddingSpace(
        matrix,
        keys,
        metadata=pd.DataFrame({"token_id": token_ids}),
        provenance=Provenance(
            source=str(path),
            kind="keras",
            options=options,
            fingerprint=file_fingerprint(path, vocab_path),
        ),
        name=name or f"{path.name}:{chosen.name}",
    )


def _size_mismatch(tokens: int, rows: int, layer: EmbeddingLayer) -> str:
    advice = (
        "TextVectorization.get_vocabulary() starts with the padding token (an empty line) and "
        "'[UNK]'; if this file leaves them out, add them back as its first two lines. If the "
        "Embedding's input_dim is larger than the vocabulary (fewer tokens than max_tokens), "
        "pass extra_rows='drop' to keep only the rows the vocabulary names"
        if tokens < rows
        else "the vocabulary is longer than the matrix: is it the vocabulary of this model?"
    )
    return (
        f"{tokens:,} tokens for the {rows:,} rows of layer {layer.name!r}; "
        f"they must match one to one. {advice}"
    )


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError(
            "h5py", extra="keras", purpose="reading Keras .keras / .h5 files"
        ) from None
    return h5py


def _open_keras_file(path: Path, h5py: Any, max_inflation: float | None) -> OpenedFile:
    """The file opened as the layout its first bytes name: a ``.keras`` zip or an HDF5 file."""
    try:
        with path.open("rb") as handle:
            start = handle.read(8)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(
            f"{path}: a directory (a TensorFlow SavedModel?); embscope reads .keras and .h5 "
            "files: re-save the model with model.save('model.keras')"
        ) from None
    if start.startswith(ZIP_MAGIC):
        return open_zip(path, h5py, max_inflation)
    if start != HDF5_MAGIC:
        raise MalformedFileError(
            path, "not a Keras file: neither a .keras zip archive nor an HDF5 .h5 file"
        )
    return open_hdf5(path, h5py)
