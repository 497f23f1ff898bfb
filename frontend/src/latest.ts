// Only the newest answer may reach the page. A user can ask again (another word, another
// projection) before the last answer came back, and answers do not come back in order: a slow
// old one arriving after a newer one would overwrite it.

/** How a call that a newer one replaced ends: its caller drops it, and reports nothing. */
export class Superseded extends Error {
  constructor() {
    super("superseded by a newer call");
    this.name = "Superseded";
  }
}

export const isSuperseded = (error: unknown): error is Superseded => error instanceof Superseded;

/** One kind of call (a search, a projection, a token scan), of which only the latest counts.
 * ``run`` aborts the previous call's requests and makes its promise reject with
 * ``Superseded``, even where its request had already been answered. A task of several steps
 * hands the signal to each request and wait, so that it stops at the first step after it was
 * superseded instead of going on to write to the page.
 *
 * Superseded calls reject rather than never settle, so that a caller awaiting one (choosing a
 * source awaits its first search) still goes on. */
export class LatestOnly {
  private controller: AbortController | null = null;

  run<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    const { signal } = controller;
    // the check after settling catches an answer that arrived before the abort (a request's
    // own rejection names the abort in a form each browser chooses: it becomes Superseded)
    return task(signal).then(
      (value) => {
        if (signal.aborted) throw new Superseded();
        return value;
      },
      (error: unknown) => {
        if (signal.aborted) throw new Superseded();
        throw error;
      },
    );
  }

  /** Drops the call in flight without starting another (the page moved on: another source). */
  cancel(): void {
    this.controller?.abort(new Superseded());
    this.controller = null;
  }
}

/** A pause between polls that ends early, rejecting, when the call it belongs to is
 * superseded. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    signal.addEventListener("abort", stop, { once: true });
  });
}
