import * as tf from "@tensorflow/tfjs";
import { fusedAttention, nextSeed } from "../engine/index.js";
import { Embedding, Linear, Module } from "../nn/index.js";
import type { T5Config } from "./t5_config.js";
import type { CacheSlot, PastKeyValue } from "./kv_cache.js";

export { paddingBias } from "./kv_cache.js";

/**
 * T5's bucket for a relative position (key position - query position), as Mesh TensorFlow and
 * Hugging Face's `_relative_position_bucket`: half the buckets hold exact small distances, the
 * rest logarithmically wider bins up to `maxDistance`, beyond which all share the last bucket.
 * Bidirectional (encoder) attention gives keys after the query their own half of the buckets;
 * causal (decoder) attention maps every future position to bucket 0.
 *
 * The logarithmic part is rounded to float32 at each step, as PyTorch computes it, so that
 * distances whose log ratio is a whole number (16, 32, 64 in t5-small's encoder) fall in the
 * same bin; tests compare against PyTorch's table for positions -300..300.
 */
export function relativePositionBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let n: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relativePosition > 0) bucket += buckets;
    n = Math.abs(relativePosition);
  } else {
    n = -Math.min(relativePosition, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const logRatio = f(Math.log(f(n / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/**
 * Buckets for every (query, key) pair, row-major [queryLength, keyLength]; query i stands at
 * position queryOffset + i (a decoding step's query after queryOffset cached positions).
 */
export function relativePositionBuckets(
  queryLength: number,
  keyLength: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
  queryOffset = 0,
): Int32Array {
  const out = new Int32Array(queryLength * keyLength);
  for (let i = 0; i < queryLength; i++) {
    const at = queryOffset + i;
    for (let j = 0; j < keyLength; j++) out[i * keyLength + j] = relativePositionBucket(j - at, bidirectional, numBuckets, maxDistance);
  }
  return out;
}

// Bucket tables by shape and settings: every forward of the first block asks for the same one.
const bucketTables = new Map<string, Int32Array>();

function cachedBuckets(
  queryLength: number,
  keyLength: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): Int32Array {
  const key = `${queryLength},${keyLength},${bidirectional},${numBuckets},${maxDistance}`;
  let table = bucketTables.get(key);
  if (!table) {
    if (bucketTables.size > 64) bucketTables.clear(); // many lengths (generation): keep the cache small
    // The queries are the last queryLength positions (all of them without a cache).
    table = relativePositionBuckets(queryLength, keyLength, bidirectional, numBuckets, maxDistance, keyLength - queryLength);
    bucketTables.set(key, table);
  }
  return table;
}

export interface T5AttentionOptions {
  isDecoder: boolean;
  /** Only the first block of each stack owns the relative position table; the others reuse its bias. */
  hasRelativeAttentionBias: boolean;
}

/** Multi-head attention with T5's unscaled dot products and relative position bias. */
export class T5Attention extends Module {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  relative_attention_bias?: Embedding;
  readonly isDecoder: boolean;

  constructor(
    readonly config: T5Config,
    opts: T5AttentionOptions,
  ) {
    super();
    const { dModel, dKv, numHeads, innerDim, initializerFactor: factor } = config;
    this.isDecoder = opts.isDecoder;
    // Mesh TensorFlow's init puts the 1/sqrt(d_kv) of scaled attention into q's std instead.
    this.q = this.registerModule("q", new Linear(dModel, innerDim, { bias: false, initStd: factor * (dModel * dKv) ** -0.5 }));
    this.k = this.registerModule("k", new Linear(dModel, innerDim, { bias: false, initStd: factor * dModel ** -0.5 }));
    this.v = this.registerModule("v", new Linear(dModel, innerDim, { bias: false, initStd: factor * dModel ** -0.5 }));
    this.o = this.registerModule("o", new Linear(innerDim, dModel, { bias: false, initStd: factor * innerDim ** -0.5 }));
    if (opts.hasRelativeAttentionBias) {
      this.relative_attention_bias = this.registerModule(
        "relative_attention_bias",
        new Embedding(config.relativeAttentionNumBuckets, numHeads, { initStd: factor * dModel ** -0.5 }),
      );
    }
  }

  /**
   * The relative position bias [1, H, Tq, Tk] (bidirectional in the encoder, causal in the
   * decoder) of the last Tq of Tk positions: a cached decoding step's query comes after the cache.
   */
  computeBias(queryLength: number, keyLength: number): tf.Tensor4D {
    const table = this.relative_attention_bias;
    if (!table)
      throw new Error("T5Attention.computeBias: this layer has no relative_attention_bias; only the first block of a stack has one");
    const { relativeAttentionNumBuckets: nb, relativeAttentionMaxDistance: md, numHeads } = this.config;
    return tf.tidy(() => {
      const buckets = tf.tensor1d(cachedBuckets(queryLength, keyLength, !this.isDecoder, nb, md), "int32");
      const values = table.forward(buckets); // [Tq * Tk, H]
      return values.reshape([queryLength, keyLength, numHeads]).transpose([2, 0, 1]).expandDims(0) as tf.Tensor4D; // [1, H, Tq, Tk]
    });
  }

  /**
   * Attends from x [B, Tq, D] to itself, or to `keyValue` [B, Tk, D] (cross-attention). `bias`
   * [1 or B, H or 1, Tq, Tk] holds the position bias plus masks, computed once per stack. With a
   * cache slot, self-attention appends its keys and values to the slot's; cross-attention computes
   * them from `keyValue` once and reuses them after.
   */
  forward(x: tf.Tensor, bias: tf.Tensor, keyValue?: tf.Tensor, slot?: CacheSlot): tf.Tensor {
    return tf.tidy(() => {
      const { numHeads: H, dKv, innerDim, dropoutRate } = this.config;
      const [B, Tq] = x.shape as [number, number, number];
      const source = keyValue ?? x;
      const dropping = this.training && dropoutRate > 0;
      const heads = (t: tf.Tensor) => t.reshape([B, -1, H, dKv]).transpose([0, 2, 1, 3]); // [B, H, T, dKv]
      const q = this.q.forward(x); // [B, Tq, H * dKv]
      let kv: PastKeyValue;
      if (slot) {
        const reused = keyValue ? slot.cache.get(slot.layer) : undefined;
        kv = reused ?? slot.cache.update(slot.layer, heads(this.k.forward(source)), heads(this.v.forward(source))); // [B, H, Tk, dKv]
      } else {
        const [ks, vs] = [this.k.forward(source), this.v.forward(source)]; // [B, Tk, H * dKv]
        // One fused kernel each way (wasm + native addon) when no attention dropout is applied.
        const fused = dropping ? undefined : fusedAttention(q, ks, vs, H, { bias });
        if (fused) return this.o.forward(fused);
        kv = { key: heads(ks), value: heads(vs) };
      }
      const scores = tf.matMul(heads(q), kv.key, false, true).add(bias); // [B, H, Tq, Tk], unscaled as in T5
      let att = tf.softmax(scores, -1);
      if (dropping) att = tf.dropout(att, dropoutRate, undefined, nextSeed());
      const y = tf.matMul(att, kv.value).transpose([0, 2, 1, 3]).reshape([B, Tq, innerDim]); // [B, Tq, H * dKv]
      return this.o.forward(y);
    });
  }
}
