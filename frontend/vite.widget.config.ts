/// <reference types="node" />
// The notebook widget's module: ../src/embscope/notebook/static/widget.js, one self-contained ES
// module that anywidget loads (src/widget/entry.ts). It carries the explorer page as one HTML
// document, built here from the same index.html and src/ as the served page (vite.config.ts),
// but with everything inline: the styles in a <style>, the script (deck.gl's dynamically
// imported renderers included) in one <script type="module">, which the widget puts in an
// iframe's srcdoc. `npm run build` runs this build, then the served page's.
import { fileURLToPath } from "node:url";
import { build, defineConfig, type Plugin, type Rollup } from "vite";
import { buildSourceStamp } from "./vite.config";

const FRONTEND = fileURLToPath(new URL(".", import.meta.url));
const PAGE_MODULE = "virtual:embscope-page";
const RESOLVED_PAGE_MODULE = `\0${PAGE_MODULE}`;

/** The page built as the served one is, but into memory, as one script and one stylesheet. */
async function buildPage(): Promise<Rollup.OutputBundle[string][]> {
  const built = await build({
    configFile: false,
    root: FRONTEND,
    base: "./",
    logLevel: "warn",
    build: {
      write: false,
      target: "es2022",
      cssCodeSplit: false,
      // no file beside the page: anything an import would fetch comes inline as a data: URL
      assetsInlineLimit: () => true,
      modulePreload: false,
      sourcemap: false,
      chunkSizeWarningLimit: 1500,
      rollupOptions: { output: { inlineDynamicImports: true } },
    },
  });
  if (!Array.isArray(built) && "output" in built) return built.output;
  throw new Error("the page's build gave no single output");
}

/** ``js`` as the text of an inline <script>: nothing in it may end the element early. */
function inlineScript(js: string): string {
  // inside a string, template or regular expression "<\/script" means "</script" (in code it
  // cannot occur)
  const escaped = js.replace(/<\/(script)/gi, "<\\/$1");
  // "<!--" then "<script" would put the HTML parser where "</script>" no longer ends the element
  if (escaped.includes("<!--") && /<script/i.test(escaped)) {
    throw new Error('the page\'s script holds both "<!--" and "<script": it cannot be inlined');
  }
  return escaped;
}

/** The page as one HTML document: the built index.html with its stylesheet and script inline,
 * and window.__embscopeEmbed (src/embed.ts) and html[data-embed] (style.css) set before
 * either applies. */
async function pageHtml(): Promise<string> {
  const files = await buildPage();
  const html = files.find((file) => file.fileName === "index.html");
  const scripts = files.filter((file) => file.type === "chunk");
  const styles = files.filter((file) => file.type === "asset" && file.fileName.endsWith(".css"));
  const [script] = scripts as Rollup.OutputChunk[];
  const [style] = styles as Rollup.OutputAsset[];
  // index.html, one script, one stylesheet: nothing else
  if (html?.type !== "asset" || !script || !style || files.length !== 3) {
    const names = files.map((file) => file.fileName).join(", ");
    throw new Error(`the page's build is not one page, one script and one stylesheet: ${names}`);
  }
  const css = String(style.source);
  if (/<\/style/i.test(css)) throw new Error('the page\'s styles hold "</style"');
  let page = String(html.source);
  // the built page links its script and stylesheet under assets/: they come inline instead
  const name = (file: { fileName: string }) => file.fileName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const linked = [
    new RegExp(`[ \\t]*<script type="module"[^>]*src="\\./${name(script)}"[^>]*></script>\\n?`),
    new RegExp(`[ \\t]*<link rel="stylesheet"[^>]*href="\\./${name(style)}"[^>]*>\\n?`),
  ];
  for (const tag of linked) {
    if (!tag.test(page)) throw new Error(`the built index.html has no ${tag}`);
    page = page.replace(tag, "");
  }
  if (page.includes("assets/")) throw new Error("the built index.html links more than it inlines");
  // its comments are for whoever reads index.html; a "<!--" would also keep widget.js from
  // being inlined in a <script> (see embeddedPage)
  page = page.replace(/[ \t]*<!--[\s\S]*?-->\n?/g, "");
  // before anything shows: the page's script reads the flag, its styles html[data-embed]
  const flag = 'window.__embscopeEmbed = true; document.documentElement.dataset.embed = "";';
  const head = `    <script>${flag}</script>\n    <style>\n${css}</style>\n  </head>`;
  const body = `    <script type="module">\n${inlineScript(script.code)}</script>\n  </body>`;
  return page.replace("</head>", () => head).replace("</body>", () => body);
}

/** ``import PAGE from "virtual:embscope-page"``: the page's HTML, as a string. */
function embeddedPage(): Plugin {
  return {
    name: "embscope-embedded-page",
    apply: "build",
    resolveId: (id) => (id === PAGE_MODULE ? RESOLVED_PAGE_MODULE : null),
    async load(id) {
      if (id !== RESOLVED_PAGE_MODULE) return null;
      return `export default ${JSON.stringify(await pageHtml())};\n`;
    },
    // widget.js must hold no "</script" (esbuild writes "<\/script" in its strings) and no
    // "<!--": it can then be inlined in a <script> too, as a notebook's saved widget state is
    // in a notebook exported to HTML
    generateBundle(_, bundle) {
      const chunks = Object.values(bundle).filter((file) => file.type === "chunk");
      if (chunks.length !== 1) throw new Error("widget.js must be one file");
      const code = (chunks[0] as Rollup.OutputChunk).code;
      if (/<\/script|<!--/i.test(code)) throw new Error('widget.js holds "</script" or "<!--"');
    },
  };
}

export default defineConfig({
  publicDir: false,
  plugins: [embeddedPage(), buildSourceStamp()],
  build: {
    outDir: "../src/embscope/notebook/static",
    // notebook/static belongs to the Python package: only widget.js (and the stamp) are ours
    emptyOutDir: false,
    target: "es2022",
    lib: {
      entry: "src/widget/entry.ts",
      formats: ["es"],
      fileName: () => "widget.js",
    },
    // the page (deck.gl and Arrow) is ~1 MB by design
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
});
