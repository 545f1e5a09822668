import * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsets, sizeOf, views } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";
import { hasKernel, runFused, wasmKernel, type FusedKernel } from "./fused.js";

/** lora-lab's own kernel name: one AdamW update of one parameter. */
export const FUSED_ADAMW = "LoraLabAdamW";

// A type, not an interface: it is the kernel's attrs (a NamedAttrMap) as it stands.
export type FusedAdamWAttrs = {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - lr * weightDecay (1 without decay). */
  decay: number;
  biasCorrection1: number;
  biasCorrection2Sqrt: number;
};

/**
 * AdamW as torch.optim.AdamW over n elements: new parameter, moments, and the squared L2 norm of
 * the change as the result. The same arguments and formulas as adamw_update in native/blas.c,
 * which runs instead when the addon is loaded.
 */
function adamwUpdate(
  n: number,
  p: Float32Array,
  g: Float32Array,
  m0: Float32Array,
  v0: Float32Array,
  p1: Float32Array,
  m1: Float32Array,
  v1: Float32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  decay: number,
  biasCorrection1: number,
  biasCorrection2Sqrt: number,
): number {
  const step = lr / biasCorrection1;
  const b1c = 1 - beta1;
  const b2c = 1 - beta2;
  let sq = 0;
  for (let i = 0; i < n; i++) {
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
  return sq;
}

/**
 * One pass over the parameter (the op-by-op version is a dozen kernels, each a full read and
 * write); outputs the new parameter, both moments and the squared norm of the change. New
 * buffers, never in place: a variable's old value may be shared.
 */
const fusedAdamW: KernelFunc = ({ inputs, attrs, backend }) => {
  const { param, grad, m, v } = inputs as Record<"param" | "grad" | "m" | "v", TensorInfo>;
  const { lr, beta1, beta2, eps, decay, biasCorrection1, biasCorrection2Sqrt } = attrs as FusedAdamWAttrs;
  const wasm = asWasm(backend);
  const [outP, outM, outV] = [0, 1, 2].map(() => wasm.makeOutput(param.shape, "float32"));
  const outSq = wasm.makeOutput([], "float32");
  const n = sizeOf(param.shape);
  const native = nativeBlas()?.adamw;
  const sq = native
    ? native(
        heapOf(wasm),
        n,
        ...offsets(wasm, param, grad, m, v, outP, outM, outV),
        lr,
        beta1,
        beta2,
        eps,
        decay,
        biasCorrection1,
        biasCorrection2Sqrt,
      )
    : adamwUpdate(
        n,
        ...views(wasm, param, grad, m, v, outP, outM, outV),
        lr,
        beta1,
        beta2,
        eps,
        decay,
        biasCorrection1,
        biasCorrection2Sqrt,
      );
  f32(wasm, outSq)[0] = sq;
  return [outP, outM, outV, outSq];
};

export const fusedAdamWKernel: FusedKernel = { kernel: wasmKernel(FUSED_ADAMW, fusedAdamW) };

/**
 * One fused AdamW update when the current backend has the kernel (wasm, fast kernels on);
 * undefined otherwise, and the caller runs the op-by-op update.
 */
export function fusedAdamWStep(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  attrs: FusedAdamWAttrs,
): { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor; updateSquare: tf.Scalar } | undefined {
  if (param.dtype !== "float32" || grad.dtype !== "float32" || !tf.util.arraysEqual(param.shape, grad.shape)) return undefined;
  if (!hasKernel(FUSED_ADAMW)) return undefined;
  const out = runFused(FUSED_ADAMW, { param, grad, m, v }, attrs);
  return { param: out[0], m: out[1], v: out[2], updateSquare: out[3] as tf.Scalar };
}
