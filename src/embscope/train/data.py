"""Training data: labelled texts from one or more sources, their class numbers, held-out texts
removed, and a validation split that keeps copies of one text on one side.

Every source is read by ``embscope.read_texts``, the reader document spaces use, or given as a
``TextDataset`` already read.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import is_integer
from ..errors import InvalidParameterError
from ..text.datasets import TextDataset, name_labels, read_texts
from .leakage import overlap_groups
from .vectorizer import TextVectorizer, tokenize

logger = logging.getLogger(__name__)


def read_sources(
    data: Any,
    *,
    text: str | int | None = None,
    label: str | int | None = None,
    label_names: Any = None,
    labelled: bool = True,
) -> list[TextDataset]:
    """Each source as a TextDataset: a path (read with ``text`` and ``label``), a TextDataset,
    or a list of them. ``label_names`` names the labels of every source whose labels are
    numbers, so numbered and named sources combine."""
    items = [data] if isinstance(data, str | Path | TextDataset) else list(data)
    if not items:
        raise InvalidParameterError("no training data: give at least one path or TextDataset")
    datasets = []
    for item in items:
        if isinstance(item, TextDataset):
            dataset = item
        elif isinstance(item, str | Path):
            dataset = read_texts(item, text=text, label=label if labelled else None)
        else:
            raise InvalidParameterError(
                f"data must be paths or TextDatasets (embscope.read_texts); got {item!r}"
            )
        if labelled:
            dataset = _named(_check_labelled(dataset), label_names)
        datasets.append(dataset)
    return datasets


def _check_labelled(dataset: TextDataset) -> TextDataset:
    if dataset.label is None:
        raise InvalidParameterError(f"{dataset.source} has no label column; name it with label=...")
    missing = int(dataset.frame[dataset.label].isna().sum())
    if missing:
        raise InvalidParameterError(
            f"{dataset.source}: {missing:,} rows have no {dataset.label!r} label; "
            "fill or drop them first"
        )
    return dataset


def _named(dataset: TextDataset, label_names: Any) -> TextDataset:
    from dataclasses import replace

    values = dataset.frame[dataset.label]
    if label_names is None or not all(is_integer(v) for v in values.unique()):
        return dataset
    frame, names = name_labels(
        dataset.frame.copy(), dataset.label, label_names, Path(dataset.source)
    )
    return replace(dataset, frame=frame, label_names=names)


def resolve_classes(datasets: Sequence[TextDataset], classes: Sequence[Any] | None) -> list[str]:
    """The class names in class-number order (see ``sentiment`` for the rules)."""
    values = sorted(
        {v for d in datasets for v in d.frame[d.label].unique().tolist()},
        key=lambda v: (str(type(v)), v),
    )
    if classes is not None:
        names = [str(c) for c in classes]
        if len(set(names)) != len(names) or len(names) < 2:
            raise InvalidParameterError(
                f"classes must name two or more distinct classes; got {classes!r}"
            )
        unknown = [v for v in values if str(v) not in names]
        if unknown:
            raise InvalidParameterError(
                f"label {unknown[0]!r} is not among classes {names}; add it or drop its rows"
            )
        return names
    if len(values) < 2:
        shown = repr(values[0]) if values else "none"
        raise InvalidParameterError(
            f"the labels hold one class ({shown}); a classifier needs at least two"
        )
    numbers = [v for v in values if is_integer(v)]
    if numbers and len(numbers) < len(values):
        named = [v for v in values if not is_integer(v)]
        raise InvalidParameterError(
            f"labels mix numbers ({', '.join(map(str, numbers[:4]))}) and names "
            f"({', '.join(map(str, named[:4]))}); name the numbers with label_names=[...] "
            "(CLI: --label-names), in class-number order"
        )
    if numbers:
        expected = list(range(len(numbers)))
        if sorted(int(v) for v in numbers) != expected:
            what = (
                "binary labels must be 0 and 1"
                if len(numbers) == 2
                else (f"{len(numbers)} class labels must be 0 to {len(numbers) - 1}")
            )
            raise InvalidParameterError(
                f"{what}; got {', '.join(map(str, numbers[:6]))}: pass "
                f"classes={[int(v) for v in numbers[:6]]} (class 0 first) to number them"
            )
        return [str(v) for v in expected]
    names = [str(v) for v in values]
    logger.info("classes in sorted order: %s", ", ".join(f"{i} = {n}" for i, n in enumerate(names)))
    return names


def class_numbers(datasets: Sequence[TextDataset], classes: Sequence[str]) -> np.ndarray:
    """Each row's class number (its label's position in ``classes``, compared as text)."""
    number_of = {name: number for number, name in enumerate(classes)}
    numbers = []
    for dataset in datasets:
        for value in dataset.frame[dataset.label].tolist():
            if str(value) not in number_of:
                raise InvalidParameterError(
                    f"{dataset.source}: label {value!r} is not one of the classes {list(classes)}"
                )
            numbers.append(number_of[str(value)])
    return np.asarray(numbers, dtype=np.int64)


def split_rows(
    texts: Sequence[str], fraction: float, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training and validation row numbers, and each text's group (``overlap_groups``).

    About ``fraction`` of the rows go to validation in whole groups (a text, its copies and
    the texts holding it), chosen at random with ``random_state``."""
    groups = overlap_groups(texts)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    rank = np.empty(n_groups, dtype=np.int64)
    rank[np.random.default_rng(random_state).permutation(n_groups)] = np.arange(n_groups)
    order = np.argsort(rank[groups], kind="stable")
    sizes = np.bincount(groups, minlength=n_groups)[np.argsort(rank)]
    # whole groups, in their shuffled order, until the validation share is reached
    groups_taken = max(1, int(np.searchsorted(np.cumsum(sizes), fraction * len(texts))))
    taken = int(sizes[:groups_taken].sum())
    return np.sort(order[taken:]), np.sort(order[:taken]), groups


def token_counts(vectorizer: TextVectorizer, texts: Sequence[str]) -> np.ndarray:
    """How often each vocabulary entry occurs in ``texts``; ``[UNK]`` counts the tokens outside
    the vocabulary, padding counts nothing."""
    counts = Counter(t for text in texts for t in tokenize(text, vectorizer.standardization))
    result = np.zeros(len(vectorizer), dtype=np.int64)
    for number, token in enumerate(vectorizer.vocabulary[2:], start=2):
        result[number] = counts.pop(token, 0)
    result[1] = sum(counts.values())
    return result
