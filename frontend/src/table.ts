// The rows of the selection as a table: key, label (where it says more than the key), the
// query's score where it has one, and the metadata columns. Rows the query scored come first,
// most similar first; then the rest in the source's order. Only the first rows are built.

import type { PointSet } from "./points";
import type { Selection } from "./selection";

/** table rows built at a time: enough to scroll through, cheap to rebuild on every change */
export const TABLE_ROWS = 200;

export interface TableEvents {
  onPick(index: number): void;
  onHover(index: number | null): void;
}

/** The query's scores by point index, with their column's name (the metric: "cosine"). */
export interface Scores {
  name: string;
  byIndex: Map<number, number>;
  /** higher first (similarities), or lower first (distances) */
  descending: boolean;
}

export function renderTable(
  table: HTMLTableElement,
  selection: Selection,
  events: TableEvents,
  scores: Scores | null,
): void {
  const points = selection.points;
  const scored = scores
    ? [...scores.byIndex.entries()]
        .filter(([index]) => selection.passes(index))
        .sort((a, b) => (scores.descending ? b[1] - a[1] : a[1] - b[1]))
        .map(([index]) => index)
        .slice(0, TABLE_ROWS)
    : [];
  const first = new Set(scored);
  const shown = [
    ...scored,
    ...selection.indices(TABLE_ROWS + first.size).filter((i) => !first.has(i)),
  ].slice(0, TABLE_ROWS);
  const columns = tableColumns(points, shown);
  const head = document.createElement("tr");
  for (const name of ["key", ...(scores ? [scores.name] : []), ...columns]) {
    const cell = document.createElement("th");
    cell.textContent = name;
    head.append(cell);
  }
  const rows = shown.map((index) => {
    const row = document.createElement("tr");
    row.dataset.testid = "row";
    row.dataset.key = points.key(index);
    row.dataset.index = String(index);
    row.title = "make it the query";
    const key = document.createElement("td");
    key.textContent = points.key(index);
    row.append(key);
    if (scores) {
      const score = document.createElement("td");
      score.className = "number";
      score.textContent = format(scores.byIndex.get(index));
      row.append(score);
    }
    for (const name of columns) {
      const cell = document.createElement("td");
      cell.textContent = name === "label" ? points.label(index) : format(points.value(name, index));
      row.append(cell);
    }
    row.addEventListener("click", () => events.onPick(index));
    row.addEventListener("mouseenter", () => events.onHover(index));
    row.addEventListener("mouseleave", () => events.onHover(null));
    return row;
  });
  const body = document.createElement("tbody");
  body.append(...rows);
  const header = document.createElement("thead");
  header.append(head);
  table.replaceChildren(header, body);
}

/** "label" when some shown row's label differs from its key (documents, tokens), then the
 * metadata columns. */
function tableColumns(points: PointSet, shown: number[]): string[] {
  const columns = points.colourColumns;
  const labelled = shown.some((i) => points.label(i) !== points.key(i));
  return labelled ? ["label", ...columns] : columns;
}

function format(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  return String(value);
}
