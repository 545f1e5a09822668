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

/**
 * cos and sin of position * frequency, [headDim] per position (HF's cat(freqs, freqs)), computed
 * in float64 into one table that grows with the longest position asked for.
 */
export class RopeTables {
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private rotation?: Float32Array;

  constructor(readonly inverseFrequencies: Float64Array) {}

  private get width(): number {
    return 2 * this.inverseFrequencies.length;
  }

  /** Makes the table hold positions 0..n-1 (at least doubling, so a growing generation rebuilds it rarely). */
  private reach(n: number): void {
    const D = this.width;
    const have = this.cos.length / D;
    if (n <= have) return;
    const size = Math.max(n, 2 * have);
    const [cos, sin] = [new Float32Array(size * D), new Float32Array(size * D)];
    cos.set(this.cos);
    sin.set(this.sin);
    const half = D / 2;
    for (let t = have; t < size; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * this.inverseFrequencies[i];
        cos[t * D + i] = cos[t * D + half + i] = Math.cos(angle);
        sin[t * D + i] = sin[t * D + half + i] = Math.sin(angle);
      }
    }
    [this.cos, this.sin] = [cos, sin];
  }

  /** [T, headDim] each for positions offset..offset+T-1; the caller disposes the tensors. */
  tables(T: number, offset = 0): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const D = this.width;
    this.reach(offset + T);
    const rows = (table: Float32Array) => tf.tensor2d(table.subarray(offset * D, (offset + T) * D), [T, D]);
    return { cos: rows(this.cos), sin: rows(this.sin) };
  }

  /** [B, T, headDim] each for positions [B, T] (a padded batch's, from its mask); the caller disposes the tensors. */
  at(positions: number[][]): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
    const D = this.width;
    const [B, T] = [positions.length, positions[0].length];
    this.reach(Math.max(...positions.flat()) + 1);
    const gather = (table: Float32Array) => {
      const out = new Float32Array(B * T * D);
      positions.flat().forEach((p, i) => out.set(table.subarray(p * D, (p + 1) * D), i * D));
      return tf.tensor3d(out, [B, T, D]);
    };
    return { cos: gather(this.cos), sin: gather(this.sin) };
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
 * x * cos + rotate_half(x) * sin, with cos and sin [T, headDim] (or [B, T, headDim], positions per
 * sequence) and `rotateHalf` from RopeTables.
 */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, rotateHalf: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [B, T, H, D] = x.shape as [number, number, number, number];
    const shape = [cos.rank === 3 ? B : 1, T, 1, D];
    const rotated = tf.matMul(x.reshape([B * T * H, D]), rotateHalf).reshape([B, T, H, D]); // [B, T, H, D]
    return x.mul(cos.reshape(shape)).add(rotated.mul(sin.reshape(shape)));
  });
}
