import * as tf from "@tensorflow/tfjs";
import type { TrainableModel } from "../train/index.js";

/** A weight penalty for `train(..., { regularizer: penalty.regularizer })`; `dispose` frees its copies. */
export interface WeightPenalty {
  /** strength/2 * sum over trainable parameters of weight * (theta - anchor)^2. */
  regularizer: () => tf.Scalar;
  /** The weights pulled toward, by parameter name (copies taken at creation). */
  anchor: Map<string, tf.Tensor>;
  strength: number;
  dispose(): void;
}

/** The trainable parameters (requiresGrad) by name, in model order. */
export function trainableParameters(model: Pick<TrainableModel, "namedParameters">): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, p] of model.namedParameters()) if (p.requiresGrad) out.set(name, p.variable);
  if (out.size === 0) throw new Error("weight penalty: the model has no trainable parameters (every parameter has requiresGrad = false)");
  return out;
}

/** strength/2 * sum weight * (theta - anchor)^2, with weight 1 where `weights` is absent. */
export function quadraticPenalty(
  params: Map<string, tf.Variable>,
  strength: number,
  weights?: Map<string, tf.Tensor>,
  source = "weight penalty",
): WeightPenalty {
  if (!(strength >= 0) || !Number.isFinite(strength)) throw new Error(`${source}: strength must be a finite number >= 0, got ${strength}`);
  const anchor = new Map([...params].map(([n, v]) => [n, tf.keep(v.clone())] as [string, tf.Tensor]));
  const regularizer = () =>
    tf.tidy(() => {
      const terms = [...params].map(([n, v]) => {
        const d2 = tf.square(tf.sub(v, anchor.get(n)!));
        const w = weights?.get(n);
        return tf.sum(w ? tf.mul(w, d2) : d2);
      });
      return tf.mul(strength / 2, tf.addN(terms)) as tf.Scalar;
    });
  return { regularizer, anchor, strength, dispose: () => tf.dispose([...anchor.values()]) };
}
