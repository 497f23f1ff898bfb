"""Verify candidates by prompting: can the model repeat the token when asked to?

Land & Bartolo's test: three prompts ask the model to repeat a string (a device that echoes its
input, an assistant asked what the string means, a line repeating it many times); each is built
around a placeholder token whose id is then replaced by the candidate's, so the candidate goes
in as itself, never through the tokenizer. The model decodes three tokens greedily and the
largest probability it gives the candidate at any step, over the three prompts, is the token's
score: a token the model cannot repeat (below ``VERIFIED_BELOW``, 1%) is under-trained.

Every candidate's prompt from one template has the same length (only the placeholder's id
changes), so the candidates go through the model together: one batched generation per template
over all of them (in batches of about ``BATCH_TOKENS`` prompt tokens, to bound memory), not one
per token. A row that ends (an end-of-sequence token) counts no further steps, as a generation
of that prompt alone would stop there, so the scores are those of the one-at-a-time path
(``batch_size=1``).

The model is a causal language model checkpoint (a Hugging Face directory) or a GGUF file,
loaded by transformers (its GGUF route dequantizes the file, and needs accelerate). Needs torch
and transformers; optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import positive_int
from .._io.progress import Progress, progress_bar
from ..errors import InvalidParameterError, MissingDependencyError

VERIFIED_BELOW = 0.01
NEW_TOKENS = 3
#: prompt tokens per batched generation when ``batch_size`` is not given (with SmolLM2-135M's
#: longest prompt, 268 tokens: 30 candidates at once); activations and cache grow with it
BATCH_TOKENS = 8192
# (name, repetitions before the open slot, preamble, input phrase, completion): Land & Bartolo
PROMPTS = (
    (
        "input_output",
        20,
        "This device repeats its input exactly, as shown in these 100 identical trials.",
        "\nInput: «{token}»\nOutput:",
        " «{token}»",
    ),
    (
        "assistant_explain",
        0,
        "This helpful assistant explains what a phrase means, replying with identical responses "
        "to identical questions for reliability.",
        "\nUser: What does 'edslfkj' mean?\nAssistant: 'edslfkj' has no specific meaning I am "
        "aware of.\nUser: what does '{token}' mean?\nAssistant:",
        " '{token}'",
    ),
    (
        "repeats",
        50,
        "Below is the output, as you can see it's just giving the same phrase repeated "
        "indefinitely:\n",
        "{token}",
        "{token}",
    ),
)
# GGUF architectures of encoders (embedding models): nothing to prompt
_GGUF_ENCODERS = ("bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder", "neo-bert")


def is_gguf(source: Path | None) -> bool:
    return source is not None and source.is_file() and source.suffix.lower() == ".gguf"


def causal_lm_problem(source: Path | None, config: dict[str, Any] | None) -> str | None:
    """Why this source cannot be verified by prompting, or None if it can. ``source`` is a
    checkpoint directory or a GGUF file; ``config`` its config.json (for a GGUF file:
    ``{"gguf_architecture": ...}``)."""
    if source is None or config is None:
        return "not a Hugging Face checkpoint or GGUF file"
    modules = ["torch", "transformers"]
    if is_gguf(source):
        architecture = config.get("gguf_architecture")
        if architecture in _GGUF_ENCODERS:
            return f"not a causal language model (GGUF architecture {architecture})"
        modules.append("accelerate")  # transformers' GGUF loading needs it
    else:
        architectures = config.get("architectures") or []
        if not any("CausalLM" in a or "LMHeadModel" in a for a in architectures):
            shown = ", ".join(architectures) or "none named"
            return f"not a causal language model (architectures: {shown})"
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            why = " (transformers needs it to load a GGUF file)" if module == "accelerate" else ""
            return f"{module} is not installed{why}"
    return None


@dataclass
class CausalLM:
    """A loaded model with its tokenizer and the three prompts' ids (placeholder in every
    slot), ready to verify any number of tokens (``max_probabilities``)."""

    model: Any
    tokenizer: Any
    prompts: list[tuple[Any, int]]
    pad_id: int
    end_ids: frozenset[int]
    device: str


def load_causal_lm(source: str | Path, *, device: str = "cpu") -> CausalLM:
    """Load a causal LM checkpoint directory, or a GGUF file, for verification."""
    try:
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise MissingDependencyError(
            error.name or "transformers", extra="encode", purpose="verifying tokens by prompting"
        ) from None
    source = Path(source)
    if is_gguf(source):
        where, options = source.parent, {"gguf_file": source.name}
    else:
        where, options = source, {}
    tokenizer = AutoTokenizer.from_pretrained(where, **options)
    model = AutoModelForCausalLM.from_pretrained(where, **options).to(device).eval()
    context = _context_length(model.config)
    prompts = []
    for prompt in PROMPTS:
        ids, placeholder = _prompt_ids(tokenizer, *prompt[1:])
        # a model with a short context sees the end of the prompt, where the slot is
        if context is not None:
            ids = ids[-(context - NEW_TOKENS) :]
        prompts.append((ids, placeholder))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    end = model.generation_config.eos_token_id
    end_ids = frozenset([] if end is None else [end] if isinstance(end, int) else end)
    return CausalLM(model, tokenizer, prompts, pad, end_ids, device)


def max_probabilities(
    source: str | Path | CausalLM,
    token_ids: list[int],
    *,
    device: str = "cpu",
    batch_size: int | None = None,
    progress: Progress = True,
) -> np.ndarray:
    """For each token id, the largest probability the model gives it while answering the three
    repeat prompts (see the module docstring). ``source``: a checkpoint directory, a GGUF file,
    or a model already loaded by ``load_causal_lm`` (``device`` is then its own).
    ``batch_size``: prompts per generation (default: about ``BATCH_TOKENS`` prompt tokens'
    worth; 1 prompts one token at a time)."""
    if batch_size is not None:
        positive_int(batch_size, "batch_size")
    loaded = source if isinstance(source, CausalLM) else load_causal_lm(source, device=device)
    result = np.zeros(len(token_ids))
    if not token_ids:
        return result
    total = len(token_ids) * len(loaded.prompts)
    with progress_bar(total, "verifying candidates", enabled=progress) as advance:
        for ids, placeholder in loaded.prompts:
            size = batch_size or max(1, BATCH_TOKENS // len(ids))
            for start in range(0, len(token_ids), size):
                chosen = token_ids[start : start + size]
                best = _best_probabilities(loaded, ids, placeholder, chosen)
                result[start : start + len(chosen)] = np.maximum(
                    result[start : start + len(chosen)], best
                )
                advance(len(chosen))
    return result


def _best_probabilities(
    loaded: CausalLM, ids: Any, placeholder: int, token_ids: list[int]
) -> np.ndarray:
    """One generation over the prompt of each token (equal lengths: no padding): the largest
    probability each row gives its own token at any step it is still running."""
    import torch

    candidates = torch.tensor(token_ids, dtype=ids.dtype)
    slots = ids == placeholder
    batch = ids.repeat(len(token_ids), 1)
    batch[:, slots] = candidates[:, None]
    batch = batch.to(loaded.device)
    with torch.no_grad():
        output = loaded.model.generate(
            batch,
            attention_mask=torch.ones_like(batch),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=loaded.pad_id,
        )
    rows = torch.arange(len(token_ids))
    running = torch.ones(len(token_ids), dtype=torch.bool)
    best = torch.zeros(len(token_ids), dtype=torch.float64)
    new_tokens = output.sequences[:, batch.shape[1] :].cpu()
    for step, logits in enumerate(output.logits):
        probabilities = torch.softmax(logits.float().cpu(), dim=-1)[rows, candidates]
        best = torch.where(running, torch.maximum(best, probabilities.double()), best)
        if step < new_tokens.shape[1]:
            # a row that produced an end token stops here, as its generation alone would
            ended = torch.tensor(sorted(loaded.end_ids), dtype=new_tokens.dtype)
            running &= ~torch.isin(new_tokens[:, step], ended)
    return best.numpy()


def _context_length(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > NEW_TOKENS:
            return value
    return None


def _prompt_ids(tokenizer: Any, repeats: int, preamble: str, phrase: str, completion: str):
    """The prompt's ids with a placeholder token in every slot, and the placeholder's id."""
    import torch

    text = preamble + (phrase + completion) * repeats + phrase + completion[: completion.index("{")]
    slots = 2 * repeats + 1
    for placeholder in _placeholder_candidates(tokenizer):
        ids = tokenizer.encode(text.replace("{token}", placeholder))
        placeholder_ids = tokenizer.encode(placeholder, add_special_tokens=False)
        if len(placeholder_ids) == 1 and ids.count(placeholder_ids[0]) == slots:
            return torch.tensor(ids), placeholder_ids[0]
    raise InvalidParameterError("no placeholder token fits the repeat prompts of this tokenizer")


def _placeholder_candidates(tokenizer: Any) -> list[str]:
    """Whole alphabetic tokens, longest first: a placeholder must stay one token in context."""
    vocabulary = tokenizer.get_vocab()
    words = []
    for token_id in vocabulary.values():
        text = tokenizer.decode([token_id])
        if text.isalpha() and text.isascii() and len(text) >= 4:
            words.append(text)
    return sorted(set(words), key=lambda w: (-len(set(w)), w))[:200]
