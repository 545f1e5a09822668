import * as tf from "@tensorflow/tfjs";
import type { TokenBatch, TrainableModel } from "./types.js";

export function batchTensors(batch: TokenBatch): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(batch.inputIds, batch.shape, "int32"), tf.tensor2d(batch.targets, batch.shape, "int32")];
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
        const tokens = batch.targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
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
