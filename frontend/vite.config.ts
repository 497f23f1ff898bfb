import { defineConfig } from "vite";

// The build lands inside the Python package, which serves it at "/" (embscope serve); relative
// asset URLs keep it working behind a reverse proxy under a sub-path too.
export default defineConfig({
  base: "./",
  build: {
    outDir: "../src/embscope/server/static",
    emptyOutDir: true,
    target: "es2022",
    // deck.gl and Arrow are one ~1 MB chunk by design: the page needs both before it shows anything
    chunkSizeWarningLimit: 1500,
    // a source map would more than double what the wheel carries
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a running `embscope serve ... --port 8765`
    proxy: { "/api": "http://127.0.0.1:8765" },
  },
});
