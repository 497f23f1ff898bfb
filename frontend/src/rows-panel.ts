// The panel under the cloud: the selection's histograms (cross-filtering), its rows as a table
// and their count. The selection itself (selection.ts) combines the bars picked here, the
// legend's categories and the shape drawn on the cloud.

import { byTestId, markRows, page, state } from "./app";
import { redrawLegend } from "./colouring";
import { renderHistograms } from "./histograms";
import type { PointSet } from "./points";
import { renderTable, type Scores } from "./table";
import { cloud } from "./view";

const ui = {
  panel: byTestId<HTMLElement>("rows-panel"),
  count: byTestId<HTMLElement>("selection-count"),
  clear: byTestId<HTMLButtonElement>("clear-selection"),
  histograms: byTestId<HTMLElement>("histograms"),
  table: byTestId<HTMLTableElement>("row-table"),
};

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

export function renderSelection(): void {
  const selection = state.selection;
  if (!selection) {
    ui.panel.hidden = true;
    delete document.body.dataset.selected;
    return;
  }
  ui.panel.hidden = false;
  renderHistograms(ui.histograms, selection, (column, bar, add) => {
    selection.toggleBar(column, bar, add);
    page.selectionChanged();
  });
  renderTable(ui.table, selection, {
    onPick: (index) => void page.search(selection.points.key(index), { exact: true }),
    onHover: (index) => {
      cloud.setHover(index);
      markRows(index === null ? null : selection.points.key(index));
    },
  }, queryScores(selection.points));
  const { count } = selection;
  const all = selection.points.length;
  ui.count.textContent =
    count === all
      ? `all ${all.toLocaleString("en")} rows`
      : `${count.toLocaleString("en")} of ${all.toLocaleString("en")} rows selected`;
  ui.clear.disabled = !selection.active;
  document.body.dataset.selected = String(count);
}

export function connectRowsPanel(): void {
  ui.clear.addEventListener("click", () => {
    state.selection?.clear();
    redrawLegend();
    page.selectionChanged();
  });
}
