// Bundles the test page (html-manager + @jupyterlab/services + controls CSS) into a fresh temporary
// folder (test files run in parallel: each gets its own copy).
import { build } from "esbuild";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export async function buildPage() {
  const pageDir = mkdtempSync(join(tmpdir(), "lora-lab-widget-page-"));
  const assets = {
    ".svg": "dataurl",
    ".woff": "dataurl",
    ".woff2": "dataurl",
    ".ttf": "dataurl",
    ".eot": "dataurl",
    ".png": "dataurl",
    ".gif": "dataurl",
  };
  await build({
    entryPoints: [join(here, "entry.ts")],
    outfile: join(pageDir, "page.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    loader: { ".css": "empty", ...assets },
    define: { "process.env.NODE_ENV": '"production"', global: "window" },
    logLevel: "error",
    alias: { path: "path-browserify" },
  });
  const css = [
    "@lumino/widgets/style/index.css",
    "@jupyter-widgets/controls/css/widgets-base.css",
    "@jupyter-widgets/controls/css/labvariables.css",
    "@jupyter-widgets/html-manager/css/output.css",
  ];
  const cssEntry = join(pageDir, "page-entry.css");
  const require = createRequire(import.meta.url);
  writeFileSync(cssEntry, css.map((c) => `@import "${require.resolve(c)}";`).join("\n"));
  await build({ entryPoints: [cssEntry], outfile: join(pageDir, "page.css"), bundle: true, loader: assets, logLevel: "error" });
  copyFileSync(join(here, "page.html"), join(pageDir, "index.html"));
  copyFileSync(join(here, "..", "..", "..", "widgets", "dist", "index.js"), join(pageDir, "lora-lab-widgets.js"));
  return pageDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await buildPage());
