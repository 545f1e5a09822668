// Builds the widget front end:
//   widgets/dist/index.js     AMD module (define(["@jupyter-widgets/base"], ...)) for nbconvert HTML,
//                             VS Code and any html-manager page; plotly.js bundled inside.
//   widgets/labextension/     JupyterLab 4 prebuilt extension, see labextension.mjs (skip with --amd-only).
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, "dist"), { recursive: true });

// esbuild has no AMD output: emit CommonJS and wrap it, so `require("@jupyter-widgets/base")`
// resolves to the loader's copy (the one the page's widget manager uses).
const banner = `define(["@jupyter-widgets/base"], function (__jupyterWidgetsBase) {
var module = { exports: {} }, exports = module.exports;
var require = function (name) { if (name === "@jupyter-widgets/base") return __jupyterWidgetsBase; throw new Error("lora-lab-widgets: unexpected require(" + name + ")"); };`;
const footer = `return module.exports;
});`;

await build({
  entryPoints: [join(here, "src/frontend/index.ts")],
  outfile: join(here, "dist/index.js"),
  bundle: true,
  format: "cjs",
  platform: "browser",
  target: "es2020",
  external: ["@jupyter-widgets/base"],
  banner: { js: banner },
  footer: { js: footer },
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});

if (!process.argv.includes("--amd-only")) {
  await import("./labextension.mjs");
}
