// The explorer page: a query's neighbours and opposites, the similarity of two words, and a
// projection of the space (or of the query's neighbourhood) as a point cloud. Each panel lives
// in its own module; this one connects them and starts the page.

import "./style.css";
import { connectPage, controls } from "./app";
import { connectColouring } from "./colouring";
import { connectCompare } from "./compare";
import { attachCompletion } from "./completion";
import { connectEmbed, embedded } from "./embed";
import { connectExports } from "./export";
import { report } from "./messages";
import { connectProjection, recolour } from "./projection";
import { connectRowsPanel, renderSelection } from "./rows-panel";
import { connectSearch, search, searchAgain } from "./search";
import { compareAgain, connectSimilarity, wordInputs } from "./similarity";
import { connectSources, loadSources } from "./sources";
import { connectTokens } from "./tokens";

connectPage({
  search,
  recolour,
  selectionChanged: () => {
    recolour();
    renderSelection();
  },
});

connectSources();
connectSearch();
connectSimilarity();
connectCompare();
connectProjection();
connectColouring();
connectRowsPanel();
connectTokens();
connectExports();

controls.metric.addEventListener("change", () => {
  searchAgain();
  compareAgain();
});
attachCompletion(controls.query, (key) => void search(key, { exact: true }));
for (const input of wordInputs) attachCompletion(input);
window.addEventListener("unhandledrejection", (event) => report(event.reason));

// in the notebook widget the page's requests go through the widget (embed.ts), from the first
if (embedded) connectEmbed(loadSources);
else void loadSources();
