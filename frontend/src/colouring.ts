// Every point's colour in the cloud: by a chosen metadata column (with a legend whose
// categories switch points on and off), else by the query, the neighbourhood's groups or one
// colour; faded outside the selection.

import { byTestId, page, scoresOf, state } from "./app";
import {
  FADED,
  GROUPS,
  NEUTRAL,
  PLAIN,
  SELECTED,
  categorical,
  css,
  sequential,
  type RGBA,
} from "./colors";
import type { PointSet } from "./points";

/** every row coloured by its score: a little transparent, so the hits drawn over them stand out */
const SCORED_ALPHA = 190;

const ui = {
  column: byTestId<HTMLSelectElement>("color"),
  legend: byTestId<HTMLElement>("legend"),
};

/** the metadata column chosen in the colour menu; "" colours by similarity to the query */
export const colourColumn = () => ui.column.value;

// rebuilding every point's colour is the costly part of a redraw: kept until what it was
// built from changes
let baseColours: {
  points: PointSet;
  queried: boolean;
  column: string;
  scores: Float32Array | null;
  colours: Uint8ClampedArray;
} | null = null;

let fadedColours: { base: Uint8ClampedArray; version: number; colours: Uint8ClampedArray } | null =
  null;

/** Every point's colour: by the chosen metadata column; else under a query by its score
 * against every row (neutral until those have come; the hits are drawn over them), else the
 * neighbourhood's groups, else one colour. Rebuilt only when that choice changes. */
export function coloursOf(points: PointSet, queried: boolean): Uint8ClampedArray {
  const column = ui.column.value;
  const scores = queried ? scoresOf(points) : null;
  const scale = state.answer?.scale;
  if (
    baseColours?.points === points &&
    baseColours.queried === queried &&
    baseColours.column === column &&
    baseColours.scores === scores
  )
    return baseColours.colours;
  const colours = new Uint8ClampedArray(points.length * 4);
  const paint = (i: number, c: RGBA) => colours.set(c, 4 * i);
  if (column && points.colourColumns.includes(column)) {
    paintByColumn(points, column, paint);
  } else {
    ui.legend.hidden = true;
    for (let i = 0; i < points.length; i++) {
      if (queried && scores && scale) paint(i, scale.color(scores[i] ?? 0, SCORED_ALPHA));
      else if (queried) paint(i, NEUTRAL);
      else if (points.groups) paint(i, GROUPS[points.group(i) ?? ""] ?? NEUTRAL);
      else paint(i, PLAIN);
    }
  }
  baseColours = { points, queried, column, scores, colours };
  return colours;
}

/** Colours from a metadata column (categories or a numeric ramp by rank), with a legend whose
 * categories switch on and off when clicked (the cloud's filter). */
function paintByColumn(points: PointSet, column: string, paint: (i: number, c: RGBA) => void): void {
  const found = points.colourValues(column);
  const entries: [string, RGBA][] = [];
  if (found.kind === "categories") {
    for (let i = 0; i < points.length; i++) paint(i, categorical(found.codes[i] ?? 0));
    found.names.slice(0, 12).forEach((name, code) => entries.push([name, categorical(code)]));
    if (found.names.length > 12) entries.push([`… ${found.names.length - 12} more`, NEUTRAL]);
  } else {
    // by rank, so a few extreme values don't wash the rest out
    const order = Array.from(found.values.keys()).sort(
      (a, b) => (found.values[a] ?? 0) - (found.values[b] ?? 0),
    );
    const last = Math.max(1, order.length - 1);
    order.forEach((index, rank) => paint(index, sequential(rank / last)));
    const low = found.values[order[0] ?? 0] ?? 0;
    const high = found.values[order[order.length - 1] ?? 0] ?? 0;
    entries.push([`${low.toPrecision(3)} (lowest)`, sequential(0)]);
    entries.push([`${high.toPrecision(3)} (highest)`, sequential(1)]);
  }
  const categories = found.kind === "categories";
  const swatches = entries.map(([name, colour]) => {
    const entry = document.createElement("span");
    entry.className = "entry";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = css(colour);
    entry.append(swatch, name);
    if (categories && !name.startsWith("… ")) {
      entry.dataset.testid = "legend-entry";
      entry.classList.add("toggle");
      const mark = () => {
        const off = state.selection?.isHidden(column, name) ?? false;
        entry.classList.toggle("off", off);
        entry.title = off ? "show these points" : "hide these points";
      };
      mark();
      entry.addEventListener("click", () => {
        state.selection?.toggleHidden(column, name);
        mark();
        page.selectionChanged();
      });
    }
    return entry;
  });
  const title = document.createElement("strong");
  title.textContent = `${column}: `;
  ui.legend.replaceChildren(title, ...swatches);
  ui.legend.hidden = false;
}

/** The colour menu offers the drawn projection's metadata columns. */
export function offerColourColumns(points: PointSet): void {
  const chosen = ui.column.value;
  const options = [new Option("similarity to the query", "")];
  for (const name of points.colourColumns) options.push(new Option(name, name));
  ui.column.replaceChildren(...options);
  ui.column.value = points.colourColumns.includes(chosen) ? chosen : "";
}

/** The colours with the points outside the selection faded to a trace. */
export function selectedColours(points: PointSet): Uint8ClampedArray {
  const base = coloursOf(points, state.answer !== null);
  const selection = state.selection;
  if (!selection || !selection.active || selection.points !== points) return base;
  if (fadedColours?.base === base && fadedColours.version === selection.version) {
    return fadedColours.colours;
  }
  const colours = base.slice();
  // under a query the unscored points are a light grey, too close to the faded ones: the
  // selected among them are drawn darker
  const plain = !ui.column.value && state.answer !== null && scoresOf(points) === null;
  for (let i = 0; i < points.length; i++) {
    if (!selection.passes(i)) colours.set(FADED, 4 * i);
    else if (plain) colours.set(SELECTED, 4 * i);
  }
  fadedColours = { base, version: selection.version, colours };
  return colours;
}

/** The selection was cleared: the legend's struck-out categories must be drawn again unstruck,
 * and the legend is drawn along with the colours. */
export function redrawLegend(): void {
  if (ui.legend.hidden === false) baseColours = null;
}

export function connectColouring(): void {
  ui.column.addEventListener("change", () => {
    // the legend's filter belongs to the column it was made on
    if (state.selection?.clearHidden()) page.selectionChanged();
    else page.recolour();
  });
}
