"""The Embedding layers of a model: from its config (class ``Embedding``, nested models
included), or without one from the weights tree; and the one a load asks for."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidParameterError, SourceError
from .hdf5 import Opened, attr_name, keras3_vars_groups, legacy_embedding_datasets, matrix_shape

EMBEDDING_CLASSES = frozenset({"Embedding"})


@dataclass(frozen=True)
class EmbeddingLayer:
    """An Embedding layer as the config (or the file tree) describes it."""

    name: str
    input_dim: int | None = None
    output_dim: int | None = None
    #: where Keras 3 stores its variables, derived from the config; None when not derivable
    store_path: str | None = None

    def describe(self) -> str:
        if self.input_dim is None:
            return repr(self.name)
        return f"{self.name!r} ({self.input_dim:,} x {self.output_dim})"


def _snake_case(class_name: str) -> str:
    # keras.src.utils.naming.to_snake_case, which names the groups of a Keras 3 weights file
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def embedding_layers(config: dict[str, Any]) -> list[EmbeddingLayer]:
    """Every Embedding layer of a model config, nested models included, in config order."""
    found: list[EmbeddingLayer] = []

    def visit(model: dict[str, Any], prefix: str) -> None:
        inner = model.get("config")
        layers = inner.get("layers") if isinstance(inner, dict) else inner
        if not isinstance(layers, list):
            return
        used: dict[str, int] = {}
        for entry in layers:
            if not isinstance(entry, dict):
                continue
            class_name = str(entry.get("class_name", ""))
            settings = entry.get("config") if isinstance(entry.get("config"), dict) else {}
            # Sequential.layers leaves out the InputLayer, and so does the weights file
            if model.get("class_name") == "Sequential" and class_name == "InputLayer":
                continue
            group = _snake_case(class_name)
            if group in used:
                used[group] += 1
                group = f"{group}_{used[group]}"
            else:
                used[group] = 0
            path = f"{prefix}layers/{group}"
            if class_name in EMBEDDING_CLASSES:
                found.append(
                    EmbeddingLayer(
                        name=str(settings.get("name") or entry.get("name") or group),
                        input_dim=_int_or_none(settings.get("input_dim")),
                        output_dim=_int_or_none(settings.get("output_dim")),
                        store_path=f"{path}/vars",
                    )
                )
            visit(entry, f"{path}/")

    visit(config, "")
    return found


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def layers_in(opened: Opened) -> list[EmbeddingLayer]:
    """The Embedding layers of an opened file: from its config, else from its weights tree."""
    if opened.config is not None:
        return embedding_layers(opened.config)
    if opened.layout == "keras3":
        found = []
        for group_path, group in keras3_vars_groups(opened.root):
            owner = group_path.rsplit("/", 2)[-2]
            shape = matrix_shape(group, "0")
            if re.fullmatch(r"embedding(_\d+)?", owner) and shape is not None:
                found.append(
                    EmbeddingLayer(attr_name(group) or owner, *shape, store_path=group_path)
                )
        return found
    return [
        EmbeddingLayer(layer_name, *shape, store_path=dataset_path)
        for dataset_path, layer_name, shape in legacy_embedding_datasets(opened.root)
    ]


def choose(found: list[EmbeddingLayer], layer: str | None, opened: Opened) -> EmbeddingLayer:
    """The layer ``layer`` names, or the only one; otherwise an error listing them."""
    listing = ", ".join(f.describe() for f in found)
    if layer is not None:
        for candidate in found:
            if candidate.name == layer:
                return candidate
        other = _class_of(opened.config, layer) if opened.config else None
        if other is not None:
            raise InvalidParameterError(
                f"layer {layer!r} of {opened.path.name} is a {other} layer, not an Embedding; "
                f"Embedding layers: {listing or 'none'}"
            )
        raise InvalidParameterError(
            f"no Embedding layer named {layer!r} in {opened.path.name}; "
            f"Embedding layers: {listing or 'none'}"
        )
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(
            f"{opened.path}: no Embedding layer in this model"
            + ("" if opened.config else " (and no model config to say which layers it has)")
        )
    raise InvalidParameterError(
        f"{opened.path.name} has {len(found)} Embedding layers: {listing}; pass layer= "
        "(CLI: --layer) to pick one"
    )


def _class_of(config: dict[str, Any], layer: str) -> str | None:
    for entry in _walk_layer_entries(config):
        settings = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        if layer in (settings.get("name"), entry.get("name")):
            return str(entry.get("class_name"))
    return None


def _walk_layer_entries(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    inner = model.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    if isinstance(layers, list):
        for entry in layers:
            if isinstance(entry, dict):
                yield entry
                yield from _walk_layer_entries(entry)
