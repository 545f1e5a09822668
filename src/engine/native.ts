/**
 * The optional native matrix product (an N-API addon on OpenBLAS, compiled on the user's machine by
 * src/engine/native/build.mjs). lora-lab never requires it: the install script builds it into
 * dist/native/, and since npm may skip install scripts, the first ready() on wasm builds it when it
 * is missing (into dist/native/, else the user cache). When it cannot be built, fails to load, or
 * LORA_LAB_NATIVE=0, the wasm kernels are used, `nativeBlasStatus()` says why, and ready() says so
 * once on stderr with the fix.
 */

/** What the addon exports (see native/blas.c). Offsets are bytes into `heap`, strides in floats. */
export interface NativeBlas {
  sgemm(
    heap: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    aOffset: number,
    aStride: number,
    bOffset: number,
    bStride: number,
    cOffset: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
  /** Sets OpenBLAS's thread count when given one; returns the count in use. */
  threads(count?: number): number;
  /** Fused kernels in C (same formulas as the JS ones in kernels/); absent in older builds. Offsets in bytes. */
  adamw?(
    heap: ArrayBuffer,
    n: number,
    p: number,
    g: number,
    m: number,
    v: number,
    outP: number,
    outM: number,
    outV: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    decay: number,
    bc1: number,
    bc2Sqrt: number,
  ): number;
  /**
   * Multi-head attention in place on the heap and its gradient (see native/blas.c for the layout
   * of `params`: sizes, byte offsets and strides; kernels/attention.ts fills it).
   */
  attention?(heap: ArrayBuffer, params: Float64Array, scale: number): void;
  attentionGrad?(heap: ArrayBuffer, params: Float64Array, scale: number): void;
  /** T5's RMS norm and its gradient (kernels/rms_norm.ts). */
  rmsNorm?(heap: ArrayBuffer, rows: number, cols: number, x: number, w: number, y: number, rstd: number, eps: number): void;
  rmsNormGrad?(heap: ArrayBuffer, rows: number, cols: number, dy: number, x: number, w: number, rstd: number, dx: number, dw: number): void;
  /** Mean cross-entropy's logit gradient from the softmax, int32 targets and dy / kept rows. */
  crossEntropyGrad?(heap: ArrayBuffer, rows: number, V: number, probs: number, targets: number, scale: number, out: number): void;
  /** out[c] = sum over rows of x[r, c] (sum over leading axes). */
  sumRows?(heap: ArrayBuffer, rows: number, cols: number, x: number, out: number): void;
  gelu?(heap: ArrayBuffer, n: number, x: number, y: number): void;
  geluGrad?(heap: ArrayBuffer, n: number, dy: number, x: number, dx: number): void;
  layerNorm?(
    heap: ArrayBuffer,
    rows: number,
    cols: number,
    x: number,
    w: number,
    b: number,
    y: number,
    mean: number,
    rstd: number,
    eps: number,
  ): void;
  layerNormGrad?(
    heap: ArrayBuffer,
    rows: number,
    cols: number,
    dy: number,
    x: number,
    w: number,
    mean: number,
    rstd: number,
    dx: number,
    dw: number,
    db: number,
  ): void;
}

export interface NativeBlasStatus {
  loaded: boolean;
  /** The file tried. */
  path?: string;
  /** Why it is not loaded. */
  reason?: string;
  /** What to do about it, when something can be done. */
  fix?: string;
  threads?: number;
}

/** A build's outcome (src/engine/native/build.mjs's `buildAddon`). */
export type NativeBuild = { ok: true; out: string; seconds?: number } | { ok: false; reason: string; fix?: string };

/** What build.mjs exports (a plain script, shipped as source: see package.json's files). */
interface Builder {
  PACKAGE_ADDON: string;
  addonKey(): string;
  buildAddon(out: string): Promise<NativeBuild>;
}

let blas: NativeBlas | undefined;
let status: NativeBlasStatus | undefined;
let warned = false;

/** build.mjs, from src/engine/native.ts (vitest) and dist/engine/native.js alike: both sit two folders below the package root. */
async function builder(): Promise<Builder> {
  return (await import(/* @vite-ignore */ new URL("../../src/engine/native/build.mjs", import.meta.url).href)) as Builder;
}

/** The user cache folder: $XDG_CACHE_HOME/lora-lab, else ~/.cache/lora-lab. */
async function userCacheDir(env: Record<string, string | undefined> = process.env): Promise<string> {
  const { homedir } = await import("node:os");
  const { join } = await import("node:path");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "lora-lab");
}

/**
 * Where the addon may live, in the order it is looked for and built: the package's own
 * dist/native (where the install script puts it), then the user cache under a key of the sources
 * and Node's ABI, for when the package folder is not writable (a global or read-only install).
 */
export async function addonLocations(env: Record<string, string | undefined> = process.env): Promise<string[]> {
  const { join } = await import("node:path");
  const b = await builder();
  return [b.PACKAGE_ADDON, join(await userCacheDir(env), "native", b.addonKey(), "lora_lab_blas.node")];
}

/**
 * Runs `fn` holding `lockFile` (created exclusively, holding the pid), so that processes starting
 * together build the addon once: the others wait, then find it built. A lock whose process is gone,
 * or older than ten minutes, is taken over.
 */
async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const fs = await import("node:fs");
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (lockIsStale(fs, lockFile)) fs.rmSync(lockFile, { force: true });
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

function lockIsStale(fs: typeof import("node:fs"), lockFile: string): boolean {
  try {
    if (Date.now() - fs.statSync(lockFile).mtimeMs > 10 * 60_000) return true;
    const pid = Number(fs.readFileSync(lockFile, "utf8"));
    if (!pid) return false; // being written
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // ENOENT: released meanwhile (not stale, try again); ESRCH: its process is gone; EPERM: alive, another user's.
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Builds the addon into `out`, else into the first writable place of `addonLocations()`, under a
 * lock. Without `force`, an addon that is already there (built by another process meanwhile) is
 * kept. Used at first use and by `lora-lab build-native`.
 */
export async function buildNativeAddon(opts: { out?: string; force?: boolean } = {}): Promise<NativeBuild> {
  const fs = await import("node:fs");
  const { dirname } = await import("node:path");
  const b = await builder();
  const targets = opts.out ? [opts.out] : await addonLocations();
  const unwritable: string[] = [];
  for (const target of targets) {
    try {
      fs.mkdirSync(dirname(target), { recursive: true });
      return await withLock(`${target}.lock`, async () =>
        !opts.force && fs.existsSync(target) ? { ok: true as const, out: target } : b.buildAddon(target),
      );
    } catch (err) {
      // EACCES, EPERM, EROFS: a read-only install; whatever the file system says, try the next place.
      const code = (err as NodeJS.ErrnoException).code;
      if (!code) throw err;
      unwritable.push(`${dirname(target)} (${code})`);
    }
  }
  return {
    ok: false,
    reason: `nowhere to write it: ${unwritable.join(", ")}`,
    fix: "set XDG_CACHE_HOME to a writable folder, or build it with npx lora-lab build-native --out FILE and set LORA_LAB_NATIVE_PATH=FILE",
  };
}

/** Loads the addon file at `path` (its functions copied into a plain object), setting its thread count. */
export async function loadAddonFile(path: string): Promise<NativeBlas> {
  const { createRequire } = await import("node:module");
  const addon = createRequire(import.meta.url)(path) as NativeBlas;
  // The addon's functions are non-enumerable: copy them by name into a plain object.
  const loaded = Object.fromEntries(
    Object.getOwnPropertyNames(addon).map((k) => [k, (addon as unknown as Record<string, unknown>)[k]]),
  ) as unknown as NativeBlas;
  const wanted = Number(process.env.LORA_LAB_THREADS ?? 0);
  loaded.threads(wanted > 0 ? wanted : undefined);
  return loaded;
}

/**
 * Finds the addon (LORA_LAB_NATIVE_PATH, else `addonLocations()`), building it on first use when
 * it is in none of them: npm may skip install scripts, and the fast path should survive that.
 */
async function findOrBuild(): Promise<string | NativeBlasStatus> {
  const { existsSync } = await import("node:fs");
  const env = process.env.LORA_LAB_NATIVE_PATH;
  if (env) {
    if (existsSync(env)) return env;
    return {
      loaded: false,
      path: env,
      reason: `LORA_LAB_NATIVE_PATH is ${env}, which does not exist`,
      fix: `build it there with npx lora-lab build-native --out ${env}, or unset LORA_LAB_NATIVE_PATH`,
    };
  }
  let locations: string[];
  try {
    locations = await addonLocations();
  } catch (err) {
    return { loaded: false, reason: `its build script cannot be loaded (${firstLine(err)})`, fix: "reinstall lora-lab" };
  }
  const found = locations.find((p) => existsSync(p));
  if (found) return found;
  const built = await buildNativeAddon().catch((err): NativeBuild => ({ ok: false, reason: firstLine(err) }));
  if (!built.ok) return { loaded: false, path: locations[0], reason: `not built: ${built.reason}`, fix: built.fix };
  if (built.seconds !== undefined) {
    console.error(`lora-lab: built the native BLAS addon for this machine in ${built.seconds.toFixed(1)} s (once: kept in ${built.out})`);
  }
  return built.out;
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/** Loads the addon once (Node only); undefined when it is unavailable or switched off. */
export async function loadNativeBlas(): Promise<NativeBlas | undefined> {
  if (status) return blas;
  if (typeof process === "undefined" || !process.versions?.node) {
    status = { loaded: false, reason: "not running in Node" };
    return undefined;
  }
  if (process.env.LORA_LAB_NATIVE === "0") {
    status = { loaded: false, reason: "disabled by LORA_LAB_NATIVE=0", fix: "unset LORA_LAB_NATIVE" };
    return undefined;
  }
  const path = await findOrBuild();
  if (typeof path !== "string") {
    status = path;
    return undefined;
  }
  try {
    blas = await loadAddonFile(path);
    status = { loaded: true, path, threads: blas.threads() };
  } catch (err) {
    status = { loaded: false, path, reason: `${path} does not load: ${firstLine(err)}`, fix: "rebuild it with npx lora-lab build-native" };
    blas = undefined;
  }
  return blas;
}

/**
 * Says once per process, on stderr, that the wasm backend runs without the addon, why, and how to
 * fix it (ready() calls it; silent outside Node, where there is no addon to have).
 */
export function warnIfSlowPath(): void {
  const s = nativeBlasStatus();
  if (warned || s.loaded || s.reason === "not running in Node") return;
  warned = true;
  const fix = s.fix ? ` To fix: ${s.fix}.` : "";
  console.warn(`lora-lab: slow path: wasm without the native BLAS addon, training runs 4-8x slower (${s.reason}).${fix}`);
}

/** Whether the native matrix product is loaded, and if not, why. */
export function nativeBlasStatus(): NativeBlasStatus {
  return status ?? { loaded: false, reason: "ready() has not run" };
}

/** The loaded addon, if any. */
export function nativeBlas(): NativeBlas | undefined {
  return blas;
}
