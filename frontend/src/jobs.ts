// The server's background jobs (projections, token scans), polled until they end, and how
// their progress shows.

import * as api from "./api";
import { sleep } from "./latest";

const POLL_MS = 300;

/** Polls ``job`` (as its start answered) until it is no longer queued or running, calling
 * ``onRunning`` before each wait. Rejects as soon as ``signal`` aborts (the call was
 * superseded). */
export async function finished(
  job: api.Job,
  signal: AbortSignal,
  onRunning: (job: api.Job) => void,
): Promise<api.Job> {
  for (;;) {
    // an answer that arrived just before the abort must not be shown either
    signal.throwIfAborted();
    if (job.state !== "queued" && job.state !== "running") return job;
    onRunning(job);
    await sleep(POLL_MS, signal);
    job = await api.job(job.id, signal);
  }
}

export const failed = (job: api.Job) => job.state === "failed" || job.state === "cancelled";

/** "running 42% · t-SNE 2D of 61 rows: KL 0.512", or the job's description before any
 * progress is known. */
export function jobProgress(job: api.Job): string {
  if (job.state === "queued" || job.progress === null) return `${job.state}… ${job.description}`;
  return `${job.state} ${Math.round(100 * job.progress)}% · ${job.phase ?? job.description}`;
}

/** Why a job ended without a result: "failed: <error>", or who cancelled it. */
export function jobEnd(job: api.Job): string {
  if (job.state === "cancelled") return job.error ?? "cancelled";
  return `failed: ${job.error ?? "unknown error"}`;
}

export function showProgress(bar: HTMLProgressElement, job: api.Job): void {
  bar.hidden = false;
  // no value: the indeterminate bar, until the work says how far it is
  if (job.progress === null) bar.removeAttribute("value");
  else bar.value = job.progress;
}
