/**
 * Makes the kernel's own package ("lora-lab") and its dependencies importable from a cell whatever
 * the notebook's folder, for both halves of tslab: the type checker (TypeScript's `ts.sys`, which
 * tslab's converter reads through) and the runtime (`Module._resolveFilename`, which the cells'
 * CommonJS `require` goes through).
 *
 * - "lora-lab" and "@tensorflow/*" required from outside the kernel's package resolve to the
 *   kernel's copies first, so a cell's `tf` is the instance lora-lab computes with.
 * - Any other bare name resolves as Node would from the notebook's folder, then from the kernel.
 * - For the type checker, `<cwd>/node_modules/<name>` that does not exist is read from the kernel's
 *   package (lora-lab) or its node_modules (the rest), then `realpath` names the real file so
 *   TypeScript resolves that file's own imports where it really lives.
 */
import fs from "node:fs";
import Module, { createRequire } from "node:module";
import path from "node:path";

type ResolveFilename = (request: string, parent: { filename?: string | null } | undefined, isMain: boolean, options?: unknown) => string;

const INSTALLED = Symbol.for("lora-lab.kernel.resolveInstalled");

function isBare(request: string): boolean {
  return !(request.startsWith(".") || request.startsWith("/") || request.startsWith("node:") || path.isAbsolute(request));
}

function packageName(request: string): string {
  const parts = request.split("/");
  return request.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The folder of the package.json above `from` whose name is "lora-lab". */
export function findKernelPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, "utf8")).name === "lora-lab") return dir;
      } catch {
        // not a readable package.json; keep looking
      }
    }
    if (path.dirname(dir) === dir)
      throw new Error(`no package.json named "lora-lab" above ${from}; the kernel must run from an installed lora-lab`);
  }
}

/** Patches the runtime resolver once per process. */
export function installRuntimeResolution(kernelRoot: string): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[INSTALLED]) return;
  g[INSTALLED] = true;
  const fromKernel = createRequire(path.join(kernelRoot, "package.json"));
  const inside = (file: string | null | undefined) => !!file && (file === kernelRoot || file.startsWith(kernelRoot + path.sep));
  const M = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = M._resolveFilename;
  M._resolveFilename = function (request, parent, isMain, options) {
    const outside = isBare(request) && !inside(parent?.filename);
    if (outside) {
      const name = packageName(request);
      if (name === "lora-lab" || name.startsWith("@tensorflow/")) {
        try {
          return fromKernel.resolve(request);
        } catch {
          // not in the kernel's package either: let Node report it from the cell's folder
        }
      }
    }
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      if (!outside || (err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
      try {
        return fromKernel.resolve(request);
      } catch {
        throw err;
      }
    }
  };
}

interface TsSys {
  fileExists(p: string): boolean;
  directoryExists(p: string): boolean;
  readFile(p: string, encoding?: string): string | undefined;
  readDirectory(p: string, ...rest: unknown[]): string[];
  getDirectories(p: string): string[];
  realpath?(p: string): string;
  getModifiedTime?(p: string): Date | undefined;
  watchFile?(p: string, ...rest: unknown[]): unknown;
  watchDirectory?(p: string, ...rest: unknown[]): unknown;
}

/** Maps `<cwd>/node_modules/<name>/...` onto the kernel's copies when the notebook's folder lacks them. */
export function installTypeResolution(sys: TsSys, cwd: string, kernelRoot: string): void {
  const prefix = path.join(cwd, "node_modules") + path.sep;
  const searchDirs = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(kernelRoot);
  const cache = new Map<string, string | null>();
  const target = (name: string): string | null => {
    if (!cache.has(name)) {
      let found: string | null = null;
      if (!fs.existsSync(prefix + name)) {
        if (name === "lora-lab") found = kernelRoot;
        else found = searchDirs.map((d) => path.join(d, name)).find((d) => fs.existsSync(d)) ?? null;
      }
      cache.set(name, found);
    }
    return cache.get(name)!;
  };
  const map = (p: string): string => {
    if (typeof p !== "string" || !p.startsWith(prefix)) return p;
    const parts = p
      .slice(prefix.length)
      .split(/[\\/]/)
      .filter((s) => s !== "");
    if (parts.length === 0) return p;
    // "@types" alone stays unmapped: as a type root it would pull in every @types package the
    // kernel has (seconds per kernel start); tslab then uses its own @types/node, and a package's
    // types still resolve by name (<cwd>/node_modules/@types/x maps).
    if (parts.length === 1 && parts[0] === "@types") return p;
    const n = parts[0].startsWith("@") && parts.length >= 2 ? 2 : 1;
    const base = target(parts.slice(0, n).join("/"));
    return base ? path.join(base, ...parts.slice(n)) : p;
  };
  const wrap = <K extends keyof TsSys>(key: K) => {
    const fn = sys[key] as unknown as ((p: string, ...rest: unknown[]) => unknown) | undefined;
    if (typeof fn !== "function") return;
    (sys as unknown as Record<string, unknown>)[key] = (p: string, ...rest: unknown[]) => fn.call(sys, map(p), ...rest);
  };
  for (const key of [
    "fileExists",
    "directoryExists",
    "readFile",
    "readDirectory",
    "getDirectories",
    "getModifiedTime",
    "watchFile",
    "watchDirectory",
  ] as const)
    wrap(key);
  const realpath = sys.realpath;
  if (realpath) sys.realpath = (p: string) => realpath.call(sys, map(p));
}
