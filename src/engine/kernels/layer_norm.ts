import type * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, heapOf, offsets, rowsOf, views } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";
import { fusedGradient, hasKernel, runFused, runFusedValue, wasmKernel, type FusedKernel } from "./fused.js";

/** lora-lab's kernel names: LayerNorm over the last axis, and its gradient. */
export const FUSED_LAYER_NORM = "LoraLabLayerNorm";
export const FUSED_LAYER_NORM_GRAD = "LoraLabLayerNormGrad";

type LayerNormAttrs = { eps: number };

/**
 * y = (x - mean) / sqrt(var + eps) * w + b per row of C (biased variance, as torch); the mean
 * and rstd = 1 / sqrt(var + eps) of each row are kept for the gradient. The same arguments and
 * formulas as layernorm_forward in native/blas.c, which runs instead when the addon is loaded.
 */
function layerNormRows(
  N: number,
  C: number,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y: Float32Array,
  means: Float32Array,
  rstds: Float32Array,
  eps: number,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[o + c];
    const mean = Math.fround(s / C);
    let ss = 0;
    for (let c = 0; c < C; c++) {
      const d = x[o + c] - mean;
      ss += d * d;
    }
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(ss / C) + eps));
    means[r] = mean;
    rstds[r] = rstd;
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - mean) * rstd * w[c] + b[c];
  }
}

/** dx, dw, db of layerNormRows from dy and what it kept (layernorm_backward in native/blas.c). */
function layerNormGradRows(
  N: number,
  C: number,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  means: Float32Array,
  rstds: Float32Array,
  dx: Float32Array,
  dwOut: Float32Array,
  dbOut: Float32Array,
): void {
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const m = means[r];
    const rs = rstds[r];
    let sumG = 0; // sum of dxhat
    let sumGX = 0; // sum of dxhat * xhat
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - m) * rs;
      const gy = dy[o + c];
      const gx = gy * w[c];
      sumG += gx;
      sumGX += gx * xhat;
      dw[c] += gy * xhat;
      db[c] += gy;
    }
    const meanG = sumG / C;
    const meanGX = sumGX / C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - m) * rs;
      dx[o + c] = rs * (dy[o + c] * w[c] - meanG - xhat * meanGX);
    }
  }
  dwOut.set(dw);
  dbOut.set(db);
}

/** In one pass per row instead of a dozen broadcast kernels; outputs y, mean and rstd. */
const layerNorm: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, weight, bias } = inputs as Record<"x" | "weight" | "bias", TensorInfo>;
  const { eps } = attrs as LayerNormAttrs;
  const { rows, cols } = rowsOf(x.shape);
  const wasm = asWasm(backend);
  const y = wasm.makeOutput(x.shape, "float32");
  const mean = wasm.makeOutput([rows], "float32");
  const rstd = wasm.makeOutput([rows], "float32");
  const native = nativeBlas()?.layerNorm;
  if (native) native(heapOf(wasm), rows, cols, ...offsets(wasm, x, weight, bias, y, mean, rstd), eps);
  else layerNormRows(rows, cols, ...views(wasm, x, weight, bias, y, mean, rstd), eps);
  return [y, mean, rstd];
};

const layerNormGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, weight, mean, rstd } = inputs as Record<"dy" | "x" | "weight" | "mean" | "rstd", TensorInfo>;
  const { rows, cols } = rowsOf(x.shape);
  const wasm = asWasm(backend);
  const dx = wasm.makeOutput(x.shape, "float32");
  const dw = wasm.makeOutput([cols], "float32");
  const db = wasm.makeOutput([cols], "float32");
  const native = nativeBlas()?.layerNormGrad;
  if (native) native(heapOf(wasm), rows, cols, ...offsets(wasm, dy, x, weight, mean, rstd, dx, dw, db));
  else layerNormGradRows(rows, cols, ...views(wasm, dy, x, weight, mean, rstd, dx, dw, db));
  return [dx, dw, db];
};

export const layerNormKernels: FusedKernel[] = [
  {
    kernel: wasmKernel(FUSED_LAYER_NORM, layerNorm),
    gradient: fusedGradient(
      FUSED_LAYER_NORM,
      { inputs: ["x", "weight"], outputs: [false, true, true] },
      ([dy], [x, weight, mean, rstd]) => {
        const [dx, dweight, dbias] = runFused(FUSED_LAYER_NORM_GRAD, { dy, x, weight, mean, rstd }, {});
        return { x: dx, weight: dweight, bias: dbias };
      },
    ),
  },
  { kernel: wasmKernel(FUSED_LAYER_NORM_GRAD, layerNormGrad) },
];

/**
 * LayerNorm over the last axis through the fused kernels when the current backend has them
 * (wasm with lora-lab's kernels on); undefined otherwise, and the caller composes it from ops.
 */
export function fusedLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor | undefined {
  const C = x.shape[x.rank - 1];
  if (x.dtype !== "float32" || weight.size !== C || bias.size !== C || weight.rank !== 1 || bias.rank !== 1) return undefined;
  if (!hasKernel(FUSED_LAYER_NORM)) return undefined;
  return runFusedValue(FUSED_LAYER_NORM, { x, weight, bias }, { eps } satisfies LayerNormAttrs);
}
