// The explorer page: a query's neighbours and opposites, the similarity of two words, and a
// projection of the space (or of the query's neighbourhood) as a point cloud.

import "./style.css";
import * as api from "./api";
import { ApiError, type Asking, type Hit, type Metric, type Pieces } from "./api";
import { Cloud, type DragMode, type Highlight, type Marker } from "./cloud";
import {
  FADED,
  GROUPS,
  SELECTED,
  NEUTRAL,
  PLAIN,
  ScoreScale,
  categorical,
  css,
  diverging,
  sequential,
  type RGBA,
} from "./colors";
import { renderHistograms } from "./histograms";
import { PointSet } from "./points";
import { renderProfile } from "./profile";
import { Selection } from "./selection";
import { renderTable, type Scores } from "./table";

/** rows shown in each list */
const LIST_K = 15;
/** rows asked for on each side: enough to colour the whole of a neighbourhood projection and
 * the query's surroundings in a full one, still a small answer */
const COLOUR_K = 300;
/** opposites offered a name in the cloud (after the query and the listed neighbours) */
const LABELLED_OPPOSITES = 5;
const NEIGHBOURHOOD = { similar: 30, opposite: 30 };
/** rows in each of the profile's two top lists */
const PROFILE_K = 10;
const POLL_MS = 300;
const FIRST_WORDS = ["good", "king", "the"];
const BACKGROUND = "#fbfbfd";
const METRIC_NAMES: Record<Metric, string> = {
  cosine: "cosine similarity",
  euclidean: "euclidean distance",
  dot: "dot product",
};

function byTestId<T extends Element>(id: string): T {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`the page has no [data-testid="${id}"]`);
  return element;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id) as T | null;
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

const ui = {
  source: byTestId<HTMLSelectElement>("source"),
  sourceInfo: byId<HTMLElement>("source-info"),
  searchForm: byId<HTMLFormElement>("search-form"),
  query: byTestId<HTMLInputElement>("query"),
  metric: byTestId<HTMLSelectElement>("metric"),
  message: byTestId<HTMLElement>("message"),
  neighbors: byTestId<HTMLOListElement>("neighbors"),
  opposites: byTestId<HTMLOListElement>("opposites"),
  simForm: byId<HTMLFormElement>("sim-form"),
  simA: byTestId<HTMLInputElement>("sim-a"),
  simB: byTestId<HTMLInputElement>("sim-b"),
  simResult: byTestId<HTMLElement>("sim-result"),
  classes: byTestId<HTMLElement>("classes"),
  classMatrix: byTestId<HTMLTableElement>("class-matrix"),
  tokensGo: byTestId<HTMLButtonElement>("tokens-go"),
  tokensStatus: byTestId<HTMLElement>("tokens-status"),
  tokenCandidates: byTestId<HTMLOListElement>("token-candidates"),
  projectionForm: byId<HTMLFormElement>("projection-form"),
  method: byTestId<HTMLSelectElement>("method"),
  dims: byTestId<HTMLSelectElement>("dims"),
  parameterLabel: byTestId<HTMLLabelElement>("parameter-label"),
  parameterName: byId<HTMLElement>("parameter-name"),
  parameter: byTestId<HTMLInputElement>("parameter"),
  neighborhood: byTestId<HTMLInputElement>("neighborhood"),
  status: byTestId<HTMLElement>("projection-status"),
  progress: byTestId<HTMLProgressElement>("projection-progress"),
  dragMode: byTestId<HTMLSelectElement>("drag-mode"),
  rowsPanel: byTestId<HTMLElement>("rows-panel"),
  selectionCount: byTestId<HTMLElement>("selection-count"),
  clearSelection: byTestId<HTMLButtonElement>("clear-selection"),
  histograms: byTestId<HTMLElement>("histograms"),
  rowTable: byTestId<HTMLTableElement>("row-table"),
  profile: byTestId<HTMLElement>("profile"),
  profilePlot: byTestId<SVGSVGElement>("profile-plot"),
  profileSummary: byTestId<HTMLElement>("profile-summary"),
  profileCosine: byTestId<HTMLOListElement>("profile-cosine"),
  profileEuclidean: byTestId<HTMLOListElement>("profile-euclidean"),
  tokensProgress: byTestId<HTMLProgressElement>("tokens-progress"),
  tokensFlagged: byTestId<HTMLElement>("tokens-flagged"),
  cloud: byTestId<HTMLDivElement>("cloud"),
  colour: byTestId<HTMLSelectElement>("color"),
  clusterLabels: byTestId<HTMLInputElement>("cluster-labels"),
  legend: byTestId<HTMLElement>("legend"),
  exportCsv: byTestId<HTMLButtonElement>("export-csv"),
  exportPng: byTestId<HTMLButtonElement>("export-png"),
  exportParquet: byTestId<HTMLButtonElement>("export-parquet"),
  exportHtml: byTestId<HTMLButtonElement>("export-html"),
  completions: byId<HTMLDataListElement>("completions"),
};

/** One query's answer: what the lists show and the cloud is coloured by. */
interface Answer {
  /** the text that asks it again (one token's label, ##piece, or the word as typed) */
  query: string;
  keys: string[];
  labels: string[];
  pieces: Pieces;
  metric: Metric;
  similar: Hit[];
  opposite: Hit[];
  scale: ScoreScale;
}

interface Projection {
  source: string;
  request: api.ProjectionRequest;
  job: api.Job;
  points: PointSet;
}

const state = {
  sources: [] as api.Source[],
  source: null as api.Source | null,
  answer: null as Answer | null,
  projection: null as Projection | null,
  // every request bumps its counter; an answer that comes back after a newer request started
  // is dropped instead of overwriting the newer one
  searchSeq: 0,
  projectSeq: 0,
  similaritySeq: 0,
  completeSeq: 0,
  // the histograms' bars, the legend's categories and the cloud's rectangle, combined: the
  // points outside it are drawn faint and answer no hover or click
  selection: null as Selection | null,
  profileSeq: 0,
  tokenSeq: 0,
  // the last token scan's candidates, ringed in the cloud wherever the projection holds them
  candidates: [] as api.TokenCandidate[],
};

const cloud = new Cloud(ui.cloud, {
  onPick: (index) => {
    const points = state.projection?.points;
    if (points && !isHidden(index)) void search(points.key(index), { exact: true });
  },
  onHover: (index) => {
    const points = state.projection?.points;
    markRows(index === null || !points || isHidden(index) ? null : points.key(index));
  },
  onDrawn: (count) => {
    document.body.dataset.points = String(count);
  },
  onError: (error) => showMessage(`drawing failed: ${error.message}`, "error"),
  onBoxSelect: (inside) => {
    state.selection?.setBrush(inside);
    selectionChanged();
  },
});

// ---- messages -------------------------------------------------------------------------------

function showMessage(text: string, kind: "error" | "notice" = "notice"): void {
  ui.message.replaceChildren(text);
  ui.message.dataset.kind = kind;
}

function clearMessage(): void {
  ui.message.replaceChildren();
  delete ui.message.dataset.kind;
}

function linkButton(text: string, testId: string, onClick: () => void): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = text;
  button.dataset.testid = testId;
  button.addEventListener("click", onClick);
  return button;
}

/** The server's answer to an unknown word: the closest keys, each a button that searches it;
 * or a word of several tokens: its pieces as tables show them, and (where ``useMean`` is
 * given) a button that asks again with their mean. */
function showUnknown(word: string, error: ApiError, useMean?: () => void): void {
  // the server names the word it could not find (similarity has two candidates)
  const named = /^(['"])(.*)\1 is not (?:in|a single entry)/.exec(error.message)?.[2] ?? word;
  if (error.pieces.length > 1) {
    const labels = error.pieceLabels.length > 0 ? error.pieceLabels : error.pieces;
    const parts: (string | Node)[] = [`"${named}" is not one token here: it splits into `];
    const pieces = document.createElement("span");
    pieces.className = "pieces";
    pieces.dataset.testid = "pieces";
    pieces.textContent = labels.join(" + ");
    parts.push(pieces);
    if (useMean) parts.push("; ", linkButton("use the mean of their vectors", "use-mean", useMean));
    ui.message.replaceChildren(...parts);
    ui.message.dataset.kind = "error";
    return;
  }
  const parts: (string | Node)[] = [`no word "${named}"`];
  if (error.suggestions.length > 0) {
    parts.push("; did you mean: ");
    error.suggestions.forEach((suggestion, i) => {
      if (i > 0) parts.push(", ");
      parts.push(linkButton(suggestion, "suggestion", () => void search(suggestion)));
    });
    parts.push(", …");
  }
  ui.message.replaceChildren(...parts);
  ui.message.dataset.kind = "error";
}

function report(error: unknown, word = "", useMean?: () => void): void {
  if (error instanceof ApiError && error.unknownWord) showUnknown(word, error, useMean);
  else if (error instanceof ApiError) showMessage(error.message, "error");
  else if (error instanceof TypeError) showMessage("the server did not answer", "error");
  else showMessage(error instanceof Error ? error.message : String(error), "error");
}

// ---- sources --------------------------------------------------------------------------------

async function loadSources(): Promise<void> {
  try {
    state.sources = await api.listSources();
  } catch (error) {
    report(error);
    return;
  }
  ui.source.replaceChildren(
    ...state.sources.map((source) => new Option(`${source.name} (${source.kind})`, source.id)),
  );
  document.body.dataset.ready = "1";
  if (state.sources[0]) await selectSource(state.sources[0].id);
  else showMessage("this server has no sources", "error");
}

async function selectSource(id: string): Promise<void> {
  const source = state.sources.find((s) => s.id === id);
  if (!source) return;
  state.source = source;
  ui.source.value = id;
  ui.sourceInfo.textContent = `${source.rows.toLocaleString("en")} rows · ${source.dim} dims`;
  if ((api.METRICS as readonly string[]).includes(source.metric)) ui.metric.value = source.metric;
  state.answer = null;
  state.projection = null;
  void showClasses(source);
  // another vocabulary: the last one's token candidates no longer apply
  ui.tokenCandidates.replaceChildren();
  ui.tokensStatus.textContent = "";
  showCaution(null);
  delete document.body.dataset.tokens;
  state.projectSeq++;
  cloud.clear();
  delete document.body.dataset.points;
  renderLists();
  ui.simResult.textContent = "";
  clearMessage();
  setExports(false);
  state.selection = null;
  state.candidates = [];
  state.tokenSeq++;
  ui.tokensProgress.hidden = true;
  ui.tokensGo.disabled = false;
  renderSelection();
  ui.profile.hidden = true;
  const word = await firstWord(source, ui.query.value.trim());
  if (state.source !== source) return;
  if (word) await search(word);
  if (state.source === source) void project();
}

/** The word on screen if this source has it too, else a common word, else the first key of
 * the vocabulary. Asked through completion, because a search for a missing word answers 404,
 * which the browser logs as an error. */
async function firstWord(source: api.Source, current: string): Promise<string | null> {
  const offered = (prefix: string, limit: number) =>
    api.complete(source.id, prefix, limit).catch(() => [] as api.Completion[]);
  // a word names a row as its key, its label, the text offered for it, or its word-start token
  const has = async (word: string) =>
    (await offered(word, 50)).some(
      (c) => [c.key, c.label, c.query].includes(word) || c.label === `␣${word}`,
    );
  for (const word of [current, ...FIRST_WORDS]) {
    if (word && (await has(word))) return word;
  }
  for (const prefix of ["a", "e", "s", "t", "d", "1", "0", "#", "["]) {
    const [first] = await offered(prefix, 1);
    if (first) return first.query;
  }
  return null;
}

// ---- neighbours and opposites ---------------------------------------------------------------

/** Asks for a query's neighbours and opposites. ``exact``: ``word`` is a key as the answers
 * give it (a clicked row, a picked completion), answered by exactly that row; otherwise it is
 * read as typed (a word is its word-start token where the vocabulary has them, a label is its
 * row, ##piece a piece inside words). A word of several tokens is refused with its pieces
 * unless ``pieces`` is "mean". */
async function search(word: string, asking: Asking = {}): Promise<boolean> {
  const source = state.source;
  word = word.trim();
  if (!source) return false;
  const seq = ++state.searchSeq;
  if (!word) {
    // an empty search clears the query, and the cloud goes back to its groups
    state.answer = null;
    delete document.body.dataset.query;
    delete document.body.dataset.queryKeys;
    renderLists();
    recolour();
    renderSelection();
    return true;
  }
  const metric = ui.metric.value as Metric;
  const pieces = asking.pieces ?? "error";
  if (!asking.exact) ui.query.value = word;
  const typed = ui.query.value;
  document.body.classList.add("searching");
  try {
    const ask = (opposite: boolean) =>
      api.neighbors(source.id, word, { topK: COLOUR_K, metric, opposite, ...asking });
    const [similar, opposite] = await Promise.all([ask(false), ask(true)]);
    if (seq !== state.searchSeq) return false;
    // a row asked for by its key shows as one types it: ␣king, not Ġking (unless the box was
    // typed in meanwhile)
    const shown = asking.exact ? similar.query_text : word;
    if (ui.query.value === typed) ui.query.value = shown;
    state.answer = {
      query: similar.query_text,
      keys: similar.query_keys,
      labels: similar.query_labels,
      pieces,
      metric,
      similar: similar.hits,
      opposite: opposite.hits,
      scale: new ScoreScale(
        [...similar.hits, ...opposite.hits].map((h) => h.score),
        metric,
      ),
    };
    renderLists();
    recolour();
    renderSelection();
    const keys = similar.query_keys;
    const labels = similar.query_labels;
    if (keys.length > 1) {
      const mean = labels.join(" + ");
      showMessage(`"${shown}" is not one token here: it stands for the mean of ${mean}`);
    } else if (keys.length === 1 && shown !== keys[0] && shown !== labels[0]) {
      // a word answered by its word-start token (king: ␣king), or in another case
      showMessage(`"${shown}" was looked up as ${labels[0]}`);
    } else {
      clearMessage();
    }
    document.body.dataset.query = shown;
    document.body.dataset.queryKeys = keys.join(" ");
    // the profile is one row's (a typed sentence or a mean of pieces has no row to rank against)
    if (keys.length === 1) void showProfile(source, similar.query_text);
    else ui.profile.hidden = true;
    return true;
  } catch (error) {
    if (seq !== state.searchSeq) return false;
    const useMean =
      pieces === "error" ? () => void search(word, { ...asking, pieces: "mean" }) : undefined;
    report(error, word, useMean);
    return false;
  } finally {
    if (seq === state.searchSeq) document.body.classList.remove("searching");
  }
}

function renderLists(): void {
  const answer = state.answer;
  // the hovered row is about to go, and a removed element gets no mouseleave
  cloud.setHover(null);
  ui.neighbors.replaceChildren(...(answer ? answer.similar.slice(0, LIST_K).map(hitRow) : []));
  ui.opposites.replaceChildren(...(answer ? answer.opposite.slice(0, LIST_K).map(hitRow) : []));
}

function hitRow(hit: Hit): HTMLLIElement {
  const scale = state.answer?.scale;
  const row = document.createElement("li");
  row.dataset.testid = "hit";
  row.dataset.key = hit.key;
  row.tabIndex = 0;
  row.title = `${hit.label}: make it the query`;
  const cell = (className: string, text: string) => {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  };
  const bar = cell("bar", "");
  const fill = document.createElement("span");
  const width = scale ? (100 * Math.abs(hit.score)) / scale.magnitude : 0;
  fill.style.width = `${Math.max(1, width).toFixed(1)}%`;
  fill.style.background = scale ? css(scale.color(hit.score)) : "";
  bar.append(fill);
  row.append(cell("rank", String(hit.rank)), cell("label", hit.label), cell("score", formatScore(hit.score)), bar);
  // keyboard focus points at the cloud as the mouse does
  for (const enter of ["mouseenter", "focus"]) row.addEventListener(enter, () => hoverKey(hit.key));
  for (const leave of ["mouseleave", "blur"]) row.addEventListener(leave, () => hoverKey(null));
  row.addEventListener("click", () => void search(hit.key, { exact: true }));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") void search(hit.key, { exact: true });
  });
  return row;
}

const formatScore = (score: number) =>
  Math.abs(score) >= 100 ? score.toFixed(1) : score.toFixed(3);

function hoverKey(key: string | null): void {
  markRows(key);
  const index = key === null ? undefined : state.projection?.points.indexOf(key);
  cloud.setHover(index ?? null);
}

/** Marks the list rows of a key (the one hovered in the cloud or in a list). */
function markRows(key: string | null): void {
  for (const row of document.querySelectorAll("li.hot")) row.classList.remove("hot");
  if (key === null) return;
  for (const row of document.querySelectorAll(`li[data-key="${CSS.escape(key)}"]`)) {
    row.classList.add("hot");
  }
}

// ---- colouring the cloud --------------------------------------------------------------------

let baseColours: {
  points: PointSet;
  queried: boolean;
  column: string;
  colours: Uint8ClampedArray;
} | null = null;

/** Every point's colour: by the chosen metadata column; else neutral under a query (its scored
 * points are drawn over them), else the neighbourhood's groups, else one colour. Rebuilt only
 * when that choice changes. */
function coloursOf(points: PointSet, queried: boolean): Uint8ClampedArray {
  const column = ui.colour.value;
  if (
    baseColours?.points === points &&
    baseColours.queried === queried &&
    baseColours.column === column
  )
    return baseColours.colours;
  const colours = new Uint8ClampedArray(points.length * 4);
  const paint = (i: number, c: RGBA) => colours.set(c, 4 * i);
  if (column && points.colourColumns.includes(column)) {
    paintByColumn(points, column, paint);
  } else {
    ui.legend.hidden = true;
    for (let i = 0; i < points.length; i++) {
      if (queried) paint(i, NEUTRAL);
      else if (points.groups) paint(i, GROUPS[points.group(i) ?? ""] ?? NEUTRAL);
      else paint(i, PLAIN);
    }
  }
  baseColours = { points, queried, column, colours };
  return colours;
}

/** Outside the selection: drawn faint, no hover, no click. */
function isHidden(index: number): boolean {
  return state.selection !== null && !state.selection.passes(index);
}

/** Colours from a metadata column (categories or a numeric ramp by rank), with a legend whose
 * categories switch on and off when clicked (the cloud's filter). */
function paintByColumn(points: PointSet, column: string, paint: (i: number, c: RGBA) => void): void {
  const found = points.colourValues(column);
  const entries: [string, RGBA][] = [];
  if (found.kind === "categories") {
    for (let i = 0; i < points.length; i++) paint(i, categorical(found.codes[i] ?? 0));
    found.names.slice(0, 12).forEach((name, code) => entries.push([name, categorical(code)]));
    if (found.names.length > 12) entries.push([`… ${found.names.length - 12} more`, NEUTRAL]);
  } else {
    // by rank, so a few extreme values don't wash the rest out
    const order = Array.from(found.values.keys()).sort(
      (a, b) => (found.values[a] ?? 0) - (found.values[b] ?? 0),
    );
    const last = Math.max(1, order.length - 1);
    order.forEach((index, rank) => paint(index, sequential(rank / last)));
    const low = found.values[order[0] ?? 0] ?? 0;
    const high = found.values[order[order.length - 1] ?? 0] ?? 0;
    entries.push([`${low.toPrecision(3)} (lowest)`, sequential(0)]);
    entries.push([`${high.toPrecision(3)} (highest)`, sequential(1)]);
  }
  const categories = found.kind === "categories";
  const swatches = entries.map(([name, colour]) => {
    const entry = document.createElement("span");
    entry.className = "entry";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = css(colour);
    entry.append(swatch, name);
    if (categories && !name.startsWith("… ")) {
      entry.dataset.testid = "legend-entry";
      entry.classList.add("toggle");
      const mark = () => {
        const off = state.selection?.isHidden(column, name) ?? false;
        entry.classList.toggle("off", off);
        entry.title = off ? "show these points" : "hide these points";
      };
      mark();
      entry.addEventListener("click", () => {
        state.selection?.toggleHidden(column, name);
        mark();
        selectionChanged();
      });
    }
    return entry;
  });
  const title = document.createElement("strong");
  title.textContent = `${column}: `;
  ui.legend.replaceChildren(title, ...swatches);
  ui.legend.hidden = false;
}

/** The colour menu offers the drawn projection's metadata columns. */
function offerColourColumns(points: PointSet): void {
  const chosen = ui.colour.value;
  const options = [new Option("similarity to the query", "")];
  for (const name of points.colourColumns) options.push(new Option(name, name));
  ui.colour.replaceChildren(...options);
  ui.colour.value = points.colourColumns.includes(chosen) ? chosen : "";
}

let fadedColours: { base: Uint8ClampedArray; version: number; colours: Uint8ClampedArray } | null =
  null;

/** The colours with the points outside the selection faded to a trace. */
function selectedColours(points: PointSet): Uint8ClampedArray {
  const base = coloursOf(points, state.answer !== null);
  const selection = state.selection;
  if (!selection || !selection.active || selection.points !== points) return base;
  if (fadedColours?.base === base && fadedColours.version === selection.version) {
    return fadedColours.colours;
  }
  const colours = base.slice();
  // under a query the unscored points are a light grey, too close to the faded ones: the
  // selected among them are drawn darker
  const plain = !ui.colour.value && state.answer !== null;
  for (let i = 0; i < points.length; i++) {
    if (!selection.passes(i)) colours.set(FADED, 4 * i);
    else if (plain) colours.set(SELECTED, 4 * i);
  }
  fadedColours = { base, version: selection.version, colours };
  return colours;
}

function recolour(): void {
  const points = state.projection?.points;
  if (!points) return;
  const answer = state.answer;
  cloud.setColors(selectedColours(points));
  flagCandidates();
  if (!answer || ui.colour.value) {
    cloud.setHighlight({ scored: [], marked: [], query: null, labelled: [] });
    return;
  }
  const marker = (index: number, score: number): Marker => ({
    index,
    position: points.position(index),
    label: points.label(index),
    color: answer.scale.color(score),
    score,
  });
  const highlight: Highlight = { scored: [], marked: [], query: null, labelled: [] };
  answer.similar.forEach((hit, rank) => {
    const index = points.indexOf(hit.key);
    if (index === undefined || isHidden(index)) return;
    const m = marker(index, hit.score);
    highlight.scored.push(m);
    if (rank < LIST_K) {
      highlight.marked.push(m);
      highlight.labelled.push(m);
    }
  });
  answer.opposite.forEach((hit, rank) => {
    const index = points.indexOf(hit.key);
    if (index === undefined || isHidden(index)) return;
    const m = marker(index, hit.score);
    highlight.scored.push(m);
    if (rank < LABELLED_OPPOSITES) highlight.labelled.push(m);
  });
  const t = (m: Marker) => Math.abs(answer.scale.t(m.score ?? 0));
  highlight.scored.sort((a, b) => t(a) - t(b));
  const only = answer.keys.length === 1 ? answer.keys[0] : undefined;
  const queryIndex = only === undefined ? undefined : points.indexOf(only);
  if (queryIndex !== undefined) {
    highlight.query = {
      index: queryIndex,
      position: points.position(queryIndex),
      label: points.label(queryIndex),
      color: [20, 20, 24, 255],
    };
    highlight.labelled.unshift(highlight.query);
  }
  cloud.setHighlight(highlight);
}

// ---- cosine against Euclidean (the BERT lecture's profile) ----------------------------------

async function showProfile(source: api.Source, word: string): Promise<void> {
  const seq = ++state.profileSeq;
  try {
    const found = await api.profile(source.id, word, PROFILE_K);
    if (seq !== state.profileSeq || state.source !== source) return;
    renderProfile(
      ui.profilePlot,
      ui.profileSummary,
      { cosine: ui.profileCosine, euclidean: ui.profileEuclidean },
      found,
      (key) => void search(key, { exact: true }),
    );
    ui.profile.hidden = false;
    document.body.dataset.profile = word;
  } catch (error) {
    if (seq === state.profileSeq) report(error, word);
  }
}

// ---- the selection: histograms, the row table, the cloud's rectangle ----------------------

/** After any change to the selection: the cloud's colours, the bars, the table, the count. */
function selectionChanged(): void {
  recolour();
  renderSelection();
}

/** The current query's scores of the points the projection holds, for the table. */
function queryScores(points: PointSet): Scores | null {
  const answer = state.answer;
  if (!answer) return null;
  const byIndex = new Map<number, number>();
  for (const hit of [...answer.similar, ...answer.opposite]) {
    const index = points.indexOf(hit.key);
    if (index !== undefined) byIndex.set(index, hit.score);
  }
  return { name: answer.metric, byIndex, descending: answer.metric !== "euclidean" };
}

function renderSelection(): void {
  const selection = state.selection;
  if (!selection) {
    ui.rowsPanel.hidden = true;
    delete document.body.dataset.selected;
    return;
  }
  ui.rowsPanel.hidden = false;
  renderHistograms(ui.histograms, selection, (column, bar, add) => {
    selection.toggleBar(column, bar, add);
    selectionChanged();
  });
  renderTable(ui.rowTable, selection, {
    onPick: (index) => void search(selection.points.key(index), { exact: true }),
    onHover: (index) => {
      cloud.setHover(index);
      markRows(index === null ? null : selection.points.key(index));
    },
  }, queryScores(selection.points));
  const { count } = selection;
  const all = selection.points.length;
  ui.selectionCount.textContent =
    count === all
      ? `all ${all.toLocaleString("en")} rows`
      : `${count.toLocaleString("en")} of ${all.toLocaleString("en")} rows selected`;
  ui.clearSelection.disabled = !selection.active;
  document.body.dataset.selected = String(count);
}

// ---- classes of a labelled (document) space -------------------------------------------------

/** The class-similarity matrix when the source has labels; hidden otherwise. Each cell is the
 * mean cosine between members of two classes, shaded against the largest in the table. */
async function showClasses(source: api.Source): Promise<void> {
  ui.classes.hidden = true;
  ui.classMatrix.replaceChildren();
  delete document.body.dataset.classes;
  if (!source.label_column) return; // no classes to compare
  let found: api.Classes;
  try {
    found = await api.classes(source.id);
  } catch (error) {
    report(error);
    return;
  }
  if (state.source !== source) return;
  const largest = Math.max(1e-9, ...found.mean.flat().map((v) => Math.abs(v ?? 0)));
  const header = document.createElement("tr");
  header.append(document.createElement("th"));
  for (const label of found.labels) {
    const cell = document.createElement("th");
    cell.textContent = label;
    header.append(cell);
  }
  const rows = found.labels.map((label, i) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.textContent = `${label} (${found.counts[i] ?? 0})`;
    row.append(name);
    for (const value of found.mean[i] ?? []) {
      const cell = document.createElement("td");
      cell.textContent = value === null ? "–" : value.toFixed(3);
      if (value !== null) cell.style.background = css(diverging(value / largest, 90));
      row.append(cell);
    }
    const diagonal = row.children[i + 1];
    if (diagonal instanceof HTMLElement) diagonal.classList.add("within");
    return row;
  });
  ui.classMatrix.replaceChildren(header, ...rows);
  ui.classes.hidden = false;
  document.body.dataset.classes = String(found.labels.length);
}

// ---- under-trained tokens -------------------------------------------------------------------

/** candidates listed; more are ringed in the cloud */
const TOKEN_CANDIDATES = 20;
const FLAGGED_CANDIDATES = 500;
const CANDIDATE: RGBA = [150, 60, 190, 255];

/** Above the list: why it is not evidence, when the scan had no reference tokens. */
const tokensCaution = document.createElement("p");
tokensCaution.dataset.testid = "tokens-caution";
tokensCaution.className = "tokens-caution";
tokensCaution.hidden = true;
ui.tokenCandidates.before(tokensCaution);

function showCaution(text: string | null): void {
  tokensCaution.textContent = text ?? "";
  tokensCaution.hidden = !text;
}

/** Runs the server's token scan (a shared background job) and lists its first candidates;
 * clicking one makes it the query. */
async function scanTokens(): Promise<void> {
  const source = state.source;
  if (!source) return;
  const seq = ++state.tokenSeq;
  ui.tokensGo.disabled = true;
  ui.tokenCandidates.replaceChildren();
  showCaution(null);
  state.candidates = [];
  const started = performance.now();
  try {
    let job = await api.startTokenScan(source.id);
    while (job.state === "queued" || job.state === "running") {
      showProgress(ui.tokensProgress, job);
      ui.tokensStatus.textContent = `${jobProgress(job)} · ${((performance.now() - started) / 1000).toFixed(0)} s`;
      await sleep(POLL_MS);
      if (seq !== state.tokenSeq) return;
      job = await api.job(job.id);
    }
    ui.tokensProgress.hidden = true;
    if (seq !== state.tokenSeq) return;
    if (job.state === "failed" || job.state === "cancelled") {
      ui.tokensStatus.textContent = jobEnd(job);
      return;
    }
    const found = await api.tokenScan(job.id, FLAGGED_CANDIDATES);
    if (seq !== state.tokenSeq) return;
    const count = Number(found.summary["candidates"] ?? found.candidates.length);
    ui.tokensStatus.textContent = !found.indicator
      ? "no indicator: this source has no weights"
      : found.caution
        ? `${count} candidates by ${found.indicator}: not evidence (no reference tokens)`
        : `${count} candidates by ${found.indicator}`;
    showCaution(found.caution);
    state.candidates = found.candidates;
    recolour();
    ui.tokenCandidates.replaceChildren(
      ...found.candidates.slice(0, TOKEN_CANDIDATES).map((candidate) => {
        const row = document.createElement("li");
        row.dataset.testid = "token-candidate";
        row.dataset.key = candidate.key;
        row.tabIndex = 0;
        row.title = `${candidate.category}, token ${candidate.token_id}: make it the query`;
        row.textContent = `${candidate.label}  ${candidate.value.toFixed(3)}`;
        row.addEventListener("click", () => void search(candidate.key, { exact: true }));
        return row;
      }),
    );
    document.body.dataset.tokens = String(Math.min(TOKEN_CANDIDATES, found.candidates.length));
  } catch (error) {
    if (seq !== state.tokenSeq) return;
    ui.tokensStatus.textContent = "failed";
    report(error);
  } finally {
    if (seq === state.tokenSeq) {
      ui.tokensGo.disabled = false;
      ui.tokensProgress.hidden = true;
    }
  }
}

/** Rings the scan's candidates that the projection holds, and says how many it holds. */
function flagCandidates(): void {
  const points = state.projection?.points;
  if (!points || state.candidates.length === 0) {
    cloud.setFlagged([]);
    ui.tokensFlagged.textContent = "";
    delete document.body.dataset.flagged;
    return;
  }
  const markers: Marker[] = [];
  for (const candidate of state.candidates) {
    const index = points.indexOf(candidate.key);
    if (index === undefined || isHidden(index)) continue;
    markers.push({
      index,
      position: points.position(index),
      label: candidate.label,
      color: CANDIDATE,
      score: candidate.value,
    });
  }
  cloud.setFlagged(markers);
  document.body.dataset.flagged = String(markers.length);
  ui.tokensFlagged.textContent =
    markers.length > 0
      ? `${markers.length} of the first ${state.candidates.length} are in the projection, ringed in purple`
      : `none of the first ${state.candidates.length} is in the projection`;
}

// ---- similarity of two words ----------------------------------------------------------------

async function compare(pieces: Pieces = "error"): Promise<void> {
  const source = state.source;
  const a = ui.simA.value.trim();
  const b = ui.simB.value.trim();
  if (!source) return;
  if (!a || !b) {
    ui.simResult.textContent = "type two words";
    return;
  }
  const metric = ui.metric.value as Metric;
  const seq = ++state.similaritySeq;
  ui.simResult.textContent = "…";
  try {
    const answer = await api.similarity(source.id, a, b, metric, pieces);
    if (seq !== state.similaritySeq) return;
    ui.simResult.textContent = `${METRIC_NAMES[metric]} ${answer.score.toFixed(4)}`;
    // which tokens answered, where they are not what was typed (king: ␣king)
    const notes = [
      [a, answer.a_keys, answer.a_labels],
      [b, answer.b_keys, answer.b_labels],
    ].flatMap(([text, keys, labels]) => {
      const [word, ks, ls] = [text as string, keys as string[], labels as string[]];
      const same = ks.length === 1 && (word === ks[0] || word === ls[0]);
      return same || ks.length === 0 ? [] : [`${word} = ${ls.join(" + ")}`];
    });
    ui.simResult.title = notes.join("; ");
    ui.simResult.dataset.lookedUp = notes.join("; ");
  } catch (error) {
    if (seq !== state.similaritySeq) return;
    ui.simResult.textContent = "—";
    report(error, a, pieces === "error" ? () => void compare("mean") : undefined);
  }
}

// ---- projections ----------------------------------------------------------------------------

function setStatus(text: string, kind: "error" | "" = ""): void {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function project(): Promise<void> {
  const source = state.source;
  if (!source) return;
  const request: api.ProjectionRequest = {
    method: ui.method.value as api.Method,
    n_components: ui.dims.value === "2" ? 2 : 3,
  };
  // t-SNE's perplexity or UMAP's neighbour count; left empty, the server chooses
  const parameter = Number.parseInt(ui.parameter.value, 10);
  if (Number.isFinite(parameter) && parameter >= 2) {
    if (request.method === "tsne") request.perplexity = parameter;
    if (request.method === "umap") request.n_neighbors = parameter;
  }
  if (ui.neighborhood.checked) {
    // the answer's own token (its label, ##piece): the server finds that row again
    const word = state.answer?.query ?? ui.query.value.trim();
    if (!word) {
      setStatus("search a word first: the neighbourhood is the query's", "error");
      return;
    }
    Object.assign(request, { neighborhood: word, ...NEIGHBOURHOOD });
  }
  const seq = ++state.projectSeq;
  delete document.body.dataset.points;
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
  setStatus("starting…");
  try {
    let job = await api.startProjection(source.id, request);
    while (job.state === "queued" || job.state === "running") {
      if (seq !== state.projectSeq) return;
      showProgress(ui.progress, job);
      setStatus(`${jobProgress(job)} · ${elapsed()} s`);
      await sleep(POLL_MS);
      if (seq !== state.projectSeq) return;
      job = await api.job(job.id);
    }
    ui.progress.hidden = true;
    if (job.state === "failed" || job.state === "cancelled") {
      setStatus(jobEnd(job), "error");
      return;
    }
    setStatus(`loading ${job.rows ?? ""} points…`);
    const table = await api.points(job.id);
    if (seq !== state.projectSeq) return;
    const points = new PointSet(table);
    state.projection = { source: source.id, request, job, points };
    state.selection = new Selection(points);
    offerColourColumns(points);
    cloud.show(points, coloursOf(points, state.answer !== null));
    recolour();
    renderSelection();
    setStatus(summary(points, job));
    void showClusters();
    setExports(true);
  } catch (error) {
    if (seq !== state.projectSeq) return;
    ui.progress.hidden = true;
    setStatus("failed", "error");
    report(error, request.neighborhood);
  }
}

/** "running 42% · t-SNE 2D of 61 rows: KL 0.512", or the job's description before any
 * progress is known. */
function jobProgress(job: api.Job): string {
  if (job.state === "queued" || job.progress === null) return `${job.state}… ${job.description}`;
  return `${job.state} ${Math.round(100 * job.progress)}% · ${job.phase ?? job.description}`;
}

/** Why a job ended without a result: "failed: <error>", or who cancelled it. */
function jobEnd(job: api.Job): string {
  if (job.state === "cancelled") return job.error ?? "cancelled";
  return `failed: ${job.error ?? "unknown error"}`;
}

function showProgress(bar: HTMLProgressElement, job: api.Job): void {
  bar.hidden = false;
  // no value: the indeterminate bar, until the work says how far it is
  if (job.progress === null) bar.removeAttribute("value");
  else bar.value = job.progress;
}

function setExports(enabled: boolean): void {
  for (const button of [ui.exportCsv, ui.exportParquet, ui.exportPng, ui.exportHtml]) {
    button.disabled = !enabled;
  }
}

function summary(points: PointSet, job: api.Job): string {
  const parts = [`${points.length} points`];
  const quality = job.quality ?? {};
  if (quality.trustworthiness !== undefined) {
    parts[0] += `, trustworthiness ${quality.trustworthiness.toFixed(2)}`;
  }
  if (quality.knn_recall !== undefined) parts.push(`kNN recall ${quality.knn_recall.toFixed(2)}`);
  // a projection found in the cache takes no time; "0.0 s" would read as a glitch
  if (job.seconds !== null && job.seconds >= 0.05) parts.push(`${job.seconds.toFixed(1)} s`);
  return parts.join(" · ");
}

// ---- export ---------------------------------------------------------------------------------

/** Saves what ``url`` answers as the file ``name`` (a link clicked with a download name). */
function saveFrom(url: string, name: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  saveFrom(url, name);
  // revoking at once can cancel the download in some browsers
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function exportName(extension: string): string {
  const projection = state.projection;
  if (!projection) return `embscope.${extension}`;
  const { method, n_components: dims, neighborhood } = projection.request;
  const around = neighborhood ? `-${neighborhood.replace(/[^\p{L}\p{N}_-]+/gu, "_")}` : "";
  return `embscope-${projection.source}-${method}-${dims}d${around}.${extension}`;
}

// ---- autocomplete ---------------------------------------------------------------------------

/** Fills the shared datalist with the rows whose key or label starts with what is typed (in
 * a vocabulary of word-start tokens, the words first: kin offers ␣kind, ␣king…). Each entry
 * is the text that asks for exactly its row (␣king; ##king for the piece inside words), and a
 * picked entry is asked for by its key. */
function attachCompletion(input: HTMLInputElement, onPicked?: (key: string) => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener("input", (event) => {
    clearTimeout(timer);
    const prefix = input.value.trim();
    // Chromium reports picking an entry of the list as a replacement, not as typing
    const replaced = !(event instanceof InputEvent) || event.inputType === "insertReplacementText";
    const picked = [...ui.completions.options].find((o) => o.value === input.value);
    if (onPicked && replaced && picked) {
      onPicked(picked.dataset.key ?? picked.value);
      return;
    }
    const source = state.source;
    if (!prefix || !source) return;
    timer = setTimeout(async () => {
      const seq = ++state.completeSeq;
      const offered = await api
        .complete(source.id, prefix, 10)
        .catch(() => [] as api.Completion[]);
      if (seq !== state.completeSeq || input.value.trim() !== prefix) return;
      ui.completions.replaceChildren(...offered.map(completionOption));
    }, 120);
  });
}

function completionOption(completion: api.Completion): HTMLOptionElement {
  const { key, label, query } = completion;
  // the list shows the entry and, where that is not the label, what the row is
  const inside = query === `##${key}` ? `${label} (inside a word)` : label;
  const option = new Option(inside === query ? query : inside, query);
  option.dataset.key = key;
  return option;
}

// ---- wiring ---------------------------------------------------------------------------------

ui.searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void search(ui.query.value);
});
ui.source.addEventListener("change", () => void selectSource(ui.source.value));
ui.method.addEventListener("change", showParameter);
ui.colour.addEventListener("change", () => {
  // the legend's filter belongs to the column it was made on
  if (state.selection?.clearHidden()) selectionChanged();
  else recolour();
});

/** PCA has no parameter to set; t-SNE has its perplexity, UMAP its neighbour count. */
function showParameter(): void {
  const method = ui.method.value;
  ui.parameterLabel.hidden = method === "pca";
  ui.parameterName.textContent = method === "umap" ? "neighbours" : "perplexity";
}
ui.metric.addEventListener("change", () => {
  if (state.answer) void search(state.answer.query, { pieces: state.answer.pieces });
  const shown = ui.simResult.textContent ?? "";
  if (ui.simA.value.trim() && ui.simB.value.trim() && shown && shown !== "—") void compare();
});
ui.simForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void compare();
});
ui.projectionForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void project();
});
ui.exportCsv.addEventListener("click", () => saveRows("csv"));
ui.exportPng.addEventListener("click", () => {
  cloud
    .png(BACKGROUND)
    .then((blob) => download(blob, exportName("png")))
    .catch((error: unknown) => report(error));
});
/** Cluster names on the map when asked for; fetched once per projection by the server. */
async function showClusters(): Promise<void> {
  const projection = state.projection;
  if (!ui.clusterLabels.checked || !projection) {
    cloud.setClusters([]);
    delete document.body.dataset.clusters;
    return;
  }
  try {
    const found = await api.clusters(projection.job.id);
    if (state.projection !== projection || !ui.clusterLabels.checked) return;
    cloud.setClusters(found);
    document.body.dataset.clusters = String(found.length);
  } catch (error) {
    report(error);
  }
}

ui.clusterLabels.addEventListener("change", () => void showClusters());
ui.dragMode.addEventListener("change", () => cloud.setDragMode(ui.dragMode.value as DragMode));
ui.clearSelection.addEventListener("click", () => {
  state.selection?.clear();
  if (ui.legend.hidden === false) baseColours = null; // the legend is redrawn unstruck
  selectionChanged();
});
ui.exportParquet.addEventListener("click", () => saveRows("parquet"));

/** The projection's rows as the server writes them (every column, labels included). */
function saveRows(format: "csv" | "parquet"): void {
  const projection = state.projection;
  if (!projection) return;
  saveFrom(api.pointsFileUrl(projection.job.id, format), exportName(format));
}
ui.tokensGo.addEventListener("click", () => void scanTokens());
ui.exportHtml.addEventListener("click", () => {
  const projection = state.projection;
  if (!projection) return;
  // the server draws it (plotly, self-contained), coloured as the cloud is where it can be
  const column = ui.colour.value;
  const query = state.answer?.keys.length === 1 ? state.answer.query : null;
  const color = column || (query ? `similarity:${query}` : "");
  const asked = color ? `?color=${encodeURIComponent(color)}` : "";
  saveFrom(`api/jobs/${projection.job.id}/figure.html${asked}`, exportName("html"));
});
attachCompletion(ui.query, (key) => void search(key, { exact: true }));
attachCompletion(ui.simA);
attachCompletion(ui.simB);
window.addEventListener("unhandledrejection", (event) => report(event.reason));

void loadSources();
