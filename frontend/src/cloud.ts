// The point cloud: one deck.gl instance whose view is an OrbitView for 3D projections and an
// OrthographicView for 2D ones. Every point is in one binary PointsLayer (typed arrays only,
// one GL point each); what the current query says (scores, the listed neighbours, the hovered
// row) is drawn by small layers on top, so a new query rebuilds a few hundred markers, not the
// whole cloud.

import {
  Deck,
  OrbitView,
  OrthographicView,
  type Layer,
  type OrbitViewState,
  type OrthographicViewState,
  type PickingInfo,
} from "@deck.gl/core";
import { ScatterplotLayer, TextLayer } from "@deck.gl/layers";
import { HOVER, QUERY, type RGBA } from "./colors";
import { PointsLayer } from "./points-layer";
import { svg } from "./svg";
import type { PointSet } from "./points";

export interface Marker {
  index: number;
  position: [number, number, number];
  label: string;
  color: RGBA;
  score?: number;
}

export interface Highlight {
  /** every point the query has a score for, coloured by it, strongest last (drawn on top) */
  scored: Marker[];
  /** the listed neighbours: larger and outlined */
  marked: Marker[];
  query: Marker | null;
  /** the points to name in the cloud, most important first; those whose names would overlap
   * a more important one stay unnamed until zooming in separates them */
  labelled: Marker[];
}

export interface CloudEvents {
  onPick(index: number): void;
  onHover(index: number | null): void;
  /** the first frame with a new projection's points has been drawn */
  onDrawn(count: number): void;
  onError(error: Error): void;
  /** a rectangle or lasso was drawn over the cloud: 1 for every point inside it; null for a
   * click without a drag (which clears the drawn selection) */
  onBoxSelect(inside: Uint8Array | null): void;
}

export type DragMode = "move" | "rectangle" | "lasso";

interface Point2 {
  x: number;
  y: number;
}

interface Drawing {
  mode: "rectangle" | "lasso";
  /** a rectangle's two corners, or every point of the lasso so far */
  path: Point2[];
  shape: SVGSVGElement;
}

/** The drawn shape as a polygon. */
function outline(drawing: Drawing): Point2[] {
  if (drawing.mode === "lasso") return drawing.path;
  const [a, b = a] = drawing.path;
  if (!a || !b) return [];
  return [a, { x: b.x, y: a.y }, b, { x: a.x, y: b.y }];
}

/** Even-odd rule: a ray from (x, y) crosses the polygon's edges an odd number of times. */
function contains(polygon: Point2[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i];
    const b = polygon[j];
    if (!a || !b) continue;
    if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

const FLAGGED_OUTLINE: RGBA = [90, 20, 110, 255];
const NO_HIGHLIGHT: Highlight = { scored: [], marked: [], query: null, labelled: [] };
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

// Deck diffs layer props by reference: accessors defined once never look changed.
const positionOf = (m: Marker) => m.position;
const colorOf = (m: Marker) => m.color;
// some vocabularies hold 60-character runs of one letter; a name longer than this is cut
const NAME_LENGTH = 24;
const nameOf = (m: Marker) =>
  m.label.length > NAME_LENGTH ? `${m.label.slice(0, NAME_LENGTH - 1)}…` : m.label;

type CloudView = OrbitView | OrthographicView;

type BinaryPoints = {
  length: number;
  attributes: {
    getPosition: { value: Float32Array; size: 3 };
    getFillColor: { value: Uint8ClampedArray; size: 4; type: "unorm8" };
  };
};

export class Cloud {
  private readonly deck: Deck<CloudView>;
  private points: PointSet | null = null;
  private positions: BinaryPoints["attributes"]["getPosition"] | null = null;
  private data: BinaryPoints | null = null;
  private highlight: Highlight = NO_HIGHLIGHT;
  private clusterNames: { label: string; position: [number, number, number] }[] = [];
  private byIndex = new Map<number, Marker>();
  private hover: Marker | null = null;
  private labels: Marker[] = [];
  private labelSignature = "";
  private pendingDrawn: number | null = null;
  private radius = 3;
  private flagged: Marker[] = [];
  private dragMode: DragMode = "move";
  private drawing: Drawing | null = null;

  constructor(
    private readonly container: HTMLDivElement,
    private readonly events: CloudEvents,
  ) {
    this.deck = new Deck({
      parent: container,
      style: { position: "absolute", inset: "0" },
      views: orbitView(),
      initialViewState: { target: [0, 0, 0], zoom: 0, rotationOrbit: 30, rotationX: 25 },
      layers: [],
      // PNG export and screenshots read the canvas after the frame was presented.
      // Multisampling off: the sprites are cut round in their shader and text is drawn from
      // distance fields, so it adds nothing to see, and without a GPU it halved the frame rate
      // (benchmarks/bench_renderer.py)
      deviceProps: {
        type: "webgl",
        webgl: { preserveDrawingBuffer: true, antialias: false },
      },
      getTooltip: (info) => this.tooltip(info),
      onClick: (info) => {
        const index = this.indexOf(info);
        if (index !== null) this.events.onPick(index);
      },
      onHover: (info) => this.events.onHover(this.indexOf(info)),
      onAfterRender: () => {
        this.placeLabels();
        if (this.pendingDrawn !== null) {
          const count = this.pendingDrawn;
          this.pendingDrawn = null;
          this.events.onDrawn(count);
        }
      },
      onError: (error) => this.events.onError(error),
    });
    // the selection is drawn on the container, in the capture phase, so that deck.gl's own
    // drag (pan, rotate) never sees a drag that selects
    container.addEventListener("pointerdown", (event) => this.startDrawing(event), {
      capture: true,
    });
    container.addEventListener("pointermove", (event) => this.keepDrawing(event), {
      capture: true,
    });
    container.addEventListener("pointerup", (event) => this.endDrawing(event), { capture: true });
  }

  /** What a drag does: move the view, or draw a rectangle or a lasso that selects the points
   * under it (a drag with Shift held draws a rectangle in "move" mode). */
  setDragMode(mode: DragMode): void {
    this.dragMode = mode;
    this.container.classList.toggle("selecting", mode !== "move");
  }

  /** Rings points apart from the query's (the token scan's candidates); [] removes them. */
  setFlagged(markers: Marker[]): void {
    this.flagged = markers;
    this.deck.setProps({ layers: this.layers() });
  }

  private startDrawing(event: PointerEvent): void {
    if (event.button !== 0 || !this.points) return;
    const mode = this.dragMode === "move" ? (event.shiftKey ? "rectangle" : null) : this.dragMode;
    if (!mode) return;
    event.preventDefault();
    event.stopPropagation();
    const shape = svg("svg", { class: "select-shape", "data-testid": "select-shape" });
    shape.append(svg("polygon"));
    this.container.append(shape);
    this.drawing = { mode, path: [this.local(event)], shape };
    this.container.setPointerCapture(event.pointerId);
  }

  private keepDrawing(event: PointerEvent): void {
    const drawing = this.drawing;
    if (!drawing) return;
    event.preventDefault();
    event.stopPropagation();
    const at = this.local(event);
    if (drawing.mode === "rectangle") drawing.path = [drawing.path[0] ?? at, at];
    else drawing.path.push(at);
    drawing.shape.firstElementChild?.setAttribute(
      "points",
      outline(drawing)
        .map(({ x, y }) => `${x},${y}`)
        .join(" "),
    );
  }

  private endDrawing(event: PointerEvent): void {
    const drawing = this.drawing;
    if (!drawing) return;
    this.keepDrawing(event);
    this.drawing = null;
    drawing.shape.remove();
    this.container.releasePointerCapture(event.pointerId);
    const polygon = outline(drawing);
    const xs = polygon.map((p) => p.x);
    const ys = polygon.map((p) => p.y);
    // a click, not a drag: the drawn selection is dropped
    if (Math.max(...xs) - Math.min(...xs) < 4 && Math.max(...ys) - Math.min(...ys) < 4) {
      this.events.onBoxSelect(null);
      return;
    }
    this.events.onBoxSelect(this.inside(polygon));
  }

  private local(event: PointerEvent): Point2 {
    const bounds = this.container.getBoundingClientRect();
    return { x: event.clientX - bounds.left, y: event.clientY - bounds.top };
  }

  /** The points whose screen position falls in the polygon (in the view as it is now, so a
   * turned 3D cloud selects what is seen there, at any depth). */
  private inside(polygon: Point2[]): Uint8Array {
    const points = this.points;
    const viewport = this.deck.getViewports()[0];
    const out = new Uint8Array(points?.length ?? 0);
    if (!points || !viewport) return out;
    const xs = polygon.map((p) => p.x);
    const ys = polygon.map((p) => p.y);
    const [left, right] = [Math.min(...xs), Math.max(...xs)];
    const [top, bottom] = [Math.min(...ys), Math.max(...ys)];
    const p = points.positions;
    const position: [number, number, number] = [0, 0, 0];
    for (let i = 0; i < points.length; i++) {
      position[0] = p[3 * i] ?? 0;
      position[1] = p[3 * i + 1] ?? 0;
      position[2] = p[3 * i + 2] ?? 0;
      const [x = NaN, y = NaN] = viewport.project(position);
      if (x < left || x > right || y < top || y > bottom) continue;
      if (contains(polygon, x, y)) out[i] = 1;
    }
    return out;
  }

  /** Draws a new projection, framed to its points, with the given per-point RGBA colours. */
  show(points: PointSet, colors: Uint8ClampedArray): void {
    this.clusterNames = []; // the last projection's names; the page asks for this one's
    this.flagged = [];
    this.points = points;
    this.positions = { value: points.positions, size: 3 };
    this.highlight = NO_HIGHLIGHT;
    this.byIndex.clear();
    this.hover = null;
    this.labels = [];
    this.labelSignature = "";
    const n = points.length;
    // fewer, larger points for a neighbourhood; tiny ones where 400k of them overlap anyway
    this.radius = n > 100_000 ? 1.5 : n > 20_000 ? 2 : n > 2_000 ? 3 : 5;
    this.setColors(colors, false);
    this.pendingDrawn = n;
    this.deck.setProps({
      views: points.dims === 3 ? orbitView() : planeView(),
      initialViewState: this.framing(points),
      layers: this.layers(),
    });
  }

  clear(): void {
    this.points = null;
    this.data = this.positions = null;
    this.highlight = NO_HIGHLIGHT;
    this.byIndex.clear();
    this.hover = null;
    this.labels = [];
    this.labelSignature = "";
    this.clusterNames = [];
    this.flagged = [];
    this.deck.setProps({ layers: [] });
  }

  setColors(colors: Uint8ClampedArray, redraw = true): void {
    if (!this.points || !this.positions) return;
    if (this.data?.attributes.getFillColor.value === colors) return;
    // a new data object re-reads every attribute; the positions wrapper is the same object,
    // so deck.gl skips re-uploading them
    this.data = {
      length: this.points.length,
      attributes: {
        getPosition: this.positions,
        getFillColor: { value: colors, size: 4, type: "unorm8" },
      },
    };
    if (redraw) this.deck.setProps({ layers: this.layers() });
  }

  /** Names drawn over the cloud's dense regions (an empty list removes them). */
  setClusters(names: { label: string; position: number[] }[]): void {
    this.clusterNames = names.map(({ label, position }) => ({
      label,
      position: [position[0] ?? 0, position[1] ?? 0, position[2] ?? 0],
    }));
    this.deck.setProps({ layers: this.layers() });
  }

  setHighlight(highlight: Highlight): void {
    this.highlight = highlight;
    this.byIndex = new Map(highlight.scored.map((m) => [m.index, m]));
    if (highlight.query) this.byIndex.set(highlight.query.index, highlight.query);
    this.deck.setProps({ layers: this.layers() });
  }

  /** Rings one point (a hovered list row), or none. */
  setHover(index: number | null): void {
    const points = this.points;
    if (index === this.hover?.index) return;
    this.hover =
      points && index !== null
        ? (this.byIndex.get(index) ?? {
            index,
            position: points.position(index),
            label: points.label(index),
            color: HOVER,
          })
        : null;
    this.deck.setProps({ layers: this.layers() });
  }

  /** The canvas as a PNG on the page's background (the WebGL canvas itself is transparent). */
  async png(background: string): Promise<Blob> {
    const canvas = this.deck.getCanvas();
    if (!canvas) throw new Error("the cloud has not been drawn yet");
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const context = out.getContext("2d");
    if (!context) throw new Error("this browser cannot draw a 2D canvas");
    context.fillStyle = background;
    context.fillRect(0, 0, out.width, out.height);
    context.drawImage(canvas, 0, 0);
    return new Promise((resolve, reject) =>
      out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG export failed"))), "image/png"),
    );
  }

  /** Chooses the names that fit without overlapping, in the order of importance, for the view
   * just drawn; redraws only when that choice changes (so it settles after one more frame). */
  private placeLabels(): void {
    const viewport = this.deck.getViewports()[0];
    if (!viewport || !this.data) return;
    const named = [...this.highlight.labelled, ...this.flagged];
    const candidates = this.hover
      ? [this.hover, ...named.filter((m) => m.index !== this.hover?.index)]
      : named;
    const boxes: [number, number, number, number][] = [];
    const shown: Marker[] = [];
    const lift = this.radius + 8;
    for (const marker of candidates) {
      const [x = NaN, y = NaN] = viewport.project(marker.position);
      // system-ui at 12px, semi-bold: about 7px a character, plus the background's padding
      const half = (nameOf(marker).length * 7 + 8) / 2;
      const box: [number, number, number, number] = [x - half, y - lift - 16, x + half, y - lift];
      const visible = box[2] > 0 && box[0] < viewport.width && box[3] > 0 && box[1] < viewport.height;
      const overlaps = boxes.some(
        (b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3],
      );
      if (!Number.isFinite(x) || !visible || overlaps) continue;
      boxes.push(box);
      shown.push(marker);
    }
    const signature = shown.map((m) => `${m.index}:${m.label}`).join("|");
    if (signature === this.labelSignature) return;
    this.labelSignature = signature;
    this.labels = shown;
    this.deck.setProps({ layers: this.layers() });
  }

  private indexOf(info: PickingInfo): number | null {
    if (!info.layer || info.index < 0) return null;
    if (info.layer.id === "points") return info.index;
    const marker = info.object as Marker | undefined;
    return marker ? marker.index : null;
  }

  private tooltip(info: PickingInfo) {
    const index = this.indexOf(info);
    if (index === null || !this.points) return null;
    const score = this.byIndex.get(index)?.score;
    const text = this.points.label(index) + (score === undefined ? "" : `  ${score.toFixed(3)}`);
    return { text, className: "cloud-tip", style: TIP_STYLE };
  }

  private framing(points: PointSet): OrbitViewState | OrthographicViewState {
    const { width, height } = this.container.getBoundingClientRect();
    // a rotated 3D box shows up to its diagonal; a 2D one shows its sides
    const extent = points.span * (points.dims === 3 ? 1.3 : 1.1);
    const zoom = Math.log2(Math.max(50, Math.min(width, height)) / extent);
    const bounds = { minZoom: zoom - 4, maxZoom: zoom + 14 };
    return points.dims === 3
      ? { target: points.center, zoom, rotationOrbit: 30, rotationX: 25, ...bounds }
      : { target: [points.center[0], points.center[1], 0], zoom, ...bounds };
  }

  private layers(): Layer[] {
    if (!this.data) return [];
    const r = this.radius;
    const { scored, marked, query } = this.highlight;
    // markers are never hidden behind the cloud, whatever way it is turned
    const onTop = { parameters: { depthCompare: "always" as const } };
    const pixels = { radiusUnits: "pixels" as const, billboard: true };
    const hover = this.hover ? [this.hover] : [];
    const layers: Layer[] = [
      new PointsLayer({
        id: "points",
        data: this.data,
        ...pixels,
        getRadius: r,
        pickable: true,
        autoHighlight: true,
        highlightColor: HOVER,
      }),
      new ScatterplotLayer<Marker>({
        id: "scored",
        data: scored,
        ...pixels,
        ...onTop,
        getPosition: positionOf,
        getFillColor: colorOf,
        getRadius: r + 1,
        pickable: true,
      }),
      new ScatterplotLayer<Marker>({
        id: "marked",
        data: query ? [...marked, query] : marked,
        ...pixels,
        ...onTop,
        getPosition: positionOf,
        getFillColor: colorOf,
        getRadius: (m: Marker) => (m === query ? r + 6 : r + 3),
        updateTriggers: { getRadius: [query, r], getLineColor: [query] },
        stroked: true,
        lineWidthUnits: "pixels",
        getLineWidth: 1.5,
        getLineColor: (m: Marker) => (m === query ? [255, 255, 255, 255] : [25, 25, 30, 230]),
        pickable: true,
      }),
      new ScatterplotLayer<Marker>({
        id: "flagged",
        data: this.flagged,
        ...pixels,
        ...onTop,
        getPosition: positionOf,
        getFillColor: colorOf,
        getRadius: r + 3,
        stroked: true,
        lineWidthUnits: "pixels",
        getLineWidth: 2,
        getLineColor: FLAGGED_OUTLINE,
        pickable: true,
      }),
      new ScatterplotLayer<Marker>({
        id: "hover",
        data: hover,
        ...pixels,
        ...onTop,
        getPosition: positionOf,
        getRadius: r + 9,
        filled: false,
        stroked: true,
        lineWidthUnits: "pixels",
        getLineWidth: 2.5,
        getLineColor: HOVER,
      }),
    ];
    if (this.clusterNames.length > 0) {
      layers.push(
        new TextLayer<{ label: string; position: [number, number, number] }>({
          id: "clusters",
          data: this.clusterNames,
          ...onTop,
          getPosition: (c) => c.position,
          getText: (c) => c.label,
          getSize: 15,
          getColor: [60, 40, 90, 255],
          fontFamily: FONT,
          fontWeight: 700,
          characterSet: "auto",
          getTextAnchor: "middle",
          getAlignmentBaseline: "center",
          background: true,
          getBackgroundColor: [245, 240, 255, 215],
          backgroundPadding: [5, 3],
          billboard: true,
        }),
      );
    }
    // no text layer without text: an empty font atlas makes WebGL complain about its texture
    if (this.labels.length === 0) return layers;
    layers.push(
      new TextLayer<Marker>({
        id: "labels",
        data: this.labels,
        ...onTop,
        getPosition: positionOf,
        getText: nameOf,
        getSize: 12,
        getColor: (m: Marker) => (m === query ? QUERY : [40, 40, 48, 255]),
        fontFamily: FONT,
        fontWeight: 600,
        characterSet: "auto",
        getTextAnchor: "middle",
        getAlignmentBaseline: "bottom",
        getPixelOffset: [0, -(r + 8)],
        background: true,
        getBackgroundColor: [255, 255, 255, 200],
        backgroundPadding: [3, 1],
        billboard: true,
      }),
    );
    return layers;
  }
}

const TIP_STYLE: Partial<CSSStyleDeclaration> = {
  backgroundColor: "rgba(20, 22, 28, 0.9)",
  color: "#fff",
  padding: "3px 7px",
  borderRadius: "3px",
  fontSize: "12px",
  whiteSpace: "pre",
};

function orbitView(): CloudView {
  // orthographic: a point's size and a label's say nothing about its depth, and a
  // perspective camera would make near ones look important
  return new OrbitView({ id: "orbit", orthographic: true, controller: true });
}

function planeView(): CloudView {
  // y up, as in every plot of a projection
  return new OrthographicView({ id: "plane", flipY: false, controller: true });
}
