import * as tf from "@tensorflow/tfjs";
import { fusedAttention, nextSeed } from "../engine/index.js";
import { Linear, Module } from "../nn/index.js";
import { causalBias } from "../nn/masks.js";
import type { LlamaConfig } from "./llama_config.js";
import { applyRotary } from "./rope.js";

/** What every layer's attention shares in one forward: RoPE tables and the additive mask. */
export interface AttentionContext {
  /** [T, headDim] each, and rotate_half's matrix [headDim, headDim] (see rope.ts). */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  rotateHalf: tf.Tensor2D;
  /** Added to the scores besides the causal mask: padding [B, 1, 1, T], or null. */
  padding: tf.Tensor | null;
}

const windowValues = new Map<string, Float32Array>();

/**
 * The additive mask [1, 1, T, T] of a sliding window: -1e9 where key j <= query i - window
 * (transformers' sliding_window_overlay keeps kv_idx > q_idx - sliding_window). Cached per size.
 */
export function slidingWindowBias(T: number, window: number): tf.Tensor {
  const key = `${T}/${window}`;
  let values = windowValues.get(key);
  if (!values) {
    values = new Float32Array(T * T);
    for (let i = window; i < T; i++) values.fill(-1e9, i * T, i * T + i - window + 1);
    windowValues.set(key, values);
  }
  return tf.tensor(values, [1, 1, T, T]);
}

/**
 * Grouped-query self-attention with RoPE, as transformers' LlamaAttention: numAttentionHeads query
 * heads, numKeyValueHeads key/value heads each shared by numKeyValueGroups query heads.
 */
export class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;

  constructor(
    readonly config: LlamaConfig,
    readonly layerIdx: number,
  ) {
    super();
    const { hiddenSize: C, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hs, initializerRange: std } = config;
    const qkv = { bias: config.qkvBias, initStd: std };
    this.q_proj = this.registerModule("q_proj", new Linear(C, nh * hs, qkv));
    this.k_proj = this.registerModule("k_proj", new Linear(C, nkv * hs, qkv));
    this.v_proj = this.registerModule("v_proj", new Linear(C, nkv * hs, qkv));
    this.o_proj = this.registerModule("o_proj", new Linear(nh * hs, C, { bias: config.oBias, initStd: std }));
  }

  /** Key/value heads [B, T, nkv, hs] repeated to every query head, [B, T, nh * hs] (HF's repeat_kv). */
  private repeatKv(x: tf.Tensor): tf.Tensor {
    const [B, T, nkv, hs] = x.shape as [number, number, number, number];
    const groups = this.config.numKeyValueGroups;
    if (groups === 1) return x.reshape([B, T, nkv * hs]);
    // Query head h reads key/value head floor(h / groups). A broadcast multiply by ones copies
    // 3x faster than Tile on wasm, both ways (and tfjs has no rank-5 Tile gradient).
    return x
      .reshape([B * T * nkv, 1, hs])
      .mul(tf.ones([1, groups, hs]))
      .reshape([B, T, nkv * groups * hs]); // [B, T, nh * hs]
  }

  forward(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    return tf.tidy(() => {
      const [B, T] = x.shape as [number, number, number];
      const { numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hs, attentionDropout } = this.config;
      const q = applyRotary(this.q_proj.forward(x).reshape([B, T, nh, hs]), ctx.cos, ctx.sin, ctx.rotateHalf); // [B, T, nh, hs]
      const k = applyRotary(this.k_proj.forward(x).reshape([B, T, nkv, hs]), ctx.cos, ctx.sin, ctx.rotateHalf); // [B, T, nkv, hs]
      const v = this.v_proj.forward(x).reshape([B, T, nkv, hs]);
      const [qs, ks, vs] = [q.reshape([B, T, nh * hs]), this.repeatKv(k), this.repeatKv(v)]; // [B, T, nh * hs]
      const scale = 1 / Math.sqrt(hs);
      const window = this.config.slidingWindowOf(this.layerIdx);
      let bias = ctx.padding;
      if (window !== null && T > window) bias = bias ? bias.add(slidingWindowBias(T, window)) : slidingWindowBias(T, window);
      const dropping = this.training && attentionDropout > 0;
      // One fused kernel each way (wasm + native addon) when no attention dropout is applied.
      const fused = dropping ? undefined : fusedAttention(qs, ks, vs, nh, { scale, causal: true, bias: bias ?? undefined });
      if (fused) return this.o_proj.forward(fused);
      const heads = (t: tf.Tensor) => t.reshape([B, T, nh, hs]).transpose([0, 2, 1, 3]); // [B, nh, T, hs]
      let scores = tf
        .matMul(heads(qs), heads(ks), false, true)
        .mul(scale)
        .add(causalBias(T, [1, 1, T, T])); // [B, nh, T, T]
      if (bias) scores = scores.add(bias);
      let att = tf.softmax(scores, -1);
      if (dropping) att = tf.dropout(att, attentionDropout, undefined, nextSeed());
      const y = tf
        .matMul(att, heads(vs))
        .transpose([0, 2, 1, 3])
        .reshape([B, T, nh * hs]); // [B, T, nh * hs]
      return this.o_proj.forward(y);
    });
  }
}
