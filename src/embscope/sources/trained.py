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
from .vocabulary import file_fingerprint

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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
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
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from ..train.vectorizer import TextVectorizer

    config = read_config(path)
    weights_path = path / WEIGHTS_FILE
    try:
        matrix = load_file(weights_path)[EMBEDDING_WEIGHT]
    except (SafetensorError, KeyError) as error:
        raise MalformedFileError(
            weights_path, f"no readable {EMBEDDING_WEIGHT} ({error})"
        ) from None
    vocabulary = TextVectorizer.load(path / VOCABULARY_FILE).vocabulary
    if len(vocabulary) != len(matrix):
        raise MalformedFileError(
            path / VOCABULARY_FILE,
            f"{len(vocabulary)} tokens for the embedding's {len(matrix)} rows",
        )
    counts = np.asarray(config.get("token_counts") or np.zeros(len(vocabulary)), dtype=np.int64)
    return trained_space(
        matrix,
        vocabulary,
        counts,
        standardization=config.get("standardization", "keras"),
        name=name or path.name,
        provenance=Provenance(
            source=str(path),
            kind="trained",
            fingerprint=file_fingerprint(weights_path, path / VOCABULARY_FILE),
        ),
    )
