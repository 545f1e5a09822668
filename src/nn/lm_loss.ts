import * as tf from "@tensorflow/tfjs";
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
 * lm_head) over a large vocabulary it goes through the rows in chunks instead, so no [B, T, V]
 * logits, softmax or gradient is ever held (GPT-2 124M at batch 8 x 256: 412 MB each). Under a
 * gradient tape each chunk's gradients (hidden states and, for a trainable head, its weight) are
 * taken while its logits exist and kept for the backward pass, which only scales them: the same
 * three matrix products as without chunks, none recomputed.
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
  const [N, C] = hidden.shape;
  const V = weight.shape[0];
  const kept = Math.max(
    targets.reduce((a, t) => a + (t >= 0 ? 1 : 0), 0),
    1,
  );
  const withWeight = weight.trainable;
  // Under a gradient tape the backward pass will come: take each chunk's gradients while its
  // logits are at hand (as a fused linear cross-entropy does), so they are never recomputed.
  const taping = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const h = args[0] as tf.Tensor2D;
    let loss: tf.Tensor = tf.scalar(0);
    let dw: tf.Tensor | undefined = taping && withWeight ? tf.zeros([V, C]) : undefined;
    const dh: tf.Tensor[] = [];
    for (let start = 0; start < N; start += rows) {
      const size = Math.min(rows, N - start);
      const chunkTargets = targets.subarray(start, start + size);
      const chunkKept = chunkTargets.reduce((a, t) => a + (t >= 0 ? 1 : 0), 0);
      const [sum, dLogits, hc] = tf.tidy(() => {
        const hc = h.slice([start, 0], [size, -1]) as tf.Tensor2D;
        const t = tf.tensor1d(chunkTargets, "int32");
        const logits = tf.matMul(hc, weight, false, true); // [size, V]: the only one alive
        const sum = chunkKept > 0 ? crossEntropy(logits, t).mul(chunkKept) : tf.scalar(0);
        if (!taping) return [sum];
        // d(mean loss)/d(logits): (softmax - onehot) / kept on the kept rows, 0 on the ignored ones.
        const keep = tf.tensor2d(
          Float32Array.from(chunkTargets, (x) => (x >= 0 ? 1 / kept : 0)),
          [size, 1],
        );
        const dLogits = tf.softmax(logits).sub(tf.oneHot(t, V)).mul(keep);
        return [sum, dLogits, hc];
      });
      const next = loss.add(sum);
      tf.dispose([loss, sum]);
      loss = next;
      if (dLogits) {
        dh.push(tf.matMul(dLogits, weight));
        if (dw) {
          const updated = tf.tidy(() => dw!.add(tf.matMul(dLogits, hc!, true, false)));
          dw.dispose();
          dw = updated;
        }
        tf.dispose([dLogits, hc!]);
      }
    }
    const value = loss.div(kept);
    loss.dispose();
    const grads = taping ? [tf.concat(dh, 0), ...(dw ? [dw] : [])] : [];
    tf.dispose(dh);
    save(grads);
    tf.dispose(grads); // save() keeps its own copies
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      if (saved.length === 0) throw new Error("lmHeadLoss: a gradient was asked of a loss computed outside a gradient tape");
      return saved.map((g) => g.mul(dy));
    };
    return { value: value as tf.Scalar, gradFunc };
  });
  return (withWeight ? run(hidden, weight) : run(hidden)) as tf.Scalar;
}
