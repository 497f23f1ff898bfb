// The compare view's two small charts: the distribution of the per-key overlap, and the joint
// projection of both spaces (A's rows and B's rows aligned onto A in one PCA), coloured by
// space, a line joining each most-moved key's two positions.

import type { Table } from "apache-arrow";
import { categorical, css } from "./colors";
import { svg } from "./svg";

/** A's points, then B's: the category palette's first two colours */
export const SPACE_COLOURS = [css(categorical(0, 150)), css(categorical(1, 150))] as const;

const WIDTH = 400;
const HEIGHT = 300;
const PAD = 10;

/** The joint layout as the page reads it from the server's Arrow stream. */
export interface JointPoints {
  keys: string[];
  labels: string[];
  a: [Float32Array, Float32Array];
  b: [Float32Array, Float32Array];
  moved: boolean[];
  explained: number[];
}

export function jointPoints(table: Table): JointPoints {
  const floats = (name: string) => (table.getChild(name)?.toArray() as Float32Array) ?? new Float32Array();
  const strings = (name: string) => (table.getChild(name)?.toArray() as string[] | undefined) ?? [];
  const explained = (table.schema.metadata.get("explained") ?? "").split(" ").map(Number);
  return {
    keys: [...strings("key")],
    labels: [...strings("label")],
    a: [floats("x_a"), floats("y_a")],
    b: [floats("x_b"), floats("y_b")],
    moved: [...((table.getChild("moved")?.toArray() as Iterable<boolean> | undefined) ?? [])],
    explained,
  };
}

/** Draws ``points`` into ``plot``: every point answers a click with its key; the most moved
 * are labelled at A's position and joined to B's. ``marked`` rings one key's two positions. */
export function renderJoint(
  plot: SVGSVGElement,
  points: JointPoints,
  onPick: (key: string) => void,
  marked: string | null,
): void {
  const xs = [...points.a[0], ...points.b[0]];
  const ys = [...points.a[1], ...points.b[1]];
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD);
  const sy = (y: number) => HEIGHT - PAD - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - 2 * PAD);
  plot.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  const lines: SVGElement[] = [];
  const dots: SVGElement[] = [];
  const names: SVGElement[] = [];
  const rings: SVGElement[] = [];
  points.keys.forEach((key, i) => {
    const ax = sx(points.a[0][i] ?? 0);
    const ay = sy(points.a[1][i] ?? 0);
    const bx = sx(points.b[0][i] ?? 0);
    const by = sy(points.b[1][i] ?? 0);
    const label = points.labels[i] ?? key;
    const isMarked = key === marked;
    if (points.moved[i] || isMarked) {
      lines.push(svg("line", { x1: ax, y1: ay, x2: bx, y2: by, class: isMarked ? "marked" : "moved" }));
    }
    if (points.moved[i]) names.push(svg("text", { x: ax.toFixed(1), y: (ay - 3).toFixed(1) }, label));
    for (const [x, y, side] of [
      [ax, ay, 0],
      [bx, by, 1],
    ] as const) {
      // A's points filled, B's aligned ones as rings round them: where B agrees with A, a
      // dot sits inside its ring; a moved key's two marks lie apart
      const size = points.moved[i] ? 2.6 : 1.8;
      const colour = SPACE_COLOURS[side];
      const dot = svg("circle", {
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: side === 0 ? size : size + 1,
        class: side === 0 ? "a" : "b",
        ...(side === 0 ? { fill: colour } : { stroke: colour }),
        "data-key": key,
      });
      dot.append(svg("title", {}, `${label} (${side === 0 ? "A" : "B aligned"})`));
      dot.addEventListener("click", () => onPick(key));
      dots.push(dot);
      if (isMarked) rings.push(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 5, class: "ring" }));
    }
  });
  plot.replaceChildren(...lines, ...dots, ...names, ...rings);
}

/** Bars of how many shared keys keep 0, 1, … k of their k neighbours. */
export function renderOverlap(plot: SVGSVGElement, counts: number[]): void {
  const width = 400;
  const height = 70;
  const top = Math.max(1, ...counts);
  const step = (width - 20) / Math.max(1, counts.length);
  plot.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const bars = counts.flatMap((count, shared) => {
    const h = (count / top) * (height - 22);
    const x = 10 + shared * step;
    const bar = svg("rect", { x: x + 1, y: height - 12 - h, width: step - 2, height: Math.max(0.5, h) });
    bar.append(svg("title", {}, `${count.toLocaleString("en")} keys share ${shared} neighbours`));
    return [bar, svg("text", { x: x + step / 2, y: height - 2, "text-anchor": "middle" }, String(shared))];
  });
  plot.replaceChildren(...bars);
}
