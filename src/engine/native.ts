/**
 * The optional native matrix product (an N-API addon on OpenBLAS, built by
 * src/engine/native/build.mjs into dist/native/). lora-lab never requires it: when the file is
 * absent, fails to load, or LORA_LAB_NATIVE=0, the wasm kernels are used and `nativeBlasStatus()`
 * says why.
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
  threads?: number;
}

let blas: NativeBlas | undefined;
let status: NativeBlasStatus | undefined;

/** Where the addon is looked for: LORA_LAB_NATIVE_PATH, else dist/native/ in this package. */
function addonPath(): string {
  const env = process.env.LORA_LAB_NATIVE_PATH;
  if (env) return env;
  // Both src/engine/native.ts (vite-node, vitest) and dist/engine/native.js sit two folders below the package root.
  return new URL("../../dist/native/lora_lab_blas.node", import.meta.url).pathname;
}

/** Loads the addon once (Node only); undefined when it is unavailable or switched off. */
export async function loadNativeBlas(): Promise<NativeBlas | undefined> {
  if (status) return blas;
  if (typeof process === "undefined" || !process.versions?.node) {
    status = { loaded: false, reason: "not running in Node" };
    return undefined;
  }
  if (process.env.LORA_LAB_NATIVE === "0") {
    status = { loaded: false, reason: "LORA_LAB_NATIVE=0" };
    return undefined;
  }
  const path = addonPath();
  try {
    const { createRequire } = await import("node:module");
    const { existsSync } = await import("node:fs");
    if (!existsSync(path)) {
      status = { loaded: false, path, reason: "not built (node src/engine/native/build.mjs builds it)" };
      return undefined;
    }
    const addon = createRequire(import.meta.url)(path) as NativeBlas;
    // The addon's functions are non-enumerable: copy them by name into a plain object.
    blas = Object.fromEntries(
      Object.getOwnPropertyNames(addon).map((k) => [k, (addon as unknown as Record<string, unknown>)[k]]),
    ) as unknown as NativeBlas;
    const wanted = Number(process.env.LORA_LAB_THREADS ?? 0);
    status = { loaded: true, path, threads: blas.threads(wanted > 0 ? wanted : undefined) };
  } catch (err) {
    status = { loaded: false, path, reason: err instanceof Error ? err.message.split("\n")[0] : String(err) };
    blas = undefined;
  }
  return blas;
}

/** Whether the native matrix product is loaded, and if not, why. */
export function nativeBlasStatus(): NativeBlasStatus {
  return status ?? { loaded: false, reason: "ready() has not run" };
}

/** The loaded addon, if any. */
export function nativeBlas(): NativeBlas | undefined {
  return blas;
}
