"""What embscope writes beside a table's vectors so that reading it back is exact: the names of
the columns that hold the space itself, and the ``embscope`` schema metadata of a Parquet file
(key, label and vector columns, metric, and for a document space the model that made it).

A data file never chooses code to run: a model the metadata names encodes text queries only
when it is bundled or the user confirms it (``query_encoder``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import MalformedFileError, SourceError
from ...search.kernels import VALID_METRICS
from ...search.results import RENAMED_PREFIX

logger = logging.getLogger(__name__)

#: Columns that ``write_parquet`` and ``write_projector`` use for the space itself; metadata
#: columns of the same name are stored as ``metadata.<name>`` and renamed back on reading.
RESERVED_COLUMNS = ("key", "label", "vector")

#: Parquet schema metadata written by ``write_parquet`` so reading it back is exact.
PARQUET_MARKER = b"embscope"

#: What ``write_parquet`` writes in the schema metadata under ``PARQUET_MARKER``, and the types
#: each field may have; a file with anything else was not written by embscope.
_MARKER_FIELDS: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "label": (str,),
    "vector": (str,),
    "metric": (str,),
    "documents": (dict,),
}
_DOCUMENTS_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "text_column": (str, type(None)),
    "label_column": (str, type(None)),
}
_MODEL_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "location": (str,),
    "normalize": (bool, type(None)),
    # which runtime made the vectors (torch, onnx, onnx-int8); files written before it say nothing
    "runtime": (str,),
}
_MODEL_REQUIRED = ("name", "location")

#: Sentence models embscope carries itself: a file may name them and have them used.
BUNDLED_QUERY_MODELS = ("minilm",)


def parse_marker(raw: bytes, path: str | Path) -> dict[str, Any]:
    """The ``embscope`` schema metadata of a Parquet file, checked field by field."""
    what = f"its {PARQUET_MARKER.decode()!r} schema metadata"
    advice = "write the file again with embscope, or remove that metadata"
    try:
        marker = json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, f"{what} is JSON nested too deeply; {advice}") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedFileError(path, f"{what} is not valid JSON ({error}); {advice}") from None
    _check_fields(marker, _MARKER_FIELDS, path, what, advice)
    if marker.get("metric") not in (None, *VALID_METRICS):
        raise MalformedFileError(
            path,
            f"{what} names the metric {marker['metric']!r}; expected one of "
            f"{', '.join(VALID_METRICS)}",
        )
    documents = marker.get("documents")
    if documents is not None:
        _check_fields(documents, _DOCUMENTS_FIELDS, path, f"{what} 'documents'", advice)
        named = documents.get("model")
        if named is not None:
            _check_fields(named, _MODEL_FIELDS, path, f"{what} 'documents.model'", advice)
            missing = [field for field in _MODEL_REQUIRED if field not in named]
            if missing:
                raise MalformedFileError(
                    path, f"{what} 'documents.model' lacks {', '.join(missing)}; {advice}"
                )
    return marker


def _check_fields(
    value: Any, fields: dict[str, tuple[type, ...]], path: str | Path, what: str, advice: str
) -> None:
    if not isinstance(value, dict):
        raise MalformedFileError(path, f"{what} is not a JSON object; {advice}")
    for field, content in value.items():
        if field not in fields:
            shown = field if len(field) <= 40 else field[:39] + "…"
            raise MalformedFileError(path, f"{what} has an unknown field {shown!r}; {advice}")
        if not isinstance(content, fields[field]):
            raise MalformedFileError(
                path,
                f"{what}: field {field!r} must be "
                f"{' or '.join('null' if t is type(None) else t.__name__ for t in fields[field])}, "
                f"not {type(content).__name__}; {advice}",
            )


def query_encoder(
    path: Path, named: dict[str, Any] | None, model: str | None
) -> Callable[[str], np.ndarray] | None:
    """What encodes a text query: the model the user confirmed (``model``), or the bundled
    model the file names; otherwise, when the file names a model, a function that explains how
    to confirm it. The model itself is loaded on the first query."""
    normalize = named.get("normalize") if named else None
    if model is None and named is None:
        return None
    if model is None and named["name"] not in BUNDLED_QUERY_MODELS:
        name, location = named["name"], named["location"]
        where = f" (at {location!r})" if location != name else ""

        def unconfirmed(query: str) -> np.ndarray:
            raise SourceError(
                f"{path.name} says its vectors were made by the model {name!r}{where}; embscope "
                f"loads a model a data file names only when you confirm it: pass model={name!r} "
                f"(CLI: --model {name!r}), or the model's directory if it is elsewhere"
            )

        return unconfirmed
    chosen = model if model is not None else named["name"]
    if model is not None and named is not None and model not in (named["name"], named["location"]):
        logger.warning(
            "%s says its vectors were made by %r; text queries will be encoded with %r, "
            "as model= says",
            path,
            named["name"],
            model,
        )
    encoders: list[Callable[[str], np.ndarray]] = []

    def encode(query: str) -> np.ndarray:
        if not encoders:
            from ...text.encode import Encoder, model_spec

            # int8 documents get int8 queries; torch or fp32 ONNX ones the same vectors either way
            runtime = named.get("runtime") if named else None
            spec = model_spec(
                chosen,
                normalize="auto" if normalize is None else normalize,
                backend="onnx-int8" if runtime == "onnx-int8" else "auto",
            )
            encoders.append(Encoder(spec).encode_one)
        return encoders[0](query)

    return encode


def reserved_safe_metadata(metadata: pd.DataFrame) -> pd.DataFrame:
    """Metadata with columns that clash with ``key``/``label``/``vector`` renamed
    ``metadata.<name>``."""
    clashes = {c: f"{RENAMED_PREFIX}{c}" for c in metadata.columns if c in RESERVED_COLUMNS}
    return metadata.rename(columns=clashes) if clashes else metadata


def restore_reserved_names(metadata: pd.DataFrame) -> pd.DataFrame:
    """Undo ``reserved_safe_metadata``."""
    renamed = {
        c: c[len(RENAMED_PREFIX) :]
        for c in metadata.columns
        if isinstance(c, str)
        and c.startswith(RENAMED_PREFIX)
        and c[len(RENAMED_PREFIX) :] in RESERVED_COLUMNS
    }
    return metadata.rename(columns=renamed) if renamed else metadata
