// What the cloud's axes hold, named over its edges as the Python figures title them (the
// server's ``axis_titles``): an axes projection's words ("good − bad  →"), a PCA component's
// share of the variance. Nothing for t-SNE and UMAP, whose axes mean nothing.

import { byTestId } from "./app";

const AXES = ["x", "y", "z"] as const;

const box = byTestId<HTMLElement>("axis-names");

/** Names the axes of the projection just drawn (in 2D along the bottom and up the left edge,
 * in 3D listed in a corner); ``null`` or none removes them. */
export function showAxisNames(titles: readonly string[] | null, dims: number): void {
  const names = (titles ?? []).slice(0, dims).map((title, i) => {
    const axis = AXES[i] ?? "z";
    const name = document.createElement("span");
    name.dataset.testid = `axis-name-${axis}`;
    name.className = `axis-name axis-name-${axis}`;
    // a 3D view turns: its axes are told apart by their letters
    name.textContent = dims === 3 ? `${axis}: ${title.trim()}` : title.trim();
    name.title = `the ${axis} axis: ${title.trim()}`;
    return name;
  });
  box.replaceChildren(...names);
  box.dataset.dims = String(dims);
  box.hidden = names.length === 0;
}
