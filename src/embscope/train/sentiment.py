"""``embscope.train.sentiment``: the notebook's recipe from labelled texts to a trained run."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import is_integer
from ..errors import InvalidParameterError
from .data import (
    class_numbers,
    read_sources,
    resolve_classes,
    split_rows,
    token_counts,
)
from .leakage import remove_overlap
from .run import SentimentRun, check_output_directory
from .vectorizer import STANDARDIZERS, TextVectorizer

logger = logging.getLogger(__name__)

# On SST-2 train + de-leaked rt-polarity + the IMDB sample, five seeds, mean pooling reached a
# mean best validation loss of 0.479 and masked 0.490, lower in four seeds of five
# (benchmarks/bench_train.py --pooling)
DEFAULT_POOLING = "mean"
DEFAULT_STANDARDIZATION = "normalized"


def sentiment(
    data: Any,
    *,
    text: str | int | None = None,
    label: str | int | None = None,
    label_names: Any = None,
    classes: Sequence[Any] | None = None,
    held_out: Any = (),
    vocab_size: int = 10_000,
    sequence_length: int = 100,
    dim: int = 16,
    hidden: int = 16,
    pooling: str = "auto",
    standardization: str = DEFAULT_STANDARDIZATION,
    epochs: int = 20,
    patience: int = 5,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    validation_split: float = 0.1,
    random_state: int | None = 0,
    device: str = "auto",
    checkpoint: str | Path | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
) -> SentimentRun:
    """Train the notebook's sentiment model and return the run.

    ``data``: a path ``embscope.read_texts`` reads (``text``/``label`` name its columns), a
    ``TextDataset``, or a list of them, trained on together. ``label_names`` names numbered
    labels (applied to every numbered source); the classes are then the label values: numbers
    must be 0 and 1 for two classes (0 to K-1 for K), names are taken in sorted order, or
    ``classes`` gives the order. Two classes train one logit with binary cross-entropy, more a
    softmax.

    ``held_out``: paths or TextDatasets your evaluation uses; every training text equal to or
    holding one of their texts is removed first, and ``run.data`` says how many.

    The model: ``TextVectorizer(vocab_size, sequence_length, standardization)`` fitted on the
    training rows, ``Embedding(vocab, dim)`` → average (``pooling``: ``"mean"`` over every
    position as Keras does, ``"masked"`` over the text's tokens; ``"auto"`` =
    ``DEFAULT_POOLING``) → ``Dense(hidden, relu)`` → logits. Adam (``learning_rate``), up to
    ``epochs`` epochs of ``batch_size``, early stopping on validation loss (``patience``, best
    weights restored). ``validation_split`` of the rows is held out, keeping copies of one text
    (SST's sentences inside rt-polarity's snippets) on one side.

    ``random_state`` makes the split, the initial weights and the batch order reproducible
    (None: a fresh seed, recorded in ``run.config``). ``device``: ``"auto"`` (CUDA, then Apple
    MPS, then CPU), or a torch device name. ``checkpoint``: a directory where the best model so
    far is saved after each improving epoch (``run.save`` writes it at the end either way).
    ``on_epoch`` receives each epoch's history record.
    """
    import pandas as pd
    import torch

    from .loop import Schedule, fit
    from .model import SentimentClassifier

    _check_positive("vocab_size", vocab_size, minimum=3)
    # bounds far above any small model's, below where a typo asks for terabytes
    _check_positive("sequence_length", sequence_length, maximum=MAX_SEQUENCE_LENGTH)
    _check_positive("dim", dim, maximum=MAX_WIDTH)
    _check_positive("hidden", hidden, maximum=MAX_WIDTH)
    _check_positive("epochs", epochs)
    _check_positive("patience", patience)
    _check_positive("batch_size", batch_size)
    if (
        not isinstance(learning_rate, int | float)
        or not learning_rate > 0
        or not math.isfinite(learning_rate)
    ):
        raise InvalidParameterError(
            f"learning_rate must be a positive number; got {learning_rate!r}"
        )
    if not isinstance(validation_split, int | float) or not 0 < validation_split < 1:
        raise InvalidParameterError(
            f"validation_split must be between 0 and 1 (exclusive); got {validation_split!r}"
        )
    if pooling == "auto":
        pooling = DEFAULT_POOLING
    if pooling not in ("mean", "masked"):
        raise InvalidParameterError(f"pooling must be auto, mean or masked; got {pooling!r}")
    if standardization not in STANDARDIZERS:
        raise InvalidParameterError(
            f"standardization must be one of {', '.join(STANDARDIZERS)}; got {standardization!r}"
        )
    if random_state is None:
        random_state = int(np.random.default_rng().integers(2**31))
    elif not is_integer(random_state):
        raise InvalidParameterError(
            f"random_state must be an integer or None; got {random_state!r}"
        )
    torch_device = _device(device)

    if checkpoint is not None:
        check_output_directory(checkpoint)
    texts, labels, class_names, report = _training_data(
        data, text=text, label=label, label_names=label_names, classes=classes, held_out=held_out
    )
    train_rows, validation_rows, groups = split_rows(texts, validation_split, random_state)
    if len(validation_rows) == 0 or len(train_rows) == 0:
        raise InvalidParameterError(
            f"validation_split={validation_split} leaves an empty side of {len(texts)} texts"
        )
    group_sizes = np.bincount(groups)
    train_texts = [texts[i] for i in train_rows]
    vectorizer = TextVectorizer.fit(
        train_texts,
        max_tokens=vocab_size,
        sequence_length=sequence_length,
        standardization=standardization,
    )
    if len(vectorizer) < vocab_size:
        logger.warning(
            "the training texts hold %s distinct tokens: the vocabulary has %s entries "
            "(with padding and [UNK]), not the %s asked for",
            f"{len(vectorizer) - 2:,}",
            f"{len(vectorizer):,}",
            f"{vocab_size:,}",
        )
    report.update(
        rows=len(texts),
        training_rows=len(train_rows),
        validation_rows=len(validation_rows),
        # texts that equal or hold another (kept on one side of the split with it)
        groups_of_overlapping_texts=int((group_sizes > 1).sum()),
        texts_in_those_groups=int(group_sizes[group_sizes > 1].sum()),
        class_counts={name: int((labels == i).sum()) for i, name in enumerate(class_names)},
    )
    counts = token_counts(vectorizer, train_texts)
    ids = torch.from_numpy(vectorizer.transform(texts)).to(torch_device)
    targets = torch.from_numpy(labels).to(torch_device)
    train_index = torch.from_numpy(train_rows).to(torch_device)
    validation_index = torch.from_numpy(validation_rows).to(torch_device)

    torch.manual_seed(random_state)
    model = SentimentClassifier(
        vocab_size=len(vectorizer),
        dim=dim,
        hidden=hidden,
        n_outputs=1 if len(class_names) == 2 else len(class_names),
        pooling=pooling,
    ).to(torch_device)
    config = {
        "vocab_size": len(vectorizer),
        "dim": dim,
        "hidden": hidden,
        "pooling": pooling,
        "epochs": epochs,
        "patience": patience,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "validation_split": validation_split,
        "random_state": int(random_state),
        "device": str(torch_device),
    }
    history: list[dict[str, Any]] = []

    def run_so_far() -> SentimentRun:
        return SentimentRun(
            model=model,
            vectorizer=vectorizer,
            classes=tuple(class_names),
            history=pd.DataFrame(history),
            config=config,
            data=report,
            token_counts=counts,
            name=Path(checkpoint).name if checkpoint is not None else "sentiment",
        )

    def record(epoch: dict[str, Any]) -> None:
        history.append(epoch)
        if on_epoch is not None:
            on_epoch(epoch)

    fit(
        model,
        (ids[train_index], targets[train_index]),
        (ids[validation_index], targets[validation_index]),
        Schedule(epochs, patience, batch_size, learning_rate),
        generator=torch.Generator().manual_seed(random_state),
        on_epoch=record,
        on_improvement=(lambda _: run_so_far().save(checkpoint))
        if checkpoint is not None
        else None,
        progress=progress,
    )
    return run_so_far()


def _training_data(
    data: Any,
    *,
    text: str | int | None,
    label: str | int | None,
    label_names: Any,
    classes: Sequence[Any] | None,
    held_out: Any,
) -> tuple[list[str], np.ndarray, list[str], dict[str, Any]]:
    """The texts, their class numbers, the class names and a report of what was read and
    removed."""
    datasets = read_sources(data, text=text, label=label, label_names=label_names)
    held_texts = _held_out_texts(held_out, text)
    report: dict[str, Any] = {"sources": []}
    kept = []
    for dataset in datasets:
        entry = {
            "source": dataset.source,
            "rows": len(dataset),
            "empty_dropped": dataset.empty_dropped,
        }
        if held_texts:
            dataset, removed = remove_overlap(dataset, held_texts)
            entry["removed_as_held_out"] = removed
            if removed:
                logger.warning(
                    "%s: removed %s of %s texts that equal or hold a held-out text",
                    Path(dataset.source).name,
                    f"{removed:,}",
                    f"{entry['rows']:,}",
                )
        report["sources"].append(entry)
        kept.append(dataset)
    class_names = resolve_classes(kept, classes)
    labels = class_numbers(kept, class_names)
    texts = [t for d in kept for t in d.texts]
    if len(texts) < 10:
        raise InvalidParameterError(f"{len(texts)} texts left to train on; give at least 10")
    return texts, labels, class_names, report


def _held_out_texts(held_out: Any, text: str | int | None) -> list[str]:
    if held_out is None or (isinstance(held_out, list | tuple) and not held_out):
        return []
    return [t for d in read_sources(held_out, text=text, labelled=False) for t in d.texts]


MAX_SEQUENCE_LENGTH = 100_000
MAX_WIDTH = 8192


def _check_positive(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> None:
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        rule = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        if maximum is not None:
            rule += f" of at most {maximum:,}"
        raise InvalidParameterError(f"{name} must be {rule}; got {value!r}")


def _device(device: str) -> Any:
    from .._io.devices import torch_device

    return torch_device(device)
