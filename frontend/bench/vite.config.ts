import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The renderer benchmark page (benchmarks/bench_renderer.py), built apart from the shipped
// front end: it bundles regl-scatterplot, which the explorer does not use.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // both renderers in one page by design; nobody downloads it over a network
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
