"""Classes of a labelled space: how alike a class's members are, and how well classes separate.

Both analyses read the class of every row from a metadata column (news articles and their
topic, say). ``class_similarity`` measures the mean cosine similarity between the members of
every two classes; ``separation`` asks how well the classes can be told apart: silhouette,
cross-validated k-nearest-neighbour and linear-probe accuracy against the majority baseline.

Rows whose label is missing (None, NaN, an empty or blank string) are left out of both and
counted in the result (``missing``). Classes are listed sorted (by value; by text when the
values cannot be compared), so a result does not depend on the order of the rows.
"""

from __future__ import annotations

import html
import logging
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import integer_at_least, positive_int
from ..errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)

# how ``class_similarity`` sums squared cosines: "gram" through each class's d x d second-moment
# matrix (cost rows x d², fast when d is small), "blocks" through row-block products (cost
# rows² x d, memory one block pair); "auto" picks the cheaper that fits in memory
SIMILARITY_METHODS: tuple[str, ...] = ("auto", "gram", "blocks")
# the float64 working set of one block of rows, and of one block-pair product
_BLOCK_BYTES = 64 * 1024 * 1024
# the most memory the class second-moment matrices may take together ("gram")
_GRAM_BYTES = 256 * 1024 * 1024
# above this many rows the silhouette is measured on a seeded random sample of this size
SILHOUETTE_SAMPLE = 10_000
# the linear probe's iteration limit (lbfgs)
_PROBE_ITERATIONS = 1000


@dataclass(frozen=True)
class _Labelled:
    """The labelled rows of a space, grouped by class (rows of class 0 first, in row order)."""

    column: str
    classes: tuple[Any, ...]
    rows: np.ndarray  # space rows, grouped by class
    codes: np.ndarray  # each of those rows' class index (non-decreasing)
    counts: np.ndarray  # rows per class
    missing: int


# ---- class similarity ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ClassSimilarity:
    """Mean cosine similarity (and its standard deviation) between members of every two classes.

    ``mean`` and ``std`` are label x label DataFrames, symmetric. Off the diagonal they run over
    every pair (a member of one class, a member of the other); on the diagonal over the distinct
    pairs of two different members of the class, a row never paired with itself (a class of one
    row has NaN there). ``std`` is the population standard deviation over those pairs. A zero
    row has cosine 0 with everything. ``within`` is the diagonal; ``between`` a class's mean
    with the members of all other classes pooled; ``margin`` = within - between. ``labels`` are
    sorted; ``counts`` are rows per class; ``missing`` counts the rows left out for a missing
    label; ``method`` says how the squared cosines behind ``std`` were summed.
    """

    label_column: str
    labels: tuple[Any, ...]
    mean: pd.DataFrame
    std: pd.DataFrame
    pairs: pd.DataFrame
    counts: pd.Series
    within: pd.Series
    between: pd.Series
    rows: int
    missing: int
    method: str

    @property
    def margin(self) -> pd.Series:
        """Each class's within mean minus its between mean: above 0, members are closer to
        their own class than to the rest."""
        return (self.within - self.between).rename("margin")

    def per_class(self) -> pd.DataFrame:
        """One row per class: label, count, within, between, margin, and the other class whose
        members are most similar to it (``closest``, ``closest_mean``)."""
        import pandas as pd

        others = self.mean.to_numpy(copy=True)
        np.fill_diagonal(others, -np.inf)
        closest = others.argmax(axis=1) if len(self.labels) > 1 else np.zeros(0, dtype=int)
        return pd.DataFrame(
            {
                "label": list(self.labels),
                "count": self.counts.to_numpy(),
                "within": self.within.to_numpy(),
                "between": self.between.to_numpy(),
                "margin": self.margin.to_numpy(),
                "closest": [self.labels[c] for c in closest],
                "closest_mean": others[np.arange(len(closest)), closest],
            }
        )

    def to_pandas(self) -> pd.DataFrame:
        """A long table, one row per ordered pair of classes: label_a, label_b, mean, std,
        pairs (distinct member pairs; n(n-1)/2 within a class)."""
        import pandas as pd

        n = len(self.labels)
        first = np.repeat(np.arange(n), n)
        second = np.tile(np.arange(n), n)
        return pd.DataFrame(
            {
                "label_a": [self.labels[i] for i in first],
                "label_b": [self.labels[j] for j in second],
                "mean": self.mean.to_numpy()[first, second],
                "std": self.std.to_numpy()[first, second],
                "pairs": self.pairs.to_numpy()[first, second],
            }
        )

    def figure(self) -> Any:
        """The mean matrix as an annotated heatmap (``embscope.figures.class_similarity``)."""
        from ..figures import class_similarity

        return class_similarity(self)

    def summary(self) -> dict[str, Any]:
        margin = self.margin
        return {
            "label_column": self.label_column,
            "classes": len(self.labels),
            "rows": self.rows,
            "missing": self.missing,
            "within_mean": float(self.within.mean()),
            "between_mean": float(self.between.mean()),
            "smallest_margin": float(margin.min()),
            "smallest_margin_class": margin.idxmin() if margin.notna().any() else None,
            "method": self.method,
        }

    def __repr__(self) -> str:
        return (
            f"<ClassSimilarity by {self.label_column!r}: {len(self.labels)} classes, "
            f"{self.rows:,} rows; mean cosine within {self.within.mean():.3f}, "
            f"between {self.between.mean():.3f}>"
        )

    def _repr_html_(self) -> str:
        left_out = f", {self.missing:,} without a label left out" if self.missing else ""
        heading = (
            f"<p>Cosine similarity by <b>{html.escape(str(self.label_column))}</b>: "
            f"{len(self.labels)} classes, {self.rows:,} rows{left_out}.</p>"
        )
        return (
            heading
            + self.per_class().to_html(index=False, float_format="{:.3f}".format)
            + "<p>Mean cosine between members of two classes:</p>"
            + self.mean.to_html(float_format="{:.3f}".format)
        )


def class_similarity(
    space: EmbeddingSpace, label: str | None = None, *, method: str = "auto"
) -> ClassSimilarity:
    """Mean and standard deviation of the cosine similarity between members of every two
    classes of ``space``, the class of a row read from the metadata column ``label``.

    Computed in float64 without an n x n matrix: the means from each class's sum of unit rows
    (the sum of all cosines between classes a and b is the dot product of their sums), the
    standard deviations from sums of squared cosines, gathered per class second-moment matrix
    or per block of rows (``method``, one of ``SIMILARITY_METHODS``; "auto" picks the cheaper).
    """
    import pandas as pd

    if method not in SIMILARITY_METHODS:
        raise InvalidParameterError(
            f"method must be one of {', '.join(SIMILARITY_METHODS)}; got {method!r}"
        )
    data = _labelled(space, label, "class_similarity")
    n_classes, dim, total = len(data.classes), space.dim, len(data.rows)
    if method == "auto":
        method = _cheaper_method(total, dim, n_classes)
        logger.info(
            "class_similarity: %s for %d rows, %d dimensions, %d classes",
            method,
            total,
            dim,
            n_classes,
        )
    sums, squares, fourths, grams = _class_moments(space, data, gram=method == "gram")
    if grams is not None:
        flat = grams.reshape(n_classes, -1)
        square_sums = flat @ flat.T
    else:
        square_sums = _square_sums_by_blocks(space, data)
    square_sums = (square_sums + square_sums.T) / 2
    dots = sums @ sums.T
    dots = (dots + dots.T) / 2

    counts = data.counts.astype(np.float64)
    pair_count = np.outer(counts, counts)
    # within a class: ordered pairs of two different members; a row's pair with itself adds
    # its squared length (1, or 0 for a zero row) to the sum and its fourth power to the squares
    np.fill_diagonal(pair_count, counts * (counts - 1))
    dots[np.diag_indices(n_classes)] -= squares
    square_sums[np.diag_indices(n_classes)] -= fourths
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(pair_count > 0, dots / pair_count, np.nan)
        variance = np.where(pair_count > 0, square_sums / pair_count - mean**2, np.nan)
        off_diagonal = dots.sum(axis=1) - np.diag(dots)
        between = off_diagonal / (counts * (total - counts))
    std = np.sqrt(np.clip(variance, 0.0, None))  # rounding can leave -1e-17
    distinct_pairs = np.outer(data.counts, data.counts).astype(np.int64)
    np.fill_diagonal(distinct_pairs, data.counts * (data.counts - 1) // 2)

    index = pd.Index(list(data.classes), name=data.column)
    columns = pd.Index(list(data.classes), name=data.column)
    return ClassSimilarity(
        label_column=data.column,
        labels=data.classes,
        mean=pd.DataFrame(mean, index=index, columns=columns),
        std=pd.DataFrame(std, index=index, columns=columns),
        pairs=pd.DataFrame(distinct_pairs, index=index, columns=columns),
        counts=pd.Series(data.counts, index=index, name="count"),
        within=pd.Series(np.diag(mean).copy(), index=index, name="within"),
        between=pd.Series(between, index=index, name="between"),
        rows=total,
        missing=data.missing,
        method=method,
    )


def _cheaper_method(rows: int, dim: int, n_classes: int) -> str:
    gram_cost = rows * dim * dim + n_classes * n_classes * dim * dim
    blocks_cost = rows * rows * dim / 2
    fits = n_classes * dim * dim * 8 <= _GRAM_BYTES
    return "gram" if fits and gram_cost <= blocks_cost else "blocks"


def _unit_rows(space: EmbeddingSpace, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The given rows scaled to length 1 in float64 (zero rows stay zero), and their squared
    lengths after scaling (1, or 0)."""
    block = np.asarray(space.vectors[rows], dtype=np.float64)
    lengths = np.sqrt(np.einsum("ij,ij->i", block, block))
    block *= np.where(lengths > 0, 1.0 / np.where(lengths > 0, lengths, 1.0), 0.0)[:, None]
    return block, np.einsum("ij,ij->i", block, block)


def _segments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of one class starts in a block of grouped rows, and its class."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return starts, codes[starts]


def _class_moments(
    space: EmbeddingSpace, data: _Labelled, *, gram: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per class: the sum of its unit rows, of their squared and fourth-power lengths, and
    (``gram``) the d x d sum of their outer products; one pass, block by block."""
    n_classes, dim = len(data.classes), space.dim
    sums = np.zeros((n_classes, dim))
    squares = np.zeros(n_classes)
    fourths = np.zeros(n_classes)
    grams = np.zeros((n_classes, dim, dim)) if gram else None
    step = max(1, _BLOCK_BYTES // max(1, dim * 8))
    for start in range(0, len(data.rows), step):
        block, lengths = _unit_rows(space, data.rows[start : start + step])
        starts, classes = _segments(data.codes[start : start + step])
        sums[classes] += np.add.reduceat(block, starts, axis=0)
        squares[classes] += np.add.reduceat(lengths, starts)
        fourths[classes] += np.add.reduceat(lengths**2, starts)
        if grams is not None:
            for first, stop, code in zip(starts, [*starts[1:], len(block)], classes, strict=True):
                grams[code] += block[first:stop].T @ block[first:stop]
    return sums, squares, fourths, grams


def _square_sums_by_blocks(space: EmbeddingSpace, data: _Labelled) -> np.ndarray:
    """For every two classes, the sum of squared cosines over all ordered pairs of their
    members (a row with itself included), from products of row blocks: each block pair once."""
    n_classes = len(data.classes)
    total = np.zeros((n_classes, n_classes))
    step = max(1, min(math.isqrt(_BLOCK_BYTES // 8), _BLOCK_BYTES // max(1, space.dim * 8)))
    for first in range(0, len(data.rows), step):
        left, _ = _unit_rows(space, data.rows[first : first + step])
        left_starts, left_classes = _segments(data.codes[first : first + step])
        for second in range(first, len(data.rows), step):
            if second == first:
                right, right_starts, right_classes = left, left_starts, left_classes
            else:
                right, _ = _unit_rows(space, data.rows[second : second + step])
                right_starts, right_classes = _segments(data.codes[second : second + step])
            product = left @ right.T
            product *= product
            part = np.add.reduceat(np.add.reduceat(product, left_starts, axis=0), right_starts, 1)
            total[np.ix_(left_classes, right_classes)] += part
            if second != first:
                total[np.ix_(right_classes, left_classes)] += part.T
    return total


# ---- separation ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Separation:
    """How well the classes of a labelled space can be told apart.

    ``silhouette``: the mean silhouette of the rows under their true labels, cosine distance
    (-1 to 1; above 0, rows are closer to their own class than to the nearest other), measured
    on a seeded random sample of ``silhouette_sample`` rows when that is not None.
    ``knn_accuracy``: the share of rows whose ``k`` nearest rows by cosine, in the other folds,
    vote for their class (stratified ``folds``-fold cross-validation; a tied vote goes to the
    class listed first). ``probe_accuracy``: the same for a logistic regression on the unit
    rows (``probe_converged`` is False when it stopped at its iteration limit in some fold).
    ``baseline_accuracy``: always guessing the largest class. ``knn_recall`` and
    ``probe_recall``: per class, the share of its rows predicted right.
    """

    label_column: str
    classes: tuple[Any, ...]
    counts: pd.Series
    rows: int
    missing: int
    k: int
    folds: int
    random_state: int | None
    silhouette: float
    silhouette_sample: int | None
    knn_accuracy: float
    probe_accuracy: float
    baseline_accuracy: float
    knn_recall: pd.Series
    probe_recall: pd.Series
    probe_converged: bool

    def to_pandas(self) -> pd.DataFrame:
        """One row per class: label, count, knn_recall, probe_recall."""
        import pandas as pd

        return pd.DataFrame(
            {
                "label": list(self.classes),
                "count": self.counts.to_numpy(),
                "knn_recall": self.knn_recall.to_numpy(),
                "probe_recall": self.probe_recall.to_numpy(),
            }
        )

    def summary(self) -> dict[str, Any]:
        return {
            "label_column": self.label_column,
            "classes": len(self.classes),
            "rows": self.rows,
            "missing": self.missing,
            "k": self.k,
            "folds": self.folds,
            "silhouette": self.silhouette,
            "silhouette_sample": self.silhouette_sample,
            "knn_accuracy": self.knn_accuracy,
            "probe_accuracy": self.probe_accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "probe_converged": self.probe_converged,
        }

    def _silhouette_note(self) -> str:
        if self.silhouette_sample is None:
            return ""
        return f" (a random {self.silhouette_sample:,} rows, seed {self.random_state})"

    def __repr__(self) -> str:
        return (
            f"<Separation by {self.label_column!r}: {len(self.classes)} classes, "
            f"{self.rows:,} rows; kNN (k={self.k}) {self.knn_accuracy:.3f}, linear probe "
            f"{self.probe_accuracy:.3f}, majority {self.baseline_accuracy:.3f}, silhouette "
            f"{self.silhouette:.3f}{self._silhouette_note()}>"
        )

    def _repr_html_(self) -> str:
        left_out = f", {self.missing:,} without a label left out" if self.missing else ""
        unconverged = "" if self.probe_converged else " (did not converge in every fold)"
        heading = (
            f"<p>Separation of <b>{html.escape(str(self.label_column))}</b>: "
            f"{len(self.classes)} classes, {self.rows:,} rows{left_out}; {self.folds}-fold "
            f"cross-validated accuracy: kNN (k={self.k}, cosine) <b>{self.knn_accuracy:.3f}</b>, "
            f"linear probe <b>{self.probe_accuracy:.3f}</b>{unconverged}, majority class "
            f"{self.baseline_accuracy:.3f}; silhouette (cosine) {self.silhouette:.3f}"
            f"{html.escape(self._silhouette_note())}.</p>"
        )
        return heading + self.to_pandas().to_html(index=False, float_format="{:.3f}".format)


def separation(
    space: EmbeddingSpace,
    label: str | None = None,
    *,
    k: int = 5,
    folds: int = 5,
    random_state: int | None = 0,
) -> Separation:
    """Silhouette, cross-validated kNN and linear-probe accuracy, and the majority baseline for
    the classes in the metadata column ``label`` of ``space`` (see ``Separation``).

    Every class needs at least ``folds`` rows. The folds (stratified, shuffled with
    ``random_state``) are shared by kNN and the probe; the silhouette sample uses the same seed.
    """
    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    k = positive_int(k, "k")
    folds = integer_at_least(folds, "folds", 2)
    data = _labelled(space, label, "separation")
    smallest = int(data.counts.argmin())
    if data.counts[smallest] < folds:
        raise InvalidParameterError(
            f"folds={folds} needs at least {folds} rows in every class; class "
            f"{data.classes[smallest]!r} has {data.counts[smallest]}: lower folds"
        )
    total = len(data.rows)
    vectors = np.empty((total, space.dim), dtype=np.float32)
    step = max(1, _BLOCK_BYTES // max(1, space.dim * 8))
    for start in range(0, total, step):
        vectors[start : start + step] = _unit_rows(space, data.rows[start : start + step])[0]
    codes = data.codes

    sample = SILHOUETTE_SAMPLE if total > SILHOUETTE_SAMPLE else None
    if sample is not None:
        logger.info("silhouette on a random %d of %d rows (seed %s)", sample, total, random_state)
    silhouette = float(
        silhouette_score(
            vectors, codes, metric="cosine", sample_size=sample, random_state=random_state
        )
    )

    splits = list(
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state).split(
            vectors, codes
        )
    )
    fewest = min(len(train) for train, _ in splits)
    if k > fewest:
        raise InvalidParameterError(
            f"k must be at most the rows a fold trains on ({fewest}); got {k}"
        )
    knn_predicted = np.empty(total, dtype=np.int64)
    probe_predicted = np.empty(total, dtype=np.int64)
    converged = True
    for train, test in splits:
        knn = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(vectors[train], codes[train])
        knn_predicted[test] = knn.predict(vectors[test])
        # a probe stopped at max_iter still predicts: the result records it (probe_converged)
        # and the log says so, instead of a ConvergenceWarning per fold
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            probe = LogisticRegression(max_iter=_PROBE_ITERATIONS).fit(vectors[train], codes[train])
        converged &= bool(np.all(probe.n_iter_ < _PROBE_ITERATIONS))
        probe_predicted[test] = probe.predict(vectors[test])
    if not converged:
        logger.warning(
            "the linear probe did not converge in %d iterations in every fold", _PROBE_ITERATIONS
        )

    index = pd.Index(list(data.classes), name=data.column)
    counts = data.counts
    return Separation(
        label_column=data.column,
        classes=data.classes,
        counts=pd.Series(counts, index=index, name="count"),
        rows=total,
        missing=data.missing,
        k=k,
        folds=folds,
        random_state=random_state,
        silhouette=silhouette,
        silhouette_sample=sample,
        knn_accuracy=float(np.mean(knn_predicted == codes)),
        probe_accuracy=float(np.mean(probe_predicted == codes)),
        baseline_accuracy=float(counts.max() / total),
        knn_recall=pd.Series(_recall(knn_predicted, codes, counts), index=index, name="knn"),
        probe_recall=pd.Series(_recall(probe_predicted, codes, counts), index=index, name="probe"),
        probe_converged=converged,
    )


def _recall(predicted: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    right = np.bincount(codes[predicted == codes], minlength=len(counts))
    return right / counts


# ---- the label column ---------------------------------------------------------------------
def label_column(space: EmbeddingSpace, label: str | None = None) -> str:
    """The metadata column holding the classes: ``label`` when given; else the column the
    space's provenance names (option ``label_column``); else a column called "label"."""
    columns = [str(c) for c in space.metadata.columns]
    listed = ", ".join(repr(c) for c in columns) if columns else "none"
    if label is not None:
        if label not in columns:
            raise InvalidParameterError(
                f"label column {label!r} is not in the metadata; metadata columns: {listed}"
            )
        return label
    named = space.provenance.options.get("label_column")
    if isinstance(named, str) and named in columns:
        return named
    if "label" in columns:
        return "label"
    raise InvalidParameterError(
        f"no label column: pass label= naming the metadata column with the classes; "
        f"metadata columns: {listed}"
    )


def _labelled(space: EmbeddingSpace, label: str | None, what: str) -> _Labelled:
    import pandas as pd

    column = label_column(space, label)
    values = space.metadata[column]
    missing = np.array(values.isna(), dtype=bool)
    if not (
        pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
    ):
        missing |= values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
    kept = np.flatnonzero(~missing)
    codes, uniques = pd.factorize(values.iloc[kept], sort=False)
    found = list(uniques.tolist() if hasattr(uniques, "tolist") else uniques)
    try:
        order = sorted(range(len(found)), key=lambda i: found[i])
    except TypeError:  # mixed types: order by their text
        order = sorted(range(len(found)), key=lambda i: str(found[i]))
    if len(found) < 2:
        only = f"only {found[0]!r}" if found else "no labelled rows"
        raise InvalidParameterError(
            f"{what} needs at least two classes; column {column!r} has {only}"
        )
    rank = np.empty(len(found), dtype=np.int64)
    rank[order] = np.arange(len(found))
    codes = rank[codes]
    grouped = np.argsort(codes, kind="stable")
    classes = tuple(found[i] for i in order)
    return _Labelled(
        column=column,
        classes=classes,
        rows=kept[grouped],
        codes=codes[grouped],
        counts=np.bincount(codes, minlength=len(classes)),
        missing=int(missing.sum()),
    )
