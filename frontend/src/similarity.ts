// The similarity of two words under the header's metric.

import * as api from "./api";
import type { Metric, Pieces } from "./api";
import { byId, byTestId, controls, state } from "./app";
import { LatestOnly, isSuperseded } from "./latest";
import { report } from "./messages";

const METRIC_NAMES: Record<Metric, string> = {
  cosine: "cosine similarity",
  euclidean: "euclidean distance",
  dot: "dot product",
};

const ui = {
  form: byId<HTMLFormElement>("sim-form"),
  a: byTestId<HTMLInputElement>("sim-a"),
  b: byTestId<HTMLInputElement>("sim-b"),
  result: byTestId<HTMLElement>("sim-result"),
};

const comparisons = new LatestOnly();

export async function compare(pieces: Pieces = "error"): Promise<void> {
  const source = state.source;
  const a = ui.a.value.trim();
  const b = ui.b.value.trim();
  if (!source) return;
  if (!a || !b) {
    ui.result.textContent = "type two words";
    return;
  }
  const metric = controls.metric.value as Metric;
  ui.result.textContent = "…";
  try {
    const answer = await comparisons.run((signal) =>
      api.similarity(source.id, a, b, metric, pieces, signal),
    );
    ui.result.textContent = `${METRIC_NAMES[metric]} ${answer.score.toFixed(4)}`;
    // which tokens answered, where they are not what was typed (king: ␣king)
    const notes = [
      [a, answer.a_keys, answer.a_labels],
      [b, answer.b_keys, answer.b_labels],
    ].flatMap(([text, keys, labels]) => {
      const [word, ks, ls] = [text as string, keys as string[], labels as string[]];
      const same = ks.length === 1 && (word === ks[0] || word === ls[0]);
      return same || ks.length === 0 ? [] : [`${word} = ${ls.join(" + ")}`];
    });
    ui.result.title = notes.join("; ");
    ui.result.dataset.lookedUp = notes.join("; ");
  } catch (error) {
    if (isSuperseded(error)) return;
    ui.result.textContent = "—";
    report(error, a, pieces === "error" ? () => void compare("mean") : undefined);
  }
}

/** The metric changed: a comparison on show is made again under the new one (not a prompt to
 * type two words, nor a failed one). */
export function compareAgain(): void {
  const shown = ui.result.textContent ?? "";
  if (ui.a.value.trim() && ui.b.value.trim() && shown && shown !== "—") void compare();
}

/** Another source: the last result no longer applies. */
export function resetSimilarity(): void {
  ui.result.textContent = "";
}

export function connectSimilarity(): void {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    void compare();
  });
}

/** The two word boxes, for completion. */
export const wordInputs = [ui.a, ui.b] as const;
