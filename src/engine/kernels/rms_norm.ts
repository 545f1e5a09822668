import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";

/** lora-lab's kernel names: RMS norm over the last axis (T5's T5LayerNorm), and its gradient. */
export const FUSED_RMS_NORM = "LoraLabRmsNorm";
export const FUSED_RMS_NORM_GRAD = "LoraLabRmsNormGrad";

/**
 * y = x / sqrt(mean(x^2) + eps) * weight per row, in one pass instead of six broadcast kernels
 * (and a dozen for the gradient); also outputs 1/sqrt(mean(x^2) + eps) per row for the gradient.
 * In C when the native addon is built, in JavaScript otherwise.
 */
const rmsNorm: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, weight } = inputs as { x: TensorInfo; weight: TensorInfo };
  const eps = (attrs as { eps: number }).eps;
  const C = x.shape[x.shape.length - 1];
  const N = x.shape.reduce((a, b) => a * b, 1) / C;
  const wasm = asWasm(backend);
  const out = wasm.makeOutput(x.shape, "float32");
  const rstdOut = wasm.makeOutput([N], "float32");
  const native = nativeBlas();
  if (native?.rmsNorm && N * C > 0) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    native.rmsNorm(heapOf(wasm), N, C, o(x), o(weight), o(out), o(rstdOut), eps);
    return [out, rstdOut];
  }
  // Views after every allocation: an allocation may grow (and so replace) the heap.
  const xs = f32(wasm, x);
  const w = f32(wasm, weight);
  const y = f32(wasm, out);
  const rstds = f32(wasm, rstdOut);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += Math.fround(xs[o + c] * xs[o + c]);
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / C) + eps)));
    rstds[r] = rstd;
    for (let c = 0; c < C; c++) y[o + c] = Math.fround(xs[o + c] * rstd) * w[c];
  }
  return [out, rstdOut];
};

/** dx = rstd (dy w - xhat mean(dy w xhat)), dweight = sum over rows of dy xhat, xhat = x rstd. */
const rmsNormGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, weight, rstd } = inputs as Record<"dy" | "x" | "weight" | "rstd", TensorInfo>;
  const C = x.shape[x.shape.length - 1];
  const N = x.shape.reduce((a, b) => a * b, 1) / C;
  const wasm = asWasm(backend);
  const dxOut = wasm.makeOutput(x.shape, "float32");
  const dwOut = wasm.makeOutput([C], "float32");
  const native = nativeBlas();
  if (native?.rmsNormGrad && N * C > 0) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    native.rmsNormGrad(heapOf(wasm), N, C, o(dy), o(x), o(weight), o(rstd), o(dxOut), o(dwOut));
    return [dxOut, dwOut];
  }
  const g = f32(wasm, dy);
  const xs = f32(wasm, x);
  const w = f32(wasm, weight);
  const rstds = f32(wasm, rstd);
  const dx = f32(wasm, dxOut);
  const dw = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const rs = rstds[r];
    let sumGX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = xs[o + c] * rs;
      sumGX += g[o + c] * w[c] * xhat;
      dw[c] += g[o + c] * xhat;
    }
    const meanGX = sumGX / C;
    for (let c = 0; c < C; c++) dx[o + c] = rs * (g[o + c] * w[c] - xs[o + c] * rs * meanGX);
  }
  f32(wasm, dwOut).set(dw);
  return [dxOut, dwOut];
};

export const rmsNormConfig: KernelConfig = { kernelName: FUSED_RMS_NORM, backendName: "wasm", kernelFunc: rmsNorm };
export const rmsNormGradConfig: KernelConfig = { kernelName: FUSED_RMS_NORM_GRAD, backendName: "wasm", kernelFunc: rmsNormGrad };

// One customGrad function per eps (customGrad passes tensors only).
const byEps = new Map<number, (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor>();

function fusedFor(eps: number): (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor {
  let fn = byEps.get(eps);
  if (fn) return fn;
  fn = tf.customGrad(((x: tf.Tensor, weight: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, rstd] = tf.engine().runKernel(FUSED_RMS_NORM, { x, weight }, { eps }) as tf.Tensor[];
    save([x, weight, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, w, r] = saved;
        return tf.engine().runKernel(FUSED_RMS_NORM_GRAD, { dy: dy as tf.Tensor, x: xs, weight: w, rstd: r }, {}) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor;
  byEps.set(eps, fn);
  return fn;
}

/**
 * RMS norm over the last axis through the fused kernels when the current backend has them (wasm
 * with lora-lab's kernels on); undefined otherwise, and the caller composes it from ops.
 */
export function fusedRmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor | undefined {
  const C = x.shape[x.rank - 1];
  if (x.dtype !== "float32" || weight.rank !== 1 || weight.size !== C) return undefined;
  if (tf.getKernel(FUSED_RMS_NORM, tf.getBackend()) === undefined) return undefined;
  return fusedFor(eps)(x, weight);
}
