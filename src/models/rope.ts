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

/** cos and sin of position * frequency for positions 0..T-1, each [T, headDim] (HF's cat(freqs, freqs)), computed in float64. */
export class RopeTables {
  private readonly cache = new Map<number, { cos: Float32Array; sin: Float32Array }>();
  private rotation?: Float32Array;

  constructor(readonly inverseFrequencies: Float64Array) {}

  /** Uploaded from arrays cached per length; the caller disposes the tensors. */
  tables(T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const half = this.inverseFrequencies.length;
    const D = 2 * half;
    let entry = this.cache.get(T);
    if (!entry) {
      entry = { cos: new Float32Array(T * D), sin: new Float32Array(T * D) };
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < half; i++) {
          const angle = t * this.inverseFrequencies[i];
          entry.cos[t * D + i] = entry.cos[t * D + half + i] = Math.cos(angle);
          entry.sin[t * D + i] = entry.sin[t * D + half + i] = Math.sin(angle);
        }
      }
      this.cache.set(T, entry);
    }
    return { cos: tf.tensor2d(entry.cos, [T, D]), sin: tf.tensor2d(entry.sin, [T, D]) };
  }

  /**
   * rotate_half as a signed permutation [D, D]: (x R)[j] = -x[j + D/2] for j < D/2, x[j - D/2]
   * after. One small matrix product each way is cheaper on wasm than the slices and concat.
   */
  rotateHalf(): tf.Tensor2D {
    const half = this.inverseFrequencies.length;
    const D = 2 * half;
    if (!this.rotation) {
      this.rotation = new Float32Array(D * D);
      for (let j = 0; j < half; j++) {
        this.rotation[(j + half) * D + j] = -1;
        this.rotation[j * D + j + half] = 1;
      }
    }
    return tf.tensor2d(this.rotation, [D, D]);
  }
}

/**
 * Rotates x [B, T, heads, headDim] by position as HF's apply_rotary_pos_emb:
 * x * cos + rotate_half(x) * sin, with cos and sin [T, headDim] and `rotateHalf` from RopeTables.
 */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D, rotateHalf: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [B, T, H, D] = x.shape as [number, number, number, number];
    const rotated = tf.matMul(x.reshape([B * T * H, D]), rotateHalf).reshape([B, T, H, D]); // [B, T, H, D]
    return x.mul(cos.reshape([1, T, 1, D])).add(rotated.mul(sin.reshape([1, T, 1, D])));
  });
}
