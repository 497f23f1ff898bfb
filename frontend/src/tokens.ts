// The under-trained token panel: the server's token scan (a shared background job), its first
// candidates as a list, and all of them ringed in the cloud wherever the projection holds them.

import * as api from "./api";
import { byTestId, isHidden, page, state } from "./app";
import type { Marker } from "./cloud";
import type { RGBA } from "./colors";
import { failed, finished, jobEnd, jobProgress, showProgress } from "./jobs";
import { LatestOnly, isSuperseded } from "./latest";
import { report } from "./messages";
import { cloud } from "./view";

/** candidates listed; more are ringed in the cloud */
const TOKEN_CANDIDATES = 20;
const FLAGGED_CANDIDATES = 500;
const CANDIDATE: RGBA = [150, 60, 190, 255];

const ui = {
  go: byTestId<HTMLButtonElement>("tokens-go"),
  status: byTestId<HTMLElement>("tokens-status"),
  progress: byTestId<HTMLProgressElement>("tokens-progress"),
  candidates: byTestId<HTMLOListElement>("token-candidates"),
  flagged: byTestId<HTMLElement>("tokens-flagged"),
};

/** Above the list: why it is not evidence, when the scan had no reference tokens. */
const caution = document.createElement("p");
caution.dataset.testid = "tokens-caution";
caution.className = "tokens-caution";
caution.hidden = true;
ui.candidates.before(caution);

function showCaution(text: string | null): void {
  caution.textContent = text ?? "";
  caution.hidden = !text;
}

const scans = new LatestOnly();

/** Runs the server's token scan and lists its first candidates; clicking one makes it the
 * query. */
async function scanTokens(): Promise<void> {
  const source = state.source;
  if (!source) return;
  ui.go.disabled = true;
  ui.candidates.replaceChildren();
  showCaution(null);
  state.candidates = [];
  const started = performance.now();
  // the button and the bar belong to the newest scan (or to the next source's reset)
  let superseded = false;
  try {
    const { job, found } = await scans.run(async (signal) => {
      const job = await finished(await api.startTokenScan(source.id, signal), signal, (job) => {
        showProgress(ui.progress, job);
        ui.status.textContent = `${jobProgress(job)} · ${((performance.now() - started) / 1000).toFixed(0)} s`;
      });
      ui.progress.hidden = true;
      // a scan that failed has no candidates to ask for
      const found = failed(job) ? null : await api.tokenScan(job.id, FLAGGED_CANDIDATES, signal);
      return { job, found };
    });
    if (!found) {
      ui.status.textContent = jobEnd(job);
      return;
    }
    const count = Number(found.summary["candidates"] ?? found.candidates.length);
    ui.status.textContent = !found.indicator
      ? "no indicator: this source has no weights"
      : found.caution
        ? `${count} candidates by ${found.indicator}: not evidence (no reference tokens)`
        : `${count} candidates by ${found.indicator}`;
    showCaution(found.caution);
    state.candidates = found.candidates;
    page.recolour();
    ui.candidates.replaceChildren(
      ...found.candidates.slice(0, TOKEN_CANDIDATES).map((candidate) => {
        const row = document.createElement("li");
        row.dataset.testid = "token-candidate";
        row.dataset.key = candidate.key;
        row.tabIndex = 0;
        row.title = `${candidate.category}, token ${candidate.token_id}: make it the query`;
        row.textContent = `${candidate.label}  ${candidate.value.toFixed(3)}`;
        row.addEventListener("click", () => void page.search(candidate.key, { exact: true }));
        return row;
      }),
    );
    document.body.dataset.tokens = String(Math.min(TOKEN_CANDIDATES, found.candidates.length));
  } catch (error) {
    superseded = isSuperseded(error);
    if (superseded) return;
    ui.status.textContent = "failed";
    report(error);
  } finally {
    if (!superseded) {
      ui.go.disabled = false;
      ui.progress.hidden = true;
    }
  }
}

/** Rings the scan's candidates that the projection holds, and says how many it holds. */
export function flagCandidates(): void {
  const points = state.projection?.points;
  if (!points || state.candidates.length === 0) {
    cloud.setFlagged([]);
    ui.flagged.textContent = "";
    delete document.body.dataset.flagged;
    return;
  }
  const markers: Marker[] = [];
  for (const candidate of state.candidates) {
    const index = points.indexOf(candidate.key);
    if (index === undefined || isHidden(index)) continue;
    markers.push({
      index,
      position: points.position(index),
      label: candidate.label,
      color: CANDIDATE,
      score: candidate.value,
    });
  }
  cloud.setFlagged(markers);
  document.body.dataset.flagged = String(markers.length);
  ui.flagged.textContent =
    markers.length > 0
      ? `${markers.length} of the first ${state.candidates.length} are in the projection, ringed in purple`
      : `none of the first ${state.candidates.length} is in the projection`;
}

/** Another vocabulary: the last one's candidates no longer apply, and a scan of it still
 * running is dropped. */
export function resetTokens(): void {
  scans.cancel();
  ui.candidates.replaceChildren();
  ui.status.textContent = "";
  showCaution(null);
  delete document.body.dataset.tokens;
  state.candidates = [];
  ui.progress.hidden = true;
  ui.go.disabled = false;
}

export function connectTokens(): void {
  ui.go.addEventListener("click", () => void scanTokens());
}
