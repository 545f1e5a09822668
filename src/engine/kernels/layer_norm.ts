import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";

/** lora-lab's kernel names: LayerNorm over the last axis, and its gradient. */
export const FUSED_LAYER_NORM = "LoraLabLayerNorm";
export const FUSED_LAYER_NORM_GRAD = "LoraLabLayerNormGrad";

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias per row (biased variance, as torch), in one
 * pass per row instead of a dozen broadcast kernels. Also outputs mean and 1/sqrt(var + eps) per
 * row for the gradient.
 */
const layerNorm: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, weight, bias } = inputs as { x: TensorInfo; weight: TensorInfo; bias: TensorInfo };
  const eps = (attrs as { eps: number }).eps;
  const C = x.shape[x.shape.length - 1];
  const N = x.shape.reduce((a, b) => a * b, 1) / C;
  const wasm = asWasm(backend);
  const out = wasm.makeOutput(x.shape, "float32");
  const meanOut = wasm.makeOutput([N], "float32");
  const rstdOut = wasm.makeOutput([N], "float32");
  const native = nativeBlas();
  if (native?.layerNorm) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    native.layerNorm(heapOf(wasm), N, C, o(x), o(weight), o(bias), o(out), o(meanOut), o(rstdOut), eps);
    return [out, meanOut, rstdOut];
  }
  const xs = f32(wasm, x);
  const w = f32(wasm, weight);
  const b = f32(wasm, bias);
  const y = f32(wasm, out);
  const means = f32(wasm, meanOut);
  const rstds = f32(wasm, rstdOut);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += xs[o + c];
    const mean = Math.fround(s / C);
    let ss = 0;
    for (let c = 0; c < C; c++) {
      const d = xs[o + c] - mean;
      ss += d * d;
    }
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(ss / C) + eps));
    means[r] = mean;
    rstds[r] = rstd;
    for (let c = 0; c < C; c++) y[o + c] = (xs[o + c] - mean) * rstd * w[c] + b[c];
  }
  return [out, meanOut, rstdOut];
};

/** dx, dweight, dbias of the LayerNorm above, from dy, x, weight and the saved mean and rstd. */
const layerNormGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, weight, mean, rstd } = inputs as Record<"dy" | "x" | "weight" | "mean" | "rstd", TensorInfo>;
  const C = x.shape[x.shape.length - 1];
  const N = x.shape.reduce((a, b) => a * b, 1) / C;
  const wasm = asWasm(backend);
  const dxOut = wasm.makeOutput(x.shape, "float32");
  const dwOut = wasm.makeOutput([C], "float32");
  const dbOut = wasm.makeOutput([C], "float32");
  const native = nativeBlas();
  if (native?.layerNormGrad) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    native.layerNormGrad(heapOf(wasm), N, C, o(dy), o(x), o(weight), o(mean), o(rstd), o(dxOut), o(dwOut), o(dbOut));
    return [dxOut, dwOut, dbOut];
  }
  const g = f32(wasm, dy);
  const xs = f32(wasm, x);
  const w = f32(wasm, weight);
  const means = f32(wasm, mean);
  const rstds = f32(wasm, rstd);
  const dx = f32(wasm, dxOut);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const m = means[r];
    const rs = rstds[r];
    let sumG = 0; // sum of dxhat
    let sumGX = 0; // sum of dxhat * xhat
    for (let c = 0; c < C; c++) {
      const xhat = (xs[o + c] - m) * rs;
      const gy = g[o + c];
      const gx = gy * w[c];
      sumG += gx;
      sumGX += gx * xhat;
      dw[c] += gy * xhat;
      db[c] += gy;
    }
    const meanG = sumG / C;
    const meanGX = sumGX / C;
    for (let c = 0; c < C; c++) {
      const xhat = (xs[o + c] - m) * rs;
      dx[o + c] = rs * (g[o + c] * w[c] - meanG - xhat * meanGX);
    }
  }
  f32(wasm, dwOut).set(dw);
  f32(wasm, dbOut).set(db);
  return [dxOut, dwOut, dbOut];
};

export const layerNormConfig: KernelConfig = { kernelName: FUSED_LAYER_NORM, backendName: "wasm", kernelFunc: layerNorm };
export const layerNormGradConfig: KernelConfig = { kernelName: FUSED_LAYER_NORM_GRAD, backendName: "wasm", kernelFunc: layerNormGrad };

// One customGrad function per eps (customGrad passes tensors only).
const byEps = new Map<number, (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor>();

function fusedFor(eps: number): (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor {
  let fn = byEps.get(eps);
  if (fn) return fn;
  fn = tf.customGrad(((x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = tf.engine().runKernel(FUSED_LAYER_NORM, { x, weight, bias }, { eps }) as tf.Tensor[];
    save([x, weight, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, w, m, r] = saved;
        return tf.engine().runKernel(FUSED_LAYER_NORM_GRAD, { dy: dy as tf.Tensor, x: xs, weight: w, mean: m, rstd: r }, {}) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
  byEps.set(eps, fn);
  return fn;
}

/**
 * LayerNorm over the last axis through the fused kernels when the current backend has them
 * (wasm with lora-lab's kernels on); undefined otherwise, and the caller composes it from ops.
 */
export function fusedLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor | undefined {
  const C = x.shape[x.rank - 1];
  if (x.dtype !== "float32" || weight.size !== C || bias.size !== C || weight.rank !== 1 || bias.rank !== 1) return undefined;
  if (tf.getKernel(FUSED_LAYER_NORM, tf.getBackend()) === undefined) return undefined;
  return fusedFor(eps)(x, weight, bias);
}
