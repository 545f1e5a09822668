import * as tf from "@tensorflow/tfjs";

/** Gradients by parameter name. */
export type GradMap = Map<string, tf.Tensor>;

/**
 * Squared L2 norm of each tensor, as one 1-D tensor in order, so a caller can read every
 * per-tensor norm (and from them the global one) with a single download.
 */
export function squaredNorms(tensors: GradMap | tf.Tensor[]): tf.Tensor1D {
  const list = Array.isArray(tensors) ? tensors : [...tensors.values()];
  if (list.length === 0) return tf.zeros([0]);
  return tf.tidy(() => tf.stack(list.map((g) => tf.sum(tf.square(g)))) as tf.Tensor1D);
}

/**
 * torch.nn.utils.clip_grad_norm_'s factor: max_norm / (total_norm + 1e-6), capped at 1. Gradients
 * multiplied by it have a global norm of at most maxNorm.
 */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/** Returns new gradients scaled by `coefficient` (the inputs are left to the caller). */
export function scaleGrads(grads: GradMap, coefficient: number): GradMap {
  const out: GradMap = new Map();
  tf.tidy(() => {
    const c = tf.scalar(coefficient);
    for (const [name, g] of grads) out.set(name, tf.keep(tf.mul(g, c)));
  });
  return out;
}

/**
 * Global-norm clipping as torch.nn.utils.clip_grad_norm_: returns the pre-clip norm and new,
 * scaled gradients (always new tensors, so the caller disposes inputs and outputs alike).
 */
export function clipGradNorm(grads: GradMap, maxNorm: number): { grads: GradMap; totalNorm: number } {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const sq = squaredNorms(grads);
  const values = sq.dataSync() as Float32Array;
  sq.dispose();
  const totalNorm = Math.sqrt(values.reduce((a: number, b: number) => a + b, 0));
  return { grads: scaleGrads(grads, clipCoefficient(totalNorm, maxNorm)), totalNorm };
}

/**
 * Sums gradients over micro-batches; `mean()` gives their average (what a loss scaled by
 * 1 / accumulation steps gives in PyTorch) and starts over.
 */
export class GradientAccumulator {
  private sums: GradMap = new Map();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds one micro-batch's gradients; the inputs stay the caller's. */
  add(grads: GradMap): void {
    for (const [name, g] of grads) {
      const old = this.sums.get(name);
      this.sums.set(name, old ? tf.tidy(() => tf.add(old, g)) : tf.clone(g));
      old?.dispose();
    }
    this.count++;
  }

  /** The mean gradients (new tensors owned by the caller); resets the accumulator. */
  mean(): GradMap {
    if (this.count === 0) throw new Error("GradientAccumulator.mean: no gradients were added");
    const out: GradMap = new Map();
    const n = this.count;
    for (const [name, sum] of this.sums) {
      out.set(name, n === 1 ? sum : tf.tidy(() => tf.div(sum, n)));
      if (n !== 1) sum.dispose();
    }
    this.sums = new Map();
    this.count = 0;
    return out;
  }

  dispose(): void {
    for (const t of this.sums.values()) t.dispose();
    this.sums = new Map();
    this.count = 0;
  }
}
