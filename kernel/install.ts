/**
 * Writes the kernelspec (kernel.json) without Python. Where it goes, like `jupyter kernelspec
 * install`:
 *   --user        $JUPYTER_DATA_DIR, else ~/.local/share/jupyter ($XDG_DATA_HOME/jupyter when set;
 *                 ~/Library/Jupyter on macOS, %APPDATA%\jupyter on Windows)
 *   --sys-prefix  $CONDA_PREFIX or $VIRTUAL_ENV when set (the active environment's sys.prefix),
 *                 else /usr/local: <prefix>/share/jupyter
 *   --prefix DIR  DIR/share/jupyter
 * then kernels/<name>/kernel.json. Jupyter finds it there, or through JUPYTER_PATH=<dir>/share/jupyter.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_KERNEL_NAME = "lora-lab";
export const DISPLAY_NAME = "TypeScript (lora-lab)";

export type InstallTarget = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };

export interface InstallOptions {
  target?: InstallTarget;
  name?: string;
  /** The command line Jupyter runs; default: this Node and lora-lab's dist/cli/main.js. */
  argv?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "message" | "signal";
  metadata: Record<string, unknown>;
}

export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return path.resolve(env.JUPYTER_DATA_DIR);
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return path.join(env.APPDATA ?? path.join(os.homedir(), "AppData", "Roaming"), "jupyter");
  return path.join(env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share"), "jupyter");
}

/** The jupyter data folder (holding kernels/) for a target. */
export function dataDirFor(target: InstallTarget, env: NodeJS.ProcessEnv = process.env): string {
  switch (target.kind) {
    case "user":
      return userDataDir(env);
    case "sys-prefix":
      return path.join(env.CONDA_PREFIX || env.VIRTUAL_ENV || "/usr/local", "share", "jupyter");
    case "prefix":
      return path.join(path.resolve(target.dir), "share", "jupyter");
  }
}

export function defaultArgv(): string[] {
  const main = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  return [process.execPath, main, "kernel", "{connection_file}"];
}

export function kernelSpec(argv: string[] = defaultArgv()): KernelSpec {
  // "message": interrupts arrive as interrupt_request on the control channel, which reaches a cell
  // that awaits (training loops do); SIGINT is handled too, for front ends that send it anyway.
  return { argv, display_name: DISPLAY_NAME, language: "typescript", interrupt_mode: "message", metadata: { debugger: false } };
}

/** Writes <data dir>/kernels/<name>/kernel.json; returns the kernel's folder. */
export function installKernelSpec(options: InstallOptions = {}): string {
  const name = options.name ?? DEFAULT_KERNEL_NAME;
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw new Error(`kernel name "${name}" is not valid; use letters, digits, ".", "_" and "-" (default "${DEFAULT_KERNEL_NAME}")`);
  const dir = path.join(dataDirFor(options.target ?? { kind: "user" }, options.env), "kernels", name.toLowerCase());
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(kernelSpec(options.argv), null, 2) + "\n");
  return dir;
}
