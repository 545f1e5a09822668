import { parseArgs } from "node:util";
import { dirname } from "node:path";

export const INSTALL_USAGE = `  install  install the Jupyter kernel "TypeScript (lora-lab)" (writes kernel.json; no Python needed)
             --user                 into the user's Jupyter data dir (default; $JUPYTER_DATA_DIR if set)
             --sys-prefix           into $CONDA_PREFIX or $VIRTUAL_ENV (else /usr/local)/share/jupyter
             --prefix <dir>         into <dir>/share/jupyter (then JUPYTER_PATH=<dir>/share/jupyter finds it)
             --name <name>          kernel name (default lora-lab)`;

export const KERNEL_USAGE = `  kernel   run the kernel: lora-lab kernel <connection_file> (what kernel.json runs)`;

/** The kernel's install API, as loaded at run time (src/ does not depend on kernel/ when compiling). */
interface KernelModule {
  installKernelSpec(options: {
    target?: { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };
    name?: string;
  }): string;
  runKernel(connectionFile: string): Promise<{ closed: Promise<number> }>;
}

interface WidgetsModule {
  installWidgetFrontend(dataDir: string): { path?: string; nbextension?: string; skipped?: string[] };
}

async function loadKernel(): Promise<KernelModule> {
  return (await import(new URL("../kernel/index.js", import.meta.url).href)) as KernelModule;
}

export async function installCommand(rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      user: { type: "boolean" },
      "sys-prefix": { type: "boolean" },
      prefix: { type: "string" },
      name: { type: "string" },
    },
    allowPositionals: false,
  });
  const chosen = [values.user && "--user", values["sys-prefix"] && "--sys-prefix", values.prefix !== undefined && "--prefix"].filter(
    Boolean,
  );
  if (chosen.length > 1) throw new Error(`install: choose one of --user, --sys-prefix, --prefix <dir>; got ${chosen.join(" and ")}`);
  const target =
    values.prefix !== undefined
      ? { kind: "prefix" as const, dir: values.prefix }
      : values["sys-prefix"]
        ? { kind: "sys-prefix" as const }
        : { kind: "user" as const };
  const kernel = await loadKernel();
  const dir = kernel.installKernelSpec({ target, name: values.name });
  console.log(`installed kernel "${values.name ?? "lora-lab"}" (TypeScript (lora-lab)) in ${dir}`);
  // The widget front end goes next to the kernelspec: <data dir>/labextensions (JupyterLab 4) and
  // <data dir>/nbextensions (the AMD bundle VS Code and classic front ends load).
  const widgets = (await import(new URL("../widgets/index.js", import.meta.url).href)) as WidgetsModule;
  const frontend = widgets.installWidgetFrontend(dirname(dirname(dir)));
  if (frontend.path) console.log(`installed the JupyterLab widget extension in ${frontend.path}`);
  if (frontend.nbextension) console.log(`installed the widget bundle in ${frontend.nbextension}`);
  for (const why of frontend.skipped ?? []) console.log(`widget front end not installed: ${why}`);
  return 0;
}

export async function kernelCommand(rest: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true });
  if (positionals.length !== 1)
    throw new Error(`kernel: expected one argument, the connection file Jupyter passes as {connection_file}; got ${positionals.length}`);
  const kernel = await loadKernel();
  const running = await kernel.runKernel(positionals[0]);
  return running.closed;
}
