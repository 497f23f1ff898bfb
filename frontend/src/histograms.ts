// Small bar charts of the metadata columns: the grey bar is every point of that bar, the
// coloured one what the other filters leave. Clicking a bar selects its points (Ctrl/Shift:
// add it to the column's picked bars); clicking a picked bar drops it.

import type { Binned, Selection } from "./selection";
import { svg } from "./svg";

const WIDTH = 170;
const BAR_HEIGHT = 13;
const NUMERIC_HEIGHT = 60;

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
  const plot = svg("svg", { width: WIDTH });
  const largest = Math.max(1, ...total);
  const bars = column.names.map((name, bar) => {
    const group = svg("g", { class: "hbar" });
    group.classList.toggle("picked", selection.isPicked(column.column, bar));
    group.dataset.testid = "histogram-bar";
    group.dataset.bar = String(bar);
    group.dataset.name = name;
    group.dataset.count = String(selected[bar] ?? 0);
    if (column.edges) {
      group.dataset.low = String(column.edges[bar]);
      group.dataset.high = String(column.edges[bar + 1]);
    }
    const count = (value: number | undefined) => (value ?? 0).toLocaleString("en");
    const counts = `${count(selected[bar])} of ${count(total[bar])}`;
    group.append(svg("title", {}, `${name}: ${counts}`));
    group.addEventListener("click", (event) =>
      onToggle(column.column, bar, event.ctrlKey || event.metaKey || event.shiftKey),
    );
    return { group, all: total[bar] ?? 0, left: selected[bar] ?? 0, name };
  });
  if (column.kind === "categories") {
    // one row per category: name, bar, count
    plot.setAttribute("height", String(bars.length * BAR_HEIGHT));
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
      plot.append(group);
    });
  } else {
    // columns left to right from the lowest values; the ends are labelled below
    plot.setAttribute("height", String(NUMERIC_HEIGHT + 14));
    const step = WIDTH / bars.length;
    bars.forEach(({ group, all, left }, i) => {
      const x = i * step;
      const h = (value: number) => (NUMERIC_HEIGHT * value) / largest;
      group.append(
        rect(x, 0, step, NUMERIC_HEIGHT, "hit"),
        rect(x + 0.5, NUMERIC_HEIGHT - h(all), step - 1, h(all), "all"),
        rect(x + 0.5, NUMERIC_HEIGHT - h(left), step - 1, h(left), "left"),
      );
      plot.append(group);
    });
    const first = column.names[0] ?? "";
    const last = column.names[column.names.length - 1] ?? "";
    plot.append(
      text(0, NUMERIC_HEIGHT + 12, first.replace(/ – .*/, ""), "axis"),
      text(WIDTH, NUMERIC_HEIGHT + 12, last.replace(/.* – /, ""), "axis end"),
    );
  }
  figure.append(caption, plot);
  return figure;
}

function rect(x: number, y: number, width: number, height: number, kind: string): SVGRectElement {
  const size = (value: number) => Math.max(0, value).toFixed(1);
  return svg("rect", {
    x: x.toFixed(1),
    y: y.toFixed(1),
    width: size(width),
    height: size(height),
    class: kind,
  });
}

function text(x: number, y: number, content: string, kind: string): SVGTextElement {
  return svg("text", { x, y, class: kind }, content);
}
