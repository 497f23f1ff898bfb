"""embscope: explore the embedding spaces of language models.

>>> import embscope
>>> space = embscope.load("glove-6b-50d")
>>> round(space.similarity("good", "bad"), 3)
0.796
"""

from __future__ import annotations

from .analysis.classes import ClassSimilarity, Separation
from .analysis.classify import knn_classify
from .analysis.compare import Comparison, ComparisonSummary, SideBySide, compare
from .analysis.directions import Direction
from .analysis.report import SpaceReport, report
from .errors import (
    EmbscopeError,
    InvalidParameterError,
    MalformedFileError,
    MissingDependencyError,
    SourceError,
    UnknownKeyError,
)
from .metrics import METRIC_NAMES, Metric
from .projection import PROJECTION_METHODS, Projection
from .projection.quality import ProjectionQuality
from .search.graph import KnnGraph
from .search.results import Hits, HitsBatch, ResolvedQuery
from .sources import bundled_sources, from_array, load
from .sources.export import EXPORT_FORMATS, export
from .space import EmbeddingSpace, Provenance
from .text.datasets import TextDataset, read_texts
from .text.encode import EncodingReport, encode_dataset, encode_texts

__version__ = "0.1.0"

#: The projection methods (``project(method=...)``) and the metrics, by their first names.
VALID_METHODS = PROJECTION_METHODS
VALID_METRICS = METRIC_NAMES

# submodules reached as attributes (``embscope.figures.distance_profile``) without importing
# plotly and friends at ``import embscope``
_LAZY_SUBMODULES = ("figures", "tokens", "train")


def widget(*sources: str | EmbeddingSpace, **options: object) -> object:
    """The explorer inline in a notebook (Jupyter, JupyterLab, VS Code, Colab, marimo): the
    page of ``embscope serve`` fed through the widget's comm, no server or port. Returns an
    ``embscope.notebook.Explorer``: set ``query``, read ``selection`` and ``projection``,
    ``on_select(callback)``. Options: ``height`` (pixels), ``query``, ``workers``. Needs
    ``pip install 'embscope[notebook]'`` (anywidget)."""
    try:
        from .notebook import widget as explorer
    except ImportError as error:
        raise MissingDependencyError(
            error.name or "anywidget", extra="notebook", purpose="the notebook explorer"
        ) from None
    return explorer(*sources, **options)


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EXPORT_FORMATS",
    "VALID_METHODS",
    "VALID_METRICS",
    "ClassSimilarity",
    "Comparison",
    "ComparisonSummary",
    "Direction",
    "EmbeddingSpace",
    "EmbscopeError",
    "EncodingReport",
    "Hits",
    "HitsBatch",
    "InvalidParameterError",
    "KnnGraph",
    "MalformedFileError",
    "Metric",
    "MissingDependencyError",
    "Projection",
    "ProjectionQuality",
    "Provenance",
    "ResolvedQuery",
    "Separation",
    "SideBySide",
    "SourceError",
    "SpaceReport",
    "TextDataset",
    "UnknownKeyError",
    "__version__",
    "bundled_sources",
    "compare",
    "encode_dataset",
    "encode_texts",
    "export",
    "from_array",
    "knn_classify",
    "load",
    "read_texts",
    "report",
    "widget",
]
