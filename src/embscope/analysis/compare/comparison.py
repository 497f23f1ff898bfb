"""Compare two spaces over the keys both hold: "does model B see this word the way model A does?"

``compare(a, b)`` measures, over the shared keys, how far each key's nearest neighbours agree
(overlap@k, Jaccard), how the similarities of a seeded sample of pairs and of each key to a
seeded sample of reference keys correlate (Spearman), linear CKA, and how well B maps onto A
(orthogonal Procrustes on unit rows, as Hamilton et al. 2016 align word spaces; a least-squares
map when the widths differ). Each figure comes with its chance level: what it would be if B's
rows were the same vectors dealt out to other keys.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..._checks import integer_at_least, positive_int
from ..._io.progress import Progress, progress_bar
from ...errors import InvalidParameterError
from ...metrics import Metric
from ..statistics import correlation_pvalue, spearman
from . import measures
from .cache import cache_file, read_measured, write_measured
from .measured import Alignment, Measured, PairCorrelation
from .results import ComparisonSummary, SideBySide, pair_names

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ...space import EmbeddingSpace

logger = logging.getLogger(__name__)

Pieces = Literal["error", "mean"]

# pairs whose two similarities are correlated for the global figure, and reference keys each
# key's similarities are measured against for its own rank correlation
SAMPLE_PAIRS = 20_000
REFERENCE_KEYS = 500
_RANK_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class SharedRows:
    """The keys both spaces answer for, A's order, and the rows (or composed vectors) behind
    them: ``vectors_b`` is B's rows, or each key's mean of B's sub-word pieces."""

    keys: list[str]
    rows_a: np.ndarray
    vectors_a: np.ndarray
    vectors_b: np.ndarray
    composed: int  # keys B answered by its pieces
    considered: int  # A's keys looked for in B (all, the first restrict_vocab, or ``keys``)


def compare(
    a: EmbeddingSpace,
    b: EmbeddingSpace,
    *,
    top_k: int = 10,
    metric: str | None = None,
    keys: Sequence[str] | None = None,
    restrict_vocab: int | None = None,
    anchors: Sequence[str] | None = None,
    pieces: Pieces = "error",
    sample_pairs: int = SAMPLE_PAIRS,
    reference_keys: int = REFERENCE_KEYS,
    random_state: int = 0,
    cache: bool = True,
    progress: Progress = True,
) -> Comparison:
    """Compare ``b`` with ``a`` over the keys both hold (A's order).

    ``keys`` limits the comparison to those keys, ``restrict_vocab=N`` to A's first N keys (the
    most frequent in a frequency-ordered vocabulary). ``anchors`` are the keys the alignment is
    fitted on (default: every shared key). ``pieces="mean"`` lets B answer a key it lacks by
    the mean of its tokenizer's pieces (a word-vector space against a sub-word one).
    ``metric`` (default: A's) ranks neighbours and scores similarities in both spaces.
    Sampled figures are seeded by ``random_state``. The figures are cached on disk by both
    spaces' content and every parameter (``cache=False`` computes them afresh).
    """
    metric_used = Metric.of(metric or a.metric)
    top_k = positive_int(top_k, "top_k")
    sample_pairs = positive_int(sample_pairs, "sample_pairs")
    reference_keys = integer_at_least(reference_keys, "reference_keys", 3)
    if pieces not in ("error", "mean"):
        raise InvalidParameterError(f"pieces must be 'error' or 'mean'; got {pieces!r}")
    shared = shared_rows(a, b, keys=keys, restrict_vocab=restrict_vocab, pieces=pieces)
    n = len(shared.keys)
    if n <= top_k:
        raise InvalidParameterError(
            f"{a.name} and {b.name} share {n:,} key(s): too few to compare top {top_k} "
            f"neighbours (a key is not its own neighbour); lower top_k or compare spaces "
            "that share more keys"
        )
    anchor_rows = _anchor_rows(shared, anchors)
    parameters = {
        "metric": str(metric_used),
        "top_k": top_k,
        "anchors": None if anchors is None else anchor_rows.tolist(),
        "sample_pairs": sample_pairs,
        "reference_keys": reference_keys,
        "random_state": random_state,
    }
    path = cache_file(a, b, shared, parameters) if cache else None
    measured = read_measured(path, len(shared.keys), top_k) if path else None
    if measured is None:
        measured = _measure(
            a, b, shared, anchor_rows, metric_used, top_k, sample_pairs, reference_keys,
            random_state, progress,
        )  # fmt: skip
        if path is not None:
            write_measured(path, measured, parameters)
    return Comparison(
        a=a,
        b=b,
        shared=shared,
        metric=metric_used,
        top_k=top_k,
        measured=measured,
        pieces=pieces,
        only_a=shared.considered - n,
        only_b=sum(1 for key in b.keys if key not in a),
        restrict_vocab=restrict_vocab,
    )


def _measure(
    a: EmbeddingSpace,
    b: EmbeddingSpace,
    shared: SharedRows,
    anchor_rows: np.ndarray,
    metric: Metric,
    top_k: int,
    sample_pairs: int,
    reference_keys: int,
    random_state: int,
    progress: Progress,
) -> Measured:
    rng = np.random.default_rng(random_state)
    vectors_a, vectors_b = shared.vectors_a, shared.vectors_b
    with progress_bar(5, f"comparing {a.name} with {b.name}", enabled=progress) as advance:
        advance(0, "neighbours in A")
        ids_a = _neighbour_ids(vectors_a, shared.keys, top_k, metric)
        advance(1, "neighbours in B")
        ids_b = _neighbour_ids(vectors_b, shared.keys, top_k, metric)
        advance(1, "alignment")
        # cosine compares directions: a key's length must not pull the alignment its way
        unit = metric is Metric.COSINE
        scored = (unit_copy(vectors_a), unit_copy(vectors_b)) if unit else None
        scored_a, scored_b = scored or (vectors_a, vectors_b)
        alignment = _align(scored_a, scored_b, anchor_rows, rng, unit_rows=unit)
        del scored, scored_a, scored_b
        advance(1, "similarities")
        # ranks are taken of float64 scores: float32 unit rows would reorder near-ties
        per_key = _reference_correlations(vectors_a, vectors_b, metric, reference_keys, rng)
        pairs = _pair_correlation(vectors_a, vectors_b, metric, sample_pairs, rng)
        advance(1, "CKA")
        cka, cka_chance = measures.linear_cka_with_chance(
            vectors_a, vectors_b, rng.permutation(len(vectors_b))
        )
        advance(1)
    return Measured(
        ids_a=ids_a,
        ids_b=ids_b,
        reference_correlation=per_key,
        pair_correlation=pairs,
        cka=cka,
        cka_chance=cka_chance,
        alignment=alignment,
    )


def shared_rows(
    a: EmbeddingSpace,
    b: EmbeddingSpace,
    *,
    keys: Sequence[str] | None = None,
    restrict_vocab: int | None = None,
    pieces: Pieces = "error",
) -> SharedRows:
    """The keys both spaces answer for, in A's order (or the order of ``keys``)."""
    if keys is not None:
        wanted = list(dict.fromkeys(keys))
        for key in wanted:
            if key not in a:
                raise a.unknown_key(key)
    else:
        wanted = a.keys[: a.rows_scored(restrict_vocab)]
    if pieces == "mean" and not b.has_tokenizer:
        raise InvalidParameterError(
            f"pieces='mean' needs a tokenizer in {b.name}, which has none; compare over the "
            "keys both spaces hold (pieces='error')"
        )
    kept: list[str] = []
    rows_b: list[int] = []
    composed: dict[int, np.ndarray] = {}
    for key in wanted:
        if key in b:
            kept.append(key)
            rows_b.append(b.row(key))
        elif pieces == "mean":
            vector = _composed(b, key)
            if vector is not None:
                composed[len(kept)] = vector
                kept.append(key)
                rows_b.append(-1)
        elif keys is not None:
            raise b.unknown_key(key)
    rows_a = np.asarray([a.row(key) for key in kept], dtype=np.int64)
    vectors_a = _take_rows(a.vectors, rows_a)
    present = np.asarray(rows_b, dtype=np.int64)
    vectors_b = _take_rows(b.vectors, np.maximum(present, 0))
    for position, vector in composed.items():
        vectors_b[position] = vector
    return SharedRows(
        kept, rows_a, vectors_a, vectors_b, composed=len(composed), considered=len(wanted)
    )


def _composed(space: EmbeddingSpace, key: str) -> np.ndarray | None:
    from ...errors import UnknownKeyError

    try:
        return space.resolve(key, pieces="mean").vector
    except UnknownKeyError:
        return None


def _take_rows(vectors: Any, rows: np.ndarray) -> np.ndarray:
    """float32 copies of the rows (bfloat16 and float16 widened: answers are float32)."""
    if len(rows) == len(vectors) and np.array_equal(rows, np.arange(len(vectors))):
        return np.asarray(vectors, dtype=np.float32).copy()
    return np.asarray(vectors[rows], dtype=np.float32)


def _anchor_rows(shared: SharedRows, anchors: Sequence[str] | None) -> np.ndarray:
    if anchors is None:
        return np.arange(len(shared.keys))
    position = {key: i for i, key in enumerate(shared.keys)}
    missing = [key for key in anchors if key not in position]
    if missing:
        raise InvalidParameterError(
            f"anchors must be keys both spaces hold; {len(missing)} are not, e.g. {missing[0]!r}"
        )
    rows = np.asarray(sorted({position[key] for key in anchors}), dtype=np.int64)
    if len(rows) < 2:
        raise InvalidParameterError("anchors must name at least 2 shared keys to fit a map")
    return rows


def _neighbour_ids(vectors: np.ndarray, keys: list[str], top_k: int, metric: Metric) -> np.ndarray:
    from ...search.graph import knn_graph
    from ...space import EmbeddingSpace

    space = EmbeddingSpace(vectors, keys, metric=metric, name="shared keys")
    return knn_graph(space, top_k=top_k, progress=False).ids


def unit_copy(vectors: np.ndarray) -> np.ndarray:
    """A float32 copy of the rows scaled to length 1 (zero rows stay zero)."""
    result = np.empty(vectors.shape, dtype=np.float32)
    for block in measures.row_blocks(len(vectors), vectors.shape[1]):
        result[block] = measures.unit_rows(measures.float64_rows(vectors, block))
    return result


def _align(
    a: np.ndarray, b: np.ndarray, anchor_rows: np.ndarray, rng: Any, *, unit_rows: bool
) -> Alignment:
    """B's rows mapped onto A's (rows as the metric sees them: unit rows for cosine)."""
    kind: Literal["orthogonal", "least-squares"] = (
        "orthogonal" if a.shape[1] == b.shape[1] else "least-squares"
    )

    def fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
        st, ss = measures.cross_product(source, target, with_gram=kind == "least-squares")
        if ss is None:
            return measures.orthogonal_map(st)
        return measures.least_squares_map(st, ss)

    mapping = fit(b[anchor_rows], a[anchor_rows])
    cosines, residual = measures.aligned_fit(b, a, mapping)
    shuffled = b[rng.permutation(len(b))]
    chance_cosines, residual_chance = measures.aligned_fit(
        shuffled, a, fit(shuffled[anchor_rows], a[anchor_rows])
    )
    return Alignment(
        mapping=mapping,
        kind=kind,
        unit_rows=unit_rows,
        fitted_on=len(anchor_rows),
        cosines=cosines,
        residual=residual,
        residual_chance=residual_chance,
        cosine_chance=float(chance_cosines.mean()),
    )


def pair_scores(x: np.ndarray, y: np.ndarray, metric: Metric) -> np.ndarray:
    """The score of every row of ``x`` against every row of ``y`` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if metric is Metric.COSINE:
        return measures.unit_rows(x) @ measures.unit_rows(y).T
    if metric is Metric.DOT:
        return x @ y.T
    squared = (x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def _reference_correlations(
    a: np.ndarray, b: np.ndarray, metric: Metric, count: int, rng: Any
) -> np.ndarray:
    """Per key, Spearman of its scores to a seeded sample of reference keys in A and in B
    (a reference key's own score left out of its list)."""
    n = len(a)
    references = np.sort(rng.choice(n, size=min(count, n), replace=False))
    ref_a, ref_b = a[references], b[references]
    m = len(references)
    result = np.empty(n)
    step = max(1, _RANK_BLOCK_CELLS // m)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        scores_a = pair_scores(a[rows], ref_a, metric)
        scores_b = pair_scores(b[rows], ref_b, metric)
        column = np.minimum(np.searchsorted(references, rows), m - 1)
        own = references[column] == rows
        result[rows[~own]] = _rank_correlations(scores_a[~own], scores_b[~own])
        if own.any():  # a reference key is not measured against itself
            keep = np.ones((int(own.sum()), m), dtype=bool)
            keep[np.arange(len(keep)), column[own]] = False
            result[rows[own]] = _rank_correlations(
                scores_a[own][keep].reshape(len(keep), m - 1),
                scores_b[own][keep].reshape(len(keep), m - 1),
            )
    return result


def _rank_correlations(scores_a: np.ndarray, scores_b: np.ndarray) -> np.ndarray:
    return measures.row_pearson(
        measures.average_ranks_by_row(scores_a), measures.average_ranks_by_row(scores_b)
    )


def _pair_correlation(
    a: np.ndarray, b: np.ndarray, metric: Metric, count: int, rng: Any
) -> PairCorrelation:
    """Spearman of the two spaces' scores of a seeded sample of pairs of distinct keys."""
    n = len(a)
    first = rng.integers(0, n, size=count)
    second = (first + rng.integers(1, n, size=count)) % n  # never the key itself
    scores = []
    for vectors in (a, b):
        x = np.asarray(vectors[first], dtype=np.float64)
        y = np.asarray(vectors[second], dtype=np.float64)
        if metric is Metric.COSINE:
            scores.append(measures.row_cosines(x, y))
        elif metric is Metric.DOT:
            scores.append(np.einsum("ij,ij->i", x, y))
        else:
            scores.append(np.linalg.norm(x - y, axis=1))
    rho = spearman(scores[0], scores[1])
    return PairCorrelation(rho=rho, pvalue=correlation_pvalue(rho, count), pairs=count)


class Comparison:
    """What ``compare`` measured; see ``summary``, ``words``, ``moved``, ``neighbors``,
    ``aligned`` and ``figure``."""

    def __init__(
        self,
        *,
        a: EmbeddingSpace,
        b: EmbeddingSpace,
        shared: SharedRows,
        metric: Metric,
        top_k: int,
        measured: Measured,
        pieces: Pieces,
        only_a: int,
        only_b: int,
        restrict_vocab: int | None = None,
    ) -> None:
        self.a = a
        self.b = b
        self.shared = shared
        self.metric = metric
        self.top_k = top_k
        self.ids_a = measured.ids_a
        self.ids_b = measured.ids_b
        self.overlap = measures.neighbour_overlap(measured.ids_a, measured.ids_b)
        self.reference_correlation = measured.reference_correlation
        self.pair_correlation = measured.pair_correlation
        self.cka, self.cka_chance = measured.cka, measured.cka_chance
        self.alignment = measured.alignment
        self.pieces = pieces
        self.only_a = only_a
        self.only_b = only_b
        self.restrict_vocab = restrict_vocab
        self._aligned: EmbeddingSpace | None = None
        self.name_a, self.name_b = pair_names(a.name, b.name)

    @property
    def keys(self) -> list[str]:
        """The shared keys, in the order every per-key array follows."""
        return self.shared.keys

    def summary(self) -> ComparisonSummary:
        n = len(self.keys)
        k = self.top_k
        jaccard = self.overlap / (2 * k - self.overlap)
        return ComparisonSummary(
            space_a=self.name_a,
            space_b=self.name_b,
            shared_keys=n,
            only_a=self.only_a,
            only_b=self.only_b,
            composed_keys=self.shared.composed,
            metric=self.metric,
            top_k=k,
            overlap=float(self.overlap.mean() / k),
            overlap_chance=measures.chance_overlap(k, n - 1),
            jaccard=float(jaccard.mean()),
            jaccard_chance=measures.chance_jaccard(k, n - 1),
            similarity_spearman=self.pair_correlation.rho,
            similarity_pvalue=self.pair_correlation.pvalue,
            pairs=self.pair_correlation.pairs,
            reference_spearman=float(np.nanmean(self.reference_correlation)),
            cka=self.cka,
            cka_chance=self.cka_chance,
            alignment=self.alignment.kind,
            fitted_on=self.alignment.fitted_on,
            dims=(self.a.dim, self.b.dim),
            residual=self.alignment.residual,
            residual_chance=self.alignment.residual_chance,
            aligned_cosine=float(self.alignment.cosines.mean()),
            aligned_cosine_chance=self.alignment.cosine_chance,
        )

    def words(self) -> pd.DataFrame:
        """One row per shared key: ``overlap`` (fraction of the top k found in both),
        ``shared_neighbors``, ``jaccard``, ``rank_correlation`` (Spearman of its scores to the
        reference keys in A and B), ``aligned_cosine`` (A's row against B's row mapped onto
        A), and its norm in each space."""
        import pandas as pd

        k = self.top_k
        return pd.DataFrame(
            {
                "key": self.keys,
                "label": [self.a.labels[r] for r in self.shared.rows_a],
                "overlap": self.overlap / k,
                "shared_neighbors": self.overlap,
                "jaccard": self.overlap / (2 * k - self.overlap),
                "rank_correlation": self.reference_correlation,
                "aligned_cosine": self.alignment.cosines,
                "norm_a": np.linalg.norm(self.shared.vectors_a, axis=1),
                "norm_b": np.linalg.norm(self.shared.vectors_b, axis=1),
            }
        )

    def moved_order(self) -> np.ndarray:
        """Positions of the shared keys, most moved first: fewest shared neighbours, then the
        lowest rank correlation of their similarities, then the lowest aligned cosine."""
        correlation = np.nan_to_num(self.reference_correlation, nan=-2.0)
        return np.lexsort((self.alignment.cosines, correlation, self.overlap))

    def moved(self, top: int = 20, *, least: bool = False) -> pd.DataFrame:
        """The ``top`` keys whose neighbourhoods changed most (``least=True``: least), as rows
        of ``words()``, most moved (or steadiest) first."""
        top = positive_int(top, "top")
        order = self.moved_order()
        chosen = order[::-1][:top] if least else order[:top]
        return self.words().iloc[chosen].reset_index(drop=True)

    def neighbors(
        self, word: str, top_k: int | None = None, *, restrict_vocab: int | None = None
    ) -> SideBySide:
        """``word``'s nearest keys in A and in B side by side, the ones both lists hold
        marked; each space searches its first ``restrict_vocab`` rows (default: the
        comparison's own ``restrict_vocab``, else every row)."""
        top_k = positive_int(top_k if top_k is not None else self.top_k, "top_k")
        if restrict_vocab is None:
            restrict_vocab = self.restrict_vocab
        options = {"top_k": top_k, "metric": self.metric, "restrict_vocab": restrict_vocab}
        hits_a = self.a.search(word, **options)
        hits_b = self.b.search(word, pieces=self.pieces, **options)
        return SideBySide(word=word, a=hits_a, b=hits_b, name_a=self.name_a, name_b=self.name_b)

    @property
    def aligned(self) -> EmbeddingSpace:
        """B mapped onto A (every key of B, A's width) as a space, so every other question
        can be asked of it: its neighbours against A's, a joint projection."""
        if self._aligned is None:
            self._aligned = aligned_space(self.b, self.alignment.mapping, self.a)
        return self._aligned

    def figure(self, *, moved: int = 20, sample: int = 2_000, random_state: int = 0) -> go.Figure:
        """The overlap@k distribution beside a joint PCA of both spaces (A and B aligned onto
        it, a seeded sample of shared keys), coloured by space, with lines joining the two
        positions of the ``moved`` most moved keys."""
        from .figure import comparison_figure

        return comparison_figure(self, moved=moved, sample=sample, random_state=random_state)

    def save(self, path: str | Path, *, words: Sequence[str] = (), top: int = 20) -> Path:
        """Write the comparison to ``path``: ``.html``, a self-contained report (figures and
        their chance levels, the ``top`` most and least moved keys, each of ``words`` side by
        side, the figure); ``.parquet``, ``words()`` with the summary in its metadata."""
        from .report import save_report

        return save_report(self, path, words=words, top=top)

    def __repr__(self) -> str:
        return f"<Comparison {self.summary().line()}>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def aligned_space(b: EmbeddingSpace, mapping: np.ndarray, a: EmbeddingSpace) -> EmbeddingSpace:
    """Every row of ``b`` times ``mapping`` (float32), with b's keys, labels and metadata."""
    from dataclasses import replace

    from ...space import EmbeddingSpace

    vectors = np.empty((len(b), mapping.shape[1]), dtype=np.float32)
    for block in measures.row_blocks(len(b), b.dim + mapping.shape[1]):
        vectors[block] = measures.float64_rows(b.vectors, block) @ mapping
    return EmbeddingSpace(
        vectors,
        b.keys,
        labels=b.labels,
        metadata=b.metadata,
        metric=b.metric,
        provenance=replace(
            b.provenance, options={**b.provenance.options, "aligned_to": a.provenance.digest}
        ),
        name=f"{b.name} aligned to {a.name}",
    )


__all__ = ["Comparison", "compare", "shared_rows"]
