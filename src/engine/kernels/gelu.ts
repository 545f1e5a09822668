import * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsets, sizeOf, views } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";
import { fusedGradient, hasKernel, runFusedValue, wasmKernel, type FusedKernel } from "./fused.js";

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

/**
 * One GELU pass over x, the value or the gradient: `native` (the addon's C loop, arguments
 * (heap, n, ...operands, out)) when it is loaded, else `loop` over s = sigmoid(2z) and the
 * operands' float32 views.
 */
function geluPass(
  backend: unknown,
  x: TensorInfo,
  operands: TensorInfo[],
  native: ((heap: ArrayBuffer, n: number, ...offsets: number[]) => void) | undefined,
  loop: (s: Float32Array, out: Float32Array, ...operands: Float32Array[]) => void,
): TensorInfo {
  const wasm = asWasm(backend);
  if (native) {
    const out = wasm.makeOutput(x.shape, "float32");
    native(heapOf(wasm), sizeOf(x.shape), ...offsets(wasm, ...operands, out));
    return out;
  }
  const s = sigmoid2z(wasm, backend, x);
  const out = wasm.makeOutput(x.shape, "float32");
  loop(f32(wasm, s), f32(wasm, out), ...views(wasm, ...operands));
  wasm.disposeData(s.dataId);
  return out;
}

/** y = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3), which is 0.5 x (1 + tanh z). */
const gelu: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  return geluPass(backend, x, [x], nativeBlas()?.gelu, (s, y, xs) => {
    for (let i = 0; i < xs.length; i++) y[i] = xs[i] * s[i];
  });
};

/** dx = dy * (s + 2 x s (1 - s) dz/dx), s = sigmoid(2z), dz/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2). */
const geluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  return geluPass(backend, x, [dy, x], nativeBlas()?.geluGrad, (s, dx, g, xs) => {
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i];
      const si = s[i];
      dx[i] = g[i] * (si + 2 * v * si * (1 - si) * K * (1 + 3 * A * v * v));
    }
  });
};

export const geluKernels: FusedKernel[] = [
  {
    kernel: wasmKernel(FUSED_GELU, gelu),
    gradient: fusedGradient(FUSED_GELU, { inputs: ["x"] }, ([dy], [x]) => ({ x: runFusedValue(FUSED_GELU_GRAD, { dy, x }, {}) })),
  },
  { kernel: wasmKernel(FUSED_GELU_GRAD, geluGrad) },
];

/** GPT-2's tanh GELU through the fused kernels when the current backend has them; else undefined. */
export function fusedGeluNew(x: tf.Tensor): tf.Tensor | undefined {
  if (x.dtype !== "float32" || !hasKernel(FUSED_GELU)) return undefined;
  return runFusedValue(FUSED_GELU, { x }, {});
}
