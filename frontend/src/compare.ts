// The compare view, offered when the server has two sources or more: "does B see this word the
// way A does?" A comparison is a server job (embscope.compare); once done, its figures with
// their chance levels, a word's neighbours in both spaces side by side (the ones both hold
// marked), the keys that moved most (or least), and a joint projection of both spaces.

import * as api from "./api";
import { ApiError, type ComparedHit, type ComparedWord } from "./api";
import { byId, byTestId } from "./app";
import { attachCompletion } from "./completion";
import { SPACE_COLOURS, jointPoints, renderJoint, renderOverlap, type JointPoints } from "./compare-plot";
import { failed, finished, jobEnd, jobProgress, showProgress } from "./jobs";
import { LatestOnly, isSuperseded } from "./latest";
import { report } from "./messages";

/** moved (or steady) keys listed, and drawn with their lines */
const MOVED = 20;
/** shared keys placed in the joint projection */
const SAMPLE = 1000;

const ui = {
  panel: byTestId<HTMLElement>("compare"),
  form: byId<HTMLFormElement>("compare-form"),
  a: byTestId<HTMLSelectElement>("compare-a"),
  b: byTestId<HTMLSelectElement>("compare-b"),
  topK: byTestId<HTMLInputElement>("compare-k"),
  go: byTestId<HTMLButtonElement>("compare-go"),
  progress: byTestId<HTMLProgressElement>("compare-progress"),
  status: byTestId<HTMLElement>("compare-status"),
  result: byTestId<HTMLElement>("compare-result"),
  coverage: byTestId<HTMLElement>("compare-coverage"),
  summary: byTestId<HTMLTableElement>("compare-summary"),
  overlap: byTestId<SVGSVGElement>("compare-overlap"),
  wordForm: byId<HTMLFormElement>("compare-word-form"),
  word: byTestId<HTMLInputElement>("compare-word"),
  wordStatus: byTestId<HTMLElement>("compare-word-status"),
  nameA: byTestId<HTMLElement>("compare-name-a"),
  nameB: byTestId<HTMLElement>("compare-name-b"),
  hitsA: byTestId<HTMLOListElement>("compare-hits-a"),
  hitsB: byTestId<HTMLOListElement>("compare-hits-b"),
  stability: byTestId<HTMLElement>("compare-stability"),
  movedKind: byTestId<HTMLSelectElement>("compare-moved-kind"),
  moved: byTestId<HTMLOListElement>("compare-moved"),
  plot: byTestId<SVGSVGElement>("compare-plot"),
  plotNote: byTestId<HTMLElement>("compare-plot-note"),
};

/** The comparison on show: its two sources and top_k, and its joint layout once drawn. */
let shown: { a: string; b: string; topK: number; points: JointPoints | null } | null = null;

const runs = new LatestOnly();
const words = new LatestOnly();
const movedLists = new LatestOnly();

/** Offers the panel when there are two sources to compare: A the first, B the second. */
export function offerCompare(sources: api.Source[]): void {
  ui.panel.hidden = sources.length < 2;
  for (const select of [ui.a, ui.b]) {
    select.replaceChildren(...sources.map((s) => new Option(`${s.name} (${s.kind})`, s.id)));
  }
  ui.a.value = sources[0]?.id ?? "";
  ui.b.value = sources[1]?.id ?? "";
}

/** Runs (or joins) the comparison of B with A, then shows its figures, moved keys and joint
 * projection, and the word in the box (else the key that moved most) side by side. */
async function runComparison(): Promise<void> {
  const [a, b, topK] = [ui.a.value, ui.b.value, Number(ui.topK.value) || 10];
  if (a === b) {
    ui.status.textContent = "pick two different sources";
    return;
  }
  ui.go.disabled = true;
  ui.result.hidden = true;
  shown = null;
  delete document.body.dataset.compared;
  const started = performance.now();
  let superseded = false;
  try {
    const answer = await runs.run(async (signal) => {
      const job = await finished(await api.startComparison({ a, b, top_k: topK }, signal), signal, (job) => {
        showProgress(ui.progress, job);
        ui.status.textContent = `${jobProgress(job)} · ${((performance.now() - started) / 1000).toFixed(0)} s`;
      });
      ui.progress.hidden = true;
      if (failed(job)) return { job, summary: null };
      return { job, summary: await api.comparison(a, b, topK, signal) };
    });
    if (!answer.summary) {
      ui.status.textContent = jobEnd(answer.job);
      return;
    }
    const summary = answer.summary;
    shown = { a, b, topK, points: null };
    ui.status.textContent = `compared in ${(answer.job.seconds ?? 0).toFixed(1)} s, by ${summary.metric}`;
    renderSummary(summary);
    ui.result.hidden = false;
    document.body.dataset.compared = `${a} ${b}`;
    const word = ui.word.value.trim();
    const [first] = await Promise.all([showMoved(), showJoint()]);
    // the word in the box, else the key that moved most
    if (word) await showWord(word, false);
    else if (first) pick(first.key, first.label);
  } catch (error) {
    superseded = isSuperseded(error);
    if (superseded) return;
    ui.status.textContent = "failed";
    report(error);
  } finally {
    if (!superseded) {
      ui.go.disabled = false;
      ui.progress.hidden = true;
    }
  }
}

function renderSummary(summary: api.Comparison): void {
  ui.coverage.textContent = `${summary.coverage}; ${summary.alignment} alignment of ${summary.dims[1]} onto ${summary.dims[0]} dims`;
  const head = document.createElement("tr");
  for (const name of ["figure", "value", "chance"]) head.append(cell("th", name));
  const rows = summary.figures.map((figure) => {
    const row = document.createElement("tr");
    row.title = figure.meaning;
    row.dataset.figure = figure.name;
    row.append(cell("th", figure.name), cell("td", number(figure.value)), cell("td", number(figure.chance)));
    return row;
  });
  ui.summary.replaceChildren(head, ...rows);
  renderOverlap(ui.overlap, summary.overlap_counts);
  ui.nameA.textContent = summary.space_a;
  ui.nameB.textContent = summary.space_b;
  ui.nameA.style.borderColor = SPACE_COLOURS[0];
  ui.nameB.style.borderColor = SPACE_COLOURS[1];
}

/** The word's neighbours in both spaces, side by side. ``exact``: a key as the lists give it. */
async function showWord(word: string, exact: boolean, retried = false): Promise<void> {
  const comparison = shown;
  if (!comparison || !word) return;
  ui.wordStatus.textContent = "…";
  delete ui.wordStatus.dataset.kind;
  try {
    const side = await words.run((signal) =>
      api.sideBySide(comparison.a, comparison.b, comparison.topK, word, exact, signal),
    );
    ui.hitsA.replaceChildren(...side.hits_a.map(hitRow));
    ui.hitsB.replaceChildren(...side.hits_b.map(hitRow));
    ui.wordStatus.textContent = wordLine(side);
    showStabilities(side);
    if (comparison.points) renderJoint(ui.plot, comparison.points, pick, side.figures?.key ?? null);
    document.body.dataset.compareWord = side.word;
  } catch (error) {
    if (isSuperseded(error)) return;
    // the server no longer keeps this comparison (a long-open page): made again, then asked
    if (error instanceof ApiError && error.status === 409 && !retried) {
      await runComparison();
      return showWord(word, exact, true);
    }
    ui.hitsA.replaceChildren();
    ui.hitsB.replaceChildren();
    ui.stability.hidden = true;
    delete document.body.dataset.compareWord;
    showWordError(error);
  }
}

/** "king: 9 of 10 in both lists · aligned cosine 0.981 · moved rank 1,204 of 2,990" */
function wordLine(side: api.SideBySide): string {
  const parts = [`${side.shared} of ${side.hits_a.length} in both lists`];
  const own = side.figures;
  if (own) {
    parts.push(`aligned cosine ${own.aligned_cosine.toFixed(3)}`);
    if (own.rank_correlation !== null) parts.push(`Spearman ${own.rank_correlation.toFixed(3)}`);
    parts.push(`moved rank ${own.moved_rank.toLocaleString("en")}`);
  } else {
    parts.push("not one shared key: no figures of its own");
  }
  return `${side.word}: ${parts.join(" · ")}`;
}

/** Under the two lists, a line for each whose order is a near tie. */
function showStabilities(side: api.SideBySide): void {
  const notes = [
    [side.space_a, side.stability_a],
    [side.space_b, side.stability_b],
  ] as const;
  const lines = notes.flatMap(([name, stability]) =>
    stability?.near_tie ? [`${name}: ${stability.line}`] : [],
  );
  ui.stability.textContent = lines.join("\n");
  ui.stability.hidden = lines.length === 0;
}

/** An unknown word: the server's message, and the closest keys as buttons that show them. */
function showWordError(error: unknown): void {
  ui.wordStatus.dataset.kind = "error";
  if (!(error instanceof ApiError)) {
    ui.wordStatus.textContent = error instanceof Error ? error.message : String(error);
    return;
  }
  const parts: (string | Node)[] = [error.message.replace(/; closest keys: .*$/, "")];
  if (error.suggestions.length > 0) {
    parts.push("; did you mean: ");
    error.suggestions.forEach((suggestion, i) => {
      if (i > 0) parts.push(", ");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.testid = "compare-suggestion";
      button.textContent = suggestion;
      button.addEventListener("click", () => pick(suggestion));
      parts.push(button);
    });
  }
  ui.wordStatus.replaceChildren(...parts);
}

function hitRow(hit: ComparedHit): HTMLLIElement {
  const row = document.createElement("li");
  row.dataset.testid = "compare-hit";
  row.dataset.key = hit.key;
  row.dataset.inBoth = hit.in_both ? "1" : "0";
  if (hit.in_both) row.classList.add("shared");
  row.tabIndex = 0;
  row.title = `${hit.label}${hit.in_both ? " (in both lists)" : ""}: show it side by side`;
  row.append(cell("span", String(hit.rank), "rank"), cell("span", hit.label, "label"), cell("span", hit.score.toFixed(3), "score"));
  row.addEventListener("click", () => pick(hit.key, hit.label));
  row.addEventListener("keydown", (event) => event.key === "Enter" && pick(hit.key, hit.label));
  return row;
}

/** A listed key, point or suggestion: shown side by side, as exactly that key. */
function pick(key: string, label = key): void {
  ui.word.value = label;
  void showWord(key, true);
}

/** Lists the keys that moved most (or least); resolves to the first of them. */
async function showMoved(): Promise<ComparedWord | undefined> {
  const comparison = shown;
  if (!comparison) return undefined;
  const least = ui.movedKind.value === "least";
  try {
    const found = await movedLists.run((signal) =>
      api.moved(comparison.a, comparison.b, comparison.topK, MOVED, least, signal),
    );
    ui.moved.replaceChildren(...found.words.map((word) => movedRow(word, comparison.topK)));
    return found.words[0];
  } catch (error) {
    if (!isSuperseded(error)) report(error);
    return undefined;
  }
}

function movedRow(word: ComparedWord, topK: number): HTMLLIElement {
  const row = document.createElement("li");
  row.dataset.testid = "compare-moved-word";
  row.dataset.key = word.key;
  row.tabIndex = 0;
  const correlation = word.rank_correlation === null ? "–" : word.rank_correlation.toFixed(2);
  row.title = `${word.label}: Spearman ${correlation}, aligned cosine ${word.aligned_cosine.toFixed(3)}, norms ${word.norm_a.toFixed(2)} / ${word.norm_b.toFixed(2)}; show it side by side`;
  row.append(cell("span", word.label, "label"), cell("span", `${word.shared_neighbors}/${topK} shared`, "score"));
  row.addEventListener("click", () => pick(word.key, word.label));
  row.addEventListener("keydown", (event) => event.key === "Enter" && pick(word.key, word.label));
  return row;
}

async function showJoint(): Promise<void> {
  const comparison = shown;
  if (!comparison) return;
  try {
    const table = await api.jointLayout(comparison.a, comparison.b, comparison.topK, SAMPLE, MOVED);
    if (shown !== comparison) return;
    const points = jointPoints(table);
    comparison.points = points;
    renderJoint(ui.plot, points, pick, null);
    const [first = 0, second = 0] = points.explained;
    ui.plotNote.replaceChildren(
      swatch("a", ui.nameA.textContent ?? "A"),
      swatch("b", `${ui.nameB.textContent ?? "B"} aligned`),
      `${points.keys.length.toLocaleString("en")} shared keys in one PCA ` +
        `(PC1 ${(100 * first).toFixed(0)}%, PC2 ${(100 * second).toFixed(0)}%); ` +
        `lines join the ${MOVED} most moved keys' two positions`,
    );
    document.body.dataset.comparePoints = String(points.keys.length);
  } catch (error) {
    report(error);
  }
}

/** The plot's legend entry of one space: its mark, its name. */
function swatch(side: "a" | "b", name: string): HTMLElement {
  const entry = cell("span", name, "swatch-entry");
  const mark = cell("span", "", `swatch ${side}`);
  mark.style.setProperty("--colour", SPACE_COLOURS[side === "a" ? 0 : 1]);
  entry.prepend(mark);
  return entry;
}

function cell(tag: "th" | "td" | "span", text: string, className = ""): HTMLElement {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

const number = (value: number | null) => (value === null ? "–" : value.toFixed(3));

export function connectCompare(): void {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    void runComparison();
  });
  ui.wordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void showWord(ui.word.value.trim(), false);
  });
  ui.movedKind.addEventListener("change", () => void showMoved());
  attachCompletion(ui.word, (key) => void showWord(key, true));
}
