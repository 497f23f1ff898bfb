// The header's source menu: the server's sources, and what choosing one resets and starts
// (its first search and its projection).

import * as api from "./api";
import { byId, byTestId, controls, state } from "./app";
import { offerCompare } from "./compare";
import { showClasses } from "./documents";
import { clearMessage, report, showMessage } from "./messages";
import { project, resetProjection } from "./projection";
import { renderSelection } from "./rows-panel";
import { hideProfile, offerRestriction, offerSkip, renderLists, search } from "./search";
import { resetSimilarity } from "./similarity";
import { resetTokens } from "./tokens";

/** common words to start with, where the source has one */
const FIRST_WORDS = ["good", "king", "the"];

const ui = {
  source: byTestId<HTMLSelectElement>("source"),
  info: byId<HTMLElement>("source-info"),
};

export async function loadSources(): Promise<void> {
  try {
    state.sources = await api.listSources();
  } catch (error) {
    report(error);
    return;
  }
  ui.source.replaceChildren(
    ...state.sources.map((source) => new Option(`${source.name} (${source.kind})`, source.id)),
  );
  offerCompare(state.sources);
  document.body.dataset.ready = "1";
  if (state.sources[0]) await selectSource(state.sources[0].id);
  else showMessage("this server has no sources", "error");
}

async function selectSource(id: string): Promise<void> {
  const source = state.sources.find((s) => s.id === id);
  if (!source) return;
  state.source = source;
  ui.source.value = id;
  ui.info.textContent = `${source.rows.toLocaleString("en")} rows · ${source.dim} dims`;
  if ((api.METRICS as readonly string[]).includes(source.metric)) {
    controls.metric.value = source.metric;
  }
  offerSkip(source);
  offerRestriction(source);
  state.answer = null;
  state.projection = null;
  state.selection = null;
  void showClasses(source);
  resetTokens();
  resetProjection();
  renderLists();
  resetSimilarity();
  clearMessage();
  renderSelection();
  hideProfile();
  const word = await firstWord(source, controls.query.value.trim());
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

export function connectSources(): void {
  ui.source.addEventListener("change", () => void selectSource(ui.source.value));
}
