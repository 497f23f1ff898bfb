"""A model trained by ``embscope train``: its embedding layer as a space, without torch.

The directory holds ``model.safetensors`` (the weights), ``vocabulary.txt`` (one token per
line, as Keras' ``get_vocabulary()`` writes it) and ``embscope-train.json`` (how it was
trained). Row 0 of the embedding, the padding, is not a word and is left out; ``[UNK]`` stays
(it is a trained row: where unknown words sit). Rows keep the vocabulary's order, most frequent
first, so ``restrict_vocab=N`` searches the N most frequent words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError, SourceError
from ..space import EmbeddingSpace, Provenance
from .vocabulary import file_fingerprint, read_vocabulary

CONFIG_FILE = "embscope-train.json"
WEIGHTS_FILE = "model.safetensors"
VOCABULARY_FILE = "vocabulary.txt"
FORMAT = "embscope-sentiment"
EMBEDDING_WEIGHT = "embedding.weight"


def is_trained_model(path: Path) -> bool:
    """Whether ``path`` is a directory ``embscope train`` (or ``SentimentRun.save``) wrote."""
    return (path / CONFIG_FILE).is_file()


def read_config(path: Path) -> dict[str, Any]:
    config_path = path / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except RecursionError:
        raise MalformedFileError(config_path, "JSON nested too deeply") from None
    except (OSError, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedFileError(config_path, f"not a readable JSON file ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise MalformedFileError(config_path, f'"format" must be "{FORMAT}"')
    for name in (WEIGHTS_FILE, VOCABULARY_FILE):
        if not (path / name).is_file():
            raise SourceError(f"{path}: {name} is missing; save the run again (run.save)")
    return config


def trained_space(
    matrix: np.ndarray,
    vocabulary: tuple[str, ...],
    counts: np.ndarray,
    *,
    standardization: str,
    name: str,
    provenance: Provenance | None = None,
) -> EmbeddingSpace:
    """The embedding rows after padding, keyed by token, with each token's training count."""
    from ..train.vectorizer import tokenize

    return EmbeddingSpace(
        matrix[1:],
        list(vocabulary[1:]),
        metadata={
            "token_id": np.arange(1, len(vocabulary), dtype=np.int64),
            "count": np.asarray(counts[1:], dtype=np.int64),
        },
        provenance=provenance,
        name=name,
        # free-text queries are split as the model splits its inputs
        tokenize=lambda text: tokenize(text, standardization),
    )


def read_trained(path: Path, *, name: str | None = None) -> EmbeddingSpace:
    """The embedding of a saved run. The vocabulary must name every row (one token per line,
    padding and ``[UNK]`` first); ``token_counts`` in the config, when present, one count per
    token."""
    from safetensors import SafetensorError, safe_open

    config = read_config(path)
    weights_path = path / WEIGHTS_FILE
    try:
        # only the embedding: the file's other tensors are never read
        with safe_open(weights_path, framework="numpy") as weights:
            matrix = weights.get_tensor(EMBEDDING_WEIGHT)
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise MalformedFileError(
            weights_path, f"no readable {EMBEDDING_WEIGHT} ({error})"
        ) from None
    if matrix.ndim != 2 or matrix.dtype.kind != "f" or 0 in matrix.shape:
        raise MalformedFileError(
            weights_path,
            f"{EMBEDDING_WEIGHT} has shape {matrix.shape} {matrix.dtype}; expected a float "
            "matrix, rows x dimensions",
        )
    vocabulary_path = path / VOCABULARY_FILE
    vocabulary = tuple(read_vocabulary(vocabulary_path, expected_rows=len(matrix)))
    if vocabulary[:2] != ("", "[UNK]"):
        raise MalformedFileError(
            vocabulary_path,
            f"a TextVectorization vocabulary starts with an empty line and [UNK]; got "
            f"{list(vocabulary[:2])!r}",
            line=1,
        )
    from ..train.vectorizer import STANDARDIZERS

    standardization = config.get("standardization", "keras")
    if not isinstance(standardization, str) or standardization not in STANDARDIZERS:
        raise MalformedFileError(
            path / CONFIG_FILE,
            f'"standardization" must be one of {", ".join(STANDARDIZERS)}; got {standardization!r}',
        )
    counts = config.get("token_counts")
    if counts is None:
        counts = [0] * len(vocabulary)
    if (
        not isinstance(counts, list)
        or len(counts) != len(vocabulary)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
    ):
        raise MalformedFileError(
            path / CONFIG_FILE,
            f'"token_counts" must be a list of {len(vocabulary):,} non-negative integers, one '
            "per token of the vocabulary",
        )
    return trained_space(
        matrix,
        vocabulary,
        np.asarray(counts, dtype=np.int64),
        standardization=standardization,
        name=name or path.name,
        provenance=Provenance(
            source=str(path),
            kind="trained",
            fingerprint=file_fingerprint(weights_path, path / VOCABULARY_FILE),
        ),
    )
