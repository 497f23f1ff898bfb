"""The notebook's sentiment classifier in PyTorch: embedding → average → Dense(relu) → logits.

Initialised as Keras initialises it (embedding rows uniform in ±0.05, Dense kernels
Glorot-uniform, biases zero), so the recipe behaves as it does in the notebook. Two ways to
average the token vectors of a padded text:

- ``"mean"``: over every position, padding included, as Keras' ``GlobalAveragePooling1D``
  does when the Embedding layer has no mask. The padding row is then trained like any token,
  and how much of a text is padding tells the model the text's length.
- ``"masked"``: over the text's own tokens only (padding ignored; an empty text averages to
  zero).
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "masked")


class SentimentClassifier(nn.Module):
    """Token ids (batch, sequence) → logits (batch, n_outputs); one output for two classes."""

    def __init__(self, vocab_size: int, dim: int, hidden: int, n_outputs: int, pooling: str):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, dim)
        self.hidden = nn.Linear(dim, hidden)
        self.output = nn.Linear(hidden, n_outputs)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            for layer in (self.hidden, self.output):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vectors = self.embedding(ids)
        if self.pooling == "masked":
            mask = (ids != 0).unsqueeze(-1).to(vectors.dtype)
            pooled = (vectors * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            pooled = vectors.mean(1)
        return self.output(torch.relu(self.hidden(pooled)))
