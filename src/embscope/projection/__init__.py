"""Placing a space's rows in 2 or 3 dimensions (PCA, t-SNE, UMAP): the methods, their
automatic settings, the on-disk cache and the quality figures of a layout."""

from .pipeline import Projection, project

__all__ = ["Projection", "project"]
