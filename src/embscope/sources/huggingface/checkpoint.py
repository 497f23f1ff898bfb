"""A checkpoint located (a folder, a file in one, or a hub id), opened, and read as a space."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidParameterError, SourceError
from ...search.kernels import BFloat16Rows, bfloat16_to_float32
from ...space import EmbeddingSpace, Provenance
from ..hf_tokenizer import TokenizerVocabulary, read_tokenizer, token_table
from .files import confine_checkpoint, open_weights, read_config
from .hub import HUB_ID, fetch_from_hub
from .tensors import choose_tensors, configured_tie, head_bias, listing, no_output_head, tie_state
from .weights import WeightTensor, float_matrix

logger = logging.getLogger(__name__)

#: Values of ``matrix=``: the input embedding, or the output (unembedding) matrix.
MATRICES = ("input", "output")


def load_huggingface(
    source: str,
    *,
    name: str | None = None,
    matrix: str = "input",
    revision: str | None = None,
) -> EmbeddingSpace:
    """The token-embedding space of a Hugging Face checkpoint.

    ``source`` is a checkpoint directory, a ``.safetensors`` file inside one, or a hub id.
    ``matrix="output"`` gives the output (unembedding) matrix: the head tensor when it is
    untied, the input matrix when it is tied. ``revision`` (branch, tag or commit) applies to
    hub ids. Keys are the raw token strings, labels their readable form, and the metadata has
    ``token_id``, ``special`` and ``kind`` columns.
    """
    if matrix not in MATRICES:
        raise InvalidParameterError(f"matrix must be 'input' or 'output'; got {matrix!r}")
    parts = read_checkpoint(source, revision=revision)
    provenance_source = parts.origin.get("repo_id") or str(Path(source).expanduser().resolve())
    return checkpoint_space(parts, matrix=matrix, name=name or source, source=provenance_source)


def checkpoint_space(
    parts: Checkpoint, *, matrix: str, name: str, source: str, kind: str = "huggingface"
) -> EmbeddingSpace:
    """The space of one matrix of an opened checkpoint (a folder, or one inside a zip)."""
    directory, embedding, head, tied = parts.directory, parts.embedding, parts.head, parts.tied
    vocabulary, tied_basis, origin = parts.vocabulary, parts.tied_basis, parts.origin
    config_digest, weights_digest = parts.config_digest, parts.weights_digest
    if matrix == "output" and tied is None:
        raise SourceError(f"{directory}: {tied_basis}; use matrix='input'")
    if matrix == "input" or tied:
        selected = embedding
    elif head is not None:
        selected = head
    else:
        raise SourceError(
            f"{directory}: config.json unties the output matrix (tie_word_embeddings=false) but "
            f"no output tensor was found; 2-D tensors seen: {listing(parts.tensors)}"
        )
    logger.info(
        "%s: %s matrix is %s (tied=%s: %s)", source, matrix, selected.describe(), tied, tied_basis
    )
    vectors = float_matrix(selected)
    table = token_table(vocabulary, vectors.shape[0])
    options: dict[str, Any] = {
        "matrix": matrix,
        "tensor": selected.name,
        "file": selected.file.name,
        "dtype": selected.dtype,
        "tied": tied,
        "tied_basis": tied_basis,
        "input_tensor": embedding.name,
        "head_tensor": head.name if head is not None else None,
        "tokenizer": vocabulary.description if vocabulary else "none: keys are row numbers",
        "padding_rows": table.padding_rows,
        **origin,
    }
    if vocabulary is not None and vocabulary.notes:
        options["tokenizer_notes"] = list(vocabulary.notes)
    fingerprint = hashlib.sha256(
        "|".join(
            [weights_digest, config_digest, vocabulary.fingerprint if vocabulary else ""]
        ).encode()
    ).hexdigest()[:16]
    return table.space(
        vectors,
        provenance=Provenance(source=source, kind=kind, options=options, fingerprint=fingerprint),
        name=name,
    )


@dataclass(frozen=True)
class Checkpoint:
    """The weights and tokenizer of a checkpoint, located and opened but not read: the input
    embedding, the output head tensor (None when none is stored; equal to the input when
    ``tied``), the head's bias, and the tokenizer's vocabulary. ``tied`` is None when the
    checkpoint has no output head at all (an encoder without a language-model head)."""

    directory: Path
    config: dict[str, Any]
    vocabulary: TokenizerVocabulary | None
    tensors: Mapping[str, WeightTensor]
    embedding: WeightTensor
    head: WeightTensor | None
    bias: WeightTensor | None
    tied: bool | None
    tied_basis: str
    origin: dict[str, str]
    config_digest: str
    weights_digest: str

    def matrix(self, which: str) -> np.ndarray | BFloat16Rows:
        """``"input"`` or ``"output"`` rows, memory-mapped: float32/float16 arrays, or
        ``BFloat16Rows`` that read as float32."""
        if which == "output" and self.tied is None:
            raise SourceError(f"{self.directory}: {self.tied_basis}; use the input matrix")
        tensor = self.embedding if which == "input" or self.tied else self.head
        if tensor is None:
            raise SourceError(f"{self.directory}: no output matrix is stored")
        return float_matrix(tensor)

    def bias_vector(self) -> np.ndarray | None:
        if self.bias is None:
            return None
        stored = self.bias.stored()
        if self.bias.dtype == "BF16":
            return bfloat16_to_float32(stored).reshape(-1)
        return np.asarray(stored, dtype=np.float32).reshape(-1)


def read_checkpoint(source: str | os.PathLike, *, revision: str | None = None) -> Checkpoint:
    """Locate (or download the embedding files of) a checkpoint and open its tensors."""
    source = os.fspath(source)
    directory, only_file, origin = _locate(source, revision)
    confine_checkpoint(directory)
    config, config_digest = read_config(directory)
    vocabulary = read_tokenizer(directory)
    tensors, missing_files, weights_digest = open_weights(directory, only_file)
    return assemble_checkpoint(
        directory,
        config,
        vocabulary,
        tensors,
        origin=origin,
        config_digest=config_digest,
        weights_digest=weights_digest,
        missing_files=missing_files,
    )


def assemble_checkpoint(
    directory: Path,
    config: dict[str, Any],
    vocabulary: TokenizerVocabulary | None,
    tensors: Mapping[str, WeightTensor],
    *,
    origin: dict[str, str],
    config_digest: str,
    weights_digest: str,
    missing_files: list[str] | None = None,
) -> Checkpoint:
    """A checkpoint from its opened parts: the embedding and head chosen, tying detected. A
    folder and a zipped folder (``hf_zip``) both end here."""
    embedding, head = choose_tensors(
        tensors, config, vocabulary.size if vocabulary else None, missing_files or [], directory
    )
    bias = head_bias(tensors, embedding.shape[0])
    without_head = no_output_head(config, tensors, head, bias)
    if without_head is not None:
        tied, tied_basis = None, without_head
    else:
        tied, tied_basis = tie_state(embedding, head, configured_tie(config))
    return Checkpoint(
        directory=directory,
        config=config,
        vocabulary=vocabulary,
        tensors=tensors,
        embedding=embedding,
        head=head,
        bias=bias,
        tied=tied,
        tied_basis=tied_basis,
        origin=origin,
        config_digest=config_digest,
        weights_digest=weights_digest,
    )


def _locate(source: str, revision: str | None) -> tuple[Path, Path | None, dict[str, str]]:
    """(checkpoint directory, the one weight file asked for or None, hub details)."""
    path = Path(source).expanduser()
    if path.is_dir() or path.is_file():
        if revision is not None:
            raise InvalidParameterError(
                f"revision applies to hub ids only; {source} is a local path"
            )
        if path.is_dir():
            return path, None, {}
        if path.suffix in (".safetensors", ".bin"):
            return path.parent, path, {}
        raise SourceError(f"{source}: not a checkpoint directory, .safetensors or .bin file")
    if HUB_ID.match(source) and not source.startswith((".", "~")):
        return fetch_from_hub(source, revision)
    raise SourceError(f"{source}: no such directory or file, and not a hub id (org/name)")
