"""A space written as NumPy (``.npy`` and a vocabulary file) or as a Parquet table that
``load_table`` reads back exactly; every file is replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..._io.atomic import atomic_path
from ...errors import InvalidParameterError
from ...space import EmbeddingSpace
from ..vocabulary import write_vocabulary
from .marker import PARQUET_MARKER, reserved_safe_metadata


def write_npy(space: EmbeddingSpace, path: str | Path) -> Path:
    """Write the matrix as ``.npy`` and the keys as ``<stem>.vocab.txt`` beside it.

    ``load`` of the ``.npy`` finds the vocabulary again. Labels and metadata are not kept (use
    ``write_parquet`` for those); the dtype is (float32 or float16). Each file is replaced
    whole, the vocabulary first.
    """
    path = Path(path)
    if path.suffix != ".npy":
        raise InvalidParameterError(f"path must end in .npy; got {path.name!r}")
    write_vocabulary(space.keys, path.with_suffix(".vocab.txt"))
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        # a file object, because np.save appends .npy to a path that lacks it
        np.save(handle, np.asarray(space.vectors), allow_pickle=False)
    return path


def write_parquet(space: EmbeddingSpace, path: str | Path) -> Path:
    """Write ``key``, ``label``, the metadata columns and a fixed-size-list float32 ``vector``.

    ``load_table`` reads it back exactly (keys, labels, metadata, metric; float16 vectors come
    back as float32). A metadata column named ``key``, ``label`` or ``vector`` is stored as
    ``metadata.<name>``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    metadata = reserved_safe_metadata(space.metadata)
    vectors = np.ascontiguousarray(space.vectors, dtype=np.float32)
    columns: dict[str, Any] = {
        "key": pa.array(space.keys, type=pa.string()),
        "label": pa.array(list(space.labels), type=pa.string()),
    }
    for name in metadata.columns:
        try:
            columns[str(name)] = pa.Array.from_pandas(metadata[name])
        except (pa.ArrowException, TypeError, ValueError) as error:
            raise InvalidParameterError(
                f"metadata column {name!r} cannot be stored in Parquet ({error}); give it one type"
            ) from None
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), space.dim)
    marker: dict[str, Any] = {
        "key": "key",
        "label": "label",
        "vector": "vector",
        "metric": space.metric,
    }
    if space.provenance.kind == "documents":
        # what a document space needs back: its model (to encode queries) and its columns
        options = space.provenance.options
        marker["documents"] = {
            name: options.get(name) for name in ("model", "text_column", "label_column")
        }
    table = pa.table(columns).replace_schema_metadata({PARQUET_MARKER: json.dumps(marker)})
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return path
