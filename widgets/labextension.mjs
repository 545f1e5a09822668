// Builds widgets/labextension/: a JupyterLab 4 prebuilt extension named "lora-lab-widgets".
// 1. esbuild bundles the views (plotly.js included) into an ESM package under widgets/lab-build/,
//    with @jupyter-widgets/base left as an import;
// 2. @jupyterlab/builder's build-labextension (webpack module federation) turns that package into
//    the extension, sharing @jupyter-widgets/base as a singleton from the page, never bundled.
// The --core-path package.json stands in for JupyterLab's staging/package.json (not on npm): only
// the singletons and versions the extension relies on.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const work = join(here, "lab-build");
const pkgDir = join(work, "package");
const coreDir = join(work, "core");
rmSync(work, { recursive: true, force: true });
mkdirSync(join(pkgDir, "lib"), { recursive: true });
mkdirSync(coreDir, { recursive: true });

const baseVersion = require("@jupyter-widgets/base/package.json").version;
const version = JSON.parse((await import("node:fs")).readFileSync(join(here, "..", "package.json"), "utf8")).version;

await build({
  entryPoints: [join(here, "src/frontend/lab_entry.ts")],
  outfile: join(pkgDir, "lib/index.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  external: ["@jupyter-widgets/base"],
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});

writeFileSync(join(pkgDir, "webpack.extra.cjs"), "module.exports = { optimization: { minimize: false } };\n");
writeFileSync(
  join(pkgDir, "package.json"),
  JSON.stringify(
    {
      name: "lora-lab-widgets",
      version,
      description: "lora-lab notebook widgets (LoRA configurator, schedule explorer, training dashboard, rank and quantization inspectors)",
      license: "MIT",
      main: "lib/index.js",
      dependencies: { "@jupyter-widgets/base": `^${baseVersion}` },
      jupyterlab: {
        extension: true,
        outputDir: "../../labextension",
        sharedPackages: { "@jupyter-widgets/base": { bundled: false, singleton: true } },
        // esbuild already minified lib/index.js; webpack's terser pass over 4.6 MB took 5 minutes here.
        webpackConfig: "./webpack.extra.cjs",
      },
    },
    null,
    2,
  ),
);

// JupyterLab 4's singletons that a widget extension can meet (from its staging/package.json).
const singletons = [
  "@jupyter-widgets/base",
  "@jupyterlab/application",
  "@jupyterlab/apputils",
  "@jupyterlab/coreutils",
  "@jupyterlab/notebook",
  "@jupyterlab/rendermime",
  "@jupyterlab/services",
  "@lumino/algorithm",
  "@lumino/application",
  "@lumino/commands",
  "@lumino/coreutils",
  "@lumino/disposable",
  "@lumino/messaging",
  "@lumino/signaling",
  "@lumino/widgets",
];
writeFileSync(
  join(coreDir, "package.json"),
  JSON.stringify(
    {
      name: "@jupyterlab/application-top",
      version: "4.5.0",
      private: true,
      dependencies: {},
      resolutions: { "@jupyter-widgets/base": `^${baseVersion}` },
      jupyterlab: { singletonPackages: singletons },
    },
    null,
    2,
  ),
);

const cli = join(dirname(require.resolve("@jupyterlab/builder/package.json")), "lib", "build-labextension.js");
const r = spawnSync(process.execPath, [cli, "--core-path", coreDir, pkgDir], { stdio: "inherit", cwd: here });
if (r.status !== 0) throw new Error(`build-labextension failed with status ${r.status}`);
rmSync(work, { recursive: true, force: true });
console.log(`labextension written to ${join(here, "labextension")}`);
