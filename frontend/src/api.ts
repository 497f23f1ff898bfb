// Typed calls to the embscope server (src/embscope/server/app.py). Paths are relative so the
// page keeps working when a reverse proxy mounts the server under a sub-path. The interfaces
// are written by hand after the server's pydantic models; tests/test_frontend_contract.py
// holds them (and METRICS) to the server's OpenAPI schemas.

import { tableFromIPC, type Table } from "apache-arrow";

export type Metric = "cosine" | "euclidean" | "dot";
export const METRICS: readonly Metric[] = ["cosine", "euclidean", "dot"];

export interface Source {
  id: string;
  name: string;
  rows: number;
  dim: number;
  metric: string;
  kind: string;
  columns: string[];
  /** the column of classes, when the space has one (a document space's labels) */
  label_column: string | null;
}

export interface Hit {
  rank: number;
  row: number;
  key: string;
  label: string;
  score: number;
}

/** Kinds of rows a list can leave out: a tokenizer's special tokens, reserved [unusedN] slots,
 * pieces that continue a word, single bytes (the server's ``skip``). */
export type SkipKind = "special" | "unused" | "pieces" | "bytes";
export const SKIP_KINDS: readonly SkipKind[] = ["special", "unused", "pieces", "bytes"];

/** What a word that is not one token here does: 404 with its pieces, or their mean. */
export type Pieces = "error" | "mean";

/** A completion: the row's key, its label as tables show it (␣king for Ġking), and the text
 * that asks about exactly that row (the label, ##king for a piece inside words, or the key). */
export interface Completion {
  key: string;
  label: string;
  query: string;
}

/** Which key(s) answered a query: the word's own, its word-start token (king: ␣king), or its
 * pieces (their mean); and the text that asks the same again. */
export interface QueryKeys {
  query_keys: string[];
  query_labels: string[];
  query_text: string;
}

/** How far a list's order can be trusted: where its scores lie so close together that rows
 * left out score inside the same band, it is a near tie, and ``line`` says so. */
export interface Stability {
  listed: number;
  span: number;
  band_rows: number;
  score_spread: number;
  rows_ranked: number;
  near_tie: boolean;
  line: string;
}

export interface Neighbors extends QueryKeys {
  source: string;
  query: string;
  metric: Metric;
  opposite: boolean;
  hits: Hit[];
  /** of the first ``listed`` rows asked for (all of them by default) */
  stability: Stability | null;
}

export interface Similarity {
  source: string;
  a: string;
  b: string;
  a_keys: string[];
  a_labels: string[];
  b_keys: string[];
  b_labels: string[];
  metric: Metric;
  score: number;
}

/** One query's cosine and Euclidean rankings side by side (the BERT lecture's profile). */
export interface Profile extends QueryKeys {
  source: string;
  query: string;
  rank_correlation: number;
  overlap: number;
  /** the top rows by cosine: key, label, norm, cosine, euclidean, their ranks */
  rows: Record<string, unknown>[];
  euclidean_rows: Record<string, unknown>[];
  /** [cosine, euclidean] of a sample of rows */
  sample: number[][];
}

export const profile = (
  source: string,
  word: string,
  topK = 10,
  pieces: Pieces = "error",
  signal?: AbortSignal,
) =>
  call<Profile>(`${sourcePath(source)}/profile?${query({ query: word, top_k: topK, pieces })}`, {
    signal,
  });

export type Method = "pca" | "tsne" | "umap" | "axes";

export interface ProjectionRequest {
  method: Method;
  n_components: 2 | 3;
  /** "axes": the two ends of x and of y (a word, or words joined by "+"); 2-D only */
  x_positive?: string;
  x_negative?: string;
  y_positive?: string;
  y_negative?: string;
  neighborhood?: string;
  similar?: number;
  opposite?: number;
  perplexity?: number;
  n_neighbors?: number;
  random_state?: number;
}

export interface Job {
  id: string;
  state: "queued" | "running" | "done" | "failed" | "cancelled";
  description: string;
  seconds: number | null;
  error: string | null;
  rows: number | null;
  quality: Record<string, number> | null;
  /** fraction done (0 to 1) while running, where the work reports it */
  progress: number | null;
  phase: string | null;
  /** the token a neighbourhood projection is around (in the answer that started it; else null) */
  query_keys: string[] | null;
  query_labels: string[] | null;
  /** what each axis of a finished projection holds, as the Python figures title them: an axes
   * projection's words ("good − bad  →"), a PCA component's share of the variance; [] for
   * t-SNE and UMAP, whose axes mean nothing; null before it is done */
  axis_titles: string[] | null;
}

/** A 4xx/5xx answer. An unknown word comes back as 404 with the closest vocabulary keys, a
 * word of several tokens with its pieces (their keys, and their labels to show). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly suggestions: string[] = [],
    readonly pieces: string[] = [],
    readonly pieceLabels: string[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }

  get unknownWord(): boolean {
    return this.status === 404 && this.suggestions.length + this.pieces.length > 0;
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let detail = `${response.status} ${response.statusText}`;
  let suggestions: string[] = [];
  let pieces: string[] = [];
  let pieceLabels: string[] = [];
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") {
      const { detail: d, suggestions: s, pieces: p, piece_labels: l } = body as Record<
        string,
        unknown
      >;
      if (typeof d === "string") detail = d;
      // FastAPI's validation errors are a list of {loc, msg, ...}
      else if (Array.isArray(d)) detail = d.map((e) => (e as { msg?: string }).msg ?? "").join("; ");
      if (Array.isArray(s)) suggestions = s.map(String);
      if (Array.isArray(p)) pieces = p.map(String);
      if (Array.isArray(l)) pieceLabels = l.map(String);
    }
  } catch {
    // not JSON (a proxy's error page): the status line is all there is
  }
  return new ApiError(response.status, detail, suggestions, pieces, pieceLabels);
}

/** ``init.signal`` aborts the request: an answer nobody waits for any more (see latest.ts). */
async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

function query(params: Record<string, string | number | boolean>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) search.set(name, String(value));
  return search.toString();
}

const sourcePath = (source: string) => `api/sources/${encodeURIComponent(source)}`;

export const listSources = () => call<Source[]>("api/sources");

/** Rows whose key or label starts with ``prefix``; a plain prefix offers words first. */
export const complete = (source: string, prefix: string, limit = 10, signal?: AbortSignal) =>
  call<Completion[]>(`${sourcePath(source)}/complete?${query({ prefix, limit })}`, { signal });

/** How a query is read: ``exact`` sends a key as the answers give it (a clicked row), else
 * the text is read as typed (a word, a label, ##piece); ``pieces`` decides for a word of
 * several tokens. */
export interface Asking {
  exact?: boolean;
  pieces?: Pieces;
}

export const neighbors = (
  source: string,
  word: string,
  options: {
    topK: number;
    metric: Metric;
    opposite: boolean;
    listed?: number;
    skip?: readonly SkipKind[];
    /** search only the first N rows (a word-vector file's most frequent words) */
    restrictVocab?: number;
  } & Asking,
  signal?: AbortSignal,
) =>
  call<Neighbors>(
    `${sourcePath(source)}/neighbors?${query({
      query: word,
      top_k: options.topK,
      metric: options.metric,
      opposite: options.opposite,
      exact: options.exact ?? false,
      pieces: options.pieces ?? "error",
      // the rows the page lists: the stability note is about them
      ...(options.listed ? { listed: options.listed } : {}),
      // comma-separated: the kinds of rows left out
      ...(options.skip?.length ? { skip: options.skip.join(",") } : {}),
      ...(options.restrictVocab ? { restrict_vocab: options.restrictVocab } : {}),
    })}`,
    { signal },
  );

export const similarity = (
  source: string,
  a: string,
  b: string,
  metric: Metric,
  pieces: Pieces = "error",
  signal?: AbortSignal,
) =>
  call<Similarity>(`${sourcePath(source)}/similarity?${query({ a, b, metric, pieces })}`, {
    signal,
  });

/** The server takes only JSON in requests that change state (no cross-site form can send it). */
const postJson = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

export const startProjection = (source: string, request: ProjectionRequest, signal?: AbortSignal) =>
  call<Job>(`${sourcePath(source)}/projections`, { ...postJson(request), signal });

export const job = (id: string, signal?: AbortSignal) =>
  call<Job>(`api/jobs/${encodeURIComponent(id)}`, { signal });

export interface TokenCandidate {
  rank: number;
  token_id: number;
  key: string;
  label: string;
  category: string;
  value: number;
}

export interface TokenScan {
  summary: Record<string, unknown>;
  indicator: string | null;
  /** why the candidates are not evidence (no reference tokens), or null */
  caution: string | null;
  candidates: TokenCandidate[];
}

export interface Classes {
  source: string;
  label_column: string;
  labels: string[];
  counts: number[];
  mean: (number | null)[][];
  within: (number | null)[];
  between: (number | null)[];
}

/** A labelled space's class-similarity matrix (an error for a space without labels). */
export const classes = (source: string) => call<Classes>(`${sourcePath(source)}/classes`);

export const startTokenScan = (source: string, signal?: AbortSignal) =>
  call<Job>(`${sourcePath(source)}/tokens`, { ...postJson({}), signal });

export const tokenScan = (id: string, top: number, signal?: AbortSignal) =>
  call<TokenScan>(`api/jobs/${encodeURIComponent(id)}/tokens?top=${top}`, { signal });

export interface ClusterLabel {
  label: string;
  size: number;
  position: number[];
}

/** Names for a finished projection's dense regions, largest first. */
export const clusters = (id: string) =>
  call<ClusterLabel[]>(`api/jobs/${encodeURIComponent(id)}/clusters`);

/** Where a finished projection's rows download as a CSV or Parquet file. */
export const pointsFileUrl = (id: string, format: "csv" | "parquet") =>
  `api/jobs/${encodeURIComponent(id)}/points.${format}`;

/** Where a finished projection downloads as a self-contained interactive HTML figure, coloured
 * by a metadata column or by ``similarity:<query>``. */
export const figureUrl = (id: string, color: string) =>
  `api/jobs/${encodeURIComponent(id)}/figure.html${color ? `?color=${encodeURIComponent(color)}` : ""}`;

/** What a download URL (pointsFileUrl, figureUrl) answers, as a file. The page in the notebook
 * widget has no server to follow a link to; its ``fetch`` is answered by the kernel. */
export async function file(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw await errorOf(response);
  return await response.blob();
}

/** A finished projection's rows: key, label, x, y (z) as float32 and the metadata columns. */
export async function points(id: string, signal?: AbortSignal): Promise<Table> {
  const response = await fetch(`api/jobs/${encodeURIComponent(id)}/points`, { signal });
  if (!response.ok) throw await errorOf(response);
  return tableFromIPC(new Uint8Array(await response.arrayBuffer()));
}

/** The query's score against every point of a finished projection of ``source``, in the
 * order of its points (an Arrow stream of one float32 column). */
export async function rowScores(
  source: string,
  jobId: string,
  word: string,
  options: { metric: Metric; pieces: Pieces },
  signal?: AbortSignal,
): Promise<Float32Array> {
  const path = `${sourcePath(source)}/projections/${encodeURIComponent(jobId)}/scores`;
  const asked = query({ query: word, metric: options.metric, pieces: options.pieces });
  const response = await fetch(`${path}?${asked}`, { signal });
  if (!response.ok) throw await errorOf(response);
  const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
  return Float32Array.from(table.getChild("score")?.toArray() ?? []);
}

// ---- two sources compared (embscope.compare) ----------------------------------------------------

export interface CompareRequest {
  a: string;
  b: string;
  top_k?: number;
}

export interface ComparisonFigure {
  name: string;
  /** null where the figure is undefined (NaN) */
  value: number | null;
  chance: number | null;
  meaning: string;
}

/** A comparison's summary: every figure with its chance level. */
export interface Comparison {
  a: string;
  b: string;
  space_a: string;
  space_b: string;
  line: string;
  coverage: string;
  shared_keys: number;
  only_a: number;
  only_b: number;
  composed_keys: number;
  metric: Metric;
  top_k: number;
  overlap: number | null;
  overlap_chance: number | null;
  jaccard: number | null;
  jaccard_chance: number | null;
  similarity_spearman: number | null;
  similarity_pvalue: number | null;
  pairs: number;
  reference_spearman: number | null;
  cka: number | null;
  cka_chance: number | null;
  alignment: "orthogonal" | "least-squares";
  fitted_on: number;
  dims: number[];
  residual: number | null;
  residual_chance: number | null;
  aligned_cosine: number | null;
  aligned_cosine_chance: number | null;
  figures: ComparisonFigure[];
  /** shared keys by how many of their top_k neighbours both spaces share (0 to top_k) */
  overlap_counts: number[];
}

/** One shared key's figures; moved_rank 1 is the key that moved most. */
export interface ComparedWord {
  key: string;
  label: string;
  moved_rank: number;
  overlap: number;
  shared_neighbors: number;
  jaccard: number;
  rank_correlation: number | null;
  aligned_cosine: number;
  norm_a: number;
  norm_b: number;
}

export interface Moved {
  a: string;
  b: string;
  top_k: number;
  least: boolean;
  words: ComparedWord[];
}

export interface ComparedHit extends Hit {
  /** the other space's list holds it too */
  in_both: boolean;
}

/** A word's neighbours in both spaces, side by side. */
export interface SideBySide {
  a: string;
  b: string;
  word: string;
  space_a: string;
  space_b: string;
  metric: Metric;
  a_keys: string[];
  a_labels: string[];
  b_keys: string[];
  b_labels: string[];
  hits_a: ComparedHit[];
  hits_b: ComparedHit[];
  shared: number;
  /** the word's own figures, where it is one shared key */
  figures: ComparedWord | null;
  stability_a: Stability | null;
  stability_b: Stability | null;
}

const comparePath = (a: string, b: string, what: string, params: Record<string, string | number | boolean>) =>
  `api/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}/${what}?${query(params)}`;

/** Starts (or joins) the comparison of ``b`` with ``a``; a comparison already made answers a
 * job that is done. */
export const startComparison = (request: CompareRequest, signal?: AbortSignal) =>
  call<Job>("api/compare", { ...postJson(request), signal });

export const comparison = (a: string, b: string, topK: number, signal?: AbortSignal) =>
  call<Comparison>(comparePath(a, b, "summary", { top_k: topK }), { signal });

export const moved = (
  a: string,
  b: string,
  topK: number,
  top: number,
  least: boolean,
  signal?: AbortSignal,
) => call<Moved>(comparePath(a, b, "moved", { top_k: topK, top, least }), { signal });

export const sideBySide = (
  a: string,
  b: string,
  topK: number,
  word: string,
  exact: boolean,
  signal?: AbortSignal,
) => call<SideBySide>(comparePath(a, b, "neighbors", { top_k: topK, word, exact }), { signal });

/** A seeded sample of shared keys placed by one PCA of A's rows and B's aligned rows:
 * key, label, x_a, y_a, x_b, y_b (float32), moved; the schema's metadata holds "explained". */
export async function jointLayout(
  a: string,
  b: string,
  topK: number,
  sample: number,
  moved: number,
  signal?: AbortSignal,
): Promise<Table> {
  const response = await fetch(comparePath(a, b, "layout", { top_k: topK, sample, moved }), {
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return tableFromIPC(new Uint8Array(await response.arrayBuffer()));
}
