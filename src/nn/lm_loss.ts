import * as tf from "@tensorflow/tfjs";
import { nestedGradients } from "./checkpoint.js";
import { crossEntropy } from "./functional.js";
import { Linear } from "./layers.js";
import type { Module } from "./module.js";

/** Logits of one chunk of rows stay under this many bytes; the full [N, V] logits are never made. */
export const LM_LOSS_CHUNK_BYTES = 32 * 2 ** 20;

/**
 * Rows per chunk for a vocabulary of `V` over `N` rows: all of them (no chunking) when the whole
 * logits matrix is at most two chunks, else as many as fit in LM_LOSS_CHUNK_BYTES.
 */
export function lmLossChunkRows(N: number, V: number): number {
  const rows = Math.max(1, Math.floor(LM_LOSS_CHUNK_BYTES / (4 * V)));
  return N * V * 4 <= 2 * LM_LOSS_CHUNK_BYTES ? N : rows;
}

/**
 * Mean next-token cross-entropy of `head(hidden)` against `targets` (negative ones ignored), as
 * `crossEntropy(head.forward(hidden), targets)`. For a bias-free Linear head (GPT-2's and LLaMA's
 * lm_head) over a large vocabulary it goes through the rows in chunks instead: the forward pass
 * keeps only each row's loss, and the backward pass recomputes one chunk's logits at a time, so
 * no [B, T, V] logits, softmax or gradient is ever held (GPT-2 124M at batch 8 x 256: 412 MB each).
 * The price is the head's matrix product once more in the backward pass.
 */
export function lmHeadLoss(hidden: tf.Tensor, head: Module, targets: tf.Tensor, chunkRows?: number): tf.Scalar {
  const plain = head instanceof Linear && head.constructor === Linear && !head.bias;
  const [V, C] = plain ? (head.weight.variable.shape as [number, number]) : [0, 0];
  const N = hidden.size / (C || 1);
  const rows = chunkRows ?? (plain ? lmLossChunkRows(N, V) : N);
  if (!plain || rows >= N) return crossEntropy(head.forward(hidden) as tf.Tensor, targets);
  return chunkedLoss(hidden.reshape([N, C]) as tf.Tensor2D, head.weight.variable, targets.reshape([N]).dataSync() as Int32Array, rows);
}

function chunkedLoss(hidden: tf.Tensor2D, weight: tf.Variable, targets: Int32Array, rows: number): tf.Scalar {
  const N = hidden.shape[0];
  const kept = targets.reduce((a, t) => a + (t >= 0 ? 1 : 0), 0);
  const chunks: { start: number; size: number; kept: number }[] = [];
  for (let start = 0; start < N; start += rows) {
    const size = Math.min(rows, N - start);
    const k = targets.subarray(start, start + size).reduce((a, t) => a + (t >= 0 ? 1 : 0), 0);
    if (k > 0) chunks.push({ start, size, kept: k });
  }
  // Each chunk's loss summed over its kept rows: crossEntropy's mean times their count.
  const chunkSum = (h: tf.Tensor2D, w: tf.Tensor, c: (typeof chunks)[number]) => {
    const t = tf.tensor1d(targets.subarray(c.start, c.start + c.size), "int32");
    return crossEntropy(tf.matMul(h.slice([c.start, 0], [c.size, -1]), w, false, true), t).mul(c.kept);
  };
  const withWeight = weight.trainable;
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const h = args[0] as tf.Tensor2D;
    const w = withWeight ? (args[1] as tf.Tensor) : weight;
    save(withWeight ? [h, w] : [h]);
    const value = tf.tidy(() => chunks.reduce((acc, c) => tf.tidy(() => acc.add(chunkSum(h, w, c))), tf.scalar(0)).div(Math.max(kept, 1)));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [hs, ws] = [saved[0] as tf.Tensor2D, withWeight ? saved[1] : weight];
      const scale = dy.div(Math.max(kept, 1));
      const dh: tf.Tensor[] = [];
      let dw: tf.Tensor | undefined = withWeight ? tf.zerosLike(ws) : undefined;
      for (let start = 0, i = 0; start < N; start += rows) {
        const size = Math.min(rows, N - start);
        const c = chunks[i];
        if (!c || c.start !== start) {
          dh.push(tf.zeros([size, hs.shape[1]])); // every target of this chunk is ignored
          continue;
        }
        i++;
        const hc = hs.slice([start, 0], [size, -1]) as tf.Tensor2D;
        // d(chunk sum)/d(logits), recomputed from the chunk's logits alone, times dy / kept.
        const dLogits = tf.tidy(() => {
          const logits = tf.matMul(hc, ws, false, true);
          const t = tf.tensor1d(targets.subarray(start, start + size), "int32");
          return nestedGradients(() => crossEntropy(logits, t).mul(c.kept), [logits])[0]!.mul(scale);
        });
        dh.push(tf.matMul(dLogits, ws));
        if (dw) {
          const next = tf.tidy(() => dw!.add(tf.matMul(dLogits, hc, true, false))); // frees this chunk's product at once
          dw.dispose();
          dw = next;
        }
        tf.dispose([dLogits, hc]);
      }
      const dhAll = tf.concat(dh, 0);
      tf.dispose([...dh, scale]);
      return dw ? [dhAll, dw] : [dhAll];
    };
    return { value: value as tf.Scalar, gradFunc };
  });
  return (withWeight ? run(hidden, weight) : run(hidden)) as tf.Scalar;
}
