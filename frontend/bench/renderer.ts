// The renderer benchmark page: draws N synthetic projected points with deck.gl (set up as
// src/cloud.ts sets it up, with its ScatterplotLayer or the explorer's PointsLayer) or with
// regl-scatterplot, times the first frame, then moves the camera on every animation frame for a
// few seconds and records how long each frame took.
//
// URL parameters: renderer=sprites|deckgl|regl, points=N, dims=2|3, seconds=S; optionally
// radius=R (pixels) in place of src/cloud.ts's radius for N points.
// Result: window.benchResult (or window.benchError), then body[data-done="1"].
// Driven by benchmarks/bench_renderer.py; open dist/index.html?... by hand to watch it.

import { Deck, OrbitView, OrthographicView } from "@deck.gl/core";
import { ScatterplotLayer } from "@deck.gl/layers";
import createScatterplot from "regl-scatterplot";
import { PointsLayer } from "../src/points-layer";

/** deck.gl's ScatterplotLayer (a quad per point); deck.gl with the explorer's PointsLayer (a
 * GL point per point, src/points-layer.ts); regl-scatterplot */
type RendererName = "deckgl" | "sprites" | "regl";

interface BenchParams {
  renderer: RendererName;
  points: number;
  dims: 2 | 3;
  seconds: number;
}

export interface BenchResult {
  renderer: RendererName;
  points: number;
  dims: 2 | 3;
  /** from handing the data to the renderer to its first frame drawn and finished on the GPU */
  firstFrameMs: number;
  /** animation frames measured (intervals between consecutive requestAnimationFrame calls),
   * after a warm-up (see WARM_UP_FRAMES) */
  frames: number;
  medianMs: number;
  p95Ms: number;
  /** frames over the measured span, which ends when the GPU has finished the last one */
  fps: number;
  /** frames the renderer itself says it drew while the camera moved: should be close to frames */
  redraws: number;
  /** the WebGL renderer string, to tell SwiftShader from a real GPU */
  webgl: string;
  heapMiB: number | null;
  /** deck.gl's main-thread time per redraw (median of onBeforeRender to onAfterRender): what
   * of a frame is JavaScript and issuing WebGL calls, not the GPU's work. regl-scatterplot
   * reports no start of its draws, so null there. */
  deckRenderMs: number | null;
  /** every frame's duration, in order */
  durations: number[];
}

declare global {
  interface Window {
    benchResult?: BenchResult;
    benchError?: string;
  }
}

/** The points as both renderers receive them, plus where they lie. */
interface Cloud {
  count: number;
  dims: 2 | 3;
  /** x, y, z per point (z = 0 in 2D), as src/points.ts hands them to deck.gl */
  positions: Float32Array;
  /** which blob a point came from; the last category is the uniform noise */
  category: Uint8Array;
  palette: [number, number, number, number][];
  /** palette colour per point, RGBA */
  colors: Uint8ClampedArray;
  center: [number, number, number];
  span: number;
}

/** What one renderer has to offer the measurement. */
interface Contestant {
  /** hands the points over; resolves when the first frame with them is drawn and finished */
  show(cloud: Cloud): Promise<void>;
  /** puts the camera where it is `seconds` into the animation (the renderer redraws) */
  moveCamera(seconds: number): void;
  /** how many frames the renderer has drawn so far */
  redraws(): number;
  gl(): WebGLRenderingContext | WebGL2RenderingContext;
  /** main-thread milliseconds of each draw so far, where the renderer tells */
  renderTimes(): number[] | null;
}

const BLOBS = 50;
const NOISE_SHARE = 0.1;
const SEED = 20240611;

function readParams(): BenchParams {
  const query = new URLSearchParams(window.location.search);
  const renderer = query.get("renderer") ?? "deckgl";
  const points = Number(query.get("points") ?? "200000");
  const dims = Number(query.get("dims") ?? "3");
  const seconds = Number(query.get("seconds") ?? "10");
  if (renderer !== "deckgl" && renderer !== "sprites" && renderer !== "regl") {
    throw new Error(`renderer must be deckgl, sprites or regl, not ${renderer}`);
  }
  if (!Number.isInteger(points) || points < 1) throw new Error("points must be a positive integer");
  if (dims !== 2 && dims !== 3) throw new Error("dims must be 2 or 3");
  if (!(seconds > 0)) throw new Error("seconds must be positive");
  if (renderer === "regl" && dims === 3) throw new Error("regl-scatterplot draws 2D points only");
  return { renderer, points, dims, seconds };
}

/** mulberry32: small, fast and the same on every browser, so every run draws the same cloud */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Clusters of very different sizes and densities over a thin uniform haze: what a UMAP or
 * t-SNE projection of an embedding space looks like to a renderer (overdraw in the cores,
 * scattered points elsewhere). */
function makeCloud(count: number, dims: 2 | 3): Cloud {
  const random = seededRandom(SEED);
  const gaussian = () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const blobs = Array.from({ length: BLOBS }, () => ({
    center: [random() * 2 - 1, random() * 2 - 1, dims === 3 ? random() * 2 - 1 : 0],
    spread: 0.02 + 0.12 * random() ** 2,
    // Pareto-like weights: a few big clusters and many small ones
    weight: 1 / (0.05 + random()),
  }));
  const totalWeight = blobs.reduce((sum, blob) => sum + blob.weight, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const blob of blobs) cumulative.push((running += blob.weight / totalWeight));

  const palette: Cloud["palette"] = blobs.map((_, index) => hslToRgba((index * 137.5) % 360));
  palette.push([150, 150, 150, 255]);

  const positions = new Float32Array(count * 3);
  const category = new Uint8Array(count);
  const colors = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i++) {
    let which = BLOBS;
    if (random() >= NOISE_SHARE) {
      const pick = random();
      which = cumulative.findIndex((edge) => pick < edge);
      if (which < 0) which = BLOBS - 1;
    }
    const blob = blobs[which];
    for (let axis = 0; axis < 3; axis++) {
      positions[i * 3 + axis] =
        axis === 2 && dims === 2
          ? 0
          : blob
            ? (blob.center[axis] ?? 0) + blob.spread * gaussian()
            : random() * 2.4 - 1.2;
    }
    category[i] = which;
    colors.set(palette[which] ?? [0, 0, 0, 255], i * 4);
  }
  // the box the points fill, as src/points.ts computes center and span for the framing
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < count; i++) {
    for (let axis = 0; axis < 3; axis++) {
      const value = positions[i * 3 + axis] ?? 0;
      if (value < (low[axis] ?? 0)) low[axis] = value;
      if (value > (high[axis] ?? 0)) high[axis] = value;
    }
  }
  const center = [0, 1, 2].map((axis) => ((low[axis] ?? 0) + (high[axis] ?? 0)) / 2) as [
    number,
    number,
    number,
  ];
  // a single point has no extent; any positive span frames it
  const span =
    Math.max(...[0, 1, 2].map((axis) => (high[axis] ?? 0) - (low[axis] ?? 0))) || 1;
  return { count, dims, positions, category, palette, colors, center, span };
}

function hslToRgba(hue: number): [number, number, number, number] {
  const lightness = 0.5;
  const saturation = 0.65;
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const part = chroma * (1 - Math.abs(((hue / 60) % 2) - 1));
  const sector = Math.floor(hue / 60);
  const [r, g, b] =
    sector === 0
      ? [chroma, part, 0]
      : sector === 1
        ? [part, chroma, 0]
        : sector === 2
          ? [0, chroma, part]
          : sector === 3
            ? [0, part, chroma]
            : sector === 4
              ? [part, 0, chroma]
              : [chroma, 0, part];
  const offset = lightness - chroma / 2;
  return [
    Math.round((r + offset) * 255),
    Math.round((g + offset) * 255),
    Math.round((b + offset) * 255),
    255,
  ];
}

/** src/cloud.ts's point radius for a cloud of this size, unless the URL's radius= overrides it
 * (to tell fill rate from per-point cost by hand) */
function radiusFor(count: number): number {
  const override = Number(new URLSearchParams(window.location.search).get("radius"));
  if (override > 0) return override;
  return count > 100_000 ? 1.5 : count > 20_000 ? 2 : count > 2_000 ? 3 : 5;
}

/** The 2D camera's path, shared by both renderers: a slow pan around the centre (as a share of
 * the cloud's span) while zooming in up to 2^1.5 times and back out. */
function planePath(seconds: number): { dx: number; dy: number; zoom: number } {
  const turn = 2 * Math.PI * seconds;
  return {
    dx: 0.15 * Math.sin(turn / 4),
    dy: 0.15 * Math.cos(turn / 5),
    zoom: 0.75 * (1 - Math.cos(turn / 3)),
  };
}

function whenDeckReady(deck: { isInitialized: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (deck.isInitialized ? resolve() : requestAnimationFrame(check));
    check();
  });
}

async function createDeck(
  container: HTMLElement,
  dims: 2 | 3,
  sprites: boolean,
): Promise<Contestant> {
  // the same props either way: PointsLayer is a ScatterplotLayer drawn as GL points
  const Layer = (sprites ? PointsLayer : ScatterplotLayer) as typeof ScatterplotLayer;
  let drawn = 0;
  let afterDraw: (() => void) | null = null;
  const renderTimes: number[] = [];
  let renderStarted = 0;
  const view =
    dims === 3
      ? new OrbitView({ id: "orbit", orthographic: true, controller: true })
      : new OrthographicView({ id: "plane", flipY: false, controller: true });
  const deck = new Deck({
    parent: container as HTMLDivElement,
    style: { position: "absolute", inset: "0" },
    views: view,
    viewState: { target: [0, 0, 0], zoom: 0, rotationOrbit: 30, rotationX: 25 },
    layers: [],
    // as src/cloud.ts: PNG export reads the canvas after the frame was presented; the
    // explorer's setup turns multisampling off, deck.gl's default leaves it on
    deviceProps: { type: "webgl", webgl: { preserveDrawingBuffer: true, antialias: !sprites } },
    onBeforeRender: () => {
      renderStarted = performance.now();
    },
    onAfterRender: () => {
      renderTimes.push(performance.now() - renderStarted);
      drawn += 1;
      afterDraw?.();
    },
  });
  await whenDeckReady(deck);
  let cloud: Cloud | null = null;
  let baseZoom = 0;
  const gl = () => {
    const canvas = deck.getCanvas();
    const context = canvas?.getContext("webgl2");
    if (!context) throw new Error("deck.gl has no WebGL2 context");
    return context;
  };

  const contestant: Contestant = {
    show(points) {
      cloud = points;
      const { width, height } = container.getBoundingClientRect();
      // src/cloud.ts framing(): a rotated 3D box shows up to its diagonal
      const extent = points.span * (points.dims === 3 ? 1.3 : 1.1);
      baseZoom = Math.log2(Math.max(50, Math.min(width, height)) / extent);
      const data = {
        length: points.count,
        attributes: {
          getPosition: { value: points.positions, size: 3 },
          getFillColor: { value: points.colors, size: 4, type: "unorm8" },
        },
      };
      const first = new Promise<void>((resolve) => {
        afterDraw = () => {
          afterDraw = null;
          resolve();
        };
      });
      deck.setProps({
        layers: [
          new Layer({
            id: "points",
            // deck.gl's binary attribute format; its typings only describe row data
            data: data as never,
            radiusUnits: "pixels",
            billboard: true,
            getRadius: radiusFor(points.count),
            pickable: true,
            autoHighlight: true,
            highlightColor: [255, 140, 0, 255],
          }),
        ],
      });
      contestant.moveCamera(0);
      return first;
    },
    moveCamera(seconds) {
      if (!cloud) return;
      const [cx, cy, cz] = cloud.center;
      if (cloud.dims === 3) {
        deck.setProps({
          viewState: {
            target: [cx, cy, cz],
            zoom: baseZoom,
            rotationOrbit: 30 + 36 * seconds, // one turn in ten seconds
            rotationX: 25 + 15 * Math.sin((2 * Math.PI * seconds) / 7),
          },
        });
      } else {
        const { dx, dy, zoom } = planePath(seconds);
        deck.setProps({
          viewState: {
            target: [cx + dx * cloud.span, cy + dy * cloud.span, 0],
            zoom: baseZoom + zoom,
          },
        });
      }
    },
    redraws: () => drawn,
    gl,
    renderTimes: () => renderTimes,
  };
  return contestant;
}

function createRegl(container: HTMLElement): Contestant {
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "position:absolute;inset:0;width:100%;height:100%";
  container.appendChild(canvas);
  const { width, height } = container.getBoundingClientRect();
  let drawn = 0;
  let ndcPerUnit = 1;
  const scatterplot = createScatterplot({
    canvas,
    width,
    height,
    // constant: a pixel size that stays put when zooming, like deck.gl's radiusUnits "pixels"
    pointScaleMode: "constant",
  });
  // "drawing" is published synchronously from inside its render loop, once per drawn frame
  scatterplot.subscribe("drawing", () => {
    drawn += 1;
  });

  return {
    async show(points) {
      // regl-scatterplot wants x and y in [-1, 1]; this rescaling is work the explorer would
      // have to do for it, so it is timed. The cloud's span (plus src/cloud.ts's 10% margin)
      // fills the shorter side of the canvas, as deck.gl's framing does.
      ndcPerUnit = 2 / (points.span * 1.1);
      const [cx, cy] = points.center;
      const x = new Float32Array(points.count);
      const y = new Float32Array(points.count);
      for (let i = 0; i < points.count; i++) {
        x[i] = ((points.positions[i * 3] ?? 0) - cx) * ndcPerUnit;
        y[i] = ((points.positions[i * 3 + 1] ?? 0) - cy) * ndcPerUnit;
      }
      // colours come as categories into a palette: regl-scatterplot has no per-point RGBA
      scatterplot.set({
        pointSize: 2 * radiusFor(points.count), // a diameter, where deck.gl takes a radius
        colorBy: "valueA",
        pointColor: points.palette.map(
          ([r, g, b, a]): [number, number, number, number] => [r / 255, g / 255, b / 255, a / 255],
        ),
      });
      // resolves after the first frame with the new points has been drawn
      await scatterplot.draw(
        { x, y, valueA: points.category },
        { zDataType: "categorical" },
      );
    },
    moveCamera(seconds) {
      const { dx, dy, zoom } = planePath(seconds);
      // spans in NDC: the cloud's span is 2 / 1.1 there
      const toNdc = 2 / 1.1;
      void scatterplot.zoomToLocation([dx * toNdc, dy * toNdc], 2 ** -zoom);
    },
    redraws: () => drawn,
    gl: () => scatterplot.get("renderer").regl._gl,
    renderTimes: () => null,
  };
}

/** Waits until the GPU has finished everything issued so far: reading a pixel back has to. */
function finishGpu(gl: WebGLRenderingContext | WebGL2RenderingContext): void {
  const pixel = new Uint8Array(4);
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
}

function rendererName(gl: WebGLRenderingContext | WebGL2RenderingContext): string {
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

// Chromium lets a page run two or three frames ahead of the GPU before requestAnimationFrame
// waits for it, so the first frames after the points appear come at the display's rate however
// slow drawing is. The camera moves through these (at least this many frames and this long)
// before any frame counts.
const WARM_UP_FRAMES = 3;
const WARM_UP_MS = 500;

/** Frame durations (ms) from requestAnimationFrame timestamps while the camera moves, and the
 * frames per second over the measured span, up to the GPU finishing the last frame queued. */
function animate(
  contestant: Contestant,
  seconds: number,
): Promise<{ durations: number[]; fps: number; drawnDuring: number }> {
  return new Promise((resolve) => {
    const durations: number[] = [];
    let cameraStart: number | null = null;
    let warmUpFrames = 0;
    let measureStart: number | null = null;
    let drawnBefore = 0;
    let previous = 0;
    const tick = (now: number) => {
      if (cameraStart === null) cameraStart = now;
      if (measureStart === null) {
        warmUpFrames += 1;
        if (warmUpFrames > WARM_UP_FRAMES && now - cameraStart >= WARM_UP_MS) {
          measureStart = now;
          drawnBefore = contestant.redraws();
        }
      } else {
        durations.push(now - previous);
      }
      previous = now;
      if (measureStart !== null && now - measureStart >= seconds * 1000) {
        const drawnDuring = contestant.redraws() - drawnBefore;
        finishGpu(contestant.gl());
        const span = performance.now() - measureStart;
        resolve({ durations, fps: (1000 * durations.length) / span, drawnDuring });
        return;
      }
      contestant.moveCamera((now - cameraStart) / 1000);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

function percentile(sorted: number[], share: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

function nextFrame(): Promise<number> {
  return new Promise((resolve) => requestAnimationFrame(resolve));
}

async function run(): Promise<BenchResult> {
  const params = readParams();
  const container = document.getElementById("plot");
  if (!container) throw new Error("the page has no #plot element");
  const cloud = makeCloud(params.points, params.dims);
  const contestant =
    params.renderer === "regl"
      ? createRegl(container)
      : await createDeck(container, params.dims, params.renderer === "sprites");
  // start from an idle page: the renderer's own setup is not part of showing the points
  await nextFrame();
  await nextFrame();

  const started = performance.now();
  await contestant.show(cloud);
  finishGpu(contestant.gl());
  const firstFrameMs = performance.now() - started;

  const renderTimesBefore = contestant.renderTimes()?.length ?? 0;
  const { durations, fps, drawnDuring } = await animate(contestant, params.seconds);
  const renderTimes = contestant.renderTimes()?.slice(renderTimesBefore) ?? null;
  const sorted = [...durations].sort((a, b) => a - b);
  const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  return {
    renderer: params.renderer,
    points: params.points,
    dims: params.dims,
    firstFrameMs,
    frames: durations.length,
    medianMs: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    fps,
    redraws: drawnDuring,
    webgl: rendererName(contestant.gl()),
    heapMiB: memory ? memory.usedJSHeapSize / 2 ** 20 : null,
    deckRenderMs: renderTimes ? percentile([...renderTimes].sort((a, b) => a - b), 0.5) : null,
    durations,
  };
}

run()
  .then((result) => {
    window.benchResult = result;
  })
  .catch((error: unknown) => {
    window.benchError = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
  })
  .finally(() => {
    document.body.dataset.done = "1";
  });
