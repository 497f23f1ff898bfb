"""Names for the dense regions of projected points, for a map: density clusters (HDBSCAN) of the
points, each named by its most central members or, for texts, by the terms that set its texts
apart (TF-IDF).

``cluster_labels`` takes plain inputs (the points, their labels, optionally their original
vectors or their texts), so it serves any 2-D or 3-D layout; ``projection_clusters`` reads them
from an ``embscope`` projection (the web explorer's map names its regions with it)::

    from embscope.analysis.clusters import cluster_labels, projection_clusters

    projection = space.project("umap", n_components=2)
    for cluster in projection_clusters(projection):
        print(cluster.size, cluster.label, cluster.position)

    # or any points: a region is named by its members closest to the region's centre
    cluster_labels(xy, labels=words)

More than ``SAMPLE`` points are clustered on a seeded sample of that many: the labels mark
regions, and the sample finds the same regions in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..projection.pipeline import Projection

SAMPLE = 20_000
NAMES = 3


@dataclass(frozen=True)
class Cluster:
    """One dense region: its name, how many points it holds (of those clustered, a sample
    when there were more than ``SAMPLE``), and its centre (the members' median, in the
    points' coordinates)."""

    label: str
    size: int
    position: tuple[float, ...]


def cluster_labels(
    coordinates: ArrayLike,
    labels: Sequence[str],
    *,
    vectors: Any = None,
    texts: Sequence[str] | None = None,
    random_state: int = 0,
) -> list[Cluster]:
    """The dense regions of ``coordinates`` (n points, one per row), largest first, each named
    and placed.

    A region is named by the ``labels`` of its ``NAMES`` most central members: the closest by
    cosine to the members' mean in the original space when ``vectors`` gives each point's
    vector (a NumPy array, or anything that answers ``vectors[indices]`` for an integer array
    of point indices, such as a space's memory-mapped rows), else the closest to the region's
    centre in ``coordinates``. With ``texts`` (one per point, as in a space of documents) it is
    named instead by the terms whose TF-IDF weight is highest in its texts against all of them.
    ``random_state`` seeds the sample of a large set of points.
    """
    from sklearn.cluster import HDBSCAN

    coordinates = np.asarray(coordinates, dtype=np.float64)
    if coordinates.ndim != 2 or len(coordinates) == 0:
        raise InvalidParameterError(
            f"coordinates must be an (n, d) array of n >= 1 points; got shape {coordinates.shape}"
        )
    for name, given in (("labels", labels), ("texts", texts)):
        if given is not None and len(given) != len(coordinates):
            raise InvalidParameterError(
                f"{name} must have one entry per point ({len(coordinates)}); got {len(given)}"
            )
    chosen = np.arange(len(coordinates))
    if len(chosen) > SAMPLE:
        chosen = np.sort(
            np.random.default_rng(random_state).choice(len(chosen), SAMPLE, replace=False)
        )
    points = coordinates[chosen]
    # about 1% of the points make a region worth naming, within sensible bounds
    min_size = int(np.clip(len(points) // 100, 5, 500))
    if len(points) < min_size:
        return []  # too few points for any region
    found = HDBSCAN(min_cluster_size=min_size, min_samples=min(min_size, 10), copy=True)
    found = found.fit(points).labels_
    terms = _Terms(texts) if texts is not None else None
    clusters = []
    for number in range(found.max() + 1):
        members = chosen[found == number]
        if len(members) == 0:
            continue
        centre = np.median(coordinates[members], axis=0)
        if terms is not None:
            name = terms.distinctive(members)
        elif vectors is not None:
            name = _names(labels, members, _closest_to_mean(vectors, members))
        else:
            distances = np.linalg.norm(coordinates[members] - centre, axis=1)
            name = _names(labels, members, np.argsort(distances, kind="stable"))
        position = tuple(float(v) for v in centre)
        clusters.append(Cluster(label=name, size=len(members), position=position))
    return sorted(clusters, key=lambda c: -c.size)


def projection_clusters(projection: Projection, *, random_state: int = 0) -> list[Cluster]:
    """``cluster_labels`` of a projection's points: named by their rows' labels and vectors in
    the projected space, or, in a space of documents (``embscope.encode_dataset``), by the
    terms of their texts."""
    space = projection.space
    rows = np.asarray(projection.rows)
    all_labels = space.labels
    texts = document_texts(space)
    return cluster_labels(
        projection.coordinates,
        [all_labels[r] for r in rows],
        vectors=_RowsOf(space.vectors, rows),
        texts=None if texts is None else [texts[r] for r in rows],
        random_state=random_state,
    )


def document_texts(space: Any) -> list[str] | None:
    """Each row's text, in a space of encoded documents that keeps it as metadata; else None."""
    column = space.provenance.options.get("text_column") if space.provenance else None
    if column and column in space.metadata.columns:
        return space.metadata[column].astype(str).tolist()
    return None


def _names(labels: Sequence[str], members: np.ndarray, order: np.ndarray) -> str:
    return ", ".join(str(labels[i]) for i in members[order[:NAMES]])


def _closest_to_mean(vectors: Any, members: np.ndarray) -> np.ndarray:
    """The members (as positions in ``members``) by cosine to their mean vector, closest
    first."""
    chosen = np.asarray(vectors[members], dtype=np.float32)
    unit = chosen / np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12)
    return np.argsort(-(unit @ unit.mean(axis=0)))


class _RowsOf:
    """A space's vectors seen as the vectors of a projection's points: ``[indices]`` reads only
    those rows, so a projection of a large (memory-mapped) space is never copied whole."""

    def __init__(self, vectors: Any, rows: np.ndarray) -> None:
        self._vectors = vectors
        self._rows = rows

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self._vectors[self._rows[indices]], dtype=np.float32)


class _Terms:
    """The TF-IDF weights of every text, fitted once for all of a layout's clusters."""

    def __init__(self, texts: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(stop_words="english", max_features=20_000, min_df=2)
        try:
            self._weights = self._vectorizer.fit_transform(list(texts))
        except ValueError:  # nothing left after stop words
            self._weights = None
        else:
            self._overall = np.asarray(self._weights.mean(axis=0)).ravel()
            self._terms = self._vectorizer.get_feature_names_out()

    def distinctive(self, members: np.ndarray) -> str:
        """The terms weighing most more in the members' texts than in all of them."""
        if self._weights is None:
            return "(no terms)"
        lift = np.asarray(self._weights[members].mean(axis=0)).ravel() - self._overall
        return ", ".join(self._terms[i] for i in np.argsort(-lift)[:NAMES])
