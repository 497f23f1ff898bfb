// The line under the header: what went wrong, or what a query was read as. An unknown word
// offers the closest keys as buttons, a word of several tokens its pieces.

import { ApiError } from "./api";
import { byTestId, page } from "./app";
import { isSuperseded } from "./latest";

const message = byTestId<HTMLElement>("message");

export function showMessage(text: string, kind: "error" | "notice" = "notice"): void {
  message.replaceChildren(text);
  message.dataset.kind = kind;
}

export function clearMessage(): void {
  message.replaceChildren();
  delete message.dataset.kind;
}

function linkButton(text: string, testId: string, onClick: () => void): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = text;
  button.dataset.testid = testId;
  button.addEventListener("click", onClick);
  return button;
}

/** The server's answer to an unknown word: the closest keys, each a button that searches it;
 * or a word of several tokens: its pieces as tables show them, and (where ``useMean`` is
 * given) a button that asks again with their mean. */
function showUnknown(word: string, error: ApiError, useMean?: () => void): void {
  // the server names the word it could not find (similarity has two candidates)
  const named = /^(['"])(.*)\1 is not (?:in|a single entry)/.exec(error.message)?.[2] ?? word;
  if (error.pieces.length > 1) {
    const labels = error.pieceLabels.length > 0 ? error.pieceLabels : error.pieces;
    const parts: (string | Node)[] = [`"${named}" is not one token here: it splits into `];
    const pieces = document.createElement("span");
    pieces.className = "pieces";
    pieces.dataset.testid = "pieces";
    pieces.textContent = labels.join(" + ");
    parts.push(pieces);
    if (useMean) parts.push("; ", linkButton("use the mean of their vectors", "use-mean", useMean));
    message.replaceChildren(...parts);
    message.dataset.kind = "error";
    return;
  }
  const parts: (string | Node)[] = [`no word "${named}"`];
  if (error.suggestions.length > 0) {
    parts.push("; did you mean: ");
    error.suggestions.forEach((suggestion, i) => {
      if (i > 0) parts.push(", ");
      parts.push(linkButton(suggestion, "suggestion", () => void page.search(suggestion)));
    });
    parts.push(", …");
  }
  message.replaceChildren(...parts);
  message.dataset.kind = "error";
}

/** Shows why a call failed. ``word`` is what it asked about, for an unknown word's message;
 * ``useMean`` asks again with the mean of a word's pieces. */
export function report(error: unknown, word = "", useMean?: () => void): void {
  // a newer call replaced this one: its failure is nobody's business any more
  if (isSuperseded(error)) return;
  if (error instanceof ApiError && error.unknownWord) showUnknown(word, error, useMean);
  else if (error instanceof ApiError) showMessage(error.message, "error");
  else if (error instanceof TypeError) showMessage("the server did not answer", "error");
  else showMessage(error instanceof Error ? error.message : String(error), "error");
}
