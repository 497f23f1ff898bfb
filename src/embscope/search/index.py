"""Approximate nearest-neighbour search: an HNSW graph (usearch), built once per space and
metric and cached on disk beside the space's other cached results (see ``embscope._io.cache``).

The library was picked by measurement (``benchmarks/bench_index.py``, HNSW in both: usearch
float16 with connectivity 16 against FAISS ``IndexHNSWFlat`` M 32). FAISS builds faster (MiniLM
3.2 s vs 5.0 s, GloVe 30 s vs 53 s, 16k x 4096 rows 16.5 s vs 18.5 s on 2 cores), answers a
query a little faster (0.14-0.18 vs 0.18-0.24 ms) and recalls a little more (0.967-0.979 vs
0.960-0.967 recall@10 at search depth 64). usearch holds the index in half the memory and
disk (GloVe 150 vs 195 MiB, 95 vs 180 MiB on disk; 16k x 4096 rows 137 vs 268 MiB), and
reads a cached file back memory-mapped: it opens at once and costs no RAM of its own. The
spaces that need an index are the ones too large for RAM to spare, so memory decided. usearch
is also 11 MB installed against FAISS's 66 MB (a second OpenBLAS and OpenMP runtime), and its
SIMD kernels give float16 spaces their fast exact scan (``neighbors.scan_candidates``).
Float16 storage costs no accuracy in the answers: ``EmbeddingSpace.search`` and ``knn_graph``
re-score the index's candidates exactly from the space's own vectors. The search depth used
(128) gives 0.973-0.980 recall@10 on those three sets.

How each metric is indexed:

- ``cosine``: inner product of unit-length rows (a zero row stays zero: cosine 0 with all);
- ``dot``: maximum inner product reduced to cosine: each row ``x`` (scaled by 1 / the largest
  norm ``M``) gets one more coordinate, ``sqrt(1 - |x/M|²)``, so every row has length 1 and
  ``[x/M, ·] · [q, 0] = x·q / M`` ranks rows by ``x·q`` on a well-formed HNSW graph;
- ``euclidean``: squared L2 distance of the rows scaled by 1 / M (float16 keeps its precision
  near 1); scores are ``sqrt`` of it times M.

``approximate=None`` (the default of ``search``/``neighbors``) is decided by
``wants_approximate``: exact unless the space is large (rows x dimensions ≥ 2**28, a 1 GiB
float32 matrix, e.g. a 128k x 4096 LLM vocabulary) and an index for it is already built. An
index is never built behind the caller's back: ``approximate=True`` (or
``space.approximate_index()``) builds it once; from then on "auto" uses it. The choice is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from .._io.atomic import atomic_path
from .._io.cache import BrokenEntry, read_entry, space_cache_dir
from .._io.progress import progress_bar
from ..errors import InvalidParameterError, MissingDependencyError
from ..metrics import Metric
from . import kernels as _nb

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)

# "auto" uses an index only for spaces at least this large (rows x dimensions): below it an
# exact scan answers a query in milliseconds.
AUTO_MIN_CELLS = 2**28
# HNSW: links per node, candidate-list depth while building, and the least depth at query time
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
# the cache file format; a file of another format (or parameters) is rebuilt, not misread
_FORMAT = 1
_ADD_ROWS = 16384

# indexes already opened in this process, per space object and metric
_OPEN: weakref.WeakKeyDictionary[EmbeddingSpace, dict[str, ApproximateIndex]] = (
    weakref.WeakKeyDictionary()
)
# what "auto" chose last, per space and metric, so each choice is logged once
_AUTO_LOGGED: weakref.WeakKeyDictionary[EmbeddingSpace, dict[str, bool]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(eq=False, repr=False)
class ApproximateIndex:
    """An HNSW index of one space for one metric.

    ``query`` answers with row numbers and approximate scores; ``built`` says whether this
    object was built by the call that returned it (``False``: read from the cache file at
    ``path``); ``recall`` measures it against exact search.
    """

    metric: Metric
    path: Path
    rows: int
    dim: int
    scale: float
    built: bool
    seconds: float
    _index: Any

    def __repr__(self) -> str:
        how = f"built in {self.seconds:.1f} s" if self.built else "read from the cache"
        return (
            f"<ApproximateIndex: {self.rows:,} x {self.dim} by {self.metric}, usearch HNSW "
            f"float16, {how}: {self.path}>"
        )

    def query(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` closest rows to each query (rows of ``vectors``, shape (m, d) or (d,)):
        (rows int64 (m, k), scores float32 (m, k)), closest first. Scores follow the metric
        (Euclidean: a distance). A missing result (the graph found fewer) is row -1, score NaN.
        """
        k = positive_int(k, "k")
        queries = _nb.query_matrix(vectors, self.dim)
        prepared = _prepare_queries(queries, self.metric, self.scale)
        self._index.expansion_search = max(EXPANSION_SEARCH, 2 * k)
        matches = self._index.search(prepared, k, threads=0)
        # one query comes back as Matches (its hits only), several as BatchMatches (padded)
        counts = getattr(matches, "counts", None)
        if counts is None:
            counts = [len(matches.keys)]
        found = np.full((len(queries), k), -1, dtype=np.int64)
        distances = np.full((len(queries), k), np.nan, dtype=np.float32)
        width = np.asarray(matches.keys).reshape(len(queries), -1).shape[1]
        found[:, :width] = np.asarray(matches.keys).reshape(len(queries), width)
        distances[:, :width] = np.asarray(matches.distances).reshape(len(queries), width)
        missing = np.arange(k)[None, :] >= np.asarray(counts).reshape(-1, 1)
        found[missing] = -1
        distances[missing] = 0.0  # whatever the library left there
        if self.metric == Metric.EUCLIDEAN:
            scores = np.sqrt(np.maximum(distances, 0.0)) / np.float32(self.scale)
        else:  # usearch's inner-product distance is 1 - x·q
            scores = (1.0 - distances) / np.float32(self.scale)
        scores[missing] = np.nan
        return found, scores.astype(np.float32)

    def recall(
        self, space: EmbeddingSpace, *, k: int = 10, queries: int = 1000, random_state: int = 0
    ) -> float:
        """Recall@k against exact search: the share of each sampled row's exact ``k`` nearest
        rows (itself left out) that the index also returns, averaged over ``queries`` rows."""
        if len(space) != self.rows or space.dim != self.dim:
            raise InvalidParameterError(
                f"space must be the one indexed ({self.rows:,} x {self.dim}); "
                f"got {len(space):,} x {space.dim}"
            )
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(self.rows, size=min(queries, self.rows), replace=False))
        vectors = np.asarray(space.vectors[sample], dtype=np.float32)
        found, _ = self.query(vectors, k + 1)
        largest = Metric.of(self.metric).higher_is_closer
        hits = 0
        for start in range(0, len(sample), 256):
            block = sample[start : start + 256]
            scores = space.scores(vectors[start : start + 256], metric=self.metric)
            scores[np.arange(len(block)), block] = -np.inf if largest else np.inf
            for i, row in enumerate(block):
                exact = _nb.top_k(scores[i], k, largest=largest)
                approximate = [r for r in found[start + i].tolist() if r not in (row, -1)][:k]
                hits += len(set(exact.tolist()) & set(approximate))
        return hits / (len(sample) * k)


def wants_approximate(
    space: EmbeddingSpace, approximate: bool | None, *, metric: Metric | None = None
) -> bool:
    """Whether a search should ask the approximate index: ``True``/``False`` as given; ``None``
    ("auto") only when the space is large (rows x dimensions ≥ ``AUTO_MIN_CELLS``) and an
    index for it and ``metric`` (default: the space's) is open or cached on disk. A large space
    without one is searched exactly, with a log line saying how to build one."""
    if approximate is not None and not isinstance(approximate, bool | np.bool_):
        raise InvalidParameterError(
            f"approximate must be True, False or None (decide by size); got {approximate!r}"
        )
    if approximate is not None:
        return bool(approximate)
    n, dim = space.shape
    if n * dim < AUTO_MIN_CELLS:
        return False
    metric = Metric.of(metric or space.metric)
    chosen = _open_cached(space, metric) is not None
    logged = _AUTO_LOGGED.setdefault(space, {})
    if logged.get(metric) != chosen:
        logged[metric] = chosen
        if chosen:
            logger.info(
                "%s is large (%s x %d): searching its cached approximate %s index "
                "(approximate=False for exact search)",
                space.name,
                f"{n:,}",
                dim,
                metric,
            )
        else:
            logger.info(
                "%s is large (%s x %d) and has no approximate %s index: searching exactly; "
                "build one once with space.approximate_index() or approximate=True",
                space.name,
                f"{n:,}",
                dim,
                metric,
            )
    return chosen


def approximate_index(
    space: EmbeddingSpace, *, metric: Metric, rebuild: bool = False, progress: bool = True
) -> ApproximateIndex:
    """The space's index for ``metric``: the one already open in this process, else the one
    cached on disk (memory-mapped), else built now (with a progress bar on stderr) and
    cached. ``rebuild=True`` builds it again and replaces the cached file."""
    metric = Metric.of(metric)
    _require_usearch()
    if not rebuild:
        found = _open_cached(space, metric)
        if found is not None:
            return found
    index = _build(space, metric, progress=progress)
    _OPEN.setdefault(space, {})[metric] = index
    return index


def index_path(space: EmbeddingSpace, metric: Metric) -> Path:
    """Where the space's index for ``metric`` is cached (a JSON file of the same name beside
    it records what it indexes)."""
    return space_cache_dir(space) / f"hnsw-{Metric.of(metric)}.usearch"


# ---- building, caching, opening ---------------------------------------------------------------
def _require_usearch() -> Any:
    try:
        import usearch.index
    except ImportError:
        raise MissingDependencyError(
            "usearch", extra="ann", purpose="an approximate nearest-neighbour index"
        ) from None
    return usearch.index


def _description(space: EmbeddingSpace, metric: Metric, scale: float) -> dict[str, Any]:
    """What a cache file must match to be used: format, parameters and the space's shape and
    a sample of its rows (the provenance digest in the folder name covers the rest)."""
    n, dim = space.shape
    rows = np.unique(np.linspace(0, n - 1, num=min(n, 64)).astype(np.int64))
    sample = hashlib.blake2b(np.asarray(space.vectors[rows], dtype=np.float32).tobytes())
    return {
        "format": _FORMAT,
        "library": "usearch",
        "metric": metric,
        "rows": n,
        "dim": dim,
        "storage": "f16",
        "connectivity": CONNECTIVITY,
        "expansion_add": EXPANSION_ADD,
        "scale": scale,
        "sample": sample.hexdigest()[:32],
    }


def _scale(space: EmbeddingSpace, metric: Metric) -> float:
    if metric == Metric.COSINE:
        return 1.0
    largest = float(space.norms.max()) if len(space) else 0.0
    return 1.0 / largest if largest > 0 else 1.0


def _open_cached(space: EmbeddingSpace, metric: Metric) -> ApproximateIndex | None:
    opened = _OPEN.get(space, {}).get(metric)
    if opened is not None:
        return opened
    path = index_path(space, metric)
    sidecar = path.with_suffix(".json")

    def read_record(sidecar: Path) -> dict[str, Any]:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            raise BrokenEntry(f"a JSON {type(recorded).__name__}, not an object")
        return recorded

    if not path.is_file():
        return None
    # without its record the index cannot be checked against the space, so it goes too
    recorded = read_entry(sidecar, read_record, what="the cached index record", companions=[path])
    if recorded is None:
        return None
    expected = _description(space, metric, _scale(space, metric))
    if {key: recorded.get(key) for key in expected} != expected:
        logger.warning("the cached index %s does not match %s; it will be rebuilt", path, space)
        return None
    usearch_index = _require_usearch()

    def read_index(path: Path) -> Any:
        index = usearch_index.Index.restore(str(path), view=True)
        n, dim = space.shape
        if index is None or index.size != n or index.ndim != dim + (metric == Metric.DOT):
            raise BrokenEntry("it does not hold the rows its record describes")
        return index

    start = time.perf_counter()
    index = read_entry(path, read_index, what="the cached index", companions=[sidecar])
    if index is None:
        return None
    logger.info("read the approximate %s index of %s from %s", metric, space.name, path)
    opened = ApproximateIndex(
        metric=metric,
        path=path,
        rows=space.shape[0],
        dim=space.shape[1],
        scale=expected["scale"],
        built=False,
        seconds=time.perf_counter() - start,
        _index=index,
    )
    _OPEN.setdefault(space, {})[metric] = opened
    return opened


def _build(space: EmbeddingSpace, metric: Metric, *, progress: bool) -> ApproximateIndex:
    usearch_index = _require_usearch()
    n, dim = space.shape
    scale = _scale(space, metric)
    start = time.perf_counter()
    index = usearch_index.Index(
        ndim=dim + (metric == Metric.DOT),
        metric="l2sq" if metric == Metric.EUCLIDEAN else "ip",
        dtype="f16",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )
    inverse = _nb.inverse(space.norms) if metric == Metric.COSINE else None
    description = f"approximate {metric} index of {n:,} rows"
    with progress_bar(n, description, enabled=progress) as advance:
        for first in range(0, n, _ADD_ROWS):
            last = min(n, first + _ADD_ROWS)
            rows = np.asarray(space.vectors[first:last], dtype=np.float32)
            if inverse is not None:
                rows = rows * inverse[first:last, None]
            else:
                rows = rows * np.float32(scale)
            if metric == Metric.DOT:  # one more coordinate brings every row to length 1
                lift = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", rows, rows)))
                rows = np.hstack([rows, lift[:, None].astype(np.float32)])
            index.add(np.arange(first, last, dtype=np.uint64), rows, threads=0)
            advance(last - first)
    seconds = time.perf_counter() - start
    path = index_path(space, metric)
    with atomic_path(path) as temporary:
        index.save(str(temporary))
    record = {**_description(space, metric, scale), "build_seconds": round(seconds, 3)}
    with atomic_path(path.with_suffix(".json")) as temporary:
        temporary.write_text(json.dumps(record, indent=1))
    logger.info(
        "built the approximate %s index of %s in %.1f s; cached at %s",
        metric,
        space.name,
        seconds,
        path,
    )
    return ApproximateIndex(
        metric=metric,
        path=path,
        rows=n,
        dim=dim,
        scale=scale,
        built=True,
        seconds=seconds,
        _index=index,
    )


def _prepare_queries(queries: np.ndarray, metric: Metric, scale: float) -> np.ndarray:
    if metric == Metric.COSINE:
        norms = np.linalg.norm(queries.astype(np.float64), axis=1)
        return (queries * _nb.inverse(norms.astype(np.float32))[:, None]).astype(np.float32)
    if metric == Metric.DOT:
        return np.hstack([queries, np.zeros((len(queries), 1), dtype=np.float32)])
    return queries * np.float32(scale)
