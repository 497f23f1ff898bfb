"""The on-disk cache of comparisons: what ``compare`` measured, keyed by both spaces' cache keys
(their provenance, or their content for in-memory spaces), the shared keys and every
parameter; written atomically, and a broken entry is deleted and measured again."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._io.atomic import atomic_path
from ..._io.cache import BrokenEntry, cache_root, check_array, open_arrays, read_entry, space_key
from .measured import Alignment, Measured, PairCorrelation

if TYPE_CHECKING:
    from ...space import EmbeddingSpace
    from .comparison import SharedRows

logger = logging.getLogger(__name__)

# bump when a change would make cached figures differ
CACHE_FORMAT = 1


def cache_file(
    a: EmbeddingSpace, b: EmbeddingSpace, shared: SharedRows, parameters: dict[str, Any]
) -> Path:
    keys = hashlib.sha256("\n".join(shared.keys).encode("utf-8", "surrogatepass")).hexdigest()
    payload = json.dumps(
        {
            "format": CACHE_FORMAT,
            "a": space_key(a),
            "b": space_key(b),
            "keys": keys,
            "composed": shared.composed,
            **parameters,
        },
        sort_keys=True,
    )
    return cache_root() / "comparisons" / f"{hashlib.sha256(payload.encode()).hexdigest()[:24]}.npz"


def write_measured(path: Path, measured: Measured, parameters: dict[str, Any]) -> None:
    alignment = measured.alignment
    pairs = measured.pair_correlation
    try:
        with atomic_path(path) as temporary, temporary.open("wb") as handle:
            np.savez(
                handle,
                ids_a=measured.ids_a,
                ids_b=measured.ids_b,
                reference_correlation=measured.reference_correlation,
                mapping=alignment.mapping,
                cosines=alignment.cosines,
                figures=np.asarray(
                    [
                        measured.cka,
                        measured.cka_chance,
                        alignment.residual,
                        alignment.residual_chance,
                        alignment.cosine_chance,
                        pairs.rho,
                        pairs.pvalue,
                    ]
                ),
                counts=np.asarray([alignment.fitted_on, pairs.pairs, int(alignment.unit_rows)]),
                kind=np.asarray(alignment.kind),
                parameters=np.asarray(json.dumps(parameters)),
            )
    except OSError as error:  # a read-only or full cache must not lose the result
        logger.warning("could not cache the comparison in %s: %s", path.parent, error)


def read_measured(path: Path, rows: int, top_k: int) -> Measured | None:
    """The cached figures of ``rows`` shared keys, or None (absent, or broken and deleted)."""

    def read(path: Path) -> Measured:
        with open_arrays(path) as stored:
            ids = [
                check_array(stored[name], name, kind="iu", ndim=2) for name in ("ids_a", "ids_b")
            ]
            if any(array.shape != (rows, top_k) for array in ids):
                raise BrokenEntry(f"neighbour ids of shape {ids[0].shape}, not {(rows, top_k)}")
            per_key = check_array(stored["reference_correlation"], "correlations", kind="f", ndim=1)
            cosines = check_array(stored["cosines"], "cosines", kind="f", ndim=1)
            if len(per_key) != rows or len(cosines) != rows:
                raise BrokenEntry("per-key figures of another length than the shared keys")
            mapping = check_array(stored["mapping"], "mapping", kind="f", ndim=2)
            figures = check_array(stored["figures"], "figures", kind="f", ndim=1)
            counts = check_array(stored["counts"], "counts", kind="iu", ndim=1)
            kind = str(stored["kind"])
            if len(figures) != 7 or len(counts) != 3 or kind not in ("orthogonal", "least-squares"):
                raise BrokenEntry("summary figures of another layout")
        cka, cka_chance, residual, residual_chance, cosine_chance, rho, pvalue = figures.tolist()
        fitted_on, pairs, unit = counts.tolist()
        return Measured(
            ids_a=ids[0],
            ids_b=ids[1],
            reference_correlation=per_key,
            pair_correlation=PairCorrelation(rho=rho, pvalue=pvalue, pairs=pairs),
            cka=cka,
            cka_chance=cka_chance,
            alignment=Alignment(
                mapping=mapping,
                kind=kind,  # type: ignore[arg-type]
                unit_rows=bool(unit),
                fitted_on=fitted_on,
                cosines=cosines,
                residual=residual,
                residual_chance=residual_chance,
                cosine_chance=cosine_chance,
            ),
        )

    return read_entry(path, read, what="cached comparison")


__all__ = ["CACHE_FORMAT", "cache_file", "read_measured", "write_measured"]
