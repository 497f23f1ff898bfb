"""The API's request and answer models, and the limits on what a request may ask.

The model names and fields are the API's contract: ``frontend/src/api.ts`` types them by hand and
a test compares the two through ``app.openapi()``, so renaming a model or a field breaks the page.
"""

from __future__ import annotations

import math
import unicodedata
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from ..metrics import METRIC_NAMES
from ..search.exact import SKIP_KINDS

if TYPE_CHECKING:
    from ..search.results import Hits, ResolvedQuery
    from ..space import EmbeddingSpace

MAX_TOP_K = 1000
MAX_QUERY_CHARACTERS = 200
MAX_PROFILE_SAMPLE = 5000
MAX_COMPLETIONS = 50
# a comparison keeps every shared key's top_k neighbours in both spaces (8 bytes each)
MAX_COMPARE_TOP_K = 100
MAX_LAYOUT_SAMPLE = 5000
_WHITESPACE_CONTROLS = "\t\n\r"


def _plain_text(text: str) -> str:
    """Refuse what no word or sentence holds and the library should never see: control
    characters (NUL among them) and lone surrogates (JSON can spell them, UTF-8 cannot)."""
    for character in text:
        category = unicodedata.category(character)
        if category == "Cs" or (category == "Cc" and character not in _WHITESPACE_CONTROLS):
            kind = "a lone surrogate" if category == "Cs" else "a control character"
            raise ValueError(f"must not contain U+{ord(character):04X} ({kind})")
    return text


def _text(max_length: int) -> Any:
    # the length first, so a long string is refused before it is read character by character
    return Annotated[
        str, StringConstraints(min_length=1, max_length=max_length), AfterValidator(_plain_text)
    ]


Text = _text(MAX_QUERY_CHARACTERS)
ColourText = _text(MAX_QUERY_CHARACTERS + len("similarity:"))
Pieces = Literal["error", "mean"]
# Built from embscope.metrics, so a metric added there is accepted here; a Literal (not the
# Metric enum) keeps the schema inline, where an enum would become a $ref to a schema of its own
# and change the 422 a wrong name gets.
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]
SkipKind = Literal[SKIP_KINDS]  # type: ignore[valid-type]


def _comma_separated(value: Any) -> Any:
    """``skip=special,unused`` (or ``skip=special&skip=unused``) as one list of kinds."""
    values = value if isinstance(value, list) else [value]
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


# a list in the schema (its items an enum), read from one comma-separated value or several
SkipKinds = Annotated[list[SkipKind], BeforeValidator(_comma_separated)]
SKIP_HELP = (
    "kinds of rows to leave out of the answer, comma-separated: 'special' (a tokenizer's "
    "special tokens), 'unused' ([unusedN] / <unusedN> slots), 'pieces' (pieces that continue "
    "a word), 'bytes' (single-byte tokens)"
)
PIECES_HELP = (
    "a word the tokenizer splits into several pieces: 'error' answers 404 with its pieces, "
    "'mean' uses the mean of their vectors"
)
EXACT_HELP = (
    "the query is a key as the answers give it (a row the page shows): answered by exactly "
    "that row, never read as a word"
)


class SourceInfo(BaseModel):
    id: str
    name: str
    rows: int
    dim: int
    metric: MetricName
    kind: str
    columns: list[str] = Field(description="metadata columns, for colouring and filtering")
    label_column: str | None = Field(
        default=None, description="the column holding classes (a document space's labels)"
    )


class Hit(BaseModel):
    rank: int
    row: int
    key: str
    label: str
    score: float


class Completion(BaseModel):
    key: str
    label: str = Field(description="what tables show for the key (␣king for Ġking)")
    query: str = Field(
        description="the text that asks about exactly this row: its label, ##piece for a "
        "continuation piece whose bare form is a word, else its key"
    )


class QueryKeys(BaseModel):
    query_keys: list[str] = Field(
        description="the key(s) that answered: the word's own, its word-start token, or its "
        "pieces (their mean); empty for a text a document space encoded"
    )
    query_labels: list[str] = Field(description="those keys as tables show them")
    query_text: str = Field(
        description="the text that asks the same again (the label of one key, as typed for "
        "several pieces)"
    )


def query_keys(space: EmbeddingSpace, resolved: ResolvedQuery) -> dict[str, Any]:
    """``QueryKeys``'s fields for a resolved query: which key(s) answered it, their labels,
    and the text that asks the same again."""
    again = space.query_text(resolved.keys[0]) if len(resolved.keys) == 1 else resolved.text
    return {
        "query_keys": list(resolved.keys),
        "query_labels": list(resolved.labels),
        "query_text": again,
    }


class Stability(BaseModel):
    """How far a list's order can be trusted (``Hits.stability``): where the listed scores lie
    so close together that rows left out score inside the same band, the list is a near tie."""

    listed: int = Field(description="the rows the note is about: the list's first")
    span: float = Field(description="how far apart their scores lie, first to last")
    band_rows: int = Field(description="rows left out that score inside that band")
    score_spread: float = Field(
        description="the spread (standard deviation) of the query's scores over the rows ranked"
    )
    rows_ranked: int
    near_tie: bool = Field(
        description="which rows are listed, and in what order, turns on differences too small "
        "to trust"
    )
    line: str = Field(description="the note in one line, to show under the list")


def stability_answer(hits: Hits) -> Stability | None:
    """``Stability`` of ``hits``, or None (a list no search of a space made, or scores that are
    not finite numbers)."""
    found = hits.stability
    if found is None:
        return None
    fields = found.to_dict()
    if not all(math.isfinite(fields[name]) for name in ("span", "score_spread")):
        return None
    return Stability(**{name: fields[name] for name in Stability.model_fields})


class NeighborsAnswer(QueryKeys):
    source: str
    query: str
    metric: MetricName
    opposite: bool
    hits: list[Hit]
    stability: Stability | None = Field(
        description="how far the order of the list's first ``listed`` rows can be trusted; "
        "null for a list no search of a space made"
    )


class SimilarityAnswer(BaseModel):
    source: str
    a: str
    b: str
    a_keys: list[str] = Field(description="the key(s) that answered a")
    a_labels: list[str]
    b_keys: list[str] = Field(description="the key(s) that answered b")
    b_labels: list[str]
    metric: MetricName
    score: float


class ProfileAnswer(QueryKeys):
    source: str
    query: str
    rank_correlation: float = Field(
        description="Spearman correlation of the cosine and the Euclidean rankings"
    )
    overlap: int = Field(description="keys in both top-k lists")
    rows: list[dict[str, Any]] = Field(description="the top_k rows by cosine")
    euclidean_rows: list[dict[str, Any]] = Field(description="the top_k rows by Euclidean distance")
    sample: list[list[float]] = Field(
        description="[cosine, euclidean] of a seeded sample of rows, for the scatter plot"
    )


class ClassesAnswer(BaseModel):
    source: str
    label_column: str
    labels: list[str]
    counts: list[int]
    mean: list[list[float | None]] = Field(description="label x label mean cosine")
    within: list[float | None]
    between: list[float | None]


class ClusterLabel(BaseModel):
    label: str = Field(description="its most central words, or a document cluster's terms")
    size: int
    position: list[float] = Field(description="the cluster's centre in projected coordinates")


class TokenCandidate(BaseModel):
    rank: int
    token_id: int
    key: str
    label: str
    category: str
    value: float = Field(description="the main indicator's value (low = suspicious)")


class TokenScanAnswer(BaseModel):
    summary: dict[str, Any]
    indicator: str | None
    caution: str | None = Field(
        default=None,
        description="why the candidates are not evidence of under-training (no reference "
        "tokens to measure against), or null",
    )
    candidates: list[TokenCandidate]


AXIS_WORDS_HELP = "a word, or words joined by '+' whose mean stands for this end"


class ProjectionRequest(BaseModel):
    method: Literal["pca", "tsne", "umap", "axes"] = Field(
        default="pca",
        description="'axes' places rows along two directions defined by words (x_positive − "
        "x_negative, y_positive − y_negative): exact, nothing fitted, 2-D",
    )
    n_components: Literal[2, 3] = 3
    x_positive: Text | None = Field(
        default=None, description="axes: x's positive end; " + AXIS_WORDS_HELP
    )
    x_negative: Text | None = Field(default=None, description="axes: x's negative end")
    y_positive: Text | None = Field(default=None, description="axes: y's positive end")
    y_negative: Text | None = Field(default=None, description="axes: y's negative end")
    neighborhood: Text | None = Field(
        default=None,
        description="project only this word's similar and opposite rows",
    )
    similar: int = Field(default=30, ge=1, le=MAX_TOP_K)
    opposite: int = Field(default=30, ge=0, le=MAX_TOP_K)
    perplexity: float | None = Field(default=None, gt=0)
    n_neighbors: int | None = Field(default=None, ge=2, le=200)
    random_state: int = 0


class JobAnswer(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    description: str
    seconds: float | None = None
    error: str | None = None
    rows: int | None = None
    quality: dict[str, float] | None = None
    progress: float | None = Field(
        default=None, description="fraction done (0 to 1) while running, where the work reports it"
    )
    phase: str | None = Field(default=None, description="the step a running job has reached")
    query_keys: list[str] | None = Field(
        default=None, description="the key a neighbourhood projection is around (when started)"
    )
    query_labels: list[str] | None = None
    axis_titles: list[str] | None = Field(
        default=None,
        description=(
            "what each axis of a finished projection holds, as its figures title them: an axes "
            "projection's words ('good − bad  →'), a PCA component's share of the variance; "
            "none for t-SNE and UMAP, whose axes mean nothing"
        ),
    )


class CompareRequest(BaseModel):
    a: Text = Field(description="the source compared against (its id): B is aligned onto it")
    b: Text = Field(description="the other source (its id)")
    top_k: int = Field(
        default=10,
        ge=1,
        le=MAX_COMPARE_TOP_K,
        description="neighbours per shared key whose overlap is measured",
    )


class ComparisonFigure(BaseModel):
    name: str
    value: float | None = Field(description="null where it is undefined (NaN)")
    chance: float | None = Field(description="what two spaces sharing nothing but keys give")
    meaning: str


class ComparisonAnswer(BaseModel):
    """``embscope.compare(a, b, top_k=...).summary()``, field for field (NaN as null), with
    its figures as rows and the distribution of the per-key overlap."""

    a: str
    b: str
    space_a: str = Field(description="A's name as the comparison heads its column")
    space_b: str
    line: str = Field(description="the comparison in one line")
    coverage: str = Field(description="how many keys are shared, and how many are not")
    shared_keys: int
    only_a: int
    only_b: int
    composed_keys: int
    metric: MetricName
    top_k: int
    overlap: float | None
    overlap_chance: float | None
    jaccard: float | None
    jaccard_chance: float | None
    similarity_spearman: float | None
    similarity_pvalue: float | None
    pairs: int
    reference_spearman: float | None
    cka: float | None
    cka_chance: float | None
    alignment: Literal["orthogonal", "least-squares"]
    fitted_on: int
    dims: list[int] = Field(description="the widths of A and of B")
    residual: float | None
    residual_chance: float | None
    aligned_cosine: float | None
    aligned_cosine_chance: float | None
    figures: list[ComparisonFigure]
    overlap_counts: list[int] = Field(
        description="shared keys by how many of their top_k neighbours both spaces share "
        "(index 0 to top_k)"
    )


class ComparedWord(BaseModel):
    """One shared key's row of ``Comparison.words()``."""

    key: str
    label: str
    moved_rank: int = Field(description="its place in the most-moved order (1: moved most)")
    overlap: float = Field(description="share of its top_k found in both spaces")
    shared_neighbors: int
    jaccard: float
    rank_correlation: float | None = Field(
        description="Spearman of its similarities to the reference keys, A against B"
    )
    aligned_cosine: float = Field(description="its row in A against B's row aligned onto A")
    norm_a: float
    norm_b: float


class MovedAnswer(BaseModel):
    a: str
    b: str
    top_k: int
    least: bool = Field(description="the steadiest keys, steadiest first, not the most moved")
    words: list[ComparedWord]


class ComparedHit(Hit):
    in_both: bool = Field(description="the other space's list holds it too")


class SideBySideAnswer(BaseModel):
    a: str
    b: str
    word: str
    space_a: str
    space_b: str
    metric: MetricName
    a_keys: list[str] = Field(description="the key(s) that answered the word in A")
    a_labels: list[str]
    b_keys: list[str] = Field(description="the key(s) that answered the word in B")
    b_labels: list[str]
    hits_a: list[ComparedHit]
    hits_b: list[ComparedHit]
    shared: int = Field(description="keys both lists hold")
    figures: ComparedWord | None = Field(
        description="the word's own figures, where it is one shared key"
    )
    stability_a: Stability | None = Field(description="how far A's order can be trusted")
    stability_b: Stability | None = Field(description="how far B's order can be trusted")
