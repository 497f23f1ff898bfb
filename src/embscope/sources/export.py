"""Write a space in the formats other tools read; every writer replaces its output atomically."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidParameterError
from ..space import EmbeddingSpace

EXPORT_FORMATS: dict[str, str] = {
    "projector": "TensorBoard projector: a folder with vectors.tsv and metadata.tsv",
    "npy": "NumPy .npy matrix plus <name>.vocab.txt beside it",
    "parquet": "Parquet table: key, label, metadata columns and a float32 vector column",
    "word2vec": "word2vec binary (.bin), readable by gensim and the original C tools",
    "word2vec-text": "word2vec text with a '<count> <dim>' header (also fastText .vec)",
}


def export(space: EmbeddingSpace, out: str | Path, *, format: str) -> Path:
    """Write ``space`` to ``out`` in ``format`` (see ``EXPORT_FORMATS``); returns ``out``."""
    out = Path(out)
    if format == "projector":
        from .projector import write_projector

        write_projector(space, out)
    elif format == "npy":
        from .arrays import write_npy

        write_npy(space, out)
    elif format == "parquet":
        from .arrays import write_parquet

        write_parquet(space, out)
    elif format in ("word2vec", "word2vec-text"):
        from .word_vectors import write_word2vec

        write_word2vec(space, out, binary=format == "word2vec")
    else:
        raise InvalidParameterError(
            f"format must be one of {', '.join(EXPORT_FORMATS)}; got {format!r}"
        )
    return out
