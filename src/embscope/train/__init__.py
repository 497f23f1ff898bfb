"""Train a small sentiment model whose embedding layer becomes an explorable space.

``sentiment(data, ...)`` trains the notebook's model (embedding → average → Dense(relu) →
logits) in PyTorch and returns a ``SentimentRun``: ``history``, ``space``, ``predict``,
``score``, ``save``; ``load(directory)`` reads a saved run back. The pieces: the Keras-compatible
``TextVectorizer`` and ``remove_overlap``, which drops training texts that leak a held-out set.
Importing this package does not import torch; training and predicting do.
"""

from .leakage import overlap_groups, remove_overlap
from .run import Score, SentimentRun, load
from .sentiment import DEFAULT_POOLING, DEFAULT_STANDARDIZATION, sentiment
from .vectorizer import TextVectorizer

__all__ = [
    "DEFAULT_POOLING",
    "DEFAULT_STANDARDIZATION",
    "Score",
    "SentimentRun",
    "TextVectorizer",
    "load",
    "overlap_groups",
    "remove_overlap",
    "sentiment",
]
