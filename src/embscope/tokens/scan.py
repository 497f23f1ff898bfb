"""``scan``: find the under-trained and glitch tokens of a vocabulary, with whatever the source
allows: weights and tokenizer (a checkpoint, a GGUF file), weights only (word vectors, arrays),
or a tokenizer only (``tokenizer.json``, ``*.tiktoken``).

The ranking is evidence only against reference tokens, rows known never to be trained: the
registry's (``embscope.tokens.references``), or else the tokens the tokenizer audit finds it
can never produce. With neither, the candidates are only the rows whose indicators are lowest,
and the report says so (``TokenReport.caution``) and points to ``verify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io.progress import Progress
from ..errors import InvalidParameterError
from ..sources.hf_tokenizer import TokenizerVocabulary, token_table
from ..space import EmbeddingSpace
from .audit import audit_tokenizer
from .indicators import NEEDS_REFERENCES, Weights, compute
from .references import UNREACHABLE, References, find_references
from .report import TokenReport, describe_indicators, rank_low_first

DEFAULT_THRESHOLD = 0.02
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def scan(
    source: str | Path | EmbeddingSpace,
    *,
    references: Sequence[int | str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    indicator: str = "auto",
    revision: str | None = None,
    progress: Progress = True,
) -> TokenReport:
    """Scan a vocabulary for under-trained tokens (Land & Bartolo 2024) and glitch tokens.

    ``source``: a bundled name, a Hugging Face checkpoint (directory or hub id), any other
    source ``embscope.load`` reads (weights only), an EmbeddingSpace, or a tokenizer file or
    folder without weights (the audit alone). ``references``: ids or token strings known never
    to be trained (default: the registry's, see ``embscope.tokens.references``, or else the
    tokens the audit finds unreachable). Candidates are the reachable, decodable tokens at or
    below the ``threshold`` quantile (0.02: 2%) of the main ``indicator`` (``"auto"``:
    ``output_cosine`` when there are reference tokens, else ``input_norm``). Without reference
    tokens the ranking is not evidence: ``report.caution`` says so, and ``report.verify()``
    tests the candidates by prompting the model.
    """
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise InvalidParameterError(f"threshold must be between 0 and 1; got {threshold!r}")
    opened = _open(source, revision)
    vocabulary, weights, details = opened.vocabulary, opened.weights, opened.details
    n_rows = len(weights.input) if weights is not None else vocabulary.size
    audit = audit_tokenizer(vocabulary, n_rows, progress=progress) if vocabulary else None
    if vocabulary is not None:
        table = token_table(vocabulary, n_rows)
        keys, labels = table.keys, table.labels
    else:
        keys, labels = opened.space.keys, opened.space.labels
    padding = (
        np.array([i not in vocabulary.tokens for i in range(n_rows)])
        if vocabulary
        else (np.zeros(n_rows, dtype=bool))
    )
    byte_values = audit.token_bytes if audit else [None] * n_rows
    categories = audit.categories if audit else np.full(n_rows, "ok", dtype=object)
    unreachable = np.flatnonzero(np.isin(categories, UNREACHABLE))
    found = find_references(keys, byte_values, padding, references, unreachable=unreachable)
    if audit is not None and not audit.checked:
        details["audit"] = "decoded only: no tokenizer library to re-encode with here"
    values, skipped, notes = (
        compute(weights, found.ids if found else None, progress=progress)
        if (weights is not None)
        else ({}, {"all": "no weights: tokenizer audit only"}, {})
    )
    details["references"] = _describe_references(found)
    details["indicators"] = describe_indicators(list(values))
    if skipped:
        details["not_computed"] = skipped
    if notes:
        details["notes"] = notes
    details["verification"] = "not run (TokenReport.verify() prompts a causal LM)"
    report = _report(
        opened.name, keys, labels, categories, found, values, indicator, threshold, details
    )
    report.checkpoint, report.model_config = opened.checkpoint, opened.model_config
    return report


@dataclass
class _Opened:
    """What a source holds: a tokenizer vocabulary, weights and the space they came from (each
    None where absent), the checkpoint directory and config.json (for verification), and a
    description of what was read."""

    name: str
    vocabulary: TokenizerVocabulary | None
    weights: Weights | None
    space: EmbeddingSpace | None
    details: dict[str, Any]
    checkpoint: Path | None = None
    model_config: dict[str, Any] | None = None


def _open(source: str | Path | EmbeddingSpace, revision: str | None) -> _Opened:
    from ..sources import load
    from ..sources.hf_tokenizer import read_tokenizer, read_tokenizer_file
    from ..sources.huggingface import read_checkpoint

    if not isinstance(source, EmbeddingSpace):
        path = Path(str(source)).expanduser()
        if path.is_file() and (path.suffix == ".tiktoken" or path.name == "tokenizer.json"):
            return _Opened(path.name, read_tokenizer_file(path), None, None, {"matrices": "none"})
        if path.is_dir() and not _has_weights(path):
            vocabulary = read_tokenizer(path)
            if vocabulary is not None:
                return _Opened(path.name, vocabulary, None, None, {"matrices": "none"})
        space = load(source, revision=revision) if revision else load(source)
    else:
        space = source
    if space.provenance is not None and space.provenance.kind == "gguf":
        return _open_gguf(space)
    if space.provenance is not None and space.provenance.kind == "huggingface":
        checkpoint = read_checkpoint(space.provenance.source, revision=revision)
        # tied (True) or without a head (None): the input matrix stands for the output one
        output = checkpoint.matrix("output") if checkpoint.tied is False else None
        bias = checkpoint.bias_vector()
        if checkpoint.tied is None:
            head = "none (no language-model head: the output indicators use the input matrix)"
        else:
            head = "tied to the input" if checkpoint.tied else checkpoint.head.describe()
        matrices = f"input {checkpoint.embedding.describe()}; output {head}" + (
            f"; bias {checkpoint.bias.name}" if bias is not None else "; no output bias"
        )
        return _Opened(
            space.name,
            checkpoint.vocabulary,
            Weights(space.vectors, output, bias),
            space,
            {"matrices": matrices},
            checkpoint.directory,
            checkpoint.config,
        )
    matrices = f"input {space.shape[0]:,} x {space.dim} (no output matrix, no tokenizer)"
    return _Opened(space.name, None, Weights(space.vectors), space, {"matrices": matrices})


def _open_gguf(space: EmbeddingSpace) -> _Opened:
    """A GGUF file's input matrix (the space), its head where one is stored (untied), and the
    tokenizer its metadata describes; verification loads the file through transformers."""
    from ..sources.gguf import OUTPUT_TENSOR, gguf_vocabulary, load_gguf, read_gguf_header

    path = Path(space.provenance.source)
    header = read_gguf_header(path)
    head = header.tensors.get(OUTPUT_TENSOR)
    output = None if head is None else load_gguf(path, matrix="output").vectors
    options = space.provenance.options
    matrices = (
        f"input {options.get('tensor')} {list(space.shape)} {options.get('type')}; output "
        + ("tied to the input" if head is None else f"{OUTPUT_TENSOR} {head.type_name}")
        + "; no output bias"
    )
    return _Opened(
        space.name,
        gguf_vocabulary(header),
        Weights(space.vectors, output),
        space,
        {"matrices": matrices},
        path,
        {"gguf_architecture": header.get("general.architecture")},
    )


def _has_weights(directory: Path) -> bool:
    return any(p.suffix in _WEIGHT_SUFFIXES for p in directory.iterdir())


def _describe_references(found: References | None) -> str:
    if found is None:
        return (
            "none found (no placeholder, unused-byte or unreachable token, no padding row): the "
            "indicators that need them (output_cosine, output_l2) were not computed; pass "
            "references=[...] (ids or token strings) to add them"
        )
    return found.found_by


def _report(
    name: str,
    keys: list[str],
    labels: list[str],
    categories: np.ndarray,
    found: References | None,
    values: dict[str, np.ndarray],
    indicator: str,
    threshold: float,
    details: dict[str, Any],
) -> TokenReport:
    import pandas as pd

    n_rows = len(keys)
    is_reference = np.zeros(n_rows, dtype=bool)
    if found is not None:
        is_reference[found.ids] = True
    table = pd.DataFrame(
        {
            "token_id": np.arange(n_rows, dtype=np.int64),
            "key": keys,
            "label": labels,
            "category": categories,
            "reference": is_reference,
        }
    )
    has_token = categories != "padding_row"
    for name_, column in values.items():
        table[name_] = column
        # reference tokens are what these indicators measure against: rank the others
        eligible = has_token & ~is_reference if name_ in NEEDS_REFERENCES else has_token
        table[f"rank_{name_}"] = rank_low_first(column, eligible)
    main = _main_indicator(indicator, values)
    candidates_possible = (categories == "ok") & ~is_reference
    if main is None:
        table["rank"] = np.nan
        table["percentile"] = np.nan
        table["candidate"] = False
        return TokenReport(name, table, None, threshold, None, details)
    column = values[main]
    ranks = rank_low_first(column, candidates_possible)
    eligible_values = column[~np.isnan(ranks)]
    cut = float(np.quantile(eligible_values, threshold)) if len(eligible_values) else None
    table["rank"] = ranks
    table["percentile"] = ranks / max(1, len(eligible_values)) * 100
    table["candidate"] = ~np.isnan(ranks) & (column <= cut if cut is not None else False)
    return TokenReport(name, table, main, threshold, cut, details)


def _main_indicator(indicator: str, values: dict[str, np.ndarray]) -> str | None:
    if indicator == "auto":
        for preferred in ("output_cosine", "input_norm"):
            if preferred in values:
                return preferred
        return None
    if indicator not in values:
        raise InvalidParameterError(
            f"indicator {indicator!r} was not computed here; computed: "
            f"{', '.join(values) or 'none'}"
        )
    return indicator
