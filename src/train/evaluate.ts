import * as tf from "@tensorflow/tfjs";
import type { TokenBatch, TrainableModel } from "./types.js";

export function batchTensors(batch: TokenBatch): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(batch.inputIds, batch.shape, "int32"), tf.tensor2d(batch.targets, batch.shape, "int32")];
}

function targetCount(batch: TokenBatch): number {
  return batch.targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
}

/** Token-weighted mean loss over batches, in evaluation mode and without gradients. */
export async function evaluateLoss(model: Pick<TrainableModel, "loss" | "train">, batches: TokenBatch[]): Promise<number> {
  if (batches.length === 0) throw new Error("evaluateLoss: no batches to evaluate");
  model.train(false);
  let total = 0;
  let count = 0;
  try {
    for (const batch of batches) {
      const [ids, targets] = batchTensors(batch);
      try {
        const loss = model.loss(ids, targets);
        const tokens = targetCount(batch);
        total += (await loss.data())[0] * tokens;
        count += tokens;
        loss.dispose();
      } finally {
        tf.dispose([ids, targets]);
      }
    }
  } finally {
    model.train(true);
  }
  return total / count;
}

/**
 * The same mean, synchronously: for callers inside a trainer event (the trainer does not await
 * `onEvent`), e.g. an evaluation with the adapter disabled that must end before the next step.
 */
export function evaluateLossSync(model: Pick<TrainableModel, "loss" | "train">, batches: TokenBatch[]): number {
  if (batches.length === 0) throw new Error("evaluateLossSync: no batches to evaluate");
  model.train(false);
  let total = 0;
  let count = 0;
  try {
    for (const batch of batches) {
      const loss = tf.tidy(() => model.loss(...batchTensors(batch)));
      const tokens = targetCount(batch);
      total += loss.dataSync()[0] * tokens;
      count += tokens;
      loss.dispose();
    }
  } finally {
    model.train(true);
  }
  return total / count;
}
