// Autocomplete for the word boxes, from the source's keys and labels.

import * as api from "./api";
import { byId, state } from "./app";
import { LatestOnly, isSuperseded } from "./latest";

/** how long typing must pause before the server is asked */
const TYPING_PAUSE_MS = 120;

/** one list, shared by every word box: it shows what the box being typed in asked for */
const completions = byId<HTMLDataListElement>("completions");
const offers = new LatestOnly();

/** Fills the shared datalist with the rows whose key or label starts with what is typed (in
 * a vocabulary of word-start tokens, the words first: kin offers ␣kind, ␣king…). Each entry
 * is the text that asks for exactly its row (␣king; ##king for the piece inside words), and a
 * picked entry is asked for by its key. */
export function attachCompletion(input: HTMLInputElement, onPicked?: (key: string) => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener("input", (event) => {
    clearTimeout(timer);
    const prefix = input.value.trim();
    // Chromium reports picking an entry of the list as a replacement, not as typing
    const replaced = !(event instanceof InputEvent) || event.inputType === "insertReplacementText";
    const picked = [...completions.options].find((o) => o.value === input.value);
    if (onPicked && replaced && picked) {
      onPicked(picked.dataset.key ?? picked.value);
      return;
    }
    const source = state.source;
    if (!prefix || !source) return;
    timer = setTimeout(async () => {
      let offered: api.Completion[];
      try {
        offered = await offers.run((signal) => api.complete(source.id, prefix, 10, signal));
      } catch (error) {
        if (isSuperseded(error)) return;
        offered = []; // completion is a convenience: a failed one offers nothing, silently
      }
      if (input.value.trim() !== prefix) return;
      completions.replaceChildren(...offered.map(completionOption));
    }, TYPING_PAUSE_MS);
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
