// The projection view: the toolbar's method, dimensions and parameter, the server's
// projection job and its progress, and what the cloud shows of the projected points (the
// query's scores, the listed neighbours, cluster names).

import * as api from "./api";
import { LIST_K, byId, byTestId, controls, isHidden, scoresOf, state } from "./app";
import type { Answer } from "./app";
import { showAxisNames } from "./axis-names";
import type { DragMode, Highlight, Marker } from "./cloud";
import { QUERY } from "./colors";
import { coloursOf, colourColumn, offerColourColumns, selectedColours } from "./colouring";
import { setExports } from "./export";
import { failed, finished, jobEnd, jobProgress, showProgress } from "./jobs";
import { LatestOnly, isSuperseded } from "./latest";
import { report } from "./messages";
import { PointSet } from "./points";
import { renderSelection } from "./rows-panel";
import { Selection } from "./selection";
import { flagCandidates } from "./tokens";
import { cloud } from "./view";

/** opposites offered a name in the cloud (after the query and the listed neighbours) */
const LABELLED_OPPOSITES = 5;
const NEIGHBOURHOOD = { similar: 30, opposite: 30 };

const ui = {
  form: byId<HTMLFormElement>("projection-form"),
  method: byTestId<HTMLSelectElement>("method"),
  dims: byTestId<HTMLSelectElement>("dims"),
  parameterLabel: byTestId<HTMLLabelElement>("parameter-label"),
  parameterName: byId<HTMLElement>("parameter-name"),
  parameter: byTestId<HTMLInputElement>("parameter"),
  neighborhood: byTestId<HTMLInputElement>("neighborhood"),
  axes: byTestId<HTMLElement>("axes-label"),
  axisX: byTestId<HTMLInputElement>("axis-x"),
  axisY: byTestId<HTMLInputElement>("axis-y"),
  clusterLabels: byTestId<HTMLInputElement>("cluster-labels"),
  dragMode: byTestId<HTMLSelectElement>("drag-mode"),
  status: byTestId<HTMLElement>("projection-status"),
  progress: byTestId<HTMLProgressElement>("projection-progress"),
};

const projections = new LatestOnly();

function setStatus(text: string, kind: "error" | "" = ""): void {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

/** The request the toolbar describes, or null (with the reason in the status) when it cannot
 * be made. */
function projectionRequest(): api.ProjectionRequest | null {
  const request: api.ProjectionRequest = {
    method: ui.method.value as api.Method,
    n_components: ui.dims.value === "2" ? 2 : 3,
  };
  if (request.method === "axes") {
    // two "positive : negative" pairs; the projection is 2-D
    const x = axisEnds(ui.axisX.value);
    const y = axisEnds(ui.axisY.value);
    if (!x || !y) {
      setStatus('type each axis as two ends, "good : bad" (a group: good+great : bad)', "error");
      return null;
    }
    request.n_components = 2;
    [request.x_positive, request.x_negative] = x;
    [request.y_positive, request.y_negative] = y;
  }
  // t-SNE's perplexity or UMAP's neighbour count; left empty, the server chooses
  const parameter = Number.parseInt(ui.parameter.value, 10);
  if (Number.isFinite(parameter) && parameter >= 2) {
    if (request.method === "tsne") request.perplexity = parameter;
    if (request.method === "umap") request.n_neighbors = parameter;
  }
  if (ui.neighborhood.checked) {
    // the answer's own token (its label, ##piece): the server finds that row again
    const word = state.answer?.query ?? controls.query.value.trim();
    if (!word) {
      setStatus("search a word first: the neighbourhood is the query's", "error");
      return null;
    }
    Object.assign(request, { neighborhood: word, ...NEIGHBOURHOOD });
  }
  return request;
}

/** "good : bad" as its two ends, or null when it is not two non-empty ends. */
function axisEnds(text: string): [string, string] | null {
  const [positive, negative, ...rest] = text.split(":").map((end) => end.trim());
  return positive && negative && rest.length === 0 ? [positive, negative] : null;
}

/** An axes projection's two axes, as its status names them: "x: good − bad · y: man − woman". */
function axisNames(request: api.ProjectionRequest): string {
  if (request.method !== "axes") return "";
  const name = (positive?: string, negative?: string) => `${positive ?? ""} − ${negative ?? ""}`;
  return (
    `x: ${name(request.x_positive, request.x_negative)} · ` +
    `y: ${name(request.y_positive, request.y_negative)}`
  );
}

/** Projects the source as the toolbar says, and draws it; replaces a projection still on its
 * way. */
export async function project(): Promise<void> {
  const source = state.source;
  if (!source) return;
  const request = projectionRequest();
  if (!request) return;
  delete document.body.dataset.points;
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
  setStatus("starting…");
  try {
    const { job, table } = await projections.run(async (signal) => {
      const start = await api.startProjection(source.id, request, signal);
      const job = await finished(start, signal, (job) => {
        showProgress(ui.progress, job);
        setStatus(`${jobProgress(job)} · ${elapsed()} s`);
      });
      ui.progress.hidden = true;
      if (failed(job)) return { job, table: null };
      setStatus(`loading ${job.rows ?? ""} points…`);
      return { job, table: await api.points(job.id, signal) };
    });
    if (!table) {
      setStatus(jobEnd(job), "error");
      return;
    }
    const points = new PointSet(table);
    state.projection = { source: source.id, request, job, points };
    state.selection = new Selection(points);
    offerColourColumns(points);
    cloud.show(points, coloursOf(points, state.answer !== null));
    showAxisNames(job.axis_titles, points.dims);
    recolour();
    renderSelection();
    setStatus(summary(points, job, request));
    void showClusters();
    setExports(true);
  } catch (error) {
    if (isSuperseded(error)) return;
    ui.progress.hidden = true;
    setStatus("failed", "error");
    report(error, request.neighborhood);
  }
}

function summary(points: PointSet, job: api.Job, request: api.ProjectionRequest): string {
  const parts = [`${points.length} points`];
  const axes = axisNames(request);
  if (axes) parts.unshift(axes);
  const quality = job.quality ?? {};
  if (quality.trustworthiness !== undefined) {
    parts[parts.length - 1] += `, trustworthiness ${quality.trustworthiness.toFixed(2)}`;
  }
  if (quality.knn_recall !== undefined) parts.push(`kNN recall ${quality.knn_recall.toFixed(2)}`);
  // a projection found in the cache takes no time; "0.0 s" would read as a glitch
  if (job.seconds !== null && job.seconds >= 0.05) parts.push(`${job.seconds.toFixed(1)} s`);
  return parts.join(" · ");
}

/** Another source: its projection is yet to be made, and one of the last source still on its
 * way is dropped. */
export function resetProjection(): void {
  projections.cancel();
  cloud.clear();
  showAxisNames(null, 2);
  delete document.body.dataset.points;
  setExports(false);
}

/** Redraws the cloud's colours (faded outside the selection), the token candidates' rings and
 * the query's marks: its scored points coloured by score, the listed neighbours larger, the
 * query itself and the names worth showing. */
export function recolour(): void {
  const points = state.projection?.points;
  if (!points) return;
  const answer = state.answer;
  if (scoresOf(points) && !colourColumn()) document.body.dataset.scored = String(points.length);
  else delete document.body.dataset.scored;
  void scoreEveryRow();
  cloud.setColors(selectedColours(points));
  flagCandidates();
  if (!answer || colourColumn()) {
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
      color: QUERY,
    };
    highlight.labelled.unshift(highlight.query);
  }
  cloud.setHighlight(highlight);
}

const scorings = new LatestOnly();
let scoring: { answer: Answer; points: PointSet } | null = null;

/** Asks for the query's score against every point of the drawn projection (once per answer
 * and projection), and colours the cloud by them when they come. */
async function scoreEveryRow(): Promise<void> {
  const answer = state.answer;
  const projection = state.projection;
  if (!answer || !projection || colourColumn() || scoresOf(projection.points)) return;
  if (scoring?.answer === answer && scoring.points === projection.points) return;
  scoring = { answer, points: projection.points };
  try {
    const scores = await scorings.run((signal) =>
      api.rowScores(
        projection.source,
        projection.job.id,
        answer.query,
        { metric: answer.metric, pieces: answer.pieces },
        signal,
      ),
    );
    if (state.answer !== answer || state.projection !== projection) return;
    state.rowScores = { answer, points: projection.points, scores };
    recolour();
  } catch (error) {
    if (isSuperseded(error)) return;
    scoring = null;
    report(error);
  }
}

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

/** PCA has no parameter to set; t-SNE has its perplexity, UMAP its neighbour count; axes
 * its two word pairs, and only 2D. */
function showParameter(): void {
  const method = ui.method.value;
  ui.parameterLabel.hidden = method === "pca" || method === "axes";
  ui.parameterName.textContent = method === "umap" ? "neighbours" : "perplexity";
  ui.axes.hidden = method !== "axes";
  if (method === "axes") ui.dims.value = "2";
  ui.dims.disabled = method === "axes";
}

export function connectProjection(): void {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    void project();
  });
  ui.method.addEventListener("change", showParameter);
  ui.clusterLabels.addEventListener("change", () => void showClusters());
  ui.dragMode.addEventListener("change", () => cloud.setDragMode(ui.dragMode.value as DragMode));
}
