import type * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, heapOf, offsets, rowsOf, views } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";
import { fusedGradient, hasKernel, runFused, runFusedValue, wasmKernel, type FusedKernel } from "./fused.js";

/** lora-lab's kernel names: RMS norm over the last axis (T5's T5LayerNorm), and its gradient. */
export const FUSED_RMS_NORM = "LoraLabRmsNorm";
export const FUSED_RMS_NORM_GRAD = "LoraLabRmsNormGrad";

type RmsNormAttrs = { eps: number };

/**
 * y = x * rstd * w per row of C, rstd = 1 / sqrt(mean(x^2) + eps), kept for the gradient. The
 * same arguments and formulas as rmsnorm_forward in native/blas.c, which runs instead when the
 * addon is loaded.
 */
function rmsNormRows(N: number, C: number, x: Float32Array, w: Float32Array, y: Float32Array, rstds: Float32Array, eps: number): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += Math.fround(x[o + c] * x[o + c]);
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / C) + eps)));
    rstds[r] = rstd;
    for (let c = 0; c < C; c++) y[o + c] = Math.fround(x[o + c] * rstd) * w[c];
  }
}

/** dx = rstd (dy w - xhat mean(dy w xhat)), dw = sum over rows of dy xhat, xhat = x rstd (rmsnorm_backward). */
function rmsNormGradRows(
  N: number,
  C: number,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rstds: Float32Array,
  dx: Float32Array,
  dwOut: Float32Array,
): void {
  const dw = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const rs = rstds[r];
    let sumGX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = x[o + c] * rs;
      sumGX += dy[o + c] * w[c] * xhat;
      dw[c] += dy[o + c] * xhat;
    }
    const meanGX = sumGX / C;
    for (let c = 0; c < C; c++) dx[o + c] = rs * (dy[o + c] * w[c] - x[o + c] * rs * meanGX);
  }
  dwOut.set(dw);
}

/** In one pass per row instead of six broadcast kernels (and a dozen for the gradient); outputs y and rstd. */
const rmsNorm: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, weight } = inputs as Record<"x" | "weight", TensorInfo>;
  const { eps } = attrs as RmsNormAttrs;
  const { rows, cols } = rowsOf(x.shape);
  const wasm = asWasm(backend);
  const y = wasm.makeOutput(x.shape, "float32");
  const rstd = wasm.makeOutput([rows], "float32");
  const native = nativeBlas()?.rmsNorm;
  if (native && rows * cols > 0) native(heapOf(wasm), rows, cols, ...offsets(wasm, x, weight, y, rstd), eps);
  else rmsNormRows(rows, cols, ...views(wasm, x, weight, y, rstd), eps);
  return [y, rstd];
};

const rmsNormGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, weight, rstd } = inputs as Record<"dy" | "x" | "weight" | "rstd", TensorInfo>;
  const { rows, cols } = rowsOf(x.shape);
  const wasm = asWasm(backend);
  const dx = wasm.makeOutput(x.shape, "float32");
  const dw = wasm.makeOutput([cols], "float32");
  const native = nativeBlas()?.rmsNormGrad;
  if (native && rows * cols > 0) native(heapOf(wasm), rows, cols, ...offsets(wasm, dy, x, weight, rstd, dx, dw));
  else rmsNormGradRows(rows, cols, ...views(wasm, dy, x, weight, rstd, dx, dw));
  return [dx, dw];
};

export const rmsNormKernels: FusedKernel[] = [
  {
    kernel: wasmKernel(FUSED_RMS_NORM, rmsNorm),
    gradient: fusedGradient(FUSED_RMS_NORM, { inputs: ["x", "weight"], outputs: [false, true] }, ([dy], [x, weight, rstd]) => {
      const [dx, dweight] = runFused(FUSED_RMS_NORM_GRAD, { dy, x, weight, rstd }, {});
      return { x: dx, weight: dweight };
    }),
  },
  { kernel: wasmKernel(FUSED_RMS_NORM_GRAD, rmsNormGrad) },
];

/**
 * RMS norm over the last axis through the fused kernels when the current backend has them (wasm
 * with lora-lab's kernels on); undefined otherwise, and the caller composes it from ops.
 */
export function fusedRmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor | undefined {
  const C = x.shape[x.rank - 1];
  if (x.dtype !== "float32" || weight.rank !== 1 || weight.size !== C) return undefined;
  if (!hasKernel(FUSED_RMS_NORM)) return undefined;
  return runFusedValue(FUSED_RMS_NORM, { x, weight }, { eps } satisfies RmsNormAttrs);
}
