"""Names for the dense regions of a projection, for the map: density clusters of the projected
points (HDBSCAN), each named by its most central words or, in a document space, by the terms
that set its texts apart.

A projection of more than ``SAMPLE`` points is clustered on a seeded sample of that many:
the labels mark regions, and the sample finds the same regions in a fraction of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE = 20_000
NAMES = 3


@dataclass(frozen=True)
class Cluster:
    label: str
    size: int
    position: tuple[float, ...]


def cluster_labels(projection: Any, *, random_state: int = 0) -> list[Cluster]:
    """The projection's clusters, largest first, each with a name and its centre."""
    from sklearn.cluster import HDBSCAN

    coordinates = np.asarray(projection.coordinates, dtype=np.float64)
    rows = np.asarray(projection.rows)
    chosen = np.arange(len(coordinates))
    if len(chosen) > SAMPLE:
        chosen = np.sort(
            np.random.default_rng(random_state).choice(len(chosen), SAMPLE, replace=False)
        )
    points = coordinates[chosen]
    # about 1% of the points make a region worth naming, within sensible bounds
    min_size = int(np.clip(len(points) // 100, 5, 500))
    found = HDBSCAN(min_cluster_size=min_size, min_samples=min(min_size, 10), copy=True)
    found = found.fit(points).labels_
    space = projection.space
    texts = _texts(space)
    clusters = []
    for number in range(found.max() + 1):
        members = chosen[found == number]
        if len(members) == 0:
            continue
        name = (
            _distinctive_terms(texts, rows, rows[members])
            if texts is not None
            else _central_words(space, rows[members])
        )
        centre = tuple(float(v) for v in np.median(coordinates[members], axis=0))
        clusters.append(Cluster(label=name, size=len(members), position=centre))
    return sorted(clusters, key=lambda c: -c.size)


def _texts(space: Any) -> list[str] | None:
    column = space.provenance.options.get("text_column") if space.provenance else None
    if column and column in space.metadata.columns:
        return space.metadata[column].astype(str).tolist()
    return None


def _central_words(space: Any, members: np.ndarray) -> str:
    """The members closest (by cosine) to their mean vector, in the original space."""
    vectors = np.asarray(space.vectors[np.sort(members)], dtype=np.float32)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centre = unit.mean(axis=0)
    order = np.argsort(-(unit @ centre))[:NAMES]
    labels = space.labels
    return ", ".join(str(labels[i]) for i in np.sort(members)[order])


def _distinctive_terms(texts: list[str], rows: np.ndarray, members: np.ndarray) -> str:
    """The terms whose TF-IDF weight is highest in the cluster's texts against all the
    projection's texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = [texts[i] for i in rows]
    vectorizer = TfidfVectorizer(stop_words="english", max_features=20_000, min_df=2)
    try:
        weights = vectorizer.fit_transform(corpus)
    except ValueError:  # nothing left after stop words
        return "(no terms)"
    position = {row: i for i, row in enumerate(rows.tolist())}
    inside = np.array([position[row] for row in members.tolist()])
    lift = (
        np.asarray(weights[inside].mean(axis=0)).ravel() - np.asarray(weights.mean(axis=0)).ravel()
    )
    terms = vectorizer.get_feature_names_out()
    return ", ".join(terms[i] for i in np.argsort(-lift)[:NAMES])
