// The page inside the notebook widget (src/widget/entry.ts puts it in an iframe and sets
// window.__embscopeEmbed first). There is no server to ask: every request the page makes goes
// to the widget as a message, and the kernel answers it through the widget's comm. The page
// also tells the widget what it shows (the query, the projection drawn, the selection), and
// searches what the kernel asks for. The messages are in src/widget/protocol.ts. Served by
// ``embscope serve``, the page never loads any of this (main.ts connects it only when embedded).

import { page, state } from "./app";
import {
  isTagged,
  type FromPage,
  type ResponseMessage,
  type SearchMessage,
} from "./widget/protocol";

declare global {
  interface Window {
    /** set by the widget's page before any module runs */
    __embscopeEmbed?: boolean;
  }
}

/** The page runs inside the notebook widget, not from ``embscope serve``. */
export const embedded = window.__embscopeEmbed === true;

/** how long the selection must hold still before it is reported (a drag changes it often) */
const SELECTION_QUIET_MS = 150;
/** statuses whose response has no body (the Response constructor refuses one) */
const NULL_BODY = new Set([204, 205, 304]);

function post(message: FromPage, transfer: Transferable[] = []): void {
  window.parent.postMessage(message, "*", transfer);
}

// ---- fetch, through the widget --------------------------------------------------------------

interface Pending {
  resolve(response: Response): void;
}

const pending = new Map<number, Pending>();
let nextId = 1;

const aborted = () => new DOMException("aborted", "AbortError");

/** The path and query a request names, from the server's root: the page asks for paths
 * relative to where it was served from ("api/sources"), which is the server's root. */
function serverPath(input: RequestInfo | URL): string {
  const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (/^[a-z][a-z\d+.-]*:/i.test(raw)) {
    const url = new URL(raw);
    return url.pathname + url.search;
  }
  return `/${raw.replace(/^(?:\.?\/)+/, "")}`;
}

/** A request's body as text: the page sends JSON strings; anything else is read as text. */
async function bodyText(body: BodyInit | null | undefined): Promise<string | null> {
  if (body === null || body === undefined) return null;
  if (typeof body === "string") return body;
  return await new Response(body).text();
}

/** ``fetch`` as the page uses it, answered through the widget. ``init.signal`` aborts it as
 * it would a request to a server (the answer, when it comes, is dropped). */
function relayFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const request = input instanceof Request ? input : null;
  const signal = init.signal ?? request?.signal;
  if (signal?.aborted) return Promise.reject(aborted());
  const id = nextId++;
  return new Promise<Response>((resolve, reject) => {
    const abort = () => {
      pending.delete(id);
      reject(aborted());
    };
    signal?.addEventListener("abort", abort, { once: true });
    pending.set(id, {
      resolve: (response) => {
        signal?.removeEventListener("abort", abort);
        resolve(response);
      },
    });
    const headers = new Headers(init.headers ?? request?.headers);
    const body = init.body !== undefined ? Promise.resolve(init.body) : (request?.text() ?? null);
    Promise.resolve(body)
      .then(bodyText)
      .then((text) => {
        if (!pending.has(id)) return;
        post({
          embscope: 1,
          kind: "request",
          id,
          method: (init.method ?? request?.method ?? "GET").toUpperCase(),
          url: serverPath(input),
          content_type: headers.get("content-type"),
          body: text,
        });
      })
      .catch((error: unknown) => {
        pending.delete(id);
        signal?.removeEventListener("abort", abort);
        reject(error instanceof Error ? error : new TypeError(String(error)));
      });
  });
}

function answer(message: ResponseMessage): void {
  const waiting = pending.get(message.id);
  if (!waiting) return; // aborted meanwhile
  pending.delete(message.id);
  const status = message.status >= 200 && message.status <= 599 ? message.status : 502;
  const headers = message.content_type ? { "content-type": message.content_type } : undefined;
  const body = NULL_BODY.has(status) ? null : message.body;
  waiting.resolve(new Response(body, { status, headers }));
}

// ---- what the page shows, told to the widget --------------------------------------------------

let shownQuery: string | null = null;
let drawn: typeof state.projection = null;
let reported: { job: string | null; indices: Int32Array } = {
  job: null,
  indices: new Int32Array(0),
};
let quiet: ReturnType<typeof setTimeout> | undefined;

function reportQuery(): void {
  const query = document.body.dataset.query ?? "";
  if (query === shownQuery) return;
  shownQuery = query;
  post({ embscope: 1, kind: "query", query });
}

function reportProjection(): void {
  const projection = state.projection;
  if (document.body.dataset.points === undefined || !projection || projection === drawn) return;
  drawn = projection;
  post({ embscope: 1, kind: "projection", source: projection.source, job: projection.job.id });
}

/** The selected points' places in the drawn projection; none when nothing is selected. */
function selectedIndices(): Int32Array {
  const selection = state.selection;
  if (!selection?.active || selection.points !== state.projection?.points) {
    return new Int32Array(0);
  }
  const indices = new Int32Array(selection.count);
  let at = 0;
  for (let i = 0; i < selection.mask.length; i++) if (selection.mask[i]) indices[at++] = i;
  return indices;
}

const same = (a: Int32Array, b: Int32Array) =>
  a.length === b.length && a.every((value, i) => value === b[i]);

function reportSelection(): void {
  const projection = state.projection;
  const job = projection?.job.id ?? null;
  const indices = selectedIndices();
  if (job === reported.job && same(indices, reported.indices)) return;
  reported = { job, indices };
  const source = projection?.source ?? state.source?.id ?? "";
  // a copy goes (moved, not cloned): the one kept is compared with the next
  const sent = indices.slice();
  post(
    { embscope: 1, kind: "selection", source, job, count: sent.length, indices: sent },
    [sent.buffer],
  );
}

/** The page's state shows in body[data-*] (the same attributes the browser tests wait on):
 * the query shown, the points drawn, the rows selected. */
function watchPage(): void {
  const observer = new MutationObserver(() => {
    reportQuery();
    reportProjection();
    clearTimeout(quiet);
    quiet = setTimeout(reportSelection, SELECTION_QUIET_MS);
  });
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ["data-query", "data-points", "data-selected"],
  });
}

/** Connects the embedded page: ``fetch`` goes through the widget from now on, what the page
 * shows is reported, and the kernel's searches are made once ``start`` (listing the sources,
 * choosing the first, its first search) has ended, which is when the widget hears "ready". */
export function connectEmbed(start: () => Promise<void>): void {
  window.fetch = relayFetch;
  let started = false;
  let held: string | null = null;
  const search = (query: string) => void page.search(query);
  window.addEventListener("message", (event: MessageEvent<unknown>) => {
    if (event.source !== window.parent || !isTagged(event.data)) return;
    const message = event.data as ResponseMessage | SearchMessage;
    if (message.kind === "response") answer(message);
    else if (message.kind === "search" && started) search(String(message.query));
    else if (message.kind === "search") held = String(message.query);
  });
  watchPage();
  void start()
    .catch(() => undefined)
    .then(() => {
      started = true;
      post({ embscope: 1, kind: "ready" });
      if (held !== null) search(held);
      held = null;
    });
}
