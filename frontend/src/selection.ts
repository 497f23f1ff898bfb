// Which points are selected: the bars picked in the metadata histograms, the categories
// switched off in the legend and a rectangle or lasso drawn on the cloud, combined (a point must pass
// all of them). Each histogram counts what the *other* filters leave, so its own bars stay
// clickable, as in Embedding Atlas's cross-filtering.

import type { PointSet } from "./points";

/** Bars of one metadata column: every point's bar number (-1: no value) and the bars' names. */
export interface Binned {
  column: string;
  kind: "categories" | "numeric";
  codes: Int32Array;
  names: string[];
  /** a numeric column's bar edges: bar k holds [edges[k], edges[k + 1]) (the end bars also
   * what lies beyond) */
  edges?: number[];
}

/** Bars a numeric column is cut into. */
const NUMERIC_BINS = 20;
/** Categories shown one bar each; the rest share an "(other)" bar. */
const CATEGORY_BARS = 12;

export class Selection {
  readonly columns: Binned[];
  /** 1 for every point that passes every filter */
  readonly mask: Uint8Array;
  count: number;
  /** bars picked per column (only these pass); a column without an entry passes all */
  private readonly picked = new Map<string, Set<number>>();
  /** categories switched off in the legend, by name, per column */
  private readonly hidden = new Map<string, Set<string>>();
  private brush: Uint8Array | null = null;
  /** bumped on every change, so colours derived from the mask know when to be rebuilt */
  version = 0;

  constructor(readonly points: PointSet) {
    this.columns = points.colourColumns
      .map((column) => binned(points, column))
      .filter((b): b is Binned => b !== null);
    this.mask = new Uint8Array(points.length).fill(1);
    this.count = points.length;
  }

  get active(): boolean {
    return this.count < this.points.length || this.picked.size > 0 || this.brush !== null;
  }

  passes(index: number): boolean {
    return this.mask[index] === 1;
  }

  isPicked(column: string, bar: number): boolean {
    return this.picked.get(column)?.has(bar) ?? false;
  }

  /** Picks a bar (or drops it when it was picked); ``add`` keeps the column's other bars. */
  toggleBar(column: string, bar: number, add: boolean): void {
    const bars = this.picked.get(column) ?? new Set<number>();
    const was = bars.has(bar);
    if (!add) bars.clear();
    if (was) bars.delete(bar);
    else bars.add(bar);
    if (bars.size === 0) this.picked.delete(column);
    else this.picked.set(column, bars);
    this.update();
  }

  /** Whether the legend switched the category ``name`` of ``column`` off. */
  isHidden(column: string, name: string): boolean {
    return this.hidden.get(column)?.has(name) ?? false;
  }

  /** Switches a legend category off, or on again (names from PointSet.colourValues). */
  toggleHidden(column: string, name: string): void {
    const names = this.hidden.get(column) ?? new Set<string>();
    if (!names.delete(name)) names.add(name);
    if (names.size === 0) this.hidden.delete(column);
    else this.hidden.set(column, names);
    this.update();
  }

  /** Shows every category again (the colour column changed); true if any was off. */
  clearHidden(): boolean {
    if (this.hidden.size === 0) return false;
    this.hidden.clear();
    this.update();
    return true;
  }

  setBrush(inside: Uint8Array | null): void {
    this.brush = inside;
    this.update();
  }

  clear(): void {
    this.picked.clear();
    this.hidden.clear();
    this.brush = null;
    this.update();
  }

  /** For each bar of ``column``: all its points, and those that pass every other filter. */
  histogram(column: Binned): { total: number[]; selected: number[] } {
    const total = new Array<number>(column.names.length).fill(0);
    const selected = new Array<number>(column.names.length).fill(0);
    const others = this.passing(column.column);
    for (let i = 0; i < column.codes.length; i++) {
      const bar = column.codes[i] ?? -1;
      if (bar < 0) continue;
      total[bar] = (total[bar] ?? 0) + 1;
      if (others[i]) selected[bar] = (selected[bar] ?? 0) + 1;
    }
    return { total, selected };
  }

  /** The selected points' indices, in order, at most ``limit`` of them. */
  indices(limit: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.mask.length && out.length < limit; i++) if (this.mask[i]) out.push(i);
    return out;
  }

  private update(): void {
    this.mask.set(this.passing(null));
    let count = 0;
    for (let i = 0; i < this.mask.length; i++) count += this.mask[i] ?? 0;
    this.count = count;
    this.version++;
  }

  /** Points passing every filter but ``except``'s picked bars (null: every filter). */
  private passing(except: string | null): Uint8Array {
    const n = this.points.length;
    const out = this.brush ? this.brush.slice() : new Uint8Array(n).fill(1);
    for (const column of this.columns) {
      const bars = column.column === except ? undefined : this.picked.get(column.column);
      if (bars) {
        for (let i = 0; i < n; i++) if (!bars.has(column.codes[i] ?? -1)) out[i] = 0;
      }
    }
    for (const [name, names] of this.hidden) {
      const found = this.points.colourValues(name);
      if (found.kind !== "categories") continue;
      const off = new Set<number>();
      found.names.forEach((category, code) => names.has(category) && off.add(code));
      for (let i = 0; i < n; i++) if (off.has(found.codes[i] ?? -1)) out[i] = 0;
    }
    return out;
  }
}

/** A column cut into bars, or null when bars would say nothing (one value; an id per row). */
function binned(points: PointSet, column: string): Binned | null {
  const found = points.colourValues(column);
  if (found.kind === "numeric") return numericBins(column, found.values);
  const { codes, names } = found;
  if (names.length < 2) return null;
  // mostly distinct strings (titles, ids): a bar per value would be a bar per row
  if (names.length > 50 && names.length > points.length / 2) return null;
  if (names.length <= CATEGORY_BARS) return { column, kind: "categories", codes, names };
  const counts = new Array<number>(names.length).fill(0);
  for (const code of codes) counts[code] = (counts[code] ?? 0) + 1;
  const kept = counts
    .map((count, code) => [count, code] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, CATEGORY_BARS - 1)
    .map(([, code]) => code);
  const bar = new Map(kept.map((code, i) => [code, i]));
  const other = kept.length;
  const rebinned = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) rebinned[i] = bar.get(codes[i] ?? -1) ?? other;
  const barNames = kept.map((code) => names[code] ?? "");
  barNames.push(`(${names.length - kept.length} others)`);
  return { column, kind: "categories", codes: rebinned, names: barNames };
}

function numericBins(column: string, values: Float64Array): Binned | null {
  const finite = Array.from(values).filter(Number.isFinite);
  if (finite.length === 0) return null;
  finite.sort((a, b) => a - b);
  // the bulk of the values: a few far-out ones would squeeze the rest into one bar
  const cut = finite.length > 1000 ? 0.005 : 0;
  const at = (q: number) => finite[Math.round(q * (finite.length - 1))] ?? 0;
  const low = at(cut);
  const high = at(1 - cut);
  if (!(high > low)) return null;
  const width = (high - low) / NUMERIC_BINS;
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    codes[i] = Number.isFinite(v)
      ? Math.min(NUMERIC_BINS - 1, Math.max(0, Math.floor((v - low) / width)))
      : -1;
  }
  const edge = (k: number) => Number((low + k * width).toPrecision(3));
  // with the far-out values cut, the end bars also hold everything beyond them
  const names = Array.from({ length: NUMERIC_BINS }, (_, k) =>
    cut > 0 && k === 0
      ? `≤ ${edge(1)}`
      : cut > 0 && k === NUMERIC_BINS - 1
        ? `≥ ${edge(k)}`
        : `${edge(k)} – ${edge(k + 1)}`,
  );
  const edges = Array.from({ length: NUMERIC_BINS + 1 }, (_, k) => low + k * width);
  return { column, kind: "numeric", codes, names, edges };
}
