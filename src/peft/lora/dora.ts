/**
 * DoRA (Liu et al. 2024; PEFT's tuners/lora/dora.py) for Linear and Conv1D: the adapted weight
 * W' = m * (W + s B A) / ||W + s B A|| (norm per output, treated as a constant in backprop), with the
 * magnitude m learned and initialised to ||W + s B A||. Forward, as PEFT computes it:
 * y = base(x) + (m/||.|| - 1) * (x W^T) + (m/||.||) * s B A x.
 */
import * as tf from "@tensorflow/tfjs";
import { Module, type Parameter } from "../../nn/index.js";

/** `lora_magnitude_vector.<adapter>.weight`, [out]. */
export class DoraMagnitude extends Module {
  readonly weight: Parameter;

  constructor(value: tf.Tensor) {
    super();
    this.weight = this.registerParameter("weight", value);
  }

  forward(): never {
    throw new Error("DoraMagnitude holds a parameter; LoraLayer uses it");
  }
}

/** Identity forward, zero gradient: PEFT detaches the weight norm. */
const stopGradient = tf.customGrad((...inputs) => {
  const x = inputs[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/** ||W + delta|| per output row; `w` and `delta` are [out, in]. */
export function rowNorm(w: tf.Tensor, delta: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => w.add(delta).square().sum(1).sqrt() as tf.Tensor1D);
}

/**
 * The DoRA term added to base(x): (scale - 1) * x W^T + scale * loraOut, with
 * scale = m / stopGradient(||W + delta||). `w` and `delta` [out, in], `xd` the dropped-out input.
 */
export function doraTerm(xd: tf.Tensor, w: tf.Tensor, delta: tf.Tensor, magnitude: tf.Tensor, loraOut: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const scale = magnitude.div(stopGradient(rowNorm(w, delta)) as tf.Tensor); // [out]
    const inDim = w.shape[1] as number;
    const base = tf.matMul(xd.reshape([-1, inDim]), w as tf.Tensor2D, false, true).reshape(loraOut.shape); // [..., out]
    return base.mul(scale.sub(1)).add(loraOut.mul(scale));
  });
}
