// The toolbar's exports of the projection on show: its rows as CSV or Parquet and an
// interactive HTML figure (all written by the server), and the cloud as a PNG.

import * as api from "./api";
import { byTestId, state } from "./app";
import { colourColumn } from "./colouring";
import { embedded } from "./embed";
import { report } from "./messages";
import { cloud } from "./view";

/** the page's background (style.css --bg), which the cloud's canvas leaves transparent */
const BACKGROUND = "#fbfbfd";

const ui = {
  csv: byTestId<HTMLButtonElement>("export-csv"),
  parquet: byTestId<HTMLButtonElement>("export-parquet"),
  png: byTestId<HTMLButtonElement>("export-png"),
  html: byTestId<HTMLButtonElement>("export-html"),
};

export function setExports(enabled: boolean): void {
  for (const button of [ui.csv, ui.parquet, ui.png, ui.html]) {
    button.disabled = !enabled;
  }
}

/** Follows a link to ``url`` as a download named ``name``. */
function clickLink(url: string, name: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

/** Saves what ``url`` answers as the file ``name``. In the notebook widget a link to the
 * server leads nowhere: the file comes through ``fetch`` (which the kernel answers) instead. */
function saveFrom(url: string, name: string): void {
  if (!embedded) {
    clickLink(url, name);
    return;
  }
  api
    .file(url)
    .then((blob) => download(blob, name))
    .catch((error: unknown) => report(error));
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  clickLink(url, name);
  // revoking at once can cancel the download in some browsers
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function exportName(extension: string): string {
  const projection = state.projection;
  if (!projection) return `embscope.${extension}`;
  const { method, n_components: dims, neighborhood } = projection.request;
  const around = neighborhood ? `-${neighborhood.replace(/[^\p{L}\p{N}_-]+/gu, "_")}` : "";
  return `embscope-${projection.source}-${method}-${dims}d${around}.${extension}`;
}

/** The projection's rows as the server writes them (every column, labels included). */
function saveRows(format: "csv" | "parquet"): void {
  const projection = state.projection;
  if (!projection) return;
  saveFrom(api.pointsFileUrl(projection.job.id, format), exportName(format));
}

function saveFigure(): void {
  const projection = state.projection;
  if (!projection) return;
  // the server draws it (plotly, self-contained), coloured as the cloud is where it can be
  const column = colourColumn();
  const query = state.answer?.keys.length === 1 ? state.answer.query : null;
  const color = column || (query ? `similarity:${query}` : "");
  saveFrom(api.figureUrl(projection.job.id, color), exportName("html"));
}

export function connectExports(): void {
  ui.csv.addEventListener("click", () => saveRows("csv"));
  ui.parquet.addEventListener("click", () => saveRows("parquet"));
  ui.png.addEventListener("click", () => {
    cloud
      .png(BACKGROUND)
      .then((blob) => download(blob, exportName("png")))
      .catch((error: unknown) => report(error));
  });
  ui.html.addEventListener("click", saveFigure);
}
