// The page's one point cloud (the renderer is cloud.ts), and what pointing at it does: a click
// makes a point the query, hovering marks its rows in the lists, a drawn shape selects.

import { byTestId, isHidden, markRows, page, state } from "./app";
import { Cloud } from "./cloud";
import { showMessage } from "./messages";

export const cloud = new Cloud(byTestId<HTMLDivElement>("cloud"), {
  onPick: (index) => {
    const points = state.projection?.points;
    if (points && !isHidden(index)) void page.search(points.key(index), { exact: true });
  },
  onHover: (index) => {
    const points = state.projection?.points;
    markRows(index === null || !points || isHidden(index) ? null : points.key(index));
  },
  onDrawn: (count) => {
    document.body.dataset.points = String(count);
  },
  onError: (error) => showMessage(`drawing failed: ${error.message}`, "error"),
  onBoxSelect: (inside) => {
    state.selection?.setBrush(inside);
    page.selectionChanged();
  },
});
