"""EmbeddingSpace: one matrix of vectors, a unique key per row, and the questions asked of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import lookup
from ._checks import is_integer
from .errors import InvalidParameterError, UnknownKeyError
from .metrics import Metric
from .provenance import Provenance
from .rows import checked_rows
from .search import kernels as _nb
from .search.results import Hits, HitsBatch, ResolvedQuery

if TYPE_CHECKING:  # pandas costs a quarter second at import; load it when a frame is built
    import pandas as pd

    from .analysis.classes import ClassSimilarity, Separation
    from .analysis.directions import Direction
    from .projection import Projection
    from .search.graph import KnnGraph
    from .search.index import ApproximateIndex

logger = logging.getLogger(__name__)

PiecesMode = Literal["error", "mean"]
Query = str | Sequence[float] | np.ndarray


class EmbeddingSpace:
    """Vectors with unique keys, readable labels, per-row metadata and a default metric.

    ``space["king"]`` is a read-only vector, ``space[["king", "queen"]]`` a matrix; ``in`` and
    ``len`` work. Norms are computed once, lazily. Nothing here copies the whole matrix, so a
    memory-mapped vocabulary stays on disk.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        keys: Sequence[str],
        *,
        labels: Sequence[str] | None = None,
        metadata: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
        metric: str = "cosine",
        provenance: Provenance | None = None,
        name: str | None = None,
        tokenize: Callable[[str], list[str]] | None = None,
        encode: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        rows = checked_rows(
            vectors,
            keys,
            labels,
            metadata,
            shown_as=name or (provenance.source if provenance else "the space"),
        )
        #: keys of the rows left out because their vectors hold NaN or infinite values
        self.non_finite_keys: list[str] = rows.non_finite_keys
        self._vectors = rows.vectors
        self._keys = rows.keys
        self._index = rows.index
        self._labels = rows.labels
        self._metadata = rows.metadata
        self._metadata_columns = rows.metadata_columns
        self.metric = Metric.of(metric)
        self.provenance = provenance or Provenance(source="<array>", kind="array")
        self.name = name or self.provenance.source
        self._tokenize = tokenize
        self._encode = encode
        self._norms: np.ndarray | None = None
        self._inverse_norms: np.ndarray | None = None
        self._all_lowercase: bool | None = None
        #: (the space this one was cut from, this space's rows in it): set by subset,
        #: keys_subspace and neighborhood, so a projection can place them in the whole
        self.part_of: tuple[EmbeddingSpace, np.ndarray] | None = None

    # ---- container protocol -------------------------------------------------------------
    @property
    def vectors(self) -> np.ndarray | _nb.BFloat16Rows:
        """The (n, d) matrix, read-only; float32 or float16, possibly a view of a memory map
        (``summary()["memory_mapped"]`` says). A bfloat16 matrix (``stored_dtype``) is a
        ``BFloat16Rows``: its rows and slices (``vectors[i]``, ``vectors[a:b]``,
        ``vectors[[i, j]]``) read as float32, and ``np.asarray(space.vectors)`` is a float32
        copy of the whole matrix."""
        return self._vectors

    @property
    def keys(self) -> list[str]:
        return self._keys

    @property
    def labels(self) -> list[str]:
        """What a person reads for each row (decoded tokens); the keys when none were given."""
        return self._labels if self._labels is not None else self._keys

    @property
    def metadata(self) -> pd.DataFrame:
        """One row per vector (token id, class label, counts…); empty columns when none."""
        if self._metadata is None:
            import pandas as pd

            self._metadata = pd.DataFrame(
                self._metadata_columns or {}, index=range(len(self._keys))
            )
        return self._metadata

    def metadata_arrays(self) -> dict[str, np.ndarray]:
        """Metadata as plain arrays (column -> values), so result tables pick rows without
        pandas indexing."""
        if self._metadata_columns is None:
            self._metadata_columns = {
                str(column): self.metadata[column].to_numpy() for column in self.metadata.columns
            }
        return self._metadata_columns

    @property
    def shape(self) -> tuple[int, int]:
        return self._vectors.shape

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    @property
    def stored_dtype(self) -> str:
        """How the rows are stored: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (a
        checkpoint's bfloat16 weights, kept memory-mapped and read as float32)."""
        return getattr(self._vectors, "stored_dtype", None) or str(self._vectors.dtype)

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every row (computed on first use)."""
        if self._norms is None:
            self._norms = _nb.row_norms(self._vectors)
            self._norms.flags.writeable = False
        return self._norms

    def scores(
        self,
        queries: np.ndarray,
        *,
        metric: str | None = None,
        restrict_vocab: int | None = None,
    ) -> np.ndarray:
        """Scores of query vectors (shape (m, d) or (d,)) against every row, float32 (m, n).

        ``restrict_vocab=N`` scores only the first N rows (frequency-ordered vocabularies put
        the common words first), as gensim's option of that name does.
        """
        metric = Metric.of(metric or self.metric)
        queries = _nb.query_matrix(queries, self.dim)
        rows = self.rows_scored(restrict_vocab)
        if self._inverse_norms is None:
            self._inverse_norms = _nb.inverse(self.norms)
        return _nb.scores(
            _nb.first_rows(self._vectors, rows),
            queries,
            metric,
            norms=self.norms[:rows],
            inverse_norms=self._inverse_norms[:rows],
        )

    def rows_scored(self, restrict_vocab: int | None = None) -> int:
        """How many rows a question with ``restrict_vocab`` scores: the first N, or all."""
        if restrict_vocab is None:
            return len(self)
        if not is_integer(restrict_vocab):
            raise InvalidParameterError(
                f"restrict_vocab must be a positive integer or None; got {restrict_vocab!r}"
            )
        if restrict_vocab < 1:
            raise InvalidParameterError(f"restrict_vocab must be at least 1; got {restrict_vocab}")
        return min(int(restrict_vocab), len(self))

    @property
    def has_tokenizer(self) -> bool:
        return self._tokenize is not None

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __getitem__(self, key: str | Sequence[str]) -> np.ndarray:
        if isinstance(key, str):
            return self._vectors[self.row(key)]
        rows = [self.row(k) for k in key]
        return np.asarray(self._vectors[rows])

    def __repr__(self) -> str:
        n, d = self.shape
        return (
            f"<EmbeddingSpace {self.name!r}: {n:,} x {d} {self.stored_dtype}, metric={self.metric}>"
        )

    # ---- lookup: how typed text finds rows (embscope.lookup) ------------------------------
    def row(self, key: str) -> int:
        """Row of a key; an unknown key raises UnknownKeyError with the closest keys."""
        try:
            return self._index[key]
        except (KeyError, TypeError):
            raise self.unknown_key(key) from None

    def unknown_key(self, key: str) -> UnknownKeyError:
        """The error for a key this space does not hold, with why (left out for NaN values),
        the closest keys, or the pieces its tokenizer splits it into."""
        return lookup.unknown_key(self, key)

    def resolve(self, query: Query, *, pieces: PiecesMode = "error") -> ResolvedQuery:
        """Turn a word (or a raw vector) into the vector a question uses.

        A key is used as is, and so is a label typed as tables show it (``␣king``). In a
        vocabulary of word-start tokens (SentencePiece ``▁king``, byte-level BPE ``Ġking``) a
        plain word means its word-start token, the token it is in running text: ``king`` is
        answered by ``Ġking`` (labelled ``␣king``), and ``looked_up_as`` says so. The bare
        piece ``king`` there continues a word (``ma+king``); ask for it as ``##king``, the mark
        WordPiece gives such pieces (a prefix rather than an option, so the same text asks
        for it in Python, on the command line and in the web page). A raw key typed with its
        marker (``Ġking``, ``▁king``) is always that token. WordPiece and word vocabularies
        have no word-start tokens, and their words are keys as before.

        A space of encoded texts (``embscope.encode_dataset``) encodes any other text with its
        model. A lowercase vocabulary (GloVe) answers ``Paris`` with ``paris``. When the space
        has a tokenizer, a word it splits into one known token uses that token (the model's
        own normalisation, e.g. lowercasing); a word it splits into several uses their mean
        only with ``pieces="mean"``, and the pieces are reported (as labels in the error).
        """
        return lookup.resolve(self, query, pieces=pieces)

    def query_text(self, key: str) -> str:
        """The text that ``resolve`` answers with exactly the row ``key``, as a person would
        type it: its label where that leads back to it (``␣king`` for ``Ġking``),
        ``##king`` for a continuation piece whose bare form means the word, else the key.
        An unknown key raises UnknownKeyError."""
        return lookup.query_text(self, key)

    @property
    def word_start_rows(self) -> np.ndarray | None:
        """Which rows are word-start tokens (``Ġking``, ``▁king``): a boolean mask, or None
        in a vocabulary without them (WordPiece, word vectors)."""
        return lookup.label_tables(self).word_start

    # ---- questions ----------------------------------------------------------------------
    def similarity(
        self, a: Query, b: Query, *, metric: str | None = None, pieces: PiecesMode = "error"
    ) -> float:
        """Cosine similarity of two words (or vectors); ``metric="euclidean"`` gives their
        distance and ``"dot"`` their dot product. A zero vector has cosine 0 with anything."""
        metric = Metric.of(metric or self.metric)
        first = self.resolve(a, pieces=pieces).vector.astype(np.float64)
        second = self.resolve(b, pieces=pieces).vector.astype(np.float64)
        if metric is Metric.EUCLIDEAN:
            return float(np.linalg.norm(first - second))
        dot = float(first @ second)
        if metric is Metric.DOT:
            return dot
        denominator = float(np.linalg.norm(first) * np.linalg.norm(second))
        return dot / denominator if denominator > 0 else 0.0

    def search(
        self,
        query: Query,
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        opposite: bool = False,
        exclude: Sequence[str] = (),
        restrict_vocab: int | None = None,
        approximate: bool | None = None,
        skip: Sequence[str] = (),
    ) -> Hits:
        """The ranked rows as arrays, without building a table: what ``neighbors`` and
        ``opposites`` show, for code that asks many questions in a loop.

        The query's own rows are never returned, nor the keys in ``exclude``, nor rows of the
        kinds in ``skip`` (``"special"``, ``"unused"``, ``"pieces"``, ``"bytes"``).
        """
        return self.search_many(
            [query],
            top_k=top_k,
            metric=metric,
            pieces=pieces,
            opposite=opposite,
            exclude=exclude,
            restrict_vocab=restrict_vocab,
            approximate=approximate,
            skip=skip,
        )[0]

    def search_many(
        self,
        queries: Sequence[Query] | np.ndarray,
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        opposite: bool = False,
        exclude: Sequence[str] = (),
        restrict_vocab: int | None = None,
        approximate: bool | None = None,
        skip: Sequence[str] = (),
    ) -> HitsBatch:
        """``search`` for several queries (words, vectors, or the rows of a 2-D array) at once:
        one matrix product per batch of queries instead of one pass over the matrix each.

        ``approximate=True`` asks the space's approximate index (built once and cached on
        disk, see ``approximate_index``) for candidates instead of scanning every row; their
        scores are still measured exactly. ``None`` lets the space decide by its size.
        """
        from .search.exact import search_many

        return search_many(
            self,
            queries,
            top_k=top_k,
            metric=metric,
            pieces=pieces,
            opposite=opposite,
            exclude=exclude,
            restrict_vocab=restrict_vocab,
            approximate=approximate,
            skip=skip,
        )

    def approximate_index(
        self, *, metric: str | None = None, rebuild: bool = False, progress: bool = True
    ) -> ApproximateIndex:
        """The approximate nearest-neighbour index of this space for ``metric``: loaded from the
        on-disk cache when this space (by its provenance digest) has one, else built (with
        progress) and cached. See ``embscope.search.index``."""
        from .search.index import approximate_index

        metric = Metric.of(metric or self.metric)
        return approximate_index(self, metric=metric, rebuild=rebuild, progress=progress)

    # ---- questions answered in their own modules ------------------------------------------
    def analogy(
        self,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        *,
        top_k: int = 10,
        method: str = "3cosadd",
        restrict_vocab: int | None = None,
    ) -> pd.DataFrame:
        """``a : b :: c : ?`` as ``positive=[b, c], negative=[a]``: 3CosAdd (gensim's
        ``most_similar``) or ``method="3cosmul"`` (``most_similar_cosmul``); inputs excluded."""
        from .analysis.analogy import analogy

        return analogy(
            self,
            positive=positive,
            negative=negative,
            top_k=top_k,
            method=method,
            restrict_vocab=restrict_vocab,
        )

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word least similar to the mean of all the words (gensim's ``doesnt_match``)."""
        from .analysis.analogy import doesnt_match

        return doesnt_match(self, words)

    def evaluate_word_pairs(self, pairs: str = "wordsim353", **options: Any) -> Any:
        """Pearson and Spearman correlation of cosine with human similarity judgements, and the
        share of pairs out of vocabulary: ``"wordsim353"``, ``"simlex999"`` or a TSV path."""
        from .analysis.evaluation import evaluate_word_pairs

        return evaluate_word_pairs(self, pairs, **options)

    def evaluate_analogies(self, analogies: str = "google", **options: Any) -> Any:
        """Accuracy on an analogy set, per section: ``"google"`` (questions-words) or a path."""
        from .analysis.evaluation import evaluate_analogies

        return evaluate_analogies(self, analogies, **options)

    def distance_profile(
        self, query: Query, *, top_k: int = 15, pieces: PiecesMode = "error"
    ) -> Any:
        """Cosine and Euclidean distance to every row side by side, with how much their top
        ``top_k`` lists overlap (a ``DistanceProfile``)."""
        from .analysis.profile import distance_profile

        return distance_profile(self, query, top_k=top_k, pieces=pieces)

    def class_similarity(self, label: str | None = None, **options: Any) -> ClassSimilarity:
        """Mean (and standard deviation of the) cosine similarity between members of every two
        classes, the classes read from the metadata column ``label`` (default: the column the
        provenance names, else one called "label"); see
        ``embscope.analysis.classes.class_similarity``."""
        from .analysis.classes import class_similarity

        return class_similarity(self, label, **options)

    def separation(self, label: str | None = None, **options: Any) -> Separation:
        """How well the classes in the metadata column ``label`` separate: silhouette, and
        cross-validated kNN and linear-probe accuracy against the majority baseline. Options:
        ``k``, ``folds``, ``random_state``; see ``embscope.analysis.classes.separation``."""
        from .analysis.classes import separation

        return separation(self, label, **options)

    def knn_graph(self, *, top_k: int = 15, metric: str | None = None, **options: Any) -> KnnGraph:
        """Every row's ``top_k`` neighbours (itself excluded, by row, not by rank) as (n, k) id
        and score arrays. Options: ``block_rows`` (rows per block; memory stays bounded),
        ``progress`` (a bar on stderr), ``approximate`` (candidates from the index, re-measured
        exactly)."""
        from .search.graph import knn_graph

        return knn_graph(self, top_k=top_k, metric=Metric.of(metric or self.metric), **options)

    def project(self, method: str = "pca", **options: Any) -> Projection:
        """This space's rows placed in 2 or 3 dimensions by ``"pca"``, ``"tsne"`` or
        ``"umap"``, cached on disk; see ``embscope.projection.pipeline.project`` for the options."""
        from .projection.pipeline import project

        return project(self, method, **options)

    def neighborhood(
        self,
        query: str,
        *,
        similar: int = 30,
        opposite: int = 30,
        metric: str | None = None,
        restrict_vocab: int | None = None,
    ) -> EmbeddingSpace:
        """The query, its ``similar`` closest and ``opposite`` least similar rows, as a new space
        (the notebook's "terrible cluster") whose metadata gains ``group``, ``score`` and
        ``rank``; see ``embscope.derived.neighborhood``."""
        from . import derived

        return derived.neighborhood(
            self,
            query,
            similar=similar,
            opposite=opposite,
            metric=metric,
            restrict_vocab=restrict_vocab,
        )

    def keys_subspace(self, words: Sequence[str]) -> EmbeddingSpace:
        """The rows of ``words`` (keys; repeats dropped) as a new space, to project a chosen
        set of words; an unknown word raises with the closest keys."""
        from . import derived

        return derived.keys_subspace(self, words)

    def neighbors(
        self,
        query: Query | Sequence[str],
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        exclude: Sequence[str] = (),
        restrict_vocab: int | None = None,
        approximate: bool | None = None,
        skip: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The ``top_k`` rows closest to the query, closest first, the query's own rows excluded
        (and the kinds of rows in ``skip``, see ``search``).

        Columns: rank, key, label, score, then the metadata columns. ``score`` is the cosine
        similarity, the dot product, or (``metric="euclidean"``) the distance, lower = closer.
        Several words (a list) or vectors (a 2-D array) are answered in one pass and stacked,
        with a leading ``query`` column.
        """
        return self._ranked(
            query,
            top_k=top_k,
            metric=metric,
            pieces=pieces,
            opposite=False,
            exclude=exclude,
            restrict_vocab=restrict_vocab,
            approximate=approximate,
            skip=skip,
        )

    def opposites(
        self,
        query: Query | Sequence[str],
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        restrict_vocab: int | None = None,
        skip: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The ``top_k`` rows least similar to the query (lowest cosine, farthest), most opposite
        first (``skip``: see ``search``)."""
        return self._ranked(
            query,
            top_k=top_k,
            metric=metric,
            pieces=pieces,
            opposite=True,
            exclude=(),
            restrict_vocab=restrict_vocab,
            skip=skip,
        )

    def _ranked(self, query: Any, *, opposite: bool, **options: Any) -> pd.DataFrame:
        from .search.exact import is_several

        if not is_several(query):
            return self.search(query, opposite=opposite, **options).to_pandas()
        return self.search_many(query, opposite=opposite, **options).to_pandas()

    def similarity_table(
        self,
        query: Query,
        *,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        include_query: bool = False,
    ) -> pd.DataFrame:
        """Every row's score against the query, closest first (the notebook's cosine table)."""
        from .search.exact import similarity_table

        hits = similarity_table(
            self, query, metric=metric, pieces=pieces, include_query=include_query
        )
        return hits.to_pandas()

    def summary(self) -> dict[str, Any]:
        """Facts a person checks first: shape, storage, metric, where it came from, norm spread."""
        from .provenance import summary_of

        return summary_of(self)

    # ---- derived spaces -----------------------------------------------------------------
    def subset(self, keys: Sequence[str]) -> EmbeddingSpace:
        """A new space holding only the given keys, in that order (vectors copied)."""
        from . import derived

        return derived.subset(self, keys)

    def astype(self, dtype: str | np.dtype) -> EmbeddingSpace:
        """The same space stored as ``"float16"`` (half the memory; answers still computed in
        float32) or ``"float32"`` (a bfloat16 space: widened into memory). Returns ``self``
        when the dtype already matches."""
        from . import derived

        return derived.astype(self, dtype)

    def direction(self, positive: str | Sequence[str], negative: str | Sequence[str]) -> Direction:
        """The axis from the ``negative`` word(s) to the ``positive`` one(s); its ``scores()``
        place every row along it (see ``embscope.analysis.directions``)."""
        from .analysis.directions import direction

        return direction(self, positive, negative)

    def without(self, axis: Direction) -> EmbeddingSpace:
        """This space with ``axis`` taken out of every row (Bolukbasi et al.'s neutralize)."""
        from . import derived

        return derived.without_direction(self, axis)

    def _repr_html_(self) -> str:
        from .notebook_html import space_card

        return space_card(self)

    def explore(self, *others: EmbeddingSpace | str, **options: Any) -> Any:
        """This space (and ``others``) in the explorer, inline in a notebook; see
        ``embscope.widget``."""
        from . import widget

        return widget(self, *others, **options)

    def to_pandas(self) -> pd.DataFrame:
        """One row per vector: key, label, metadata and the vector as a list column.

        Metadata columns named like the fixed ones are kept as ``metadata.<name>``.
        """
        import pandas as pd

        fixed = ("key", "label", "vector")
        metadata = self.metadata.rename(
            columns={c: f"metadata.{c}" for c in self.metadata.columns if c in fixed}
        )
        frame = pd.DataFrame({"key": self._keys, "label": self.labels})
        frame = pd.concat([frame, metadata], axis=1)
        frame["vector"] = list(np.asarray(self._vectors, dtype=np.float32))
        return frame
