import * as tf from "@tensorflow/tfjs";

const causalValues = new Map<number, Float32Array>();

/**
 * The additive causal mask of T positions, [T, T] (or `shape`, e.g. [1, 1, T, T]): 0 where key
 * j <= query i may be attended to, -1e9 above the diagonal, which softmax turns into exactly 0
 * weight in float32. Uploaded from an array cached per T: built from ops it cost a dozen kernels
 * per layer per step.
 */
export function causalBias(T: number, shape: number[] = [T, T]): tf.Tensor {
  let values = causalValues.get(T);
  if (!values) {
    values = new Float32Array(T * T);
    for (let i = 0; i < T; i++) values.fill(-1e9, i * T + i + 1, (i + 1) * T);
    causalValues.set(T, values);
  }
  return tf.tensor(values, shape);
}
