import * as tf from "@tensorflow/tfjs";
import { Module } from "./module.js";
import type { Parameter } from "./parameter.js";
import { init } from "./init.js";
import { fusedRmsNorm } from "../engine/index.js";
import { checkLastDim, checkPositiveInt } from "./layers.js";

/**
 * Root-mean-square normalisation over the last axis, x / sqrt(mean(x^2) + eps) * weight: no mean
 * subtraction and no bias, as T5's T5LayerNorm.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  // One kernel each way where the backend has lora-lab's fused RMS norm (wasm).
  const fused = fusedRmsNorm(x, weight, eps);
  if (fused) return fused;
  return tf.tidy(() => {
    const meanSquare = x.mul(x).mean(-1, true); // [..., 1]; x*x rather than square(): one fast binary op on wasm
    return x.mul(tf.rsqrt(meanSquare.add(eps))).mul(weight);
  });
}

/** RMS norm with a learned scale (initialised to ones) and no bias: Hugging Face's T5LayerNorm. */
export class RMSNorm extends Module<[tf.Tensor], tf.Tensor> {
  readonly weight: Parameter;

  constructor(
    readonly hiddenSize: number,
    readonly eps = 1e-6,
  ) {
    super();
    checkPositiveInt(hiddenSize, "RMSNorm size");
    if (!(eps > 0)) throw new Error(`RMSNorm eps must be > 0, got ${eps}`);
    this.weight = this.registerInitialized("weight", init.ones([hiddenSize]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkLastDim(x, this.hiddenSize, "RMSNorm");
    return rmsNorm(x, this.weight.variable, this.eps);
  }
}
