import * as tf from "@tensorflow/tfjs";
import type { fusedAdamWStep } from "../engine/index.js";

/**
 * The numbers of one AdamW update of one parameter, as torch.optim.AdamW computes them on the
 * host. The same record is the fused kernel's attributes, so both paths read one definition.
 */
export type AdamWScalars = Parameters<typeof fusedAdamWStep>[4];

/**
 * The scalars of update number `t` (from 1) of a parameter at learning rate `lr`: decoupled
 * decay `1 - lr * weightDecay` and the bias corrections of both moments.
 */
export function adamwScalars(
  lr: number,
  [beta1, beta2]: readonly [number, number],
  eps: number,
  weightDecay: number,
  t: number,
): AdamWScalars {
  return {
    lr,
    beta1,
    beta2,
    eps,
    decay: 1 - lr * weightDecay,
    biasCorrection1: 1 - beta1 ** t,
    biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** t),
  };
}

/**
 * torch.optim.AdamW (amsgrad off) on one tensor, op by op: `p *= decay`, then
 * `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`. Returns the new parameter and
 * moments; the inputs are left alone. Call inside tf.tidy: the temporaries are not freed here.
 */
export function adamwUpdate(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  s: AdamWScalars,
  weightDecay: number,
): { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  // Without weight decay the pass would multiply every element by 1: skip it.
  const decayed = weightDecay !== 0 ? tf.mul(param, s.decay) : param;
  // torch's lerp_(grad, 1 - beta1): m + (1 - beta1) * (g - m)
  const m1 = tf.add(m, tf.mul(tf.sub(grad, m), 1 - s.beta1));
  const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.mul(grad, grad), 1 - s.beta2));
  const denom = tf.add(tf.div(tf.sqrt(v1), s.biasCorrection2Sqrt), s.eps);
  const next = tf.sub(decayed, tf.mul(tf.div(m1, denom), s.lr / s.biasCorrection1));
  return { param: next, m: m1, v: v1 };
}

/** Squared L2 norm of the change an update made (a scalar tensor). */
export function updateSquare(before: tf.Tensor, after: tf.Tensor): tf.Scalar {
  return tf.sum(tf.square(tf.sub(after, before)));
}
