// The notebook widget (anywidget's module: ``export default { render }``). Its view is an
// iframe holding the explorer page, the very page ``embscope serve`` serves, built into one
// HTML document (vite.widget.config.ts); the iframe keeps the page's styles, its document and
// its module state apart from the notebook's and from other widgets'. There is no server: the
// page's requests come here as messages and go to the kernel through the widget's comm, and
// the kernel's answers come back the same way (the messages: protocol.ts).

import PAGE from "virtual:embscope-page";
import {
  isTagged,
  type FromPage,
  type ResponseMessage,
  type SearchMessage,
  type ToPage,
} from "./protocol";

/** What anywidget hands ``render`` (its AnyModel, as far as this widget uses it). */
interface Model {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: never[]) => void): void;
  off(event: string, callback: (...args: never[]) => void): void;
  send(content: object, callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void;
}

const DEFAULT_HEIGHT = 640;

/** Request ids as the kernel sees them. Every view of a model hears every answer to it, so
 * each view's requests get ids no other view of the model uses (anywidget loads this module
 * once per model). */
let nextId = 1;

/** An answer's body: the comm's buffer (a DataView in Jupyter) as an ArrayBuffer of its own. */
function bytesOf(buffer: unknown): ArrayBuffer {
  if (ArrayBuffer.isView(buffer)) {
    const { byteOffset, byteLength } = buffer;
    return buffer.buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
  }
  if (buffer instanceof ArrayBuffer) return buffer.slice(0);
  return new ArrayBuffer(0);
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const iframe = document.createElement("iframe");
  iframe.title = "embscope explorer";
  iframe.style.display = "block";
  iframe.style.width = "100%";
  iframe.style.border = "0";
  const setHeight = () => {
    const height = Number(model.get("height"));
    iframe.style.height = `${height > 0 ? height : DEFAULT_HEIGHT}px`;
  };
  setHeight();

  /** the kernel's request id -> the page's */
  const requests = new Map<number, number>();
  /** the page has started: the kernel's searches go to it (one asked before waits) */
  let ready = false;
  let heldSearch: string | null = null;
  /** the query the page last reported showing */
  let pageQuery: string | null = null;

  const toPage = (message: ToPage, transfer: Transferable[] = []) =>
    iframe.contentWindow?.postMessage(message, "*", transfer);
  const search = (query: string) => toPage({ embscope: 1, kind: "search", query });

  /** The kernel hears the query the page shows, then the trait follows it: the kernel can tell
   * that change from one of its own, which it would send to the page as a search. */
  const showQuery = (query: string) => {
    model.send({ kind: "query", query });
    if (model.get("query") === query) return;
    model.set("query", query);
    model.save_changes();
  };

  /** The page has started with a query of its own choosing (a common word); the kernel's, if
   * it asked for one (the trait, set before this view was made, or a search held back), wins. */
  const started = () => {
    ready = true;
    model.send({ kind: "ready" });
    const trait = model.get("query");
    const asked = heldSearch ?? (typeof trait === "string" && trait ? trait : null);
    heldSearch = null;
    if (asked !== null && asked !== pageQuery) search(asked);
    else if (pageQuery !== null) showQuery(pageQuery);
  };

  const fromPage = (event: MessageEvent<unknown>) => {
    if (event.source !== iframe.contentWindow || !isTagged(event.data)) return;
    const message = event.data as FromPage;
    switch (message.kind) {
      case "request": {
        const id = nextId++;
        requests.set(id, message.id);
        const { method, url, content_type, body } = message;
        model.send({ kind: "request", id, method, url, content_type, body });
        break;
      }
      case "ready":
        started();
        break;
      case "query":
        pageQuery = message.query;
        // before "ready" it is the page's own first query, which the kernel may replace
        if (ready) showQuery(message.query);
        break;
      case "projection":
        model.send({ kind: "projection", source: message.source, job: message.job });
        break;
      case "selection": {
        const { source, job } = message;
        const indices = new Int32Array(message.indices);
        model.send({ kind: "selection", source, job, count: indices.length }, undefined, [indices]);
        break;
      }
    }
  };

  const fromKernel = (content: unknown, buffers?: unknown[]) => {
    if (typeof content !== "object" || content === null) return;
    const message = content as Partial<
      Omit<ResponseMessage, "embscope" | "kind" | "body"> & Omit<SearchMessage, "embscope" | "kind">
    > & { kind?: unknown };
    if (message.kind === "response" && typeof message.id === "number") {
      const pageId = requests.get(message.id);
      if (pageId === undefined) return; // another view's
      requests.delete(message.id);
      const body = bytesOf(buffers?.[0]);
      toPage(
        {
          embscope: 1,
          kind: "response",
          id: pageId,
          status: Number(message.status),
          content_type: message.content_type ?? null,
          body,
        },
        [body],
      );
    } else if (message.kind === "search") {
      const query = String(message.query ?? "");
      if (ready) search(query);
      else heldSearch = query;
    }
  };

  window.addEventListener("message", fromPage);
  model.on("msg:custom", fromKernel);
  model.on("change:height", setHeight);
  iframe.srcdoc = PAGE;
  el.append(iframe);
  return () => {
    window.removeEventListener("message", fromPage);
    model.off("msg:custom", fromKernel);
    model.off("change:height", setHeight);
    requests.clear();
    iframe.remove();
  };
}

export default { render };
