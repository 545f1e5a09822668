import * as tf from "@tensorflow/tfjs";
import { nextSeed } from "../engine/index.js";

/** Initialisers drawing from lora-lab's global seed, so `seed(n)` fixes every weight. */
export const init = {
  normal(shape: number[], std: number, mean = 0): tf.Tensor {
    return tf.randomNormal(shape, mean, std, "float32", nextSeed());
  },
  uniform(shape: number[], bound: number): tf.Tensor {
    return tf.randomUniform(shape, -bound, bound, "float32", nextSeed());
  },
  zeros(shape: number[]): tf.Tensor {
    return tf.zeros(shape);
  },
  ones(shape: number[]): tf.Tensor {
    return tf.ones(shape);
  },
};
