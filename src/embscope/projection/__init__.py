"""Placing a space's rows in 2 or 3 dimensions (PCA, t-SNE, UMAP): the methods, their
automatic settings, the on-disk cache and the quality figures of a layout."""

from .pipeline import project
from .result import Projection
from .settings import PROJECTION_METHODS

__all__ = ["PROJECTION_METHODS", "Projection", "project"]
