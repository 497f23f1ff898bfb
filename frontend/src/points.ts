// A projection's points as the renderer wants them: one interleaved Float32Array of positions
// (no per-point JS objects, so hundreds of thousands of points cost a few MB), with keys and
// labels read from the Arrow columns only when asked for.

import { DataType, type Table, type Vector } from "apache-arrow";

type Numbers = ArrayLike<number>;

export type ColumnValues =
  | { kind: "numeric"; values: Float64Array }
  | { kind: "categories"; codes: Int32Array; names: string[] };

export class PointSet {
  readonly length: number;
  readonly dims: 2 | 3;
  /** x, y, z per point (z = 0 in 2D): deck.gl's positions attribute as is */
  readonly positions: Float32Array;
  /** the centre and the size of the bulk of the points (outliers left out), to frame the view */
  readonly center: [number, number, number];
  readonly span: number;
  readonly groups: Vector | null;
  private readonly keys: Vector | null;
  private readonly labels: Vector | null;
  private keyIndex: Map<string, number> | null = null;
  private readonly columnValues = new Map<string, ColumnValues>();

  constructor(readonly table: Table) {
    this.length = table.numRows;
    const x = column(table, "x");
    const y = column(table, "y");
    const z = table.getChild("z") ? column(table, "z") : null;
    if (!x || !y) throw new Error("the projection has no x and y columns");
    this.dims = z ? 3 : 2;
    this.positions = new Float32Array(this.length * 3);
    for (let i = 0; i < this.length; i++) {
      this.positions[3 * i] = x[i] ?? 0;
      this.positions[3 * i + 1] = y[i] ?? 0;
      this.positions[3 * i + 2] = z ? (z[i] ?? 0) : 0;
    }
    this.keys = table.getChild("key");
    this.labels = table.getChild("label") ?? this.keys;
    this.groups = table.getChild("group");
    const lows: number[] = [];
    const highs: number[] = [];
    for (const axis of z ? [x, y, z] : [x, y]) {
      const [low, high] = bulk(axis);
      lows.push(low);
      highs.push(high);
    }
    this.center = [0, 1, 2].map((a) => ((lows[a] ?? 0) + (highs[a] ?? 0)) / 2) as [
      number,
      number,
      number,
    ];
    this.span = Math.max(1e-9, ...lows.map((low, a) => (highs[a] ?? low) - low));
  }

  /** Metadata columns a user may colour by: everything but the coordinates and the names. */
  get colourColumns(): string[] {
    const skip = new Set(["x", "y", "z", "key", "label", "row"]);
    return this.table.schema.fields.map((f) => f.name).filter((name) => !skip.has(name));
  }

  /** A column's values as a numeric array (NaN where missing) when it is numeric with many
   * distinct values, else as category numbers with the categories' names, in order of first
   * appearance. Read once per column, then kept. */
  colourValues(name: string): ColumnValues {
    let found = this.columnValues.get(name);
    if (!found) {
      found = this.readColumn(name);
      this.columnValues.set(name, found);
    }
    return found;
  }

  private readColumn(name: string): ColumnValues {
    const vector = this.table.getChild(name);
    if (!vector) return { kind: "categories", codes: new Int32Array(this.length), names: ["(none)"] };
    if (DataType.isFloat(vector.type) || DataType.isInt(vector.type)) {
      const numbers = numbersOf(vector);
      // a handful of distinct numbers (labels 0/1, classes 1-4) read better as categories
      const distinct = new Set<number>();
      for (let i = 0; i < numbers.length && distinct.size <= MAX_NUMERIC_CATEGORIES; i++) {
        distinct.add(numbers[i] ?? Number.NaN);
      }
      if (distinct.size > MAX_NUMERIC_CATEGORIES) return { kind: "numeric", values: numbers };
      return categories(Array.from(numbers, (v) => (Number.isNaN(v) ? null : String(v))));
    }
    return categories(strings(vector));
  }

  key(index: number): string {
    return String(this.keys?.get(index) ?? index);
  }

  label(index: number): string {
    return String(this.labels?.get(index) ?? this.key(index));
  }

  group(index: number): string | null {
    const value: unknown = this.groups?.get(index);
    return value == null ? null : String(value);
  }

  /** One cell of a column as Arrow gives it (numbers, bigints, strings, null). */
  value(column: string, index: number): unknown {
    return this.table.getChild(column)?.get(index);
  }

  position(index: number): [number, number, number] {
    const p = this.positions;
    return [p[3 * index] ?? 0, p[3 * index + 1] ?? 0, p[3 * index + 2] ?? 0];
  }

  /** The point of a vocabulary key, if the projection holds it (a neighbourhood holds few). */
  indexOf(key: string): number | undefined {
    if (!this.keyIndex) {
      const index = new Map<string, number>();
      const keys = this.keys ? strings(this.keys) : [];
      keys.forEach((k, i) => {
        if (k !== null && !index.has(k)) index.set(k, i);
      });
      this.keyIndex = index;
    }
    return this.keyIndex.get(key);
  }
}

/** Numeric columns with more distinct values than this are a ramp, not categories. */
const MAX_NUMERIC_CATEGORIES = 12;

/** Category numbers in order of first appearance, and the categories' names. */
function categories(values: (string | null)[]): ColumnValues {
  const codes = new Int32Array(values.length);
  const names: string[] = [];
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    const text = value ?? "(none)";
    let code = seen.get(text);
    if (code === undefined) {
      code = names.length;
      seen.set(text, code);
      names.push(text);
    }
    codes[i] = code;
  });
  return { kind: "categories", codes, names };
}

/** A numeric column as doubles, NaN where a value is missing; read from the typed array
 * Arrow holds (one value at a time through get() is many times slower). */
function numbersOf(vector: Vector): Float64Array {
  const out = new Float64Array(vector.length);
  const raw = vector.toArray() as ArrayLike<number | bigint>;
  for (let i = 0; i < out.length; i++) out[i] = Number(raw[i] ?? Number.NaN);
  if (vector.nullCount > 0) {
    for (let i = 0; i < out.length; i++) if (!vector.isValid(i)) out[i] = Number.NaN;
  }
  return out;
}

function column(table: Table, name: string): Numbers | null {
  const vector = table.getChild(name);
  if (!vector) return null;
  // float32 columns of one record batch come back as a view on the IPC buffer, without a copy
  return vector.toArray() as Numbers;
}

const utf8 = new TextDecoder();

/** Every value of a string column. One decode of each chunk's whole buffer, cut at the
 * offsets, instead of one decode a value: for 400k keys that is a fraction of the time. */
function strings(vector: Vector): (string | null)[] {
  const out: (string | null)[] = [];
  const text = DataType.isUtf8(vector.type) || DataType.isLargeUtf8(vector.type);
  for (const data of vector.data) {
    const offsets = data.valueOffsets as ArrayLike<number | bigint> | undefined;
    const bytes: unknown = data.values;
    if (!text || !offsets || !(bytes instanceof Uint8Array)) {
      for (let r = 0; r < data.length; r++) {
        const value: unknown = vector.get(out.length);
        out.push(value == null ? null : String(value));
      }
      continue;
    }
    // large (64-bit) offsets are bigints
    const first = Number(offsets[0] ?? 0);
    const decoded = utf8.decode(bytes.subarray(first, Number(offsets[data.length] ?? first)));
    let unit = 0;
    let at = first;
    for (let r = 0; r < data.length; r++) {
      const start = unit;
      for (const stop = Number(offsets[r + 1] ?? at); at < stop; at++) {
        // a character starts at every byte but a continuation byte (10xxxxxx); the 4-byte
        // ones are two UTF-16 units in a JS string
        const b = bytes[at] ?? 0;
        if ((b & 0xc0) !== 0x80) unit += b >= 0xf0 ? 2 : 1;
      }
      out.push(data.getValid(r) ? decoded.slice(start, unit) : null);
    }
  }
  return out;
}

/** The 0.5th and 99.5th percentiles of a sample: a few far-out rows (PCA of a big vocabulary
 * has them) would otherwise shrink everything else to a dot. */
function bulk(values: Numbers): [number, number] {
  const n = values.length;
  if (n === 0) return [0, 1];
  const step = Math.max(1, Math.floor(n / 20000));
  const sample: number[] = [];
  for (let i = 0; i < n; i += step) {
    const v = values[i];
    if (v !== undefined && Number.isFinite(v)) sample.push(v);
  }
  if (sample.length === 0) return [0, 1];
  sample.sort((a, b) => a - b);
  const cut = sample.length > 1000 ? 0.005 : 0;
  const at = (q: number) => sample[Math.min(sample.length - 1, Math.round(q * (sample.length - 1)))] ?? 0;
  return [at(cut), at(1 - cut)];
}
