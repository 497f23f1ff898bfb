"""Word-similarity and analogy benchmarks, scored as gensim scores them.

- ``evaluate_word_pairs``: Pearson and Spearman correlation between the cosine of each word
  pair and the human judgement, and the share of pairs left out because a word is unknown
  (gensim's ``evaluate_word_pairs``).
- ``evaluate_analogies``: accuracy on ``a b c d`` questions (``a : b :: c : d``) grouped in
  ``: section`` blocks, overall and per section (gensim's ``evaluate_word_analogies``). The
  questions go through ``EmbeddingSpace.scores`` in batches, one matrix product per batch, so
  the 19,544 Google questions take seconds rather than gensim's minutes.

Both follow gensim's defaults and rules: only the first ``restrict_vocab=300000`` rows count as
known; ``case_insensitive=True`` upper-cases words and keys, a word then standing for the first
(most frequent) of its case variants; ``dummy4unknown=False`` leaves questions with unknown
words out (``True`` counts them as wrong, or as similarity 0).

The named sets (``"wordsim353"``, ``"simlex999"``, ``"google"``: gensim's test files) and the
two file formats are found and read by ``benchmark_data``; the correlations are ``statistics``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidParameterError
from . import statistics
from .analogy import check_method, cosmul, unit_rows

# re-exported: the CLI and callers have always found the set names here
from .benchmark_data import ANALOGY_SETS as ANALOGY_SETS
from .benchmark_data import WORD_PAIR_SETS as WORD_PAIR_SETS
from .benchmark_data import dataset_path, read_analogies, read_word_pairs

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)

# a batch of questions is scored together while its (questions x rows) float32 scores stay
# about this size: small enough to stay near the cache, large enough for BLAS to be efficient
_BATCH_SCORE_BYTES = 64 * 1024 * 1024
# gensim's evaluate_word_analogies reads the 5 best answers and takes the first that is not
# one of the question's words in another case
_ANSWERS_READ = 5


# ---- results -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class WordPairEvaluation:
    """Correlation of the space's cosines with human similarity judgements.

    ``oov_ratio`` is a share between 0 and 1 (gensim reports it in percent). ``pairs`` holds one
    row per pair: word_1, word_2, human, cosine (NaN when a word is unknown), known.
    """

    dataset: str
    pearson: float
    pearson_pvalue: float
    spearman: float
    spearman_pvalue: float
    oov_ratio: float
    pairs_used: int
    pairs_total: int
    space: str
    restrict_vocab: int | None
    case_insensitive: bool
    dummy4unknown: bool
    pairs: pd.DataFrame = field(repr=False)

    def to_pandas(self) -> pd.DataFrame:
        """One row: the figures, without the per-pair table."""
        import pandas as pd

        figures = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pairs"}
        return pd.DataFrame([figures])

    def _repr_html_(self) -> str:
        return _html(self.to_pandas(), f"Word pairs {self.dataset} on {self.space}")


@dataclass(frozen=True, eq=False)
class AnalogyEvaluation:
    """Accuracy on an analogy set, overall and per section.

    ``accuracy`` is correct / (correct + incorrect) over the questions asked (NaN when none
    could be asked); ``oov`` counts the questions with a word outside the first
    ``restrict_vocab`` rows, ``oov_ratio`` their share of all questions. ``sections`` has one
    row per section (section, correct, incorrect, accuracy); ``questions`` one row per question
    (section, a, b, c, expected, predicted, correct), ``predicted`` empty for the ones skipped.
    """

    dataset: str
    accuracy: float
    correct: int
    incorrect: int
    oov: int
    oov_ratio: float
    questions_total: int
    method: str
    space: str
    restrict_vocab: int | None
    case_insensitive: bool
    dummy4unknown: bool
    sections: pd.DataFrame = field(repr=False)
    questions: pd.DataFrame = field(repr=False)

    def to_pandas(self) -> pd.DataFrame:
        """The sections, then a last row ``Total accuracy`` (as in gensim's list)."""
        import pandas as pd

        total = pd.DataFrame(
            [
                {
                    "section": "Total accuracy",
                    "correct": self.correct,
                    "incorrect": self.incorrect,
                    "accuracy": self.accuracy,
                }
            ]
        )
        return pd.concat([self.sections, total], ignore_index=True)

    def _repr_html_(self) -> str:
        caption = (
            f"Analogies {self.dataset} on {self.space} ({self.method}): accuracy "
            f"{self.accuracy:.4f}, {self.oov_ratio:.1%} of {self.questions_total:,} questions "
            "out of vocabulary"
        )
        return _html(self.to_pandas(), caption)


def _html(frame: pd.DataFrame, caption: str) -> str:
    from html import escape

    return f"<p><b>{escape(caption)}</b></p>" + frame.to_html(index=False)


# ---- word pairs --------------------------------------------------------------------------
def evaluate_word_pairs(
    space: EmbeddingSpace,
    pairs: str | Path = "wordsim353",
    *,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    delimiter: str | None = "\t",
) -> WordPairEvaluation:
    """Pearson and Spearman correlation (with two-sided p-values) between the cosine of each
    pair and the human score, on ``"wordsim353"``, ``"simlex999"`` or a file of pairs.

    A pair with a word outside the first ``restrict_vocab`` rows is left out, or with
    ``dummy4unknown=True`` kept with cosine 0; ``oov_ratio`` is their share (0 to 1).
    """
    import pandas as pd

    name, path = dataset_path(pairs, kind="pairs")
    first, second, human = read_word_pairs(path, delimiter=delimiter)
    vocabulary = _known_words(space, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str
    rows_first = np.array([vocabulary.get(fold(word), -1) for word in first], dtype=np.int64)
    rows_second = np.array([vocabulary.get(fold(word), -1) for word in second], dtype=np.int64)
    known = (rows_first >= 0) & (rows_second >= 0)
    cosines = np.full(len(human), np.nan)
    if known.any():
        cosines[known] = np.einsum(
            "ij,ij->i",
            unit_rows(space, rows_first[known]),
            unit_rows(space, rows_second[known]),
        )
    used = np.ones(len(human), dtype=bool) if dummy4unknown else known
    model = np.where(known, cosines, 0.0)[used]
    gold = human[used]
    if len(gold) == 0:
        raise InvalidParameterError(
            f"pairs: none of the {len(human)} pairs of {name} has both words in the first "
            f"{_rows_text(space, restrict_vocab)} of {space.name}; nothing to correlate"
        )
    pearson = statistics.pearson(gold, model)
    spearman = statistics.spearman(gold, model)
    unknown = int((~known).sum())
    result = WordPairEvaluation(
        dataset=name,
        pearson=pearson,
        pearson_pvalue=statistics.correlation_pvalue(pearson, len(gold)),
        spearman=spearman,
        spearman_pvalue=statistics.correlation_pvalue(spearman, len(gold)),
        oov_ratio=unknown / len(human),
        pairs_used=len(gold),
        pairs_total=len(human),
        space=space.name,
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
        pairs=pd.DataFrame(
            {"word_1": first, "word_2": second, "human": human, "cosine": cosines, "known": known}
        ),
    )
    logger.info(
        "%s on %s: Pearson %.4f, Spearman %.4f, %.1f%% of pairs unknown",
        name,
        space.name,
        result.pearson,
        result.spearman,
        100 * result.oov_ratio,
    )
    return result


# ---- analogies ---------------------------------------------------------------------------
def evaluate_analogies(
    space: EmbeddingSpace,
    analogies: str | Path = "google",
    *,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    method: str = "3cosadd",
) -> AnalogyEvaluation:
    """Accuracy on ``"google"`` (questions-words) or any analogy file, overall and per section.

    Each question ``a b c expected`` is answered with ``b + c - a`` (3CosAdd, gensim's way; or
    ``method="3cosmul"``) among the first ``restrict_vocab`` rows, the question's own words
    excluded. A question with a word outside those rows is skipped (``dummy4unknown=True``:
    counted wrong).
    """
    import pandas as pd

    method = check_method(method)
    name, path = dataset_path(analogies, kind="analogies")
    sections = read_analogies(path)
    rows_scored = space.rows_scored(restrict_vocab)
    vocabulary = _known_words(space, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str

    flat = [(index, q) for index, (_, qs) in enumerate(sections) for q in qs]
    folded = [tuple(fold(word) for word in q) for _, q in flat]
    question_rows = np.array(
        [[vocabulary.get(word, -1) for word in q] for q in folded], dtype=np.int64
    ).reshape(-1, 4)
    asked = np.flatnonzero((question_rows >= 0).all(axis=1))
    answers = _answers(space, question_rows[asked, :3], method, rows_scored)

    keys = space.keys
    predicted: list[str | None] = [None] * len(flat)
    correct = np.zeros(len(flat), dtype=bool)
    for position, candidates in zip(asked.tolist(), answers.tolist(), strict=True):
        a, b, c, expected = folded[position]
        ignore = {a, b, c}
        guess = None
        for row in candidates:  # gensim: the first of the 5 best not an input in another case
            if row < 0:
                break
            guess = fold(keys[row])
            if guess in vocabulary and guess not in ignore:
                predicted[position] = keys[row]
                break
        correct[position] = guess == expected
    counted = np.zeros(len(flat), dtype=bool)
    counted[asked] = True
    if dummy4unknown:
        counted[:] = True

    section_of = np.array([index for index, _ in flat], dtype=np.int64)
    n_sections = len(sections)
    right = np.bincount(section_of[counted & correct], minlength=n_sections)
    wrong = np.bincount(section_of[counted & ~correct], minlength=n_sections)
    table = pd.DataFrame(
        {
            "section": [section for section, _ in sections],
            "correct": right,
            "incorrect": wrong,
            "accuracy": [_share(r, r + w) for r, w in zip(right, wrong, strict=True)],
        }
    )
    questions = pd.DataFrame(
        {
            "section": [sections[index][0] for index, _ in flat],
            "a": [q[0] for _, q in flat],
            "b": [q[1] for _, q in flat],
            "c": [q[2] for _, q in flat],
            "expected": [q[3] for _, q in flat],
            "predicted": predicted,
            "correct": correct & counted,
        }
    )
    total_right, total_wrong = int(right.sum()), int(wrong.sum())
    oov = len(flat) - len(asked)
    result = AnalogyEvaluation(
        dataset=name,
        accuracy=_share(total_right, total_right + total_wrong),
        correct=total_right,
        incorrect=total_wrong,
        oov=oov,
        oov_ratio=oov / len(flat),
        questions_total=len(flat),
        method=method,
        space=space.name,
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
        sections=table,
        questions=questions,
    )
    logger.info(
        "%s on %s (%s): accuracy %.4f over %d questions, %.1f%% out of vocabulary",
        name,
        space.name,
        method,
        result.accuracy,
        total_right + total_wrong,
        100 * result.oov_ratio,
    )
    return result


def _share(part: int, whole: int) -> float:
    return float(part) / whole if whole else math.nan


def _rows_text(space: EmbeddingSpace, restrict_vocab: int | None) -> str:
    rows = space.rows_scored(restrict_vocab)
    return f"{rows:,} rows"


def _known_words(
    space: EmbeddingSpace, restrict_vocab: int | None, case_insensitive: bool
) -> dict[str, int]:
    """Word -> row over the first ``restrict_vocab`` rows; upper-cased, the first row of a word's
    case variants winning, when ``case_insensitive``."""
    rows = space.rows_scored(restrict_vocab)
    words = _words_of_rows(space, rows)
    if not case_insensitive:
        return {word: row for row, word in words}
    vocabulary: dict[str, int] = {}
    for row, word in words:
        vocabulary.setdefault(word.upper(), row)
    return vocabulary


def _words_of_rows(space: EmbeddingSpace, rows: int) -> list[tuple[int, str]]:
    """(row, the word it stands for) over the first ``rows`` rows: the keys, except in a
    SentencePiece or byte-level vocabulary, where a word in running text is its word-start
    token (``Ġking``, shown ``␣king``) and the bare piece ``king`` is a mid-word
    continuation that no benchmark word means."""
    from ..lookup import WORD_START_MARK

    word_start = space.word_start_rows
    if word_start is None:
        return list(enumerate(space.keys[:rows]))
    labels = space.labels
    return [
        (row, labels[row][len(WORD_START_MARK) :])
        for row in np.flatnonzero(word_start[:rows]).tolist()
        if labels[row].startswith(WORD_START_MARK)
    ]


def _answers(
    space: EmbeddingSpace, inputs: np.ndarray, method: str, rows_scored: int
) -> np.ndarray:
    """The ``_ANSWERS_READ`` best rows for each question (rows a, b, c), best first, the three
    input rows excluded: (questions, answers) int64, -1 where the vocabulary runs out."""
    answers = np.full((len(inputs), _ANSWERS_READ), -1, dtype=np.int64)
    terms = 1 if method == "3cosadd" else 3
    batch = max(1, _BATCH_SCORE_BYTES // (4 * terms * max(1, rows_scored)))
    for start in range(0, len(inputs), batch):
        best = _batch_answers(space, inputs[start : start + batch], method, rows_scored)
        answers[start : start + batch, : best.shape[1]] = best
    return answers


def _batch_answers(
    space: EmbeddingSpace, inputs: np.ndarray, method: str, rows_scored: int
) -> np.ndarray:
    units = unit_rows(space, inputs)  # (questions, 3, d): a, b, c
    positive = np.array([False, True, True])
    if method == "3cosadd":
        combined = units[:, 1] + units[:, 2] - units[:, 0]
        norms = np.linalg.norm(combined, axis=1, keepdims=True)
        queries = combined / np.where(norms > 0, norms, 1.0)
        scores = space.scores(
            queries.astype(np.float32), metric="cosine", restrict_vocab=rows_scored
        )
    else:
        flat = units.reshape(-1, units.shape[-1]).astype(np.float32)
        cosines = space.scores(flat, metric="cosine", restrict_vocab=rows_scored)
        scores = cosmul(cosines.reshape(len(inputs), 3, -1).transpose(1, 0, 2), positive)
        del cosines
    # the float32 pass keeps a few more than read (the inputs may be among them, and rounding
    # may reorder near-ties); float64 re-measures those to settle the order
    candidates = _best_columns(scores, _ANSWERS_READ + 3 + 8)
    del scores
    unit_candidates = unit_rows(space, candidates)  # (questions, candidates, d)
    if method == "3cosadd":
        exact = np.einsum("qkd,qd->qk", unit_candidates, queries)
    else:
        exact = cosmul(np.einsum("qkd,qtd->tqk", unit_candidates, units), positive)
    exact[(candidates[:, :, None] == inputs[:, None, :]).any(axis=2)] = -np.inf
    exact[candidates < 0] = -np.inf
    order = np.lexsort((candidates, -exact), axis=-1)[:, :_ANSWERS_READ]
    best = np.take_along_axis(candidates, order, axis=1)
    best[np.take_along_axis(exact, order, axis=1) == -np.inf] = -1
    return best


def _best_columns(scores: np.ndarray, kept: int, *, lanes: int = 32) -> np.ndarray:
    """The ``kept`` highest columns of each row of ``scores``, best first (equal scores: the
    lower column first; NaN last), as a (rows, kept) int64 array, -1 where a row is shorter.

    ``argpartition`` over 300,000 columns costs milliseconds per row. Instead the columns are
    cut into ``lanes`` equal stripes and one elementwise ``maximum`` over the stripes gives,
    for every offset j, the best of the columns j, j + w, j + 2w, ... (a "group"). With t the
    ``kept``-th highest group maximum, every one of the ``kept`` best columns lies in a group
    whose maximum is at least t (the ``kept``-th best column is itself at least t), so only
    those groups' columns are ranked.
    """
    count, columns = scores.shape
    width = columns // lanes
    if width <= kept:
        return _best_columns_slow(scores, kept)
    main = width * lanes
    group_max = scores[:, :main].reshape(count, lanes, width).max(axis=1)
    cut = np.partition(group_max, width - kept, axis=1)[:, width - kept]
    chosen = group_max >= cut[:, None]
    # NaN scores, or ties in the group maxima at the cut, leave a row with other than ``kept``
    # groups: those rows are ranked the plain way
    plain = (chosen.sum(axis=1) != kept) | np.isnan(cut)
    result = np.full((count, kept), -1, dtype=np.int64)
    if plain.any():
        result[plain] = _best_columns_slow(scores[plain], kept)
    fast = np.flatnonzero(~plain)
    if len(fast) == 0:
        return result
    groups = np.nonzero(chosen[fast])[1].reshape(len(fast), kept)
    cols = (groups[:, :, None] + width * np.arange(lanes)).reshape(len(fast), -1)
    if main < columns:  # the few columns past the last full stripe are always candidates
        tail = np.broadcast_to(np.arange(main, columns), (len(fast), columns - main))
        cols = np.concatenate([cols, tail], axis=1)
    values = scores[fast[:, None], cols]
    order = np.lexsort((cols, -values), axis=-1)[:, :kept]
    result[fast] = np.take_along_axis(cols, order, axis=1)
    return result


def _best_columns_slow(scores: np.ndarray, kept: int) -> np.ndarray:
    ranked = np.nan_to_num(scores.astype(np.float64), nan=-np.inf)
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :kept]
    result = np.full((scores.shape[0], kept), -1, dtype=np.int64)
    result[:, : order.shape[1]] = order
    return result
