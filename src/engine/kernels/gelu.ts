import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";

/** lora-lab's kernel names: GPT-2's tanh GELU ("gelu_new") and its gradient. */
export const FUSED_GELU = "LoraLabGeluNew";
export const FUSED_GELU_GRAD = "LoraLabGeluNewGrad";

const K = Math.sqrt(2 / Math.PI);
const A = 0.044715;

/**
 * s = sigmoid(2z) for every x, through the backend's vectorised Sigmoid (Math.exp in a JS loop is
 * several times slower). The caller disposes the returned buffer.
 */
function sigmoid2z(wasm: ReturnType<typeof asWasm>, backend: unknown, x: TensorInfo): TensorInfo {
  const u = wasm.makeOutput(x.shape, "float32");
  const xs = f32(wasm, x);
  const us = f32(wasm, u);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    us[i] = 2 * K * (v + A * v * v * v);
  }
  const sigmoid = tf.getKernel(tf.Sigmoid, "wasm")!.kernelFunc;
  const s = sigmoid({ inputs: { x: u }, attrs: {}, backend: backend as tf.KernelBackend }) as TensorInfo;
  wasm.disposeData(u.dataId);
  return s;
}

/** y = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3), which is 0.5 x (1 + tanh z). */
const gelu: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  const wasm = asWasm(backend);
  const native = nativeBlas();
  if (native?.gelu) {
    const out = wasm.makeOutput(x.shape, "float32");
    native.gelu(heapOf(wasm), x.shape.reduce((a, b) => a * b, 1), offsetOf(wasm, x), offsetOf(wasm, out));
    return out;
  }
  const s = sigmoid2z(wasm, backend, x);
  const out = wasm.makeOutput(x.shape, "float32");
  const xs = f32(wasm, x);
  const ss = f32(wasm, s);
  const y = f32(wasm, out);
  for (let i = 0; i < xs.length; i++) y[i] = xs[i] * ss[i];
  wasm.disposeData(s.dataId);
  return out;
};

/** dx = dy * (s + 2 x s (1 - s) dz/dx), s = sigmoid(2z), dz/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2). */
const geluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const wasm = asWasm(backend);
  const native = nativeBlas();
  if (native?.geluGrad) {
    const out = wasm.makeOutput(x.shape, "float32");
    native.geluGrad(heapOf(wasm), x.shape.reduce((a, b) => a * b, 1), offsetOf(wasm, dy), offsetOf(wasm, x), offsetOf(wasm, out));
    return out;
  }
  const s = sigmoid2z(wasm, backend, x);
  const out = wasm.makeOutput(x.shape, "float32");
  const xs = f32(wasm, x);
  const g = f32(wasm, dy);
  const ss = f32(wasm, s);
  const dx = f32(wasm, out);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    const si = ss[i];
    dx[i] = g[i] * (si + 2 * v * si * (1 - si) * K * (1 + 3 * A * v * v));
  }
  wasm.disposeData(s.dataId);
  return out;
};

export const geluConfig: KernelConfig = { kernelName: FUSED_GELU, backendName: "wasm", kernelFunc: gelu };
export const geluGradConfig: KernelConfig = { kernelName: FUSED_GELU_GRAD, backendName: "wasm", kernelFunc: geluGrad };

const fused = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const y = tf.engine().runKernel(FUSED_GELU, { x }, {}) as tf.Tensor;
  save([x]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      tf.engine().runKernel(FUSED_GELU_GRAD, { dy: dy as tf.Tensor, x: saved[0] }, {}) as tf.Tensor,
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

/** GPT-2's tanh GELU through the fused kernels when the current backend has them; else undefined. */
export function fusedGeluNew(x: tf.Tensor): tf.Tensor | undefined {
  if (x.dtype !== "float32" || tf.getKernel(FUSED_GELU, tf.getBackend()) === undefined) return undefined;
  return fused(x);
}
