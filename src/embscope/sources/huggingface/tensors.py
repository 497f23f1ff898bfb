"""Which tensor is the token embedding and which the output head, and whether they are tied.

The embedding is found by shape: a 2-D float tensor of ``vocab_size`` rows and ``hidden_size``
columns (under the names various configs use), preferring module names that look like an input
embedding over ones that look like an output head. Whether the head is tied is detected from
the files (a separate head tensor, compared on sampled rows) and config.json, never assumed; an
encoder without a language-model head (``BertModel``, a sentence-transformers checkpoint) has no
output matrix at all, and says so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SourceError
from .weights import STORAGE_DTYPES, WeightTensor

logger = logging.getLogger(__name__)

# Config keys that hold the vocabulary size and the embedding width, across architectures;
# multimodal and encoder-decoder configs keep the text model's in a nested config.
_VOCAB_KEYS = ("vocab_size", "n_vocab", "padded_vocab_size")
_WIDTH_KEYS = (
    "hidden_size", "d_model", "n_embd", "dim", "embedding_size", "word_embed_proj_dim", "embed_dim",
)  # fmt: skip
_NESTED_CONFIGS = ("text_config", "llm_config", "language_config", "decoder")
# Module names (the part before ".weight"), most telling first.
_INPUT_MODULES = (
    "word_embeddings", "embed_tokens", "wte", "tok_embeddings", "shared", "embed_in",
    "token_embedding", "word_embedding", "embeddings", "embedding",
)  # fmt: skip
_OUTPUT_MODULES = ("lm_head", "embed_out", "output", "output_layer", "proj_out", "decoder")

_TIE_SAMPLE_ROWS = 64

# the output layer's bias, where a model has one (BERT's MLM head, BART's final_logits_bias)
_BIAS_NAMES = ("lm_head.bias", "cls.predictions.bias", "final_logits_bias", "embed_out.bias")


def head_bias(tensors: Mapping[str, WeightTensor], rows: int) -> WeightTensor | None:
    """The output layer's bias, one value per row, where the checkpoint stores one."""
    for name, tensor in tensors.items():
        if any(name == n or name.endswith("." + n) for n in _BIAS_NAMES) and (
            tensor.dtype in STORAGE_DTYPES and int(np.prod(tensor.shape)) == rows
        ):
            return tensor
    return None


def _config_scopes(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [config, *(config[k] for k in _NESTED_CONFIGS if isinstance(config.get(k), dict))]


def _config_sizes(config: Mapping[str, Any]) -> tuple[set[int], set[int]]:
    scopes = _config_scopes(config)
    vocab = {s[k] for s in scopes for k in _VOCAB_KEYS if type(s.get(k)) is int}
    width = {s[k] for s in scopes for k in _WIDTH_KEYS if type(s.get(k)) is int}
    return vocab, width


def configured_tie(config: Mapping[str, Any]) -> bool | None:
    """``tie_word_embeddings`` from config.json (or its nested text config); None when unset."""
    for scope in _config_scopes(config):
        if isinstance(scope.get("tie_word_embeddings"), bool):
            return scope["tie_word_embeddings"]
    return None


# ---- which tensor ----------------------------------------------------------------------------
def module_role(name: str) -> tuple[str, int] | None:
    """("input" | "output", preference) from the module a tensor belongs to."""
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] == "weight":
        parts = parts[:-1]
    module = parts[-1]
    if module in _INPUT_MODULES:
        return "input", _INPUT_MODULES.index(module)
    if module in _OUTPUT_MODULES:
        return "output", _OUTPUT_MODULES.index(module)
    return None


def _preference(tensor: WeightTensor) -> tuple[int, bool, int, str]:
    role = module_role(tensor.name)
    parts = tensor.name.split(".")
    # An encoder-decoder's decoder copy comes after the shared or encoder one.
    return (role[1] if role else 99, "decoder" in parts[:-2], len(parts), tensor.name)


def choose_tensors(
    tensors: Mapping[str, WeightTensor],
    config: Mapping[str, Any],
    vocabulary_size: int | None,
    missing_files: list[str],
    directory: Path,
) -> tuple[WeightTensor, WeightTensor | None]:
    """(input embedding, separate output head or None), chosen by shape, then by name."""
    vocab_sizes, widths = _config_sizes(config)
    matrices = [t for t in tensors.values() if t.is_float_matrix]

    def rows_fit(tensor: WeightTensor) -> bool:
        if vocab_sizes:
            return tensor.shape[0] in vocab_sizes
        return vocabulary_size is None or tensor.shape[0] >= vocabulary_size

    def width_fits(tensor: WeightTensor) -> bool:
        return not widths or tensor.shape[1] in widths

    candidates = [t for t in matrices if rows_fit(t) and width_fits(t)]
    named_inputs = [t for t in candidates if _role_is(t, "input")]
    if not named_inputs and vocab_sizes:
        # A config whose vocab_size went stale after the embedding was resized.
        named_inputs = [t for t in matrices if _role_is(t, "input") and width_fits(t)]
        if named_inputs:
            logger.warning(
                "%s: no embedding has the %s rows config.json states; using %s by its name",
                directory,
                sorted(vocab_sizes),
                min(named_inputs, key=_preference).describe(),
            )
            candidates = [t for t in matrices if width_fits(t)]
    unnamed = [t for t in candidates if module_role(t.name) is None]
    if named_inputs:
        embedding = min(named_inputs, key=_preference)
    elif len(unnamed) == 1:
        embedding = unnamed[0]
        logger.info("%s: %s is the only matrix of the embedding's shape", directory, embedding.name)
    else:
        expected = f"{sorted(vocab_sizes) or 'any'} rows x {sorted(widths) or 'any'} columns"
        lacking = (
            f"; the index names files not present: {', '.join(missing_files)}"
            if (missing_files)
            else ""
        )
        raise SourceError(
            f"{directory}: no token-embedding tensor ({expected}) found; 2-D tensors seen: "
            f"{listing(tensors)}{lacking}"
        )
    heads = [
        t
        for t in candidates
        if _role_is(t, "output") and t.name != embedding.name and t.shape[1] == embedding.shape[1]
    ]
    return embedding, min(heads, key=_preference) if heads else None


def _role_is(tensor: WeightTensor, role: str) -> bool:
    found = module_role(tensor.name)
    return found is not None and found[0] == role


def listing(tensors: Mapping[str, WeightTensor]) -> str:
    """The 2-D tensors, for an error that says what the checkpoint holds (at most 20 named)."""
    shown = [t.describe() for t in tensors.values() if len(t.shape) == 2]
    if not shown:
        return "none"
    more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
    return ", ".join(shown[:20]) + more


# Architectures with a language-model head (whose output matrix may be tied to the input), and
# the modules such a head stores even when its matrix is tied (BERT's MLM transform and bias).
_LM_ARCHITECTURE = re.compile(
    r"(CausalLM|LMHead|MaskedLM|ConditionalGeneration|PreTraining|Seq2SeqLM|ForSpeechSeq2Seq)"
)
_HEAD_MODULES = ("cls.predictions", "lm_head", "embed_out", "generator_lm_head", "lm_loss")
# model types whose plain checkpoint is an encoder: no head unless its tensors are stored
_ENCODER_TYPES = (
    "bert", "roberta", "xlm-roberta", "camembert", "distilbert", "mpnet", "electra", "albert",
    "deberta", "deberta-v2", "modernbert", "nomic_bert", "new", "e5", "xlm", "flaubert",
)  # fmt: skip


def no_output_head(
    config: Mapping[str, Any],
    tensors: Mapping[str, WeightTensor],
    head: WeightTensor | None,
    bias: WeightTensor | None,
) -> str | None:
    """Why the checkpoint has no output (unembedding) matrix at all, or None when it has one
    (stored, or tied to the input): no head tensor, bias or head module is stored, and
    config.json names only architectures without a language-model head (``BertModel``), or,
    naming none, an encoder model type."""
    if head is not None or bias is not None:
        return None
    if any(f".{module}." in f".{name}" for name in tensors for module in _HEAD_MODULES):
        return None
    architectures = [
        str(a)
        for scope in _config_scopes(config)
        if isinstance(scope.get("architectures"), list)
        for a in scope["architectures"]
        if a
    ]
    if architectures:
        if any(_LM_ARCHITECTURE.search(a) for a in architectures):
            return None
        named = f"config.json names {', '.join(architectures)}"
    elif config.get("model_type") in _ENCODER_TYPES:
        named = f"config.json names no architecture and model_type {config['model_type']!r}"
    else:
        return None
    return (
        f"no output head: {named}, a model without a language-model head, and no head "
        "tensor is stored"
    )


def tie_state(
    embedding: WeightTensor, head: WeightTensor | None, config_tie: bool | None
) -> tuple[bool, str]:
    """(tied, why): a stored head is compared with the embedding on sampled rows; without one,
    the output matrix is the input one unless config.json says otherwise."""
    if head is None:
        if config_tie is False:
            return False, "config.json sets tie_word_embeddings=false; no head tensor found"
        return True, "no separate head tensor stored"
    if head.shape != embedding.shape:
        return False, f"head {head.name} has shape {list(head.shape)}"
    rows = np.unique(np.linspace(0, embedding.shape[0] - 1, _TIE_SAMPLE_ROWS).astype(np.int64))
    same = head.dtype == embedding.dtype and np.array_equal(
        np.asarray(embedding.stored()[rows]), np.asarray(head.stored()[rows])
    )
    if same:
        return True, f"head {head.name} equals the embedding on {len(rows)} sampled rows"
    note = " although config.json ties them" if config_tie else ""
    return False, f"head {head.name} differs from the embedding{note}"
