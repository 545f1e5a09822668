/**
 * KV caches for generation, as transformers' DynamicCache and EncoderDecoderCache: each attention
 * layer keeps the keys and values of the positions it has seen, so a decoding step feeds only the
 * new token and attends to the cached ones instead of recomputing the whole context.
 */
import * as tf from "@tensorflow/tfjs";
import { causalBias } from "../nn/masks.js";
import { toIdTensor, type TokenInput } from "./inputs.js";

/**
 * Keys and values of earlier positions, [B, heads, P, hs] each, that the present queries attend to
 * before their own: a KV cache's layer, or prefix tuning's learned prefixes.
 */
export interface PastKeyValue {
  key: tf.Tensor;
  value: tf.Tensor;
}

/**
 * One [B, heads, P, headDim] key and value tensor per attention layer, grown by `update` at each
 * step. Grouped-query attention caches its key/value heads, before they are repeated for the query
 * heads. The cache owns its tensors (they survive the `tf.tidy` of the forward that made them):
 * `dispose()` frees them.
 */
export class DynamicCache {
  private readonly layers: (PastKeyValue | undefined)[] = [];

  /** Positions cached so far (layer 0's; after a whole forward every layer holds as many). */
  get length(): number {
    return this.lengthOf(0);
  }

  lengthOf(layer: number): number {
    return (this.layers[layer]?.key.shape[2] as number | undefined) ?? 0;
  }

  get(layer: number): PastKeyValue | undefined {
    return this.layers[layer];
  }

  /** Appends the present keys and values [B, heads, T, hs] to layer `layer`'s and returns all of them, [B, heads, P + T, hs]. */
  update(layer: number, key: tf.Tensor, value: tf.Tensor): PastKeyValue {
    const past = this.layers[layer];
    const next = past
      ? { key: tf.concat([past.key, key], 2), value: tf.concat([past.value, value], 2) }
      : { key: key.clone(), value: value.clone() };
    tf.keep(next.key);
    tf.keep(next.value);
    if (past) tf.dispose([past.key, past.value]);
    this.layers[layer] = next;
    return next;
  }

  /**
   * Throws unless layers 0..numLayers-1 each hold `length` positions: a layer left behind means a
   * module between the model and its attention dropped forward's cache argument.
   */
  expectFilled(numLayers: number, length: number): void {
    for (let i = 0; i < numLayers; i++) {
      if (this.lengthOf(i) !== length) {
        throw new Error(
          `KV cache: attention layer ${i} holds ${this.lengthOf(i)} positions after the forward, expected ${length} ` +
            "(a wrapper around it does not pass the cache on); generate with useCache: false",
        );
      }
    }
  }

  dispose(): void {
    for (const kv of this.layers) if (kv) tf.dispose([kv.key, kv.value]);
    this.layers.length = 0;
  }
}

/**
 * The decoder cache of an encoder-decoder model: self-attention keys and values grow by one
 * position a step; cross-attention keys and values are computed once from the encoder's output.
 */
export class EncoderDecoderCache {
  readonly selfAttention = new DynamicCache();
  readonly crossAttention = new DynamicCache();

  /** Decoder positions cached so far. */
  get length(): number {
    return this.selfAttention.length;
  }

  dispose(): void {
    this.selfAttention.dispose();
    this.crossAttention.dispose();
  }
}

/** Where one attention layer reads and grows its cache. */
export interface CacheSlot {
  cache: DynamicCache;
  layer: number;
}

/**
 * The causal mask of T new queries after P earlier positions, [1, 1, T, P + T]: query i stands at
 * position P + i and sees every earlier key and the present ones up to itself. null for one query,
 * which sees every key.
 */
export function causalBiasAfter(P: number, T: number): tf.Tensor | null {
  if (T === 1) return null;
  if (P === 0) return causalBias(T, [1, 1, T, T]);
  return tf.tidy(() => tf.concat([tf.zeros([1, 1, T, P]), causalBias(T, [1, 1, T, T])], 3));
}

/**
 * An additive bias [B, 1, 1, K] from a 0/1 attention mask [B, K] over all keys (cached and
 * present): 0 for real tokens, -1e9 for padding, which softmax turns into exactly 0 weight in
 * float32 (transformers adds float32's minimum).
 */
export function paddingBias(mask: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, K] = mask.shape;
    return tf.scalar(1).sub(mask.toFloat()).mul(-1e9).reshape([B, 1, 1, K]) as tf.Tensor4D;
  });
}

/**
 * The attention mask of a forward after P cached positions as int32 [B, P + T] (it covers the
 * cached keys too, as transformers'), checked against the ids [B, T]; null when none is given.
 */
export function maskOverKeys(mask: TokenInput | undefined, ids: tf.Tensor2D, P: number): tf.Tensor2D | null {
  if (mask === undefined) return null;
  const m = toIdTensor(mask, 2, "attention mask");
  const [B, T] = ids.shape;
  if (!tf.util.arraysEqual(m.shape, [B, P + T])) {
    m.dispose();
    const cached = P ? ` (${P} cached + ${T} present positions)` : "";
    throw new Error(`attention mask shape [${m.shape}] does not match input ids shape [${B},${P + T}]${cached}`);
  }
  return m;
}

/** Position ids [B, T] as int32, checked against the ids' shape and the model's `limit` positions; null when none are given. */
export function positionIdsTensor(positions: TokenInput | undefined, ids: tf.Tensor2D, limit: number): tf.Tensor2D | null {
  if (positions === undefined) return null;
  const p = toIdTensor(positions, limit, "position ids");
  if (!tf.util.arraysEqual(p.shape, ids.shape)) {
    p.dispose();
    throw new Error(`position ids shape [${p.shape}] does not match input ids shape [${ids.shape}]`);
  }
  return p;
}
