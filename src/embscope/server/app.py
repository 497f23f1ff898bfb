"""The web explorer's HTTP API: ``create_app(sources)`` serves the spaces it was started with and
nothing else (no path from a request reaches the filesystem).

Routes live under ``/api``; a built front end, when the package holds one, is mounted last at
``/``. Coordinates travel as Arrow IPC streams (typed columns), not JSON lists of floats. User
errors answer 4xx with a message (an unknown word: 404 with the closest vocabulary matches);
projections run as background jobs that every client asking for the same one shares.

Hardened for a server that a browser with other sites open can reach (``guard.py``: the Host,
origin, content type and body size of every request), and against clients that ask too much:
the job queue is bounded (429 beyond it) and jobs can be cancelled, requests that compute for
a while take a lane of their own (``lanes.py``) so they cannot starve the neighbour queries,
and every text input is checked before it reaches the library.
"""

from __future__ import annotations

import bisect
import io
import json
import re
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from .. import __version__
from .._io.progress import ProgressCallback
from ..errors import EmbscopeError, InvalidParameterError, UnknownKeyError
from ..space import WORD_START_MARK, EmbeddingSpace, ResolvedQuery, is_plain_word
from .guard import MAX_BODY, HostNames, RequestGuard
from .jobs import MAX_QUEUED, JobRunner, QueueFull
from .lanes import Lane

MAX_TOP_K = 1000
MAX_QUERY_CHARACTERS = 200
MAX_PROFILE_SAMPLE = 5000
MAX_COMPLETIONS = 50
MAX_SLOW_WAITING = 8
CANCEL_WAIT_SECONDS = 5.0
STOP_WAIT_SECONDS = 3.0
STATIC = Path(__file__).with_name("static")
_SOURCE_ID = re.compile(r"[^a-z0-9]+")
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
    metric: str
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


class NeighborsAnswer(QueryKeys):
    source: str
    query: str
    metric: str
    opposite: bool
    hits: list[Hit]


class SimilarityAnswer(BaseModel):
    source: str
    a: str
    b: str
    a_keys: list[str] = Field(description="the key(s) that answered a")
    a_labels: list[str]
    b_keys: list[str] = Field(description="the key(s) that answered b")
    b_labels: list[str]
    metric: str
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


class ProjectionRequest(BaseModel):
    method: Literal["pca", "tsne", "umap"] = "pca"
    n_components: Literal[2, 3] = 3
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


class _PrefixIndex:
    """Every row's key, and its label where that differs (``␣king`` for ``Ġking``), sorted
    case-insensitively, so the names starting with a prefix are one contiguous run found by
    binary search; among them the first rows (the most frequent words of a frequency-ordered
    vocabulary) are returned. In a vocabulary of word-start tokens a plain prefix offers the
    words first: ``kin`` gives ``␣kind``, ``␣king``… before ``king``, the piece that continues
    a word. Names stay Python strings (a fixed-width array would pad every one to the longest
    token's length)."""

    def __init__(self, space: EmbeddingSpace) -> None:
        keys, labels = space.keys, space.labels
        names = [key.lower() for key in keys]
        rows = list(range(len(keys)))
        for row, (key, label) in enumerate(zip(keys, labels, strict=True)):
            if label != key:
                names.append(label.lower())
                rows.append(row)
        order = sorted(range(len(names)), key=names.__getitem__)
        self._sorted = [names[i] for i in order]
        self._rows = np.asarray(rows, dtype=np.int64)[order]
        self._word_start = space.word_start_rows

    def _first(self, prefix: str, limit: int, *, words: bool = False, skip=()) -> np.ndarray:
        """The lowest ``limit`` rows with a name starting with ``prefix`` (only word-start
        tokens with ``words``, none of ``skip``), in row order."""
        lowered = prefix.lower()
        start = bisect.bisect_left(self._sorted, lowered)
        # every string starting with the prefix sorts before prefix + the highest character
        end = bisect.bisect_left(self._sorted, lowered + "\U0010ffff", lo=start)
        rows = self._rows[start:end]
        if words:
            rows = rows[self._word_start[rows]]
        if len(skip):
            rows = rows[~np.isin(rows, skip)]
        wanted = 2 * limit  # a row is named at most twice (key and label)
        if len(rows) > wanted:
            rows = np.partition(rows, wanted - 1)[:wanted]
        return np.unique(rows)[:limit]

    def complete(self, prefix: str, limit: int) -> list[int]:
        """Rows whose key or label starts with ``prefix``, at most ``limit``."""
        words = np.empty(0, dtype=np.int64)
        if self._word_start is not None and is_plain_word(prefix):
            words = self._first(WORD_START_MARK + prefix, limit, words=True)
        rest = self._first(prefix, limit - len(words), skip=words) if len(words) < limit else []
        return [int(row) for row in (*words, *rest)]


class _Spaces:
    """The sources the server was started with, loaded on first use (loading a checkpoint
    takes a moment; a server with several should start at once)."""

    def __init__(self, sources: Sequence[str | EmbeddingSpace]) -> None:
        self._given: dict[str, str | EmbeddingSpace] = {}
        for source in sources:
            name = source.name if isinstance(source, EmbeddingSpace) else str(source)
            base = _SOURCE_ID.sub("-", Path(name).name.lower()).strip("-") or "source"
            source_id, number = base, 2
            while source_id in self._given:
                source_id, number = f"{base}-{number}", number + 1
            self._given[source_id] = source
        self._loaded: dict[str, EmbeddingSpace] = {}
        self._prefixes: dict[str, _PrefixIndex] = {}
        self._lock = threading.Lock()

    @property
    def ids(self) -> list[str]:
        return list(self._given)

    def prefixes(self, source_id: str, space: EmbeddingSpace) -> _PrefixIndex:
        with self._lock:
            if source_id not in self._prefixes:
                self._prefixes[source_id] = _PrefixIndex(space)
            return self._prefixes[source_id]

    def get(self, source_id: str) -> EmbeddingSpace:
        if source_id not in self._given:
            raise HTTPException(
                404, f"no source {source_id!r}; this server has {', '.join(self._given)}"
            )
        with self._lock:
            if source_id not in self._loaded:
                given = self._given[source_id]
                if isinstance(given, EmbeddingSpace):
                    self._loaded[source_id] = given
                else:
                    from ..sources import load

                    self._loaded[source_id] = load(given)
            return self._loaded[source_id]


def create_app(
    sources: Sequence[str | EmbeddingSpace],
    *,
    workers: int = 1,
    max_queued: int = MAX_QUEUED,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The explorer's app for ``sources`` (names, paths or hub ids as ``embscope.load`` takes
    them, or spaces); ``workers`` background threads compute projections, and at most
    ``max_queued`` jobs wait for them.

    Requests must name the server by a loopback name, ``host`` (the address it listens on) or
    one of ``allowed_hosts`` (``"*"``: any); request bodies are at most ``max_body`` bytes."""
    if not sources:
        raise InvalidParameterError("give at least one source to serve")
    spaces = _Spaces(sources)
    jobs = JobRunner(workers, max_queued=max_queued)
    # One query computes at a time: a search reads the whole matrix with BLAS threads that
    # already use every core, so twenty concurrent ones only thrash (measured: 23 requests/s
    # with 20 clients unserialised); queued, each takes a few milliseconds.
    compute = threading.Lock()
    slow = Lane(waiting=MAX_SLOW_WAITING)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # a stopped server stops computing: queued jobs are dropped, running ones cancelled
        await anyio.to_thread.run_sync(lambda: jobs.shutdown(wait=STOP_WAIT_SECONDS))

    app = FastAPI(
        title="embscope",
        version=__version__,
        description="Explore embedding spaces: neighbours, opposites, projections.",
        lifespan=lifespan,
    )
    app.state.spaces, app.state.jobs = spaces, jobs
    app.add_middleware(RequestGuard, hosts=HostNames(host, allowed_hosts), max_body=max_body)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and a lone surrogate in it cannot be encoded
        return _AsciiJSONResponse(
            status_code=422, content={"detail": jsonable_encoder(error.errors())}
        )

    @app.exception_handler(QueueFull)
    async def queue_full(_request: Request, error: QueueFull) -> JSONResponse:
        return _AsciiJSONResponse(
            status_code=429, content={"detail": str(error)}, headers={"Retry-After": "5"}
        )

    @app.exception_handler(UnknownKeyError)
    async def unknown_word(_request: Request, error: UnknownKeyError) -> JSONResponse:
        return _AsciiJSONResponse(
            status_code=404,
            content={
                "detail": str(error),
                "suggestions": error.suggestions,
                "pieces": error.pieces,
                "piece_labels": error.piece_labels,
            },
        )

    @app.exception_handler(EmbscopeError)
    async def user_error(_request: Request, error: EmbscopeError) -> JSONResponse:
        return _AsciiJSONResponse(status_code=400, content={"detail": str(error)})

    @app.get("/api/sources", response_model=list[SourceInfo])
    def list_sources() -> list[SourceInfo]:
        return [_info(source_id, spaces.get(source_id)) for source_id in spaces.ids]

    @app.get("/api/sources/{source}/complete", response_model=list[Completion])
    def complete(
        source: str,
        prefix: Annotated[Text, Query()],
        limit: int = Query(10, ge=1, le=MAX_COMPLETIONS),
    ) -> list[Completion]:
        """Rows whose key or label starts with ``prefix`` (case-insensitive), most frequent
        first (the source's row order); in a vocabulary of word-start tokens the words
        (``␣king``) come before the pieces that continue a word. Each comes with its label and
        the text that asks about exactly it."""
        space = spaces.get(source)
        keys, labels = space.keys, space.labels
        return [
            Completion(key=keys[row], label=labels[row], query=space.query_text(keys[row]))
            for row in spaces.prefixes(source, space).complete(prefix, limit)
        ]

    @app.get("/api/sources/{source}/neighbors", response_model=NeighborsAnswer)
    def neighbors(
        source: str,
        query: Annotated[Text, Query()],
        top_k: int = Query(10, ge=1, le=MAX_TOP_K),
        metric: Literal["cosine", "euclidean", "dot"] | None = None,
        opposite: bool = False,
        restrict_vocab: int | None = Query(None, ge=1),
        pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
        exact: Annotated[bool, Query(description=EXACT_HELP)] = False,
    ) -> NeighborsAnswer:
        """The query's closest (or most opposite) rows; ``query_keys`` says which key(s)
        answered it (``king`` is ``Ġking`` in a byte-level vocabulary)."""
        space = spaces.get(source)
        text = space.query_text(query) if exact else query
        resolved = space.resolve(text, pieces=pieces)  # an unknown word: 404 before computing
        ask = space.opposites if opposite else space.neighbors
        options: dict[str, Any] = {"top_k": top_k, "metric": metric, "pieces": pieces}
        if restrict_vocab is not None:
            options["restrict_vocab"] = restrict_vocab
        with compute:
            frame = ask(text, **options)
        rows = [space.row(key) for key in frame["key"]]
        return NeighborsAnswer(
            source=source,
            query=query,
            **_query_keys(space, resolved),
            metric=metric or space.metric,
            opposite=opposite,
            hits=[
                Hit(rank=int(r), row=row, key=k, label=str(lab), score=float(s))
                for r, row, k, lab, s in zip(
                    frame["rank"], rows, frame["key"], frame["label"], frame["score"], strict=True
                )
            ],
        )

    @app.get("/api/sources/{source}/similarity", response_model=SimilarityAnswer)
    def similarity(
        source: str,
        a: Annotated[Text, Query()],
        b: Annotated[Text, Query()],
        metric: Literal["cosine", "euclidean", "dot"] | None = None,
        pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
    ) -> SimilarityAnswer:
        """The similarity of two words (or texts); ``a_keys`` and ``b_keys`` say which keys
        answered each."""
        space = spaces.get(source)
        first, second = (space.resolve(word, pieces=pieces) for word in (a, b))
        with compute:
            score = space.similarity(first.vector, second.vector, metric=metric)
        return SimilarityAnswer(
            source=source,
            a=a,
            b=b,
            a_keys=list(first.keys),
            a_labels=list(first.labels),
            b_keys=list(second.keys),
            b_labels=list(second.labels),
            metric=metric or space.metric,
            score=float(score),
        )

    @app.get("/api/sources/{source}/profile", response_model=ProfileAnswer)
    async def profile(
        source: str,
        query: Annotated[Text, Query()],
        top_k: int = Query(15, ge=1, le=MAX_TOP_K),
        sample: int = Query(1500, ge=0, le=MAX_PROFILE_SAMPLE),
        pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
    ) -> Response:
        """The BERT lecture's profile: every row's Euclidean distance to the query against its
        cosine similarity (the ``top_k`` of each by key, and a sample of rows to plot)."""

        def answer() -> ProfileAnswer:
            space = spaces.get(source)
            resolved = space.resolve(query, pieces=pieces)
            result = space.distance_profile(query, top_k=top_k, pieces=pieces)
            table = result.table
            chosen = np.random.default_rng(0).permutation(len(table))[:sample]
            plotted = table.iloc[np.sort(chosen)][["cosine", "euclidean"]].to_numpy(np.float64)
            return ProfileAnswer(
                source=source,
                query=query,
                **_query_keys(space, resolved),
                rank_correlation=float(result.rank_correlation),
                overlap=int(result.overlap),
                rows=_records(table.head(top_k)),
                euclidean_rows=_records(table.nsmallest(top_k, "euclidean_rank")),
                sample=[[round(c, 5), round(e, 5)] for c, e in plotted if np.isfinite(c + e)],
            )

        return await _json_from(slow, answer)

    @app.get("/api/sources/{source}/classes", response_model=ClassesAnswer)
    async def classes(source: str, label: Annotated[Text | None, Query()] = None) -> Response:
        """A labelled (document) space's class-similarity matrix: the mean cosine within and
        between classes."""

        def answer() -> ClassesAnswer:
            space = spaces.get(source)
            result = space.class_similarity(label)
            order = list(result.labels)
            return ClassesAnswer(
                source=source,
                label_column=result.label_column,
                labels=[str(v) for v in order],
                counts=[int(result.counts[v]) for v in order],
                mean=[[_number(result.mean.loc[a, b]) for b in order] for a in order],
                within=[_number(result.within[v]) for v in order],
                between=[_number(result.between[v]) for v in order],
            )

        return await _json_from(slow, answer)

    @app.post("/api/sources/{source}/projections", response_model=JobAnswer, status_code=202)
    def start_projection(source: str, request: ProjectionRequest) -> JobAnswer:
        """Start (or join) a projection job; poll ``/api/jobs/{id}``, then fetch
        ``/api/jobs/{id}/points`` (Arrow IPC)."""
        space = spaces.get(source)
        around: ResolvedQuery | None = None
        if request.neighborhood is not None:
            # the word's own token (king: Ġking), found now, so an unknown word is a 404 now;
            # a neighbourhood is one row's, so a word of several pieces is refused with them
            around = _one_token(space, request.neighborhood)
            request = request.model_copy(update={"neighborhood": around.keys[0]})
        options: dict[str, Any] = {"n_components": request.n_components}
        if request.method != "pca":
            options["random_state"] = request.random_state
        if request.perplexity is not None:
            options["perplexity"] = request.perplexity
        if request.n_neighbors is not None:
            options["n_neighbors"] = request.n_neighbors

        def work(report: ProgressCallback) -> Any:
            target = space
            if request.neighborhood is not None:
                target = space.neighborhood(
                    request.neighborhood, similar=request.similar, opposite=request.opposite
                )
            projection = target.project(request.method, progress=report, **options)
            _ = projection.quality  # measured here, in the job, not in a status request
            return projection

        key = (source, request.model_dump_json())
        what = f"{request.method} {request.n_components}D of {source}"
        if around is not None:
            what += f" around {around.labels[0]!r}"
        started = _job_answer(jobs.submit(key, what, work))
        if around is not None:
            started.query_keys, started.query_labels = list(around.keys), list(around.labels)
        return started

    @app.post("/api/sources/{source}/tokens", response_model=JobAnswer, status_code=202)
    def start_token_scan(source: str) -> JobAnswer:
        """Start (or join) a scan for under-trained and glitch tokens (``embscope.tokens``);
        poll ``/api/jobs/{id}``, then read ``/api/jobs/{id}/tokens``."""
        from ..tokens import scan

        space = spaces.get(source)
        return _job_answer(
            jobs.submit(
                (source, "tokens"),
                f"token scan of {source}",
                lambda report: scan(space, progress=report),
            )
        )

    @app.get("/api/jobs/{job_id}/tokens", response_model=TokenScanAnswer)
    def job_tokens(job_id: str, top: int = Query(50, ge=1, le=MAX_TOP_K)) -> TokenScanAnswer:
        from ..tokens import TokenReport

        job = _done(jobs, job_id)
        if not isinstance(job.result, TokenReport):
            raise HTTPException(409, f"job {job_id} is not a token scan")
        report = job.result
        shown = report.candidates.head(top)
        return TokenScanAnswer(
            summary=json.loads(json.dumps(report.summary(), default=str)),
            indicator=report.indicator,
            caution=report.caution,
            candidates=[
                TokenCandidate(
                    rank=int(row["rank"]),
                    token_id=int(row["token_id"]),
                    key=str(row["key"]),
                    label=str(row["label"]),
                    category=str(row["category"]),
                    value=float(row[report.indicator]),
                )
                for _, row in shown.iterrows()
            ],
        )

    @app.get("/api/jobs/{job_id}", response_model=JobAnswer)
    def job_state(job_id: str) -> JobAnswer:
        return _job_answer(_job(jobs, job_id))

    @app.delete("/api/jobs/{job_id}", response_model=JobAnswer)
    def cancel_job(job_id: str) -> JobAnswer:
        """Cancel a job, for every client sharing it: a queued one is dropped, a running one
        stops at its next progress step (answered once it has, or after a few seconds while it
        still runs); a finished job is left as it is. Answers the job's state."""
        job = jobs.cancel(job_id, wait=CANCEL_WAIT_SECONDS)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept for a while)")
        return _job_answer(job)

    @app.get("/api/jobs/{job_id}/points", response_class=Response)
    def job_points(job_id: str) -> Response:
        """The projection as an Arrow IPC stream: ``key``, ``label`` (left out where it is
        the key, as in word spaces), ``x``, ``y`` (and ``z``) as float32, ``norm``, plus the
        metadata columns."""
        job = _projection(jobs, job_id)
        return Response(_arrow_stream(_with_norms(job.result)), media_type=ARROW_MEDIA_TYPE)

    @app.get("/api/jobs/{job_id}/points.{extension}", response_class=Response)
    def job_points_file(job_id: str, extension: Literal["csv", "parquet"]) -> Response:
        """The projection's rows as a CSV or Parquet file to download (what
        ``Projection.save`` writes: key, label, x, y(, z), metadata)."""
        job = _projection(jobs, job_id)
        sink = io.BytesIO()
        if extension == "csv":
            job.result.coords.to_csv(sink, index=False)
        else:
            job.result.coords.to_parquet(sink, index=False)
        return Response(
            sink.getvalue(),
            media_type="text/csv" if extension == "csv" else "application/vnd.apache.parquet",
            headers={
                "Content-Disposition": f'attachment; filename="{_file_name(job)}.{extension}"'
            },
        )

    # names per projection, computed once; only as many as the jobs kept (read and written in
    # the slow lane, one request at a time)
    clusters_of: dict[str, list[ClusterLabel]] = {}

    @app.get("/api/jobs/{job_id}/clusters", response_model=list[ClusterLabel])
    async def job_clusters(job_id: str) -> list[ClusterLabel]:
        """Names for the projection's dense regions (HDBSCAN on the projected points), largest
        first; computed once per projection."""
        from ..analysis.clusters import cluster_labels

        job = _projection(jobs, job_id)

        def named() -> list[ClusterLabel]:
            if job_id not in clusters_of:
                found = cluster_labels(job.result)
                for gone in [known for known in clusters_of if jobs.get(known) is None]:
                    del clusters_of[gone]
                clusters_of[job_id] = [
                    ClusterLabel(label=c.label, size=c.size, position=list(c.position))
                    for c in found
                ]
            return clusters_of[job_id]

        return await slow.run(named)

    @app.get("/api/jobs/{job_id}/figure.html", response_class=Response)
    async def job_figure(
        job_id: str,
        color: Annotated[ColourText | None, Query()] = None,
    ) -> Response:
        """The projection as a self-contained interactive HTML file (plotly, no CDN) to share:
        ``color`` is a metadata column or ``similarity:WORD``."""
        job = _projection(jobs, job_id)

        def html() -> str:
            figure = job.result.figure(color=color)
            return figure.to_html(
                include_plotlyjs=True, full_html=True, config={"displaylogo": False}
            )

        page = await slow.run(html)
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{_file_name(job)}.html"'},
        )

    if (STATIC / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=STATIC, html=True), name="front-end")
    return app


ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: an error message quoting what a client
    sent stays encodable whatever it sent (a lone surrogate has no UTF-8)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


async def _json_from(lane: Lane, answer: Any) -> Response:
    """Run ``answer()`` in ``lane`` and serialise its model there too: a profile's thousands of
    rows would otherwise be validated on the event loop, holding up every other request."""
    body = await lane.run(lambda: answer().model_dump_json().encode())
    return Response(body, media_type="application/json")


def _query_keys(space: EmbeddingSpace, resolved: ResolvedQuery) -> dict[str, Any]:
    """Which key(s) answered a query, their labels, and the text that asks the same again."""
    again = space.query_text(resolved.keys[0]) if len(resolved.keys) == 1 else resolved.text
    return {
        "query_keys": list(resolved.keys),
        "query_labels": list(resolved.labels),
        "query_text": again,
    }


def _one_token(space: EmbeddingSpace, word: str) -> ResolvedQuery:
    """The one row a word names (its key, label or word-start token, through the tokenizer
    when it is one piece); a word of several pieces is a 404 that lists them."""
    try:
        resolved = space.resolve(word)
    except UnknownKeyError as error:
        if len(error.pieces) < 2:
            raise
        raise UnknownKeyError(
            word,
            space_name=space.name,
            pieces=error.pieces,
            piece_labels=error.piece_labels,
            offer_mean=False,
        ) from None
    if len(resolved.keys) != 1:  # a document space's encoded text has no row of its own
        raise InvalidParameterError(
            f"the neighbourhood must be a row of {space.name}; {word!r} is not one"
        )
    return resolved


def _info(source_id: str, space: EmbeddingSpace) -> SourceInfo:
    from ..analysis.classes import label_column

    kind = space.provenance.kind if space.provenance is not None else "array"
    try:
        labels = label_column(space)
    except EmbscopeError:
        labels = None
    return SourceInfo(
        id=source_id,
        name=space.name,
        rows=len(space),
        dim=space.dim,
        metric=space.metric,
        kind=kind,
        columns=[str(c) for c in space.metadata.columns],
        label_column=labels,
    )


def _job(jobs: JobRunner, job_id: str):
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept for a while)")
    return job


def _done(jobs: JobRunner, job_id: str):
    job = _job(jobs, job_id)
    if job.state != "done":
        raise HTTPException(409, f"job {job_id} is {job.state}, not done")
    return job


def _projection(jobs: JobRunner, job_id: str):
    from ..projection.pipeline import Projection

    job = _done(jobs, job_id)
    if not isinstance(job.result, Projection):
        raise HTTPException(409, f"job {job_id} is not a projection")
    return job


def _job_answer(job) -> JobAnswer:
    from ..projection.pipeline import Projection

    rows = quality = None
    if job.state == "done" and isinstance(job.result, Projection):
        rows = len(job.result.coords)
        quality = {k: float(v) for k, v in _quality(job.result).items()}
    return JobAnswer(
        id=job.id,
        state=job.state,
        description=job.description,
        seconds=job.seconds,
        error=job.error,
        rows=rows,
        quality=quality,
        progress=job.progress,
        phase=job.phase,
    )


def _quality(projection: Any) -> Mapping[str, float]:
    quality = projection.quality
    return {
        name: getattr(quality, name)
        for name in ("trustworthiness", "knn_recall")
        if isinstance(getattr(quality, name, None), int | float)
    }


def _number(value: Any) -> float | None:
    """A float for JSON, None for NaN (a class of one row has no within-class pairs)."""
    value = float(value)
    return None if value != value else value


def _records(frame: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _file_name(job) -> str:
    return "embscope-" + (re.sub(r"[^\w.-]+", "-", job.description).strip("-") or "projection")


def _with_norms(projection: Any) -> Any:
    """The projection's rows with each row's vector length added (``norm``, unless the
    metadata has one): the page colours, plots and filters by it, and short vectors are where
    rare and under-trained tokens sit."""
    coords = projection.coords
    if "norm" in coords.columns:
        return coords
    return coords.assign(norm=np.asarray(projection.space.norms, np.float32)[projection.rows])


def _arrow_stream(frame: Any) -> bytes:
    import pyarrow as pa

    if "label" in frame.columns and frame["label"].equals(frame["key"]):
        frame = frame.drop(columns="label")  # a word space's labels are its keys: half the bytes
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = {}
    for name in table.column_names:
        column = table[name]
        if name in ("x", "y", "z"):
            column = column.cast(pa.float32())
        columns[name] = column
    table = pa.table(columns)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
