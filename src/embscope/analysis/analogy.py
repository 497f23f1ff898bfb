"""Word analogies (3CosAdd, 3CosMul) and the odd one out, answered as gensim answers them.

``a : b :: c : ?`` is asked as ``positive=[b, c], negative=[a]``:

- **3CosAdd** (gensim's ``most_similar``): the unit vectors of the words are summed with weight
  +1 (positive) or -1 (negative), the sum is scaled to unit length, and the rows are ranked by
  cosine with it.
- **3CosMul** (``most_similar_cosmul``, Levy & Goldberg 2014): each row's cosine with each word
  is shifted to [0, 1] by ``(1 + cos) / 2``; the score is the product over the positive words
  divided by the product over the negative words plus 1e-6.

The input words are never returned. Scores are re-measured in float64 for the winners, as in
``EmbeddingSpace.search``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import candidate_count, positive_int
from ..errors import InvalidParameterError
from ..search import kernels as _nb
from ..search.results import Hits, ResolvedQuery

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

ANALOGY_METHODS: tuple[str, ...] = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-6  # gensim's, added to the denominator of 3CosMul


def analogy(
    space: EmbeddingSpace,
    positive: Sequence[Any] | str,
    negative: Sequence[Any] | str = (),
    *,
    top_k: int = 10,
    method: str = "3cosadd",
    restrict_vocab: int | None = None,
) -> pd.DataFrame:
    """The ``top_k`` rows that best complete the analogy, best first, inputs excluded.

    Columns as in ``neighbors``: rank, key, label, score (the cosine with the combined query for
    3CosAdd, the 3CosMul objective for 3CosMul), then the metadata. ``restrict_vocab=N`` ranks
    only the first N rows. The frame's ``attrs`` hold the expression, the method and the words.
    """
    method = check_method(method)
    positive_words = _word_list(positive, "positive")
    negative_words = _word_list(negative, "negative")
    if not positive_words:
        raise InvalidParameterError(
            "positive must hold at least one word (a : b :: c : ? is positive=[b, c], "
            "negative=[a]); got an empty list"
        )
    _check_top_k(top_k)
    resolved = [space.resolve(word) for word in [*positive_words, *negative_words]]
    weights = np.array([1.0] * len(positive_words) + [-1.0] * len(negative_words))
    units = np.stack([_unit(r.vector) for r in resolved])
    input_keys = list(dict.fromkeys(key for r in resolved for key in r.keys))
    input_rows = tuple(dict.fromkeys(row for r in resolved for row in r.rows))
    text = expression(positive_words, negative_words)
    if method == "3cosadd":
        query = _unit(weights @ units).astype(np.float32)
        if not np.any(query):
            raise InvalidParameterError(
                f"{text} is the zero vector (the words cancel out), so every row would score "
                "0; change the words"
            )
        hits = space.search(
            query,
            top_k=top_k,
            metric="cosine",
            exclude=input_keys,
            restrict_vocab=restrict_vocab,
            approximate=False,
        )
        rows, scores, searched = hits.rows, hits.scores, hits
    else:
        query = units[0].astype(np.float32)
        rows, scores = _cosmul_top_k(
            space,
            units,
            weights > 0,
            top_k=int(top_k),
            restrict_vocab=restrict_vocab,
            excluded=np.asarray(input_rows, dtype=np.int64),
        )
        searched = None
    hits = Hits(
        rows=rows,
        scores=scores,
        keys=[space.keys[r] for r in rows],
        metric="cosine",
        query=ResolvedQuery(text, tuple(input_keys), input_rows, query),
        space=space,
        details={
            "title": "Analogy",
            "method": method,
            "positive": [_word_text(w) for w in positive_words],
            "negative": [_word_text(w) for w in negative_words],
        },
    )
    # 3CosAdd is one cosine search, whose ranking can be a near tie like any other; 3CosMul
    # ranks by a product of cosines no single query's scores describe
    hits.remember_stability(searched.stability if searched is not None else None)
    return hits.to_pandas()


def doesnt_match(space: EmbeddingSpace, words: Sequence[str]) -> str:
    """The word whose unit vector has the lowest cosine with the mean of all the words' unit
    vectors (itself included), as gensim's ``doesnt_match``; equal cosines: the word that sorts
    first. Unknown words raise ``UnknownKeyError`` (gensim drops them with a warning)."""
    if isinstance(words, str):
        raise InvalidParameterError(
            f"words must be a list of at least 2 words; got the string {words!r}"
        )
    words = list(words)
    if len(words) < 2:
        raise InvalidParameterError(
            f"words must hold at least 2 words to pick the odd one out; got {len(words)}"
        )
    for word in words:
        if not isinstance(word, str):
            raise InvalidParameterError(f"words must be strings; got {word!r}")
    units = np.stack([_unit(space.resolve(word).vector) for word in words])
    centre = _unit(units.mean(axis=0))
    cosines = units @ centre
    return min(zip(cosines.tolist(), words, strict=True))[1]


def check_method(method: str) -> str:
    folded = method.lower() if isinstance(method, str) else method
    if folded not in ANALOGY_METHODS:
        raise InvalidParameterError(
            f"method must be one of {', '.join(ANALOGY_METHODS)}; got {method!r}"
        )
    return folded


def parse_analogy(text: str) -> tuple[list[str], list[str]]:
    """Positive and negative words of an analogy written as text.

    ``"king - man + woman"`` (operators stand alone, so hyphenated words stay whole),
    ``"king woman"`` (all positive), or ``"man : king :: woman : ?"`` (``a : b :: c`` is
    ``b + c - a``).
    """
    tokens = text.split()
    if not tokens:
        raise InvalidParameterError("expression must name at least one word; got nothing")
    if "::" in tokens:
        left, _, right = " ".join(tokens).partition(" :: ")
        first = left.split()
        second = right.split()
        if second[-2:] == [":", "?"]:
            second = second[:-2]
        if len(first) != 3 or first[1] != ":" or len(second) != 1:
            raise InvalidParameterError(
                f"expression {text!r} must read 'a : b :: c' (or 'a : b :: c : ?'), "
                "with spaces around ':' and '::'"
            )
        return [first[2], second[0]], [first[0]]
    positive: list[str] = []
    negative: list[str] = []
    sign: str | None = None
    for token in tokens:
        if token in ("+", "-"):
            if sign is not None:
                raise InvalidParameterError(
                    f"expression {text!r} has two operators in a row ({sign} {token})"
                )
            sign = token
            continue
        (negative if sign == "-" else positive).append(token)
        sign = None
    if sign is not None:
        raise InvalidParameterError(f"expression {text!r} ends with the operator {sign!r}")
    return positive, negative


def expression(positive: Sequence[Any], negative: Sequence[Any]) -> str:
    """``king - man + woman`` for ``positive=[king, woman], negative=[man]``."""
    text = _word_text(positive[0]) if positive else ""
    for word in negative:
        text += f" - {_word_text(word)}"
    for word in positive[1:]:
        text += f" + {_word_text(word)}"
    return text.strip()


# ---- internals ---------------------------------------------------------------------------
def _word_list(words: Sequence[Any] | str, name: str) -> list[Any]:
    if words is None:
        return []
    if isinstance(words, str) or (isinstance(words, np.ndarray) and words.ndim == 1):
        return [words]  # one word, or one raw vector
    try:
        return list(words)
    except TypeError:
        raise InvalidParameterError(
            f"{name} must be a word or a list of words; got {words!r}"
        ) from None


def _word_text(word: Any) -> str:
    return word if isinstance(word, str) else "<vector>"


def _check_top_k(top_k: int) -> None:
    positive_int(top_k, "top_k")


def _unit(vector: np.ndarray) -> np.ndarray:
    """Float64 unit vector; a zero vector stays zero (cosine 0 with anything, never NaN)."""
    vector = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def unit_rows(space: EmbeddingSpace, rows: np.ndarray) -> np.ndarray:
    """Float64 unit vectors of some rows (zero rows stay zero)."""
    vectors = np.asarray(space.vectors[rows], dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def cosmul(cosines: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """3CosMul objective from the cosines of each term (axis 0) with each row; float32 stays
    float32, float64 stays float64."""
    shifted = (1 + cosines) / 2
    numerator = np.prod(shifted[positive], axis=0)
    denominator = np.prod(shifted[~positive], axis=0) + COSMUL_EPSILON
    return numerator / denominator


def _cosmul_top_k(
    space: EmbeddingSpace,
    units: np.ndarray,
    positive: np.ndarray,
    *,
    top_k: int,
    restrict_vocab: int | None,
    excluded: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    rows_scored = space.rows_scored(restrict_vocab)
    cosines = space.scores(units.astype(np.float32), metric="cosine", restrict_vocab=rows_scored)
    objective = cosmul(cosines, positive)
    # the float32 pass picks a few more than asked; float64 re-measures them and settles order
    candidates = _nb.top_k(
        objective,
        candidate_count(top_k),
        largest=True,
        excluded=excluded[excluded < rows_scored],
    )
    exact = cosmul(units @ unit_rows(space, candidates).T, positive)
    order = np.lexsort((candidates, -exact))[:top_k]
    return candidates[order], exact[order]
