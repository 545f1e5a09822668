/**
 * Rotary position embeddings as transformers' LlamaRotaryEmbedding: the "rotate_half" layout,
 * where dimension d of a head pairs with d + headDim/2 (not the interleaved pairs of the paper).
 */
import * as tf from "@tensorflow/tfjs";
import { ropeTypeOf, type LlamaConfig } from "./llama_config.js";

/**
 * The headDim/2 angular frequencies, theta^(-2i/headDim), rescaled as rope_scaling says
 * (transformers' ROPE_INIT_FUNCTIONS for "default", "linear" and "llama3").
 */
export function ropeInverseFrequencies(config: Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array {
  const { headDim, ropeTheta, ropeScaling } = config;
  const half = headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / ropeTheta ** ((2 * i) / headDim));
  const type = ropeTypeOf(ropeScaling);
  if (type === "linear") return inv.map((f) => f / (ropeScaling!.factor as number));
  if (type === "llama3") {
    const s = ropeScaling!;
    const factor = s.factor as number;
    const low = s.low_freq_factor as number;
    const high = s.high_freq_factor as number;
    const context = s.original_max_position_embeddings as number;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < context / high) return f; // high frequencies: unchanged
      if (wavelen > context / low) return f / factor; // low frequencies: interpolated
      const smooth = (context / wavelen - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
  }
  return inv;
}

/** cos and sin of position * frequency for positions 0..T-1, each [T, headDim/2], computed in float64. */
export class RopeTables {
  private readonly cache = new Map<number, { cos: Float32Array; sin: Float32Array }>();

  constructor(readonly inverseFrequencies: Float64Array) {}

  /** Uploaded from arrays cached per length; the caller disposes the tensors. */
  tables(T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const half = this.inverseFrequencies.length;
    let entry = this.cache.get(T);
    if (!entry) {
      entry = { cos: new Float32Array(T * half), sin: new Float32Array(T * half) };
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < half; i++) {
          const angle = t * this.inverseFrequencies[i];
          entry.cos[t * half + i] = Math.cos(angle);
          entry.sin[t * half + i] = Math.sin(angle);
        }
      }
      this.cache.set(T, entry);
    }
    return { cos: tf.tensor2d(entry.cos, [T, half]), sin: tf.tensor2d(entry.sin, [T, half]) };
  }
}

/**
 * Rotates x [B, T, heads, headDim] by position: with x = [x1, x2] (halves of each head),
 * x * cos + rotate_half(x) * sin = [x1 cos - x2 sin, x2 cos + x1 sin], as HF's apply_rotary_pos_emb
 * (its cos and sin repeat the same half twice, so the halves are computed once here).
 */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [B, T, H, D] = x.shape as [number, number, number, number];
    const half = D / 2;
    const c = cos.reshape([1, T, 1, half]); // [1, T, 1, D/2]
    const s = sin.reshape([1, T, 1, half]);
    const x1 = x.slice([0, 0, 0, 0], [B, T, H, half]); // [B, T, H, D/2]
    const x2 = x.slice([0, 0, 0, half], [B, T, H, half]);
    return tf.concat([x1.mul(c).sub(x2.mul(s)), x2.mul(c).add(x1.mul(s))], 3); // [B, T, H, D]
  });
}
