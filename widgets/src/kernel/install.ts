/**
 * Copies the widget front end next to a kernelspec (`lora-lab install` calls this):
 * - the JupyterLab 4 prebuilt extension to <prefix>/share/jupyter/labextensions/lora-lab-widgets/
 * - the AMD bundle to <prefix>/share/jupyter/nbextensions/lora-lab-widgets/index.js, where VS Code's
 *   Jupyter extension and the classic notebook look for a widget module before any CDN.
 */
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LAB_MODULE } from "./traits.js";

const widgetsDir = () => resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "widgets");

/** widgets/labextension of this package (dist/widgets/install.js -> ../../widgets/labextension). */
export function labextensionSource(): string {
  return join(widgetsDir(), "labextension");
}

/** widgets/dist/index.js, the AMD bundle. */
export function amdBundleSource(): string {
  return join(widgetsDir(), "dist", "index.js");
}

export interface InstalledFrontend {
  /** The labextension folder written, when the extension was built. */
  path?: string;
  /** The nbextension index.js written, when the AMD bundle was built. */
  nbextension?: string;
  /** Why something was not copied. */
  skipped?: string[];
}

/** Into `<prefix>/share/jupyter` (`lora-lab install --prefix DIR`, --sys-prefix). */
export function installLabextension(prefix: string): InstalledFrontend {
  return installWidgetFrontend(join(prefix, "share", "jupyter"));
}

/** Into a Jupyter data dir itself (--user: $JUPYTER_DATA_DIR or ~/.local/share/jupyter). */
export function installWidgetFrontend(dataDir: string): InstalledFrontend {
  const out: InstalledFrontend = {};
  const skipped: string[] = [];
  const lab = labextensionSource();
  if (existsSync(join(lab, "package.json"))) {
    const dest = join(dataDir, "labextensions", LAB_MODULE);
    cpSync(lab, dest, { recursive: true });
    out.path = dest;
  } else skipped.push(`no prebuilt labextension at ${lab} (run node widgets/build.mjs)`);
  const amd = amdBundleSource();
  if (existsSync(amd)) {
    const dir = join(dataDir, "nbextensions", LAB_MODULE);
    mkdirSync(dir, { recursive: true });
    cpSync(amd, join(dir, "index.js"));
    out.nbextension = join(dir, "index.js");
  } else skipped.push(`no AMD bundle at ${amd} (run node widgets/build.mjs)`);
  if (skipped.length) out.skipped = skipped;
  return out;
}
