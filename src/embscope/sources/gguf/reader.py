"""The token-embedding space of a GGUF file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..._io.progress import Progress
from ...errors import InvalidParameterError
from ...space import EmbeddingSpace, Provenance
from ..hf_tokenizer import token_table
from .header import INPUT_TENSOR, OUTPUT_TENSOR, read_gguf_header
from .matrix import matrix_identity, matrix_tensor, read_matrix
from .tokenizer import gguf_vocabulary

#: Values of ``matrix=``: the input embedding, or the output (unembedding) matrix.
MATRICES = ("input", "output")


def load_gguf(
    path: str | os.PathLike,
    *,
    name: str | None = None,
    matrix: str = "input",
    progress: Progress = True,
) -> EmbeddingSpace:
    """The token-embedding space of a GGUF file.

    ``matrix="output"`` gives the head (``output.weight``) where the file stores one, and the
    input matrix where it does not (tied). Keys are the raw token strings (``Ġking``,
    ``▁king``), labels their readable form (``␣king``), and the metadata has ``token_id``,
    ``special`` and ``kind`` columns, as for a Hugging Face checkpoint. ``progress`` shows (or
    reports to a callback) the one-time dequantization of a quantized matrix.
    """
    if matrix not in MATRICES:
        raise InvalidParameterError(f"matrix must be 'input' or 'output'; got {matrix!r}")
    path = Path(path).expanduser()
    header = read_gguf_header(path)
    embedding = matrix_tensor(header, INPUT_TENSOR)
    head = header.tensors.get(OUTPUT_TENSOR)
    tied = head is None
    selected = embedding if matrix == "input" or tied else matrix_tensor(header, OUTPUT_TENSOR)
    vocabulary = gguf_vocabulary(header)
    vectors, stored_as = read_matrix(header, selected, progress=progress)
    table = token_table(vocabulary, vectors.shape[0])
    options: dict[str, Any] = {
        "matrix": matrix,
        "tensor": selected.name,
        "type": selected.type_name,
        "stored_as": stored_as,
        "architecture": header.get("general.architecture"),
        "model_name": header.get("general.name"),
        "tied": tied,
        "tied_basis": (
            f"no {OUTPUT_TENSOR} tensor: llama.cpp uses {INPUT_TENSOR} as the head"
            if tied
            else f"{OUTPUT_TENSOR} is stored ({head.type_name})"
        ),
        "tokenizer": vocabulary.description if vocabulary else "none: keys are row numbers",
        "padding_rows": table.padding_rows,
    }
    if vocabulary is not None and vocabulary.notes:
        options["tokenizer_notes"] = list(vocabulary.notes)
    return table.space(
        vectors,
        provenance=Provenance(
            source=str(path.resolve()),
            kind="gguf",
            options=options,
            fingerprint=matrix_identity(header, selected),
        ),
        name=name or str(path),
    )
