/// <reference types="node" />
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const FRONTEND = fileURLToPath(new URL(".", import.meta.url));

/** Everything the bundles (the served page and the notebook widget's widget.js) are built from,
 * besides node_modules (which package-lock.json pins); bench/ is built apart and is not in it. */
const BUILD_INPUTS = [
  "index.html",
  "package-lock.json",
  "package.json",
  "src",
  "tsconfig.json",
  "vite.config.ts",
  "vite.widget.config.ts",
];

function inputFiles(input: string): string[] {
  const full = join(FRONTEND, input);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The SHA-256 of a listing of ``<sha256 of the file>  <path>`` lines, one per input file, by
 * path (relative to frontend/, with "/", ordered by their UTF-8 bytes), the files' bytes as
 * they are on disk. tests/test_frontend_contract.py computes the same from the sources, so a
 * bundle committed without being rebuilt from them fails there. */
function buildSourceHash(): string {
  const paths = BUILD_INPUTS.flatMap(inputFiles).map((file) =>
    relative(FRONTEND, file).split(sep).join("/"),
  );
  paths.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
  const listing = paths.map((path) => `${sha256(readFileSync(join(FRONTEND, path)))}  ${path}\n`);
  return sha256(listing.join(""));
}

/** Writes the hash of the sources next to the bundle built from them (vite.widget.config.ts
 * writes it beside widget.js too). */
export function buildSourceStamp(): Plugin {
  return {
    name: "embscope-build-source-hash",
    apply: "build",
    generateBundle() {
      const source = `${buildSourceHash()}\n`;
      this.emitFile({ type: "asset", fileName: "build-source.sha256", source });
    },
  };
}

// The build lands inside the Python package, which serves it at "/" (embscope serve); relative
// asset URLs keep it working behind a reverse proxy under a sub-path too.
export default defineConfig({
  base: "./",
  plugins: [buildSourceStamp()],
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
