// The document-space panel: for a source whose rows carry classes (a labelled corpus), how
// similar the classes are within and between each other.

import * as api from "./api";
import { byTestId, state } from "./app";
import { css, diverging } from "./colors";
import { report } from "./messages";

const ui = {
  panel: byTestId<HTMLElement>("classes"),
  matrix: byTestId<HTMLTableElement>("class-matrix"),
};

/** The class-similarity matrix when the source has labels; hidden otherwise. Each cell is the
 * mean cosine between members of two classes, shaded against the largest in the table. */
export async function showClasses(source: api.Source): Promise<void> {
  ui.panel.hidden = true;
  ui.matrix.replaceChildren();
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
  ui.matrix.replaceChildren(header, ...rows);
  ui.panel.hidden = false;
  document.body.dataset.classes = String(found.labels.length);
}
