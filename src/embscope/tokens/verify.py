"""Verify candidates by prompting: can the model repeat the token when asked to?

Land & Bartolo's test: three prompts ask the model to repeat a string (a device that echoes its
input, an assistant asked what the string means, a line repeating it many times); each is built
around a placeholder token whose id is then replaced by the candidate's, so the candidate goes
in as itself, never through the tokenizer. The model decodes three tokens greedily and the
largest probability it gives the candidate at any step, over the three prompts, is the token's
score: a token the model cannot repeat (below ``VERIFIED_BELOW``, 1%) is under-trained.

Needs a causal language model checkpoint, torch and transformers; optional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError, MissingDependencyError
from ..progress import progress_bar

VERIFIED_BELOW = 0.01
NEW_TOKENS = 3
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


def causal_lm_problem(directory: Path | None, config: dict[str, Any] | None) -> str | None:
    """Why this source cannot be verified by prompting, or None if it can."""
    if directory is None or config is None:
        return "not a Hugging Face checkpoint"
    architectures = config.get("architectures") or []
    if not any("CausalLM" in a or "LMHeadModel" in a for a in architectures):
        shown = ", ".join(architectures) or "none named"
        return f"not a causal language model (architectures: {shown})"
    for module in ("torch", "transformers"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    return None


def max_probabilities(
    directory: Path, token_ids: list[int], *, device: str = "cpu", progress: bool = True
) -> np.ndarray:
    """For each token id, the largest probability the model gives it while answering the three
    repeat prompts (see the module docstring)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise MissingDependencyError(
            error.name or "transformers", extra="encode", purpose="verifying tokens by prompting"
        ) from None
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).to(device).eval()
    context = _context_length(model.config)
    prompts = []
    for prompt in PROMPTS:
        ids, placeholder = _prompt_ids(tokenizer, *prompt[1:])
        # a model with a short context sees the end of the prompt, where the slot is
        if context is not None:
            ids = ids[-(context - NEW_TOKENS) :]
        prompts.append((ids, placeholder))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    result = np.zeros(len(token_ids))
    with progress_bar(len(token_ids), "verifying candidates", enabled=progress) as advance:
        for position, token_id in enumerate(token_ids):
            best = 0.0
            for ids, placeholder in prompts:
                prompt = torch.where(ids == placeholder, token_id, ids).to(device)
                with torch.no_grad():
                    output = model.generate(
                        prompt[None],
                        attention_mask=torch.ones_like(prompt)[None],
                        max_new_tokens=NEW_TOKENS,
                        do_sample=False,
                        output_logits=True,
                        return_dict_in_generate=True,
                        pad_token_id=pad,
                    )
                for logits in output.logits:
                    probability = torch.softmax(logits[0].float(), dim=-1)[token_id]
                    best = max(best, float(probability))
            result[position] = best
            advance(1)
    return result


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
