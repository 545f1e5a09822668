import * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, heapOf, offsetOf } from "./wasm_backend.js";
import { nativeBlas, nativeBlasStatus, type NativeBlas } from "../native.js";
import { fusedGradient, hasKernel, runFused, runFusedValue, wasmKernel, type FusedKernel } from "./fused.js";

/**
 * lora-lab's attention kernels, on the native addon: GPT-2's causal self-attention read straight
 * from c_attn's fused QKV, and general multi-head attention from separate q, k, v with an additive
 * bias (T5: relative positions and masks); each with its gradient. One kernel each way instead of
 * head splits, transposes, two batched products, scale, mask, softmax and the merge of heads.
 */
export const FUSED_CAUSAL_ATTENTION = "LoraLabCausalAttention";
export const FUSED_CAUSAL_ATTENTION_GRAD = "LoraLabCausalAttentionGrad";
export const FUSED_ATTENTION = "LoraLabAttention";
export const FUSED_ATTENTION_GRAD = "LoraLabAttentionGrad";

type CausalAttentionAttrs = { nHead: number; scale: number };
/** `biasShape`: the bias as the kernel reads it, [1 or B, 1 or heads, Tq, Tk]; [] without one. */
type AttentionAttrs = CausalAttentionAttrs & { causal: boolean; biasShape: number[] };

function needNative(name: string): NativeBlas {
  const native = nativeBlas();
  if (!native?.attention || !native.attentionGrad) {
    throw new Error(
      `${name} runs on lora-lab's native addon, which is not loaded (${nativeBlasStatus().reason ?? "it lacks the attention kernels: rebuild it"})`,
    );
  }
  return native;
}

const params = (values: number[]) => Float64Array.from(values);

/** qkv [B, T, 3C] -> y [B, T, C] and the probabilities [B, heads, T, T]. */
const causalAttention: KernelFunc = ({ inputs, attrs, backend }) => {
  const { qkv } = inputs as { qkv: TensorInfo };
  const { nHead, scale } = attrs as CausalAttentionAttrs;
  const native = needNative(FUSED_CAUSAL_ATTENTION);
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  const wasm = asWasm(backend);
  const y = wasm.makeOutput([B, T, C], "float32");
  const probs = wasm.makeOutput([B, nHead, T, T], "float32");
  const at = offsetOf(wasm, qkv);
  native.attention!(
    heapOf(wasm),
    params([B, T, T, nHead, C / nHead, 1, at, at + 4 * C, at + 8 * C, offsetOf(wasm, y), -1, offsetOf(wasm, probs), C3, C3, C3, C, 0, 0]),
    scale,
  );
  return [y, probs];
};

const causalAttentionGrad: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, qkv, probs } = inputs as { dy: TensorInfo; qkv: TensorInfo; probs: TensorInfo };
  const { nHead, scale } = attrs as CausalAttentionAttrs;
  const native = needNative(FUSED_CAUSAL_ATTENTION_GRAD);
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  const wasm = asWasm(backend);
  const dqkv = wasm.makeOutput(qkv.shape, "float32");
  const at = offsetOf(wasm, qkv);
  const d = offsetOf(wasm, dqkv);
  native.attentionGrad!(
    heapOf(wasm),
    params([
      B,
      T,
      T,
      nHead,
      C / nHead,
      1,
      at,
      at + 4 * C,
      at + 8 * C,
      offsetOf(wasm, dy),
      offsetOf(wasm, probs),
      d,
      d + 4 * C,
      d + 8 * C,
      -1,
      C3,
      C3,
      C3,
      C,
    ]),
    scale,
  );
  return dqkv;
};

/** q [B, Tq, C], k and v [B, Tk, C], bias [1 or B, 1 or heads, Tq, Tk] -> y [B, Tq, C] and probabilities. */
const attention: KernelFunc = ({ inputs, attrs, backend }) => {
  const { q, k, v, bias } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo; bias?: TensorInfo };
  const { nHead, scale, causal } = attrs as AttentionAttrs;
  const native = needNative(FUSED_ATTENTION);
  const [B, Tq, C] = q.shape;
  const Tk = k.shape[1];
  const wasm = asWasm(backend);
  const y = wasm.makeOutput([B, Tq, C], "float32");
  const probs = wasm.makeOutput([B, nHead, Tq, Tk], "float32");
  const o = (t: TensorInfo) => offsetOf(wasm, t);
  const biasB = bias && bias.shape[0] !== 1 ? bias.shape[1] * Tq * Tk : 0;
  const biasH = bias && bias.shape[1] !== 1 ? Tq * Tk : 0;
  native.attention!(
    heapOf(wasm),
    params([B, Tq, Tk, nHead, C / nHead, causal ? 1 : 0, o(q), o(k), o(v), o(y), bias ? o(bias) : -1, o(probs), C, C, C, C, biasB, biasH]),
    scale,
  );
  return [y, probs];
};

/** dq, dk, dv and, when there is a bias, the gradient of the scores [B, heads, Tq, Tk] (for the bias's). */
const attentionGrad: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, q, k, v, probs } = inputs as Record<"dy" | "q" | "k" | "v" | "probs", TensorInfo>;
  const { nHead, scale, causal, biasShape } = attrs as AttentionAttrs;
  const native = needNative(FUSED_ATTENTION_GRAD);
  const [B, Tq, C] = q.shape;
  const Tk = k.shape[1];
  const wasm = asWasm(backend);
  const dq = wasm.makeOutput(q.shape, "float32");
  const dk = wasm.makeOutput(k.shape, "float32");
  const dv = wasm.makeOutput(v.shape, "float32");
  const dScores = biasShape.length > 0 ? wasm.makeOutput([B, nHead, Tq, Tk], "float32") : undefined;
  const o = (t: TensorInfo) => offsetOf(wasm, t);
  native.attentionGrad!(
    heapOf(wasm),
    params([
      B,
      Tq,
      Tk,
      nHead,
      C / nHead,
      causal ? 1 : 0,
      o(q),
      o(k),
      o(v),
      o(dy),
      o(probs),
      o(dq),
      o(dk),
      o(dv),
      dScores ? o(dScores) : -1,
      C,
      C,
      C,
      C,
    ]),
    scale,
  );
  return dScores ? [dq, dk, dv, dScores] : [dq, dk, dv];
};

export const attentionKernels: FusedKernel[] = [
  {
    kernel: wasmKernel(FUSED_CAUSAL_ATTENTION, causalAttention),
    gradient: fusedGradient<CausalAttentionAttrs>(
      FUSED_CAUSAL_ATTENTION,
      { inputs: ["qkv"], outputs: [false, true] },
      ([dy], [qkv, probs], attrs) => ({
        qkv: runFusedValue(FUSED_CAUSAL_ATTENTION_GRAD, { dy, qkv, probs }, attrs),
      }),
    ),
  },
  { kernel: wasmKernel(FUSED_CAUSAL_ATTENTION_GRAD, causalAttentionGrad) },
  {
    kernel: wasmKernel(FUSED_ATTENTION, attention),
    gradient: fusedGradient<AttentionAttrs>(
      FUSED_ATTENTION,
      { inputs: ["q", "k", "v"], outputs: [false, true] },
      ([dy], [q, k, v, probs], attrs) => {
        const [dq, dk, dv, dScores] = runFused(FUSED_ATTENTION_GRAD, { dy, q, k, v, probs }, attrs);
        const grads: Record<string, tf.Tensor> = { q: dq, k: dk, v: dv };
        if (dScores) {
          // The bias was broadcast over batch and/or heads: its gradient sums over them.
          const axes = [0, 1].filter((a) => attrs.biasShape[a] === 1 && dScores.shape[a] !== 1);
          grads.bias = axes.length ? tf.sum(dScores, axes, true) : dScores;
        }
        return grads;
      },
    ),
  },
  { kernel: wasmKernel(FUSED_ATTENTION_GRAD, attentionGrad) },
];

function available(): boolean {
  if (!hasKernel(FUSED_ATTENTION)) return false;
  const native = nativeBlas();
  return native?.attention !== undefined && native.attentionGrad !== undefined;
}

/**
 * Causal multi-head self-attention of GPT-2 from its fused QKV projection [B, T, 3C] to the merged
 * heads [B, T, C], through the fused native kernels when the current backend has them (wasm with
 * lora-lab's kernels on and the native addon loaded); otherwise undefined and the caller composes
 * the ops. No dropout: callers use it only when attention dropout is off.
 */
export function fusedCausalAttention(qkv: tf.Tensor, nHead: number, scale: number): tf.Tensor | undefined {
  if (qkv.dtype !== "float32" || qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * nHead) !== 0 || !available()) return undefined;
  return runFusedValue(FUSED_CAUSAL_ATTENTION, { qkv }, { nHead, scale } satisfies CausalAttentionAttrs);
}

export interface FusedAttentionOptions {
  /** Multiplies q k^T before the bias (1: T5's unscaled scores). */
  scale?: number;
  /** Added to the scores: [Tq, Tk] or [1 or B, 1 or heads, Tq, Tk] (broadcast as tf.add would). */
  bias?: tf.Tensor;
  /** Keys after the query get weight 0 (self-attention of a decoder). */
  causal?: boolean;
}

/**
 * softmax(scale q k^T + bias) v per head, from q [B, Tq, C] and k, v [B, Tk, C] (heads are C /
 * nHead wide column blocks) to the merged heads [B, Tq, C], through the fused native kernels when
 * the current backend has them; otherwise undefined and the caller composes the ops. No dropout.
 */
export function fusedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  nHead: number,
  opts: FusedAttentionOptions = {},
): tf.Tensor | undefined {
  const { scale = 1, causal = false } = opts;
  if ([q, k, v].some((t) => t.dtype !== "float32" || t.rank !== 3) || !available()) return undefined;
  const [B, Tq, C] = q.shape as [number, number, number];
  const Tk = k.shape[1] as number;
  if (C % nHead !== 0 || !tf.util.arraysEqual(k.shape, [B, Tk, C]) || !tf.util.arraysEqual(v.shape, k.shape)) return undefined;
  let bias = opts.bias;
  if (bias) {
    if (bias.dtype !== "float32" || bias.rank > 4) return undefined;
    const full = [1, 1, 1, 1].map((one, i) => bias!.shape[i - (4 - bias!.rank)] ?? one);
    const fits = (full[0] === 1 || full[0] === B) && (full[1] === 1 || full[1] === nHead);
    if (!fits || (full[2] !== 1 && full[2] !== Tq) || (full[3] !== 1 && full[3] !== Tk)) return undefined;
    // The kernel reads [Tq, Tk] rows; broadcasting over batch and heads it does by stride.
    bias = full[2] === Tq && full[3] === Tk ? bias.reshape(full) : tf.broadcastTo(bias.reshape(full), [full[0], full[1], Tq, Tk]);
  }
  const attrs: AttentionAttrs = { nHead, scale, causal, biasShape: bias?.shape ?? [] };
  return runFusedValue(FUSED_ATTENTION, bias ? { q, k, v, bias } : { q, k, v }, attrs);
}
