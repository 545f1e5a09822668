import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";

/** lora-lab's own kernel name: one AdamW update of one parameter. */
export const FUSED_ADAMW = "LoraLabAdamW";

export interface FusedAdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - lr * weightDecay (1 without decay). */
  decay: number;
  biasCorrection1: number;
  biasCorrection2Sqrt: number;
}

/**
 * AdamW as torch.optim.AdamW in one pass over the parameter (the op-by-op version is a dozen
 * kernels, each a full read and write): outputs the new parameter, both moments and the squared
 * L2 norm of the change. New buffers, never in place: a variable's old value may be shared.
 */
const fusedAdamW: KernelFunc = ({ inputs, attrs, backend }) => {
  const { param, grad, m, v } = inputs as { param: TensorInfo; grad: TensorInfo; m: TensorInfo; v: TensorInfo };
  const { lr, beta1, beta2, eps, decay, biasCorrection1, biasCorrection2Sqrt } = attrs as unknown as FusedAdamWAttrs;
  const wasm = asWasm(backend);
  const outP = wasm.makeOutput(param.shape, "float32");
  const outM = wasm.makeOutput(param.shape, "float32");
  const outV = wasm.makeOutput(param.shape, "float32");
  const outSq = wasm.makeOutput([], "float32");
  const native = nativeBlas();
  if (native?.adamw) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    const n = param.shape.reduce((a, b) => a * b, 1);
    f32(wasm, outSq)[0] = native.adamw(heapOf(wasm), n, o(param), o(grad), o(m), o(v), o(outP), o(outM), o(outV),
      lr, beta1, beta2, eps, decay, biasCorrection1, biasCorrection2Sqrt);
    return [outP, outM, outV, outSq];
  }
  // Views after every allocation: an allocation may grow (and so replace) the heap.
  const p = f32(wasm, param);
  const g = f32(wasm, grad);
  const m0 = f32(wasm, m);
  const v0 = f32(wasm, v);
  const p1 = f32(wasm, outP);
  const m1 = f32(wasm, outM);
  const v1 = f32(wasm, outV);
  const step = lr / biasCorrection1;
  const b1c = 1 - beta1;
  const b2c = 1 - beta2;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = m0[i] + (gi - m0[i]) * b1c; // torch's lerp_
    const vi = v0[i] * beta2 + gi * gi * b2c;
    m1[i] = mi;
    v1[i] = vi;
    const next = Math.fround(p[i] * decay - (mi / (Math.sqrt(vi) / biasCorrection2Sqrt + eps)) * step);
    p1[i] = next;
    const d = next - p[i];
    sq += d * d;
  }
  f32(wasm, outSq)[0] = sq;
  return [outP, outM, outV, outSq];
};

export const fusedAdamWConfig: KernelConfig = { kernelName: FUSED_ADAMW, backendName: "wasm", kernelFunc: fusedAdamW };

/**
 * One fused AdamW update when the current backend has the kernel (wasm, fast kernels on);
 * undefined otherwise, and the caller runs the op-by-op update.
 */
export function fusedAdamWStep(
  param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: FusedAdamWAttrs,
): { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor; updateSquare: tf.Scalar } | undefined {
  if (param.dtype !== "float32" || grad.dtype !== "float32" || !tf.util.arraysEqual(param.shape, grad.shape)) return undefined;
  if (tf.getKernel(FUSED_ADAMW, tf.getBackend()) === undefined) return undefined;
  const out = tf.engine().runKernel(FUSED_ADAMW, { param, grad, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { param: out[0], m: out[1], v: out[2], updateSquare: out[3] as tf.Scalar };
}
