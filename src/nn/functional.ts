import * as tf from "@tensorflow/tfjs";
import { fusedCrossEntropy, fusedGeluNew, fusedLayerNorm } from "../engine/index.js";

/** x @ op(W) (+ b) over the last axis of x, any leading shape; `outIn`: W is [out, in] (op = transpose). */
function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, outIn: boolean): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1];
    const lead = x.shape.slice(0, -1);
    let y = tf.matMul(x.reshape([-1, inDim]), w as tf.Tensor2D, false, outIn); // [N, out]
    if (b) y = y.add(b);
    return y.reshape([...lead, w.shape[outIn ? 0 : 1] as number]);
  });
}

/** x @ W (+ b) over the last axis of x, any leading shape. `w` is [in, out] (GPT-2's Conv1D). */
export function linearInOut(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return linear(x, w, b, false);
}

/** x @ W^T (+ b), PyTorch's Linear with W as [out, in]. */
export function linearOutIn(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return linear(x, w, b, true);
}

/**
 * GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Computed as
 * x * sigmoid(2z), the same function, because tanh is a slow scalar loop in the wasm backend.
 */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // One kernel each way where the backend has lora-lab's fused GELU (wasm).
    const fused = fusedGeluNew(x);
    if (fused) return fused;
    // x*x*x rather than pow(x, 3): Pow is a slow scalar loop in the wasm backend.
    const z = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(tf.sigmoid(z.mul(2)));
  });
}

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.erf(x.div(Math.SQRT2)).add(1)).mul(0.5));
}

export const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  gelu_new: geluNew,
  gelu_pytorch_tanh: geluNew,
  gelu,
  relu: (x) => tf.relu(x),
  silu: (x) => tf.tidy(() => x.mul(tf.sigmoid(x))),
};

export function activation(name: string): (x: tf.Tensor) => tf.Tensor {
  const fn = ACTIVATIONS[name];
  if (!fn) throw new Error(`unknown activation "${name}"; available: ${Object.keys(ACTIVATIONS).join(", ")}`);
  return fn;
}

/** Layer normalisation over the last axis with biased variance, as torch.nn.LayerNorm. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    // One kernel each way where the backend has lora-lab's fused LayerNorm (wasm).
    const fused = fusedLayerNorm(x, weight, bias, eps);
    if (fused) return fused;
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .mul(tf.rsqrt(variance.add(eps)))
      .mul(weight)
      .add(bias);
  });
}

/**
 * Mean cross-entropy of logits [..., V] against integer targets [...]. Targets < 0 (the usual
 * -100) are ignored, as in PyTorch's ignore_index; the mean is over the targets kept.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.rank - 1];
    const flat = logits.reshape([-1, vocab]); // [N, V]
    const t = targets.reshape([-1]).toInt();
    const fused = fusedCrossEntropy(flat, t);
    if (fused) return fused;
    // oneHot of a negative id is an all-zero row, which drops that position from the sum.
    const onehot = tf.oneHot(t, vocab); // [N, V]
    const logp = tf.logSoftmax(flat);
    const picked = logp.mul(onehot).sum(); // sum of log p(target)
    const count = onehot.sum().maximum(1);
    return picked.neg().div(count) as tf.Scalar;
  });
}
