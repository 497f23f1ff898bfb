// What the explorer's panels share: the page's state (the source, the query's answer, the
// projection, the selection, the token candidates), the header's controls, and the few actions
// one panel asks of another. Those actions are connected by main.ts, so that the panels import
// this module and not each other, and the modules form no import cycle.

import type * as api from "./api";
import type { Asking, Hit, Metric, Pieces, Stability } from "./api";
import type { ScoreScale } from "./colors";
import type { PointSet } from "./points";
import type { Selection } from "./selection";

export function byTestId<T extends Element>(id: string): T {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`the page has no [data-testid="${id}"]`);
  return element;
}

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id) as T | null;
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/** The header's query box and metric, which the search, the similarity and the projection of
 * a neighbourhood all read. */
export const controls = {
  query: byTestId<HTMLInputElement>("query"),
  metric: byTestId<HTMLSelectElement>("metric"),
};

/** rows shown in each list (and marked in the cloud) */
export const LIST_K = 15;

/** One query's answer: what the lists show and the cloud is coloured by. */
export interface Answer {
  /** the text that asks it again (one token's label, ##piece, or the word as typed) */
  query: string;
  keys: string[];
  labels: string[];
  pieces: Pieces;
  metric: Metric;
  similar: Hit[];
  opposite: Hit[];
  /** how far the order of each list's first LIST_K rows can be trusted */
  stability: { similar: Stability | null; opposite: Stability | null };
  scale: ScoreScale;
}

export interface Projection {
  source: string;
  request: api.ProjectionRequest;
  job: api.Job;
  points: PointSet;
}

/** The query's score against every point of the drawn projection: the cloud is coloured by
 * them (the answer's hits alone are a few hundred of its rows). */
export interface RowScores {
  answer: Answer;
  points: PointSet;
  scores: Float32Array;
}

export const state = {
  sources: [] as api.Source[],
  source: null as api.Source | null,
  answer: null as Answer | null,
  projection: null as Projection | null,
  // the histograms' bars, the legend's categories and the cloud's rectangle, combined: the
  // points outside it are drawn faint and answer no hover or click
  selection: null as Selection | null,
  // the last token scan's candidates, ringed in the cloud wherever the projection holds them
  candidates: [] as api.TokenCandidate[],
  rowScores: null as RowScores | null,
};

/** The scores of every point of ``points`` under the current answer, where they have come. */
export function scoresOf(points: PointSet): Float32Array | null {
  const found = state.rowScores;
  return found && found.points === points && found.answer === state.answer ? found.scores : null;
}

/** Outside the selection: drawn faint, no hover, no click. */
export function isHidden(index: number): boolean {
  return state.selection !== null && !state.selection.passes(index);
}

/** Marks the list rows of a key (the one hovered in the cloud, a list or the table). */
export function markRows(key: string | null): void {
  for (const row of document.querySelectorAll("li.hot")) row.classList.remove("hot");
  if (key === null) return;
  for (const row of document.querySelectorAll(`li[data-key="${CSS.escape(key)}"]`)) {
    row.classList.add("hot");
  }
}

/** What a panel asks of the others. */
export interface PageActions {
  /** makes ``word`` the query (a clicked row, point, suggestion or token candidate) */
  search(word: string, asking?: Asking): Promise<boolean>;
  /** redraws the cloud's colours and marks after the answer or the candidates changed */
  recolour(): void;
  /** after any change to the selection: the cloud's colours, the bars, the table, the count */
  selectionChanged(): void;
}

const notConnected = (): never => {
  throw new Error("main.ts has not connected the page's actions yet");
};

export const page: PageActions = {
  search: notConnected,
  recolour: notConnected,
  selectionChanged: notConnected,
};

export function connectPage(actions: PageActions): void {
  Object.assign(page, actions);
}
