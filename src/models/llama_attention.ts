import * as tf from "@tensorflow/tfjs";
import { fusedAttention, nextSeed } from "../engine/index.js";
import { Linear, Module } from "../nn/index.js";
import type { LlamaConfig } from "./llama_config.js";
import { applyRotary } from "./rope.js";
import { causalBiasAfter, type DynamicCache } from "./kv_cache.js";

/** What every layer's attention shares in one forward: RoPE tables, the additive mask, the KV cache. */
export interface AttentionContext {
  /** [T, headDim] each (or [B, T, headDim], positions per sequence), and rotate_half's matrix [headDim, headDim] (see rope.ts). */
  cos: tf.Tensor;
  sin: tf.Tensor;
  rotateHalf: tf.Tensor2D;
  /** Added to the scores besides the causal mask: padding [B, 1, 1, K] over every key (cached and present), or null. */
  padding: tf.Tensor | null;
  /** Keys and values of earlier positions, grown by each layer's present ones; null without a cache. */
  cache: DynamicCache | null;
}

const windowValues = new Map<string, Float32Array>();

/**
 * The additive mask [1, 1, T, K] of a sliding window for T queries at the last of K positions:
 * -1e9 where key j <= query position - window (transformers' sliding_window_overlay keeps kv_idx >
 * q_idx - sliding_window). Square ones are cached per size (a cached decoding step's are not: K grows).
 */
export function slidingWindowBias(T: number, window: number, K = T): tf.Tensor {
  const key = `${T}/${window}`;
  let values = K === T ? windowValues.get(key) : undefined;
  if (!values) {
    values = new Float32Array(T * K);
    for (let i = 0; i < T; i++) {
      const reach = K - T + i - window + 1; // keys 0..reach-1 are out of the window
      if (reach > 0) values.fill(-1e9, i * K, i * K + reach);
    }
    if (K === T) windowValues.set(key, values);
  }
  return tf.tensor(values, [1, 1, T, K]);
}

/**
 * Each key/value head of x (axis `axis`) repeated `groups` times in place, HF's repeat_kv: query
 * head h reads key/value head floor(h / groups). A broadcast multiply by ones copies 3x faster than
 * Tile on wasm, both ways (and tfjs has no rank-5 Tile gradient).
 */
function repeatKv(x: tf.Tensor, groups: number, axis: number): tf.Tensor {
  if (groups === 1) return x;
  const shape = x.shape;
  const outer = shape.slice(0, axis + 1).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const repeated = [...shape.slice(0, axis), shape[axis] * groups, ...shape.slice(axis + 1)];
  return x
    .reshape([outer, 1, inner])
    .mul(tf.ones([1, groups, inner]))
    .reshape(repeated);
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

  forward(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    return tf.tidy(() => {
      const [B, T] = x.shape as [number, number, number];
      const { numAttentionHeads: nh, numKeyValueHeads: nkv, numKeyValueGroups: groups, headDim: hs, attentionDropout } = this.config;
      const q = applyRotary(this.q_proj.forward(x).reshape([B, T, nh, hs]), ctx.cos, ctx.sin, ctx.rotateHalf); // [B, T, nh, hs]
      const k = applyRotary(this.k_proj.forward(x).reshape([B, T, nkv, hs]), ctx.cos, ctx.sin, ctx.rotateHalf); // [B, T, nkv, hs]
      const v = this.v_proj.forward(x).reshape([B, T, nkv, hs]);
      const scale = 1 / Math.sqrt(hs);
      const window = this.config.slidingWindowOf(this.layerIdx);
      const dropping = this.training && attentionDropout > 0;
      const heads = (t: tf.Tensor) => t.transpose([0, 2, 1, 3]); // [B, heads, T, hs]
      // A prompt's first pass (nothing cached yet) needs no cached keys either.
      if ((!ctx.cache || ctx.cache.lengthOf(this.layerIdx) === 0) && !dropping) {
        // One fused kernel each way (wasm + native addon) when no attention dropout is applied.
        let bias = ctx.padding;
        if (window !== null && T > window) bias = bias ? bias.add(slidingWindowBias(T, window)) : slidingWindowBias(T, window);
        const [qs, ks, vs] = [q.reshape([B, T, nh * hs]), repeatKv(k, groups, 2), repeatKv(v, groups, 2)].map((t) =>
          t.reshape([B, T, nh * hs]),
        );
        const fused = fusedAttention(qs, ks, vs, nh, { scale, causal: true, bias: bias ?? undefined });
        if (fused) {
          ctx.cache?.update(this.layerIdx, heads(k), heads(v));
          return this.o_proj.forward(fused);
        }
      }
      // The cache holds the kv heads, [B, nkv, K, hs]; they are repeated for the query heads after.
      const kv = ctx.cache ? ctx.cache.update(this.layerIdx, heads(k), heads(v)) : { key: heads(k), value: heads(v) };
      const K = kv.key.shape[2] as number;
      let scores = tf.matMul(heads(q), repeatKv(kv.key, groups, 1), false, true).mul(scale); // [B, nh, T, K]
      const causal = causalBiasAfter(K - T, T);
      if (causal) scores = scores.add(causal);
      if (window !== null && K > window) scores = scores.add(slidingWindowBias(T, window, K));
      if (ctx.padding) scores = scores.add(ctx.padding);
      let att = tf.softmax(scores, -1);
      if (dropping) att = tf.dropout(att, attentionDropout, undefined, nextSeed());
      const y = tf
        .matMul(att, repeatKv(kv.value, groups, 1))
        .transpose([0, 2, 1, 3])
        .reshape([B, T, nh * hs]); // [B, T, nh * hs]
      return this.o_proj.forward(y);
    });
  }
}
