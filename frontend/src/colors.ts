// Colours of the cloud and the score bars. Similarity runs blue (opposite) through grey
// (unrelated) to red (similar): the middle is grey rather than white so that unrelated
// points don't vanish into the light background.

import type { Metric } from "./api";

export type RGBA = [number, number, number, number];

const BLUE = [33, 102, 172];
const GREY = [150, 150, 160];
const RED = [202, 0, 32];

/** The colour of t in [-1, 1]: -1 blue, 0 grey, 1 red. */
export function diverging(t: number, alpha = 255): RGBA {
  const u = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const [from, to, f] = u < 0 ? [GREY, BLUE, -u] : [GREY, RED, u];
  const mix = (c: number) => Math.round((from[c] ?? 0) + ((to[c] ?? 0) - (from[c] ?? 0)) * f);
  return [mix(0), mix(1), mix(2), alpha];
}

export const css = ([r, g, b, a]: RGBA) => `rgba(${r}, ${g}, ${b}, ${(a / 255).toFixed(3)})`;

/** Points before any query, or every point of a projection without groups. */
export const PLAIN: RGBA = [70, 110, 160, 190];
/** Points the current query says nothing about, once a query colours the cloud. */
export const NEUTRAL: RGBA = [165, 168, 178, 110];
/** Points outside the selection: a trace that keeps the cloud's shape. */
export const FADED: RGBA = [200, 202, 210, 45];
/** Selected points that have no colour of their own (under a query, the unscored ones). */
export const SELECTED: RGBA = [80, 88, 110, 200];
export const QUERY: RGBA = [20, 20, 24, 255];
export const HOVER: RGBA = [245, 150, 0, 255];

/** The neighbourhood projection's groups, before a query is set. */
export const GROUPS: Record<string, RGBA> = {
  query: QUERY,
  similar: [...diverging(0.85).slice(0, 3), 230] as RGBA,
  opposite: [...diverging(-0.85).slice(0, 3), 230] as RGBA,
};

/** Higher is more similar for every metric (a Euclidean score is a distance). */
export const similarityOf = (score: number, metric: Metric) =>
  metric === "euclidean" ? -score : score;

/** Maps one query's scores onto [-1, 1]. Cosine and dot keep 0 as "unrelated" (symmetric
 * around it); a distance has no such zero, so its range is stretched end to end. */
export class ScoreScale {
  private readonly low: number;
  private readonly high: number;
  /** Largest |score|, for bar lengths. */
  readonly magnitude: number;

  constructor(
    scores: number[],
    private readonly metric: Metric,
  ) {
    const sims = scores.map((s) => similarityOf(s, metric));
    if (metric === "euclidean") {
      this.low = Math.min(...sims);
      this.high = Math.max(...sims);
    } else {
      const m = Math.max(1e-12, ...sims.map(Math.abs));
      this.low = -m;
      this.high = m;
    }
    this.magnitude = Math.max(1e-12, ...scores.map(Math.abs));
  }

  t(score: number): number {
    const span = this.high - this.low;
    if (!(span > 0)) return 0;
    return (2 * (similarityOf(score, this.metric) - this.low)) / span - 1;
  }

  color(score: number, alpha = 255): RGBA {
    return diverging(this.t(score), alpha);
  }
}

/** Categories of a metadata column: Tableau's ten, then repeated a shade darker. */
const CATEGORY_BASE: [number, number, number][] = [
  [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [237, 201, 72], [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172],
];

export function categorical(index: number, alpha = 230): RGBA {
  const [r, g, b] = CATEGORY_BASE[index % CATEGORY_BASE.length] ?? [0, 0, 0];
  const shade = Math.floor(index / CATEGORY_BASE.length) % 3;
  const f = 1 - 0.25 * shade;
  return [Math.round(r * f), Math.round(g * f), Math.round(b * f), alpha];
}

/** A numeric column's value at t in [0, 1]: pale yellow through orange to dark purple. */
const RAMP = [
  [252, 225, 164],
  [245, 140, 60],
  [200, 50, 90],
  [90, 20, 110],
];

export function sequential(t: number, alpha = 230): RGBA {
  const u = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(u));
  const f = u - i;
  const from = RAMP[i] ?? [0, 0, 0];
  const to = RAMP[i + 1] ?? [0, 0, 0];
  const mix = (c: number) => Math.round((from[c] ?? 0) + ((to[c] ?? 0) - (from[c] ?? 0)) * f);
  return [mix(0), mix(1), mix(2), alpha];
}
