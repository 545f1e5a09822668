/**
 * Helpers to run the built lora-lab kernel under Debian's Jupyter (jupyter_client, nbconvert) from
 * vitest. Reusable by other suites (notebooks/):
 *
 *   const kernel = installKernel(mkdtempSync(join(tmpdir(), "k-")));  // lora-lab install --prefix
 *   const { notebook } = await runNotebook("notebooks/x.ipynb", kernel); // nbconvert --execute
 *
 * Needs `npm run build` first (dist/cli/main.js, dist/kernel/).
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Debian's python, which has jupyter_client, jupyter_kernel_test and nbconvert (the first python3 on PATH may not). */
export const PYTHON = "/usr/bin/python3";
export const CLI = join(ROOT, "dist", "cli", "main.js");

export interface InstalledKernel {
  prefix: string;
  name: string;
  /** <prefix>/share/jupyter: put it first on JUPYTER_PATH. */
  jupyterPath: string;
  /** Environment for Jupyter tools: JUPYTER_PATH plus private runtime / data / config folders. */
  env: NodeJS.ProcessEnv;
}

/** `lora-lab install --prefix <prefixDir> --name <name>`, and an environment in which Jupyter finds it. */
export function installKernel(prefixDir: string, name = "lora-lab"): InstalledKernel {
  execFileSync(process.execPath, [CLI, "install", "--prefix", prefixDir, "--name", name], { cwd: ROOT, stdio: "pipe" });
  const jupyterPath = join(resolve(prefixDir), "share", "jupyter");
  const home = join(resolve(prefixDir), "home");
  mkdirSync(home, { recursive: true });
  return {
    prefix: resolve(prefixDir),
    name,
    jupyterPath,
    env: {
      ...process.env,
      JUPYTER_PATH: jupyterPath,
      JUPYTER_RUNTIME_DIR: join(home, "runtime"),
      JUPYTER_DATA_DIR: join(home, "data"),
      JUPYTER_CONFIG_DIR: join(home, "config"),
      IPYTHONDIR: join(home, "ipython"),
      LORA_LAB_KERNEL: name,
      PYTHONUNBUFFERED: "1",
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs); never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Runs one of the python scripts in tests/kernel/ and parses the JSON line it prints last. */
export async function runPythonCheck<T>(script: string, kernel: InstalledKernel, timeoutMs = 600_000): Promise<{ result: T } & RunResult> {
  const out = await run(PYTHON, [join(ROOT, "tests", "kernel", script)], {
    env: kernel.env,
    timeoutMs,
    cwd: join(ROOT, "tests", "kernel"),
  });
  const last = out.stdout.trim().split("\n").pop() ?? "";
  let result: T;
  try {
    result = JSON.parse(last) as T;
  } catch {
    throw new Error(
      `${script} printed no JSON result (exit ${out.code}).\nstdout:\n${out.stdout.slice(-4000)}\nstderr:\n${out.stderr.slice(-8000)}`,
    );
  }
  return { ...out, result };
}

/**
 * `python3 -m nbconvert --to notebook --execute` on the kernel; the kernel runs in the notebook's
 * folder. Returns the executed notebook (outputs included, multi-line strings joined), written to a
 * temporary folder. Throws with nbconvert's stderr when a cell fails.
 */
export async function runNotebook(
  notebookPath: string,
  kernel: InstalledKernel,
  opts: { timeoutS?: number } = {},
): Promise<{ notebook: any } & RunResult> {
  const outDir = mkdtempSync(join(tmpdir(), "lora-lab-nb-"));
  const name = basename(notebookPath);
  const out = await run(
    PYTHON,
    [
      "-m",
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      `--ExecutePreprocessor.kernel_name=${kernel.name}`,
      `--ExecutePreprocessor.timeout=${opts.timeoutS ?? 600}`,
      "--output-dir",
      outDir,
      "--output",
      name,
      resolve(ROOT, notebookPath),
    ],
    { env: kernel.env, timeoutMs: ((opts.timeoutS ?? 600) + 120) * 1000 },
  );
  if (out.code !== 0) throw new Error(`nbconvert failed on ${notebookPath} (exit ${out.code}):\n${out.stderr.slice(-8000)}`);
  return { ...out, notebook: joinMultiline(JSON.parse(readFileSync(join(outDir, name), "utf8"))) };
}

/** nbformat may store strings as lists of lines (source, stream text, text/* data): join them. */
export function joinMultiline(notebook: any): any {
  const join = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? v.join("") : v);
  for (const cell of notebook.cells ?? []) {
    cell.source = join(cell.source);
    for (const o of cell.outputs ?? []) {
      if ("text" in o) o.text = join(o.text);
      for (const mime of Object.keys(o.data ?? {}))
        if (mime.startsWith("text/") || mime.endsWith("+xml")) o.data[mime] = join(o.data[mime]);
    }
  }
  return notebook;
}

/** Is a process with this PID still running (a zombie counts as gone)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
