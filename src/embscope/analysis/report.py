"""``embscope.report(space)``: what a researcher checks first about an unfamiliar embedding
matrix, measured once and shown on one self-contained page: shape and storage, norms (and
how they follow frequency rank), anisotropy before and after All-but-the-Top, hubness,
intrinsic dimension and a sample projection. The measures and their sources are in
``analysis.geometry``; every sampled figure says how many rows it used."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._checks import integer_at_least, positive_int
from .._io.atomic import atomic_path
from .._io.progress import Progress, progress_bar
from ..errors import InvalidParameterError
from . import geometry
from .statistics import spearman

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..space import EmbeddingSpace

# words whose neighbour lists show how much All-but-the-Top changes the answers, when present
PROBE_WORDS = ("good", "king", "water", "music", "city", "computer", "red", "happy")


@dataclass(frozen=True, repr=False)
class SpaceReport:
    """The figures of ``report``; ``seconds`` holds each section's time."""

    name: str
    rows: int
    dim: int
    dtype: str
    memory_bytes: int
    source: str
    kind: str
    metric: str
    tokenizer: bool
    sample: int
    norms: np.ndarray = field(repr=False)  # of every row
    norm_rank_spearman: float  # norm against row order (frequency rank in word vectors)
    mean_cosine: float
    variance_shares: np.ndarray = field(repr=False)  # of the sample's principal components
    isotropy: float
    removed_directions: int
    mean_cosine_after: float
    isotropy_after: float
    probe_overlap: dict[str, float]  # word -> top-10 overlap before/after All-but-the-Top
    k: int
    hubness_skew: float
    hubness_skew_centred: float
    hubs: list[tuple[str, int]]
    k_occurrence: np.ndarray = field(repr=False)
    intrinsic_dimension: float
    projection_keys: list[str] = field(repr=False)
    projection: np.ndarray = field(repr=False)
    # the sections that apply to some spaces only: a line each, saying why when they do not
    context: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def facts(self) -> list[tuple[str, str, str]]:
        """(figure, value, how it was measured), in the order the page shows them."""
        sampled = f"on a seeded sample of {self.sample:,} rows"
        shares = np.cumsum(self.variance_shares)
        first = ", ".join(f"{shares[i - 1]:.1%} ({i})" for i in (1, 5, 10) if i <= len(shares))
        norms = self.norms
        probes = ", ".join(f"{w} {v:.1f}" for w, v in self.probe_overlap.items())
        hubs = ", ".join(f"{key} ({count})" for key, count in self.hubs[:8])
        return [
            ("shape", f"{self.rows:,} x {self.dim} {self.dtype}",
             f"{self.memory_bytes / 2**20:,.1f} MiB stored"),
            ("source", f"{self.kind}: {self.source}",
             f"metric {self.metric}; tokenizer {'yes' if self.tokenizer else 'no'}"),
            ("norms",
             f"min {norms.min():.3g}, median {np.median(norms):.3g}, max {norms.max():.3g}",
             "every row"),
            ("norm vs rank", f"{self.norm_rank_spearman:+.3f}",
             "Spearman of a row's norm against its position (the frequency rank where the "
             "rows are ordered by frequency)"),
            ("mean cosine", f"{self.mean_cosine:.3f}",
             f"of 20,000 random pairs {sampled}; 0 = directions spread evenly"),
            ("variance of the first components", first,
             f"cumulative share of the variance (components) {sampled}"),
            ("isotropy", f"{self.isotropy:.3f}",
             f"Mu & Viswanath's I(W), 1 = isotropic, {sampled}"),
            ("after All-but-the-Top",
             f"mean cosine {self.mean_cosine_after:.3f}, isotropy {self.isotropy_after:.3f}",
             f"the mean and the top {self.removed_directions} principal direction(s) removed"),
            ("answers after All-but-the-Top", probes or "no probe word in the space",
             "share of a word's 10 nearest in the sample kept after the removal"),
            (f"hubness (k={self.k})",
             f"skew {self.hubness_skew:.2f} by cosine, {self.hubness_skew_centred:.2f} centred",
             f"skewness of the k-occurrence {sampled}; 0 = no hubs"),
            ("top hubs", hubs, f"rows most often among others' {self.k} nearest"),
            ("intrinsic dimension", f"{self.intrinsic_dimension:.1f}",
             f"TwoNN (Facco et al. 2017) {sampled}"),
            *((name, line, "") for name, line in self.context.items()),
        ]  # fmt: skip

    def __str__(self) -> str:
        width = max(len(name) for name, _, _ in self.facts())
        lines = [f"Report on {self.name}"]
        lines += [
            f"  {name:<{width}}  {value}" + (f"   ({how})" if how else "")
            for name, value, how in self.facts()
        ]
        lines.append(f"  {self.timing()}")
        return "\n".join(lines)

    def timing(self) -> str:
        """How long the measures took, whole and by section."""
        timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())
        return f"measured in {sum(self.seconds.values()):.1f} s: {timing}"

    def __repr__(self) -> str:
        return (
            f"<SpaceReport {self.name}: {self.rows:,} x {self.dim}, mean cosine "
            f"{self.mean_cosine:.3f}, isotropy {self.isotropy:.3f}, hubness skew "
            f"{self.hubness_skew:.2f}, intrinsic dimension {self.intrinsic_dimension:.1f}>"
        )

    def _repr_html_(self) -> str:
        return _facts_table(self)

    def figures(self) -> list[go.Figure]:
        """The page's figures: norms, norm against rank, variance shares, k-occurrence, and
        a PCA of the sample."""
        from .report_figures import report_figures

        return report_figures(self)

    def save(self, path: str | Path) -> Path:
        """One self-contained HTML page (plotly.js inside, opens offline), written atomically."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise InvalidParameterError(f"a report is an .html file; got {path.name!r}")
        figures = self.figures()
        parts = [
            figure.to_html(include_plotlyjs=i == 0, full_html=False, config={"displaylogo": False})
            for i, figure in enumerate(figures)
        ]
        title = f"embscope report: {self.name}"
        document = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}"
            "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;"
            "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{_facts_table(self)}"
            f"<p style='color:#666'>{html.escape(self.timing())}</p>{''.join(parts)}</body></html>"
        )
        with atomic_path(path) as temporary:
            temporary.write_text(document, encoding="utf-8")
        return path


def report(
    space: EmbeddingSpace,
    *,
    sample: int = 10_000,
    k: int = 10,
    random_state: int = 0,
    label: str | None = None,
    progress: Progress = True,
) -> SpaceReport:
    """Measure ``space`` for its report (see the module note); sampled sections use a seeded
    ``sample`` of rows (the quadratic ones, hubness and intrinsic dimension, at most that).
    ``label`` names the metadata column of classes for the class separation (default: the
    one ``embscope encode`` recorded, or a column called "label")."""
    sample = integer_at_least(sample, "sample", 100)
    k = positive_int(k, "k")
    if len(space) < 3:
        raise InvalidParameterError(f"{space.name} has {len(space)} row(s): too few to report on")
    seconds: dict[str, float] = {}
    sections = ("norms", "anisotropy", "hubness", "intrinsic dimension", "projection", "context")
    with progress_bar(len(sections), f"report on {space.name}", enabled=progress) as advance:
        start = time.perf_counter()
        norms = np.asarray(space.norms, dtype=np.float64)
        rank_correlation = spearman(norms, np.arange(len(norms), dtype=np.float64))
        probe_rows = [space.row(word) for word in PROBE_WORDS if word in space]
        rows = np.union1d(
            geometry.sample_rows(len(space), sample, random_state),
            np.asarray(probe_rows, dtype=np.int64),
        )
        vectors = np.asarray(space.vectors[rows], dtype=np.float64)
        seconds["norms"] = time.perf_counter() - start
        advance(1, "anisotropy")

        start = time.perf_counter()
        principal = geometry.principal(vectors)
        cleaned = geometry.all_but_the_top(vectors)
        removed = max(1, space.dim // 100)
        units = geometry.unit_rows(vectors).astype(np.float32)
        cleaned_units = geometry.unit_rows(cleaned).astype(np.float32)
        probes = _probe_overlap(space, rows, units, cleaned_units)
        anisotropy = {
            "mean_cosine": geometry.mean_pair_cosine(vectors, 20_000, random_state),
            "isotropy": geometry.isotropy(vectors),
            "mean_cosine_after": geometry.mean_pair_cosine(cleaned, 20_000, random_state),
            "isotropy_after": geometry.isotropy(cleaned),
        }
        seconds["anisotropy"] = time.perf_counter() - start
        advance(1, "hubness")

        start = time.perf_counter()
        k = min(k, len(rows) - 1)
        counts = geometry.k_occurrence(geometry.neighbour_lists(units, k), len(rows))
        centred = geometry.unit_rows(vectors - vectors.mean(axis=0)).astype(np.float32)
        centred_counts = geometry.k_occurrence(geometry.neighbour_lists(centred, k), len(rows))
        keys = space.keys
        hubs = [(keys[rows[i]], int(counts[i])) for i in np.argsort(-counts, kind="stable")[:20]]
        seconds["hubness"] = time.perf_counter() - start
        advance(1, "intrinsic dimension")

        start = time.perf_counter()
        dimension = geometry.two_nn_dimension(units)
        seconds["intrinsic dimension"] = time.perf_counter() - start
        advance(1, "projection")

        start = time.perf_counter()
        # spread over the sample (sorted by row), not its first rows: those are the most
        # frequent words of a frequency-ordered vocabulary
        picked = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), 2_000)).astype(int))
        shown = rows[picked]
        projection = (vectors[picked] - vectors.mean(axis=0)) @ principal.directions[:2].T
        context = {"sample projection": _projection_quality(space, shown, projection)}
        seconds["projection"] = time.perf_counter() - start
        advance(1, "context")

        start = time.perf_counter()
        context.update(_context(space, label))
        seconds["context"] = time.perf_counter() - start
        advance(1)
    return SpaceReport(
        name=space.name,
        rows=len(space),
        dim=space.dim,
        dtype=space.stored_dtype,
        memory_bytes=int(getattr(space.vectors, "nbytes", 0)),
        source=space.provenance.source,
        kind=space.provenance.kind,
        metric=str(space.metric),
        tokenizer=space.has_tokenizer,
        sample=len(rows),
        norms=norms,
        norm_rank_spearman=rank_correlation,
        variance_shares=principal.shares,
        removed_directions=removed,
        probe_overlap=probes,
        k=k,
        hubness_skew=geometry.skewness(counts),
        hubness_skew_centred=geometry.skewness(centred_counts),
        hubs=hubs,
        k_occurrence=counts,
        intrinsic_dimension=dimension,
        projection_keys=[keys[r] for r in shown],
        projection=projection.astype(np.float32),
        context=context,
        seconds=seconds,
        **anisotropy,
    )


def _projection_quality(space: EmbeddingSpace, rows: np.ndarray, coordinates: np.ndarray) -> str:
    """How well the report's PCA keeps the sampled rows' neighbours (needs scipy)."""
    try:
        from ..projection.quality import projection_quality

        quality = projection_quality(space, rows, coordinates, metric=space.metric)
    except ImportError:
        return "quality not measured: scipy is missing (pip install 'embscope[viz]')"
    return (
        f"PCA of {len(rows):,} rows: trustworthiness@{quality.k} {quality.trustworthiness:.3f}, "
        f"kNN recall@{quality.k} {quality.knn_recall:.3f} against the {quality.metric} space"
    )


def _context(space: EmbeddingSpace, label: str | None) -> dict[str, str]:
    """What applies to this kind of space only: the token forensics summary for a tokenizer's
    vocabulary, word-pair benchmarks for a word vocabulary, class separation for labelled
    rows; each a line, or why it does not apply."""
    from ..errors import EmbscopeError

    lines: dict[str, str] = {}
    if space.has_tokenizer:
        from ..tokens import scan

        found = scan(space, progress=False)
        summary = found.summary()
        examples = ", ".join(found.candidates["label"].astype(str).head(8))
        lines["under-trained tokens"] = (
            f"{summary['candidates']:,} candidates by {summary['main_indicator']} "
            f"(e.g. {examples}); categories {summary['categories']}"
        )
    else:
        scores = []
        for pairs in ("wordsim353", "simlex999"):
            try:
                found = space.evaluate_word_pairs(pairs)
            except EmbscopeError as error:  # the benchmark files come with gensim
                scores.append(f"{pairs}: not measured ({error})")
                continue
            scores.append(
                f"{pairs} Spearman {found.spearman:.3f} ({found.oov_ratio:.0%} out of vocabulary)"
            )
        lines["word-pair benchmarks"] = "; ".join(scores)
    if label is None and not len(space.metadata.columns):
        lines["class separation"] = "does not apply: the rows carry no classes (no metadata)"
        return lines
    try:
        separation = space.separation(label=label)
    except EmbscopeError as error:
        lines["class separation"] = f"not measured: {error}"
    else:
        lines["class separation"] = (
            f"{len(separation.classes)} classes of {separation.label_column!r}: silhouette "
            f"{separation.silhouette:.3f}, kNN accuracy {separation.knn_accuracy:.3f} "
            f"(always the largest class: {separation.baseline_accuracy:.3f})"
        )
    return lines


def _probe_overlap(
    space: EmbeddingSpace, rows: np.ndarray, before: np.ndarray, after: np.ndarray
) -> dict[str, float]:
    """For each probe word (always in the sample), the share of its 10 nearest sample rows that are
    still among them after All-but-the-Top."""
    position = {int(row): i for i, row in enumerate(rows)}
    found = {}
    for word in PROBE_WORDS:
        if word in space and space.row(word) in position:
            found[word] = position[space.row(word)]
    overlap = {}
    for word, i in found.items():
        lists = []
        for units in (before, after):
            scores = units @ units[i]
            scores[i] = -np.inf
            lists.append(set(np.argsort(-scores, kind="stable")[:10].tolist()))
        overlap[word] = len(lists[0] & lists[1]) / 10
    return overlap


def _facts_table(report: SpaceReport) -> str:
    body = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td>"
        f"<td style='color:#666'>{html.escape(how)}</td></tr>"
        for name, value, how in report.facts()
    )
    return f"<table>{body}</table>"


__all__ = ["PROBE_WORDS", "SpaceReport", "report"]
