// The messages between the explorer page inside the notebook widget's iframe (src/embed.ts)
// and the widget around it (src/widget/entry.ts), which relays them to and from the kernel
// (src/embscope/notebook/explorer.py) through the widget's comm. Every message carries
// ``embscope: 1``, so that either side ignores what other scripts post.
//
// page -> widget -> kernel (the widget sends each as ``model.send(content, undefined, buffers)``):
//   request     an HTTP request the served page would make of its server; the widget replaces
//               ``id`` by one of its own before it goes to the kernel, and back again
//   ready       the page has started (its sources listed, its first search answered); the
//               widget then has the page search the ``query`` trait where it is set
//   query       the query shown changed (searched, clicked, or asked by the kernel); the
//               widget sends it, then sets the ``query`` trait to it (the page's own first
//               query, before "ready", only where the trait is still empty)
//   projection  a finished projection was drawn: the server job whose points are shown
//   selection   the selected points changed; ``indices`` (the comm's one buffer) are their
//               places in the drawn projection's points, empty when nothing is selected
// kernel -> widget -> page (the widget's "msg:custom" event):
//   response    the answer to a request: ``body`` is the comm's first buffer (maybe empty)
//   search      the page searches ``query`` as if typed in its search box and submitted

export const TAG = 1;

export interface RequestMessage {
  embscope: 1;
  kind: "request";
  id: number;
  method: string;
  /** path and query, relative to the server's root: "/api/sources?..." */
  url: string;
  content_type: string | null;
  body: string | null;
}

export interface ReadyMessage {
  embscope: 1;
  kind: "ready";
}

export interface QueryMessage {
  embscope: 1;
  kind: "query";
  query: string;
}

export interface ProjectionMessage {
  embscope: 1;
  kind: "projection";
  source: string;
  job: string;
}

export interface SelectionMessage {
  embscope: 1;
  kind: "selection";
  source: string;
  /** null when no projection is drawn */
  job: string | null;
  count: number;
  indices: Int32Array;
}

export type FromPage =
  | RequestMessage
  | ReadyMessage
  | QueryMessage
  | ProjectionMessage
  | SelectionMessage;

export interface ResponseMessage {
  embscope: 1;
  kind: "response";
  id: number;
  status: number;
  content_type: string | null;
  body: ArrayBuffer;
}

export interface SearchMessage {
  embscope: 1;
  kind: "search";
  query: string;
}

export type ToPage = ResponseMessage | SearchMessage;

/** Whether ``data`` (a message event's) is one of ours. */
export function isTagged(data: unknown): data is { embscope: 1; kind: string } {
  return (
    typeof data === "object" &&
    data !== null &&
    (data as { embscope?: unknown }).embscope === TAG &&
    typeof (data as { kind?: unknown }).kind === "string"
  );
}
