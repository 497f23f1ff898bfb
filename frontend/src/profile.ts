// The BERT lecture's picture of a query: every row's Euclidean distance against its cosine
// similarity. Where vector lengths vary, the two disagree, and the closest rows by one are not
// the closest by the other; the two top lists side by side show by how much.

import type { Profile } from "./api";
import { svg } from "./svg";

const WIDTH = 300;
const HEIGHT = 170;
const PAD = { left: 34, right: 8, top: 6, bottom: 26 };

export function renderProfile(
  plot: SVGSVGElement,
  summary: HTMLElement,
  lists: { cosine: HTMLOListElement; euclidean: HTMLOListElement },
  profile: Profile,
  onPick: (key: string) => void,
): void {
  const topCosine = new Set(profile.rows.map((r) => String(r.key)));
  const topEuclidean = new Set(profile.euclidean_rows.map((r) => String(r.key)));
  const both = [...topCosine].filter((k) => topEuclidean.has(k)).length;
  summary.textContent =
    `Spearman ρ ${profile.rank_correlation.toFixed(3)} between the two rankings · ` +
    `${both} of ${topCosine.size} in both top lists`;
  lists.cosine.replaceChildren(...profile.rows.map((r) => item(r, topEuclidean, onPick)));
  lists.euclidean.replaceChildren(...profile.euclidean_rows.map((r) => item(r, topCosine, onPick)));

  const points: [number, number, string][] = profile.sample.map(([c, e]) => [c ?? 0, e ?? 0, ""]);
  for (const r of profile.rows) points.push([Number(r.cosine), Number(r.euclidean), "cos"]);
  for (const r of profile.euclidean_rows) points.push([Number(r.cosine), Number(r.euclidean), "euc"]);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - PAD.left - PAD.right);
  const sy = (y: number) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - PAD.top - PAD.bottom);
  plot.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  plot.setAttribute("width", String(WIDTH));
  plot.setAttribute("height", String(HEIGHT));
  const dots = points.map(([x, y, kind]) =>
    svg("circle", {
      cx: sx(x).toFixed(1),
      cy: sy(y).toFixed(1),
      r: kind ? 3 : 1.6,
      class: kind || "row",
    }),
  );
  plot.replaceChildren(
    axis(PAD.left, HEIGHT - PAD.bottom, WIDTH - PAD.right, HEIGHT - PAD.bottom),
    axis(PAD.left, PAD.top, PAD.left, HEIGHT - PAD.bottom),
    label(sx(x0), HEIGHT - PAD.bottom + 11, x0.toFixed(2), "start"),
    label(sx(x1), HEIGHT - PAD.bottom + 11, x1.toFixed(2), "end"),
    label((PAD.left + WIDTH) / 2, HEIGHT - 3, "cosine similarity →", "middle"),
    label(PAD.left - 3, sy(y1) + 8, y1.toFixed(1), "end"),
    label(PAD.left - 3, sy(y0), y0.toFixed(1), "end"),
    rotated(10, (PAD.top + HEIGHT - PAD.bottom) / 2, "Euclidean →"),
    ...dots,
  );
}

function item(row: Record<string, unknown>, other: Set<string>, onPick: (key: string) => void) {
  const entry = document.createElement("li");
  const key = String(row.key);
  entry.textContent = String(row.label ?? key);
  entry.dataset.key = key;
  entry.title = `cosine ${Number(row.cosine).toFixed(3)} · Euclidean ${Number(row.euclidean).toFixed(3)} · norm ${Number(row.norm).toFixed(2)}`;
  // the words only one of the two metrics ranks at the top
  if (!other.has(key)) entry.classList.add("only");
  entry.addEventListener("click", () => onPick(key));
  return entry;
}

function axis(x1: number, y1: number, x2: number, y2: number): SVGLineElement {
  return svg("line", { x1, y1, x2, y2, class: "axis" });
}

function label(x: number, y: number, content: string, anchor: string): SVGTextElement {
  return svg("text", { x: x.toFixed(1), y: y.toFixed(1), "text-anchor": anchor }, content);
}

function rotated(x: number, y: number, content: string): SVGTextElement {
  const text = label(x, y, content, "middle");
  text.setAttribute("transform", `rotate(-90 ${x} ${y})`);
  return text;
}
