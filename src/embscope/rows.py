"""The rows a space is made of, checked once when it is built: a 2-D float matrix, one unique
key per row, labels and metadata of the same length; rows holding NaN or infinite values are
left out and said so, since such a row would answer every question with NaN."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidParameterError
from .search import kernels

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedRows:
    vectors: np.ndarray | kernels.BFloat16Rows
    keys: list[str]
    index: dict[str, int]
    labels: list[str] | None
    metadata: pd.DataFrame | None
    metadata_columns: dict[str, np.ndarray] | None
    non_finite_keys: list[str]


def checked_rows(
    vectors: np.ndarray,
    keys: Sequence[str],
    labels: Sequence[str] | None,
    metadata: pd.DataFrame | Mapping[str, Sequence[Any]] | None,
    *,
    shown_as: str,
) -> CheckedRows:
    """The space's rows checked (one-line errors), read-only, NaN rows left out; ``shown_as``
    names the space in the warning."""
    # a plain ndarray view: numpy.memmap's subclass hooks cost microseconds on every slice,
    # while the view still reads the mapped file (its .base is the memmap); bfloat16 rows
    # stay as their mapped bits, widened to float32 only where they are read
    if not isinstance(vectors, kernels.BFloat16Rows):
        vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise InvalidParameterError(
            f"vectors must be a 2-D array (rows x dimensions); got shape {vectors.shape}"
        )
    if vectors.dtype not in (np.float32, np.float16):
        vectors = vectors.astype(np.float32)
    keys = list(keys)
    if len(keys) != vectors.shape[0]:
        raise InvalidParameterError(
            f"keys must have one entry per row: {len(keys)} keys for {vectors.shape[0]} rows"
        )
    index = dict(zip(keys, range(len(keys)), strict=True))
    if len(index) != len(keys):
        _raise_first_duplicate(keys)
    if labels is not None and len(labels) != len(keys):
        raise InvalidParameterError(
            f"labels must have one entry per row: {len(labels)} labels for {len(keys)} rows"
        )
    metadata_columns = None
    if isinstance(metadata, Mapping):
        # columns stay plain arrays until someone reads .metadata: loading a vocabulary
        # should not pay for importing pandas
        metadata_columns = {str(k): np.asarray(v) for k, v in metadata.items()}
        for column, values in metadata_columns.items():
            if len(values) != len(keys):
                raise InvalidParameterError(
                    f"metadata column {column!r} has {len(values)} values for {len(keys)} rows"
                )
        metadata = None
    elif metadata is not None and len(metadata) != len(keys):
        raise InvalidParameterError(
            f"metadata must have one row per vector: {len(metadata)} rows for {len(keys)}"
        )
    non_finite = kernels.non_finite_rows(vectors)
    non_finite_keys = [keys[row] for row in non_finite]
    non_finite_keys: list[str] = [keys[row] for row in non_finite]
    if len(non_finite):
        # a NaN row would answer every question with NaN (cosine "0.0000", an empty
        # neighbour list): it is left out, and said so, rather than answered wrongly
        shown = ", ".join(repr(key) for key in non_finite_keys[:5])
        more = f" and {len(non_finite) - 5:,} more" if len(non_finite) > 5 else ""
        logger.warning(
            "%s: %s of %s rows hold NaN or infinite values and are left out: %s%s",
            shown_as,
            f"{len(non_finite):,}",
            f"{len(keys):,}",
            shown,
            more,
        )
        kept = np.setdiff1d(np.arange(len(keys)), non_finite)
        vectors = (
            kernels.BFloat16Rows(vectors.bits[kept])
            if isinstance(vectors, kernels.BFloat16Rows)
            else vectors[kept]
        )
        keys = [keys[row] for row in kept]
        index = dict(zip(keys, range(len(keys)), strict=True))
        labels = [labels[row] for row in kept] if labels is not None else None
        if metadata_columns is not None:
            metadata_columns = {k: v[kept] for k, v in metadata_columns.items()}
        if metadata is not None:
            metadata = metadata.iloc[kept]
    if isinstance(vectors, np.ndarray) and vectors.flags.writeable:
        vectors = vectors.view()
        vectors.flags.writeable = False
    return CheckedRows(
        vectors=vectors,
        keys=keys,
        index=index,
        labels=list(labels) if labels is not None else None,
        metadata=metadata.reset_index(drop=True) if metadata is not None else None,
        metadata_columns=metadata_columns,
        non_finite_keys=non_finite_keys,
    )


def _raise_first_duplicate(keys: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for row, key in enumerate(keys):
        if key in seen:
            raise InvalidParameterError(
                f"keys must be unique: {key!r} is at rows {seen[key]} and {row}"
            )
        seen[key] = row
