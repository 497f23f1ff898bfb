// The query: its neighbours and opposites as two ranked lists, and the profile of its cosine
// against its Euclidean ranking.

import * as api from "./api";
import type { Asking, Hit, Metric, Stability } from "./api";
import { LIST_K, byId, byTestId, controls, markRows, state } from "./app";
import { ScoreScale, css } from "./colors";
import { LatestOnly, isSuperseded } from "./latest";
import { clearMessage, report, showMessage } from "./messages";
import { renderProfile } from "./profile";
import { recolour } from "./projection";
import { renderSelection } from "./rows-panel";
import { cloud } from "./view";

/** rows asked for on each side: enough to colour the whole of a neighbourhood projection and
 * the query's surroundings in a full one, still a small answer */
const COLOUR_K = 300;
/** rows in each of the profile's two top lists */
const PROFILE_K = 10;
/** the lists' "first N rows" on offer (those fewer than the source's rows): a word-vector
 * file lists its words most frequent first, so its rare junk (GloVe's kd94, 23aou94…) is left
 * out */
const RESTRICT_SIZES = [1_000, 10_000, 30_000, 100_000];

const ui = {
  form: byId<HTMLFormElement>("search-form"),
  neighbors: byTestId<HTMLOListElement>("neighbors"),
  opposites: byTestId<HTMLOListElement>("opposites"),
  neighborsStability: byTestId<HTMLElement>("neighbors-stability"),
  oppositesStability: byTestId<HTMLElement>("opposites-stability"),
  profile: byTestId<HTMLElement>("profile"),
  profilePlot: byTestId<SVGSVGElement>("profile-plot"),
  profileSummary: byTestId<HTMLElement>("profile-summary"),
  profileCosine: byTestId<HTMLOListElement>("profile-cosine"),
  profileEuclidean: byTestId<HTMLOListElement>("profile-euclidean"),
  skip: byTestId<HTMLElement>("skip"),
  restrictLabel: byTestId<HTMLElement>("restrict-vocab-label"),
  restrict: byTestId<HTMLSelectElement>("restrict-vocab"),
};

const searches = new LatestOnly();
const profiles = new LatestOnly();

/** Asks for a query's neighbours and opposites. ``exact``: ``word`` is a key as the answers
 * give it (a clicked row, a picked completion), answered by exactly that row; otherwise it is
 * read as typed (a word is its word-start token where the vocabulary has them, a label is its
 * row, ##piece a piece inside words). A word of several tokens is refused with its pieces
 * unless ``pieces`` is "mean". Resolves false when the search failed or a newer one replaced
 * it. */
export async function search(word: string, asking: Asking = {}): Promise<boolean> {
  const source = state.source;
  word = word.trim();
  if (!source) return false;
  if (!word) {
    // an empty search clears the query, and the cloud goes back to its groups; a search still
    // on its way must not bring it back
    searches.cancel();
    state.answer = null;
    delete document.body.dataset.query;
    delete document.body.dataset.queryKeys;
    delete document.body.dataset.restrictVocab;
    renderLists();
    recolour();
    renderSelection();
    return true;
  }
  const query = controls.query;
  const metric = controls.metric.value as Metric;
  const pieces = asking.pieces ?? "error";
  const skip = skipped();
  const restrictVocab = restriction();
  if (!asking.exact) query.value = word;
  const typed = query.value;
  document.body.classList.add("searching");
  // the busy cursor belongs to the newest search, which clears it when it ends
  let superseded = false;
  try {
    const [similar, opposite] = await searches.run((signal) => {
      const ask = (opposite: boolean) =>
        api.neighbors(
          source.id,
          word,
          { topK: COLOUR_K, metric, opposite, listed: LIST_K, skip, restrictVocab, ...asking },
          signal,
        );
      return Promise.all([ask(false), ask(true)]);
    });
    // a row asked for by its key shows as one types it: ␣king, not Ġking (unless the box was
    // typed in meanwhile)
    const shown = asking.exact ? similar.query_text : word;
    if (query.value === typed) query.value = shown;
    state.answer = {
      query: similar.query_text,
      keys: similar.query_keys,
      labels: similar.query_labels,
      pieces,
      metric,
      similar: similar.hits,
      opposite: opposite.hits,
      stability: { similar: similar.stability, opposite: opposite.stability },
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
    if (restrictVocab) document.body.dataset.restrictVocab = String(restrictVocab);
    else delete document.body.dataset.restrictVocab;
    // the profile is one row's (a typed sentence or a mean of pieces has no row to rank against)
    if (keys.length === 1) void showProfile(source, similar.query_text);
    else hideProfile();
    return true;
  } catch (error) {
    superseded = isSuperseded(error);
    if (superseded) return false;
    const useMean =
      pieces === "error" ? () => void search(word, { ...asking, pieces: "mean" }) : undefined;
    report(error, word, useMean);
    return false;
  } finally {
    if (!superseded) document.body.classList.remove("searching");
  }
}

/** The kinds of rows the lists leave out (the boxes ticked, where they are offered). */
function skipped(): api.SkipKind[] {
  if (ui.skip.hidden) return [];
  return api.SKIP_KINDS.filter(
    (kind) => ui.skip.querySelector<HTMLInputElement>(`input[value="${kind}"]`)?.checked,
  );
}

/** The boxes that leave kinds of rows out, offered where a source has a tokenizer's special
 * tokens or kinds of tokens (its ``special`` or ``kind`` column). */
export function offerSkip(source: api.Source): void {
  ui.skip.hidden = !source.columns.some((column) => column === "special" || column === "kind");
}

/** The lists search only the first N rows (the choice in the menu, where it is offered). */
function restriction(): number | undefined {
  if (ui.restrictLabel.hidden || !ui.restrict.value) return undefined;
  return Number(ui.restrict.value);
}

/** The "first N rows" menu, offered where the source has more than the smallest size: each
 * size fewer than its rows. A new source starts with all rows, since what its first rows are
 * (the most frequent words, or a tokenizer's ids in order) is its own. */
export function offerRestriction(source: api.Source): void {
  const sizes = RESTRICT_SIZES.filter((size) => size < source.rows);
  const options = sizes.map((size) => {
    const shown = size.toLocaleString("en");
    const option = new Option(`first ${shown} rows`, String(size));
    option.title =
      `search only the first ${shown} rows: the ${shown} most frequent words where the ` +
      "vocabulary is ordered by frequency";
    return option;
  });
  ui.restrict.replaceChildren(new Option("all rows", ""), ...options);
  ui.restrict.value = "";
  ui.restrictLabel.hidden = sizes.length === 0;
}

/** The metric (or what the lists leave out) changed: the query is asked again. */
export function searchAgain(): void {
  const answer = state.answer;
  if (answer) void search(answer.query, { pieces: answer.pieces });
}

export function renderLists(): void {
  const answer = state.answer;
  // the hovered row is about to go, and a removed element gets no mouseleave
  cloud.setHover(null);
  ui.neighbors.replaceChildren(...(answer ? answer.similar.slice(0, LIST_K).map(hitRow) : []));
  ui.opposites.replaceChildren(...(answer ? answer.opposite.slice(0, LIST_K).map(hitRow) : []));
  showStability(ui.neighborsStability, answer?.stability.similar ?? null);
  showStability(ui.oppositesStability, answer?.stability.opposite ?? null);
}

/** Under a list whose order is a near tie (its scores closer together than rows left out
 * lie to them), the server's line saying so; nothing under a list whose order holds. */
export function showStability(note: HTMLElement, stability: Stability | null): void {
  const shown = stability?.near_tie ? stability.line : "";
  note.textContent = shown;
  note.hidden = !shown;
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

// ---- cosine against Euclidean (the BERT lecture's profile) ----------------------------------

async function showProfile(source: api.Source, word: string): Promise<void> {
  try {
    const found = await profiles.run((signal) =>
      api.profile(source.id, word, PROFILE_K, "error", signal),
    );
    if (state.source !== source) return;
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
    report(error, word);
  }
}

export function hideProfile(): void {
  ui.profile.hidden = true;
}

export function connectSearch(): void {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    void search(controls.query.value);
  });
  ui.skip.addEventListener("change", searchAgain);
  ui.restrict.addEventListener("change", searchAgain);
}
