// Small bar charts of the metadata columns: the grey bar is every point of that bar, the
// coloured one what the other filters leave. Clicking a bar selects its points (Ctrl/Shift:
// add it to the column's picked bars); clicking a picked bar drops it.

import type { Binned, Selection } from "./selection";

const WIDTH = 170;
const BAR_HEIGHT = 13;
const NUMERIC_HEIGHT = 60;
const SVG = "http://www.w3.org/2000/svg";

export function renderHistograms(
  container: HTMLElement,
  selection: Selection,
  onToggle: (column: string, bar: number, add: boolean) => void,
): void {
  container.replaceChildren(
    ...selection.columns.map((column) => chart(column, selection, onToggle)),
  );
  if (selection.columns.length === 0) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "no metadata columns to filter by";
    container.append(none);
  }
}

function chart(
  column: Binned,
  selection: Selection,
  onToggle: (column: string, bar: number, add: boolean) => void,
): HTMLElement {
  const { total, selected } = selection.histogram(column);
  const figure = document.createElement("figure");
  figure.className = "histogram";
  figure.dataset.testid = "histogram";
  figure.dataset.column = column.column;
  const caption = document.createElement("figcaption");
  caption.textContent = column.column;
  const svg = document.createElementNS(SVG, "svg");
  const largest = Math.max(1, ...total);
  const bars = column.names.map((name, bar) => {
    const group = document.createElementNS(SVG, "g");
    group.classList.add("hbar");
    group.classList.toggle("picked", selection.isPicked(column.column, bar));
    group.dataset.testid = "histogram-bar";
    group.dataset.bar = String(bar);
    group.dataset.name = name;
    group.dataset.count = String(selected[bar] ?? 0);
    if (column.edges) {
      group.dataset.low = String(column.edges[bar]);
      group.dataset.high = String(column.edges[bar + 1]);
    }
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${name}: ${(selected[bar] ?? 0).toLocaleString("en")} of ${(total[bar] ?? 0).toLocaleString("en")}`;
    group.append(title);
    group.addEventListener("click", (event) =>
      onToggle(column.column, bar, event.ctrlKey || event.metaKey || event.shiftKey),
    );
    return { group, all: total[bar] ?? 0, left: selected[bar] ?? 0, name };
  });
  if (column.kind === "categories") {
    // one row per category: name, bar, count
    svg.setAttribute("width", String(WIDTH));
    svg.setAttribute("height", String(bars.length * BAR_HEIGHT));
    const barSpace = WIDTH - 110;
    bars.forEach(({ group, all, left, name }, i) => {
      const y = i * BAR_HEIGHT;
      group.append(
        rect(0, y, WIDTH, BAR_HEIGHT, "hit"),
        text(2, y + BAR_HEIGHT - 3, name.length > 11 ? `${name.slice(0, 10)}…` : name, "name"),
        rect(66, y + 2, (barSpace * all) / largest, BAR_HEIGHT - 4, "all"),
        rect(66, y + 2, (barSpace * left) / largest, BAR_HEIGHT - 4, "left"),
        text(WIDTH - 2, y + BAR_HEIGHT - 3, left.toLocaleString("en"), "count"),
      );
      svg.append(group);
    });
  } else {
    // columns left to right from the lowest values; the ends are labelled below
    svg.setAttribute("width", String(WIDTH));
    svg.setAttribute("height", String(NUMERIC_HEIGHT + 14));
    const step = WIDTH / bars.length;
    bars.forEach(({ group, all, left }, i) => {
      const x = i * step;
      const h = (value: number) => (NUMERIC_HEIGHT * value) / largest;
      group.append(
        rect(x, 0, step, NUMERIC_HEIGHT, "hit"),
        rect(x + 0.5, NUMERIC_HEIGHT - h(all), step - 1, h(all), "all"),
        rect(x + 0.5, NUMERIC_HEIGHT - h(left), step - 1, h(left), "left"),
      );
      svg.append(group);
    });
    const first = column.names[0] ?? "";
    const last = column.names[column.names.length - 1] ?? "";
    svg.append(
      text(0, NUMERIC_HEIGHT + 12, first.replace(/ – .*/, ""), "axis"),
      text(WIDTH, NUMERIC_HEIGHT + 12, last.replace(/.* – /, ""), "axis end"),
    );
  }
  figure.append(caption, svg);
  return figure;
}

function rect(x: number, y: number, width: number, height: number, kind: string): SVGRectElement {
  const shape = document.createElementNS(SVG, "rect");
  shape.setAttribute("x", x.toFixed(1));
  shape.setAttribute("y", y.toFixed(1));
  shape.setAttribute("width", Math.max(0, width).toFixed(1));
  shape.setAttribute("height", Math.max(0, height).toFixed(1));
  shape.setAttribute("class", kind);
  return shape;
}

function text(x: number, y: number, content: string, kind: string): SVGTextElement {
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", String(x));
  label.setAttribute("y", String(y));
  label.setAttribute("class", kind);
  label.textContent = content;
  return label;
}
