import * as tf from "@tensorflow/tfjs";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf, rowsOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";
import { fusedGradient, hasKernel, runFusedValue, wasmKernel, type FusedKernel } from "./fused.js";

/** lora-lab's kernel names: mean softmax cross-entropy against integer targets, and its gradient. */
export const FUSED_CROSS_ENTROPY = "LoraLabCrossEntropy";
export const FUSED_CROSS_ENTROPY_GRAD = "LoraLabCrossEntropyGrad";

/** Exact log-sum-exp of one row (used where a probability underflows float32). */
function rowLogSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - max);
  return max + Math.log(s);
}

/**
 * Mean over kept rows of -log softmax(logits)[target]; a target outside [0, V) drops its row (as
 * PyTorch's ignore_index). The softmax is the backend's own vectorised kernel (its scalar Exp is
 * several times slower); its output is returned too, for the gradient.
 */
const crossEntropy: KernelFunc = ({ inputs, backend }) => {
  const { logits, targets } = inputs as { logits: TensorInfo; targets: TensorInfo };
  const { rows: N, cols: V } = rowsOf(logits.shape);
  const softmax = tf.getKernel(tf.Softmax, "wasm")!.kernelFunc;
  const probs = softmax({ inputs: { logits }, attrs: { dim: logits.shape.length - 1 }, backend }) as TensorInfo;
  const wasm = asWasm(backend);
  const lossOut = wasm.makeOutput([], "float32");
  const p = f32(wasm, probs);
  const t = wasm.typedArrayFromHeap(targets) as Int32Array;
  let sum = 0;
  let kept = 0;
  for (let r = 0; r < N; r++) {
    const target = t[r];
    if (target < 0 || target >= V) continue;
    kept++;
    const pt = p[r * V + target];
    if (pt > 1e-30) sum -= Math.log(pt);
    else {
      const row = f32(wasm, logits).subarray(r * V, (r + 1) * V);
      sum -= row[target] - rowLogSumExp(row);
    }
  }
  f32(wasm, lossOut)[0] = sum / Math.max(kept, 1);
  return [lossOut, probs];
};

/** d loss / d logits = (softmax - onehot(target)) * dy / kept rows; zero on dropped rows. */
const crossEntropyGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, probs, targets } = inputs as { dy: TensorInfo; probs: TensorInfo; targets: TensorInfo };
  const { rows: N, cols: V } = rowsOf(probs.shape);
  const wasm = asWasm(backend);
  const out = wasm.makeOutput(probs.shape, "float32");
  const p = f32(wasm, probs);
  const t = wasm.typedArrayFromHeap(targets) as Int32Array;
  const g = f32(wasm, out);
  let kept = 0;
  for (let r = 0; r < N; r++) if (t[r] >= 0 && t[r] < V) kept++;
  const scale = f32(wasm, dy)[0] / Math.max(kept, 1);
  const native = nativeBlas();
  if (native?.crossEntropyGrad && N * V > 0) {
    native.crossEntropyGrad(heapOf(wasm), N, V, offsetOf(wasm, probs), offsetOf(wasm, targets), scale, offsetOf(wasm, out));
    return out;
  }
  for (let r = 0; r < N; r++) {
    const o = r * V;
    const target = t[r];
    if (target < 0 || target >= V) {
      g.fill(0, o, o + V);
      continue;
    }
    for (let c = 0; c < V; c++) g[o + c] = p[o + c] * scale;
    g[o + target] = (p[o + target] - 1) * scale;
  }
  return out;
};

export const crossEntropyKernels: FusedKernel[] = [
  {
    kernel: wasmKernel(FUSED_CROSS_ENTROPY, crossEntropy),
    gradient: fusedGradient(FUSED_CROSS_ENTROPY, { inputs: ["targets"], outputs: [false, true] }, ([dy], [targets, probs]) => ({
      logits: runFusedValue(FUSED_CROSS_ENTROPY_GRAD, { dy, probs, targets }, {}),
      // targets are data, never on a path to a variable; a float zero keeps the tape's checks happy.
      targets: tf.zeros(targets.shape),
    })),
  },
  { kernel: wasmKernel(FUSED_CROSS_ENTROPY_GRAD, crossEntropyGrad) },
];

/**
 * Mean cross-entropy of logits [N, V] against int32 targets [N] through the fused kernels when the
 * current backend has them; undefined otherwise, and the caller composes it from ops.
 */
export function fusedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar | undefined {
  if (logits.rank !== 2 || targets.rank !== 1 || logits.dtype !== "float32" || targets.dtype !== "int32") return undefined;
  if (logits.shape[0] !== targets.shape[0]) return undefined;
  if (!hasKernel(FUSED_CROSS_ENTROPY)) return undefined;
  return runFusedValue(FUSED_CROSS_ENTROPY, { logits, targets }, {}) as tf.Scalar;
}
