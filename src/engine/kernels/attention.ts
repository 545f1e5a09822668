import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas, nativeBlasStatus } from "../native.js";

/** lora-lab's kernel names: causal self-attention on a fused QKV projection, and its gradient. */
export const FUSED_CAUSAL_ATTENTION = "LoraLabCausalAttention";
export const FUSED_CAUSAL_ATTENTION_GRAD = "LoraLabCausalAttentionGrad";

interface AttentionAttrs {
  nHead: number;
  scale: number;
}

function needNative(name: string) {
  const native = nativeBlas();
  if (!native?.attention || !native.attentionGrad) {
    throw new Error(`${name} runs on lora-lab's native addon, which is not loaded (${nativeBlasStatus().reason ?? "it lacks the attention kernels: rebuild it"})`);
  }
  return native;
}

function dims(qkv: TensorInfo, nHead: number) {
  const [B, T, C3] = qkv.shape;
  return { B, T, C: C3 / 3, hs: C3 / 3 / nHead };
}

/**
 * y = softmax(scale * q k^T + causal mask) v per head, q k v read in place from qkv [B, T, 3C]
 * (GPT-2's c_attn output): one kernel instead of split, three transposes, two batched products,
 * scale, mask, softmax and the merge of heads. Outputs y [B, T, C] and the probabilities
 * [B, heads, T, T] the gradient needs.
 */
const attention: KernelFunc = ({ inputs, attrs, backend }) => {
  const { qkv } = inputs as { qkv: TensorInfo };
  const { nHead, scale } = attrs as unknown as AttentionAttrs;
  const native = needNative(FUSED_CAUSAL_ATTENTION);
  const { B, T, C, hs } = dims(qkv, nHead);
  const wasm = asWasm(backend);
  const y = wasm.makeOutput([B, T, C], "float32");
  const probs = wasm.makeOutput([B, nHead, T, T], "float32");
  if (B * T * C > 0) native.attention!(heapOf(wasm), B, T, nHead, hs, offsetOf(wasm, qkv), offsetOf(wasm, y), offsetOf(wasm, probs), scale);
  return [y, probs];
};

const attentionGrad: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, qkv, probs } = inputs as { dy: TensorInfo; qkv: TensorInfo; probs: TensorInfo };
  const { nHead, scale } = attrs as unknown as AttentionAttrs;
  const native = needNative(FUSED_CAUSAL_ATTENTION_GRAD);
  const { B, T, C, hs } = dims(qkv, nHead);
  const wasm = asWasm(backend);
  const dqkv = wasm.makeOutput(qkv.shape, "float32");
  if (B * T * C > 0) {
    const o = (t: TensorInfo) => offsetOf(wasm, t);
    native.attentionGrad!(heapOf(wasm), B, T, nHead, hs, o(dy), o(qkv), o(probs), o(dqkv), scale);
  }
  return dqkv;
};

export const attentionConfig: KernelConfig = { kernelName: FUSED_CAUSAL_ATTENTION, backendName: "wasm", kernelFunc: attention };
export const attentionGradConfig: KernelConfig = { kernelName: FUSED_CAUSAL_ATTENTION_GRAD, backendName: "wasm", kernelFunc: attentionGrad };

// One customGrad function per (heads, scale): customGrad passes tensors only.
const fns = new Map<string, (qkv: tf.Tensor) => tf.Tensor>();

function fusedFor(nHead: number, scale: number): (qkv: tf.Tensor) => tf.Tensor {
  const key = `${nHead}/${scale}`;
  let fn = fns.get(key);
  if (fn) return fn;
  const attrs = { nHead, scale };
  fn = tf.customGrad(((qkv: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, probs] = tf.engine().runKernel(FUSED_CAUSAL_ATTENTION, { qkv }, attrs) as tf.Tensor[];
    save([qkv, probs]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.engine().runKernel(FUSED_CAUSAL_ATTENTION_GRAD, { dy: dy as tf.Tensor, qkv: saved[0], probs: saved[1] }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (qkv: tf.Tensor) => tf.Tensor;
  fns.set(key, fn);
  return fn;
}

/**
 * Causal multi-head self-attention of GPT-2 from its fused QKV projection [B, T, 3C] to the merged
 * heads [B, T, C], through the fused native kernels when the current backend has them (wasm with
 * lora-lab's kernels on and the native addon loaded); otherwise undefined and the caller composes
 * the ops. No dropout: callers use it only when attention dropout is off.
 */
export function fusedCausalAttention(qkv: tf.Tensor, nHead: number, scale: number): tf.Tensor | undefined {
  if (qkv.dtype !== "float32" || qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * nHead) !== 0) return undefined;
  if (tf.getKernel(FUSED_CAUSAL_ATTENTION, tf.getBackend()) === undefined) return undefined;
  const native = nativeBlas();
  if (!native?.attention || !native.attentionGrad) return undefined;
  return fusedFor(nHead, scale)(qkv);
}
