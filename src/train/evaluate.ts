import * as tf from "@tensorflow/tfjs";
import type { TokenBatch, TrainableModel } from "./types.js";

export function batchTensors(batch: TokenBatch): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(batch.inputIds, batch.shape, "int32"), tf.tensor2d(batch.targets, batch.shape, "int32")];
}

function targetCount(batch: TokenBatch): number {
  return batch.targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
}

type EvalModel = Pick<TrainableModel, "loss" | "train">;

/**
 * Each batch's mean loss (a scalar the caller reads and disposes) with its number of targets, the
 * model in evaluation mode until the last batch is done, then back in training mode. A generator,
 * so the same walk serves a caller that awaits each value and one that reads it synchronously.
 */
function* batchLosses(model: EvalModel, batches: TokenBatch[], caller: string): Generator<{ loss: tf.Scalar; tokens: number }> {
  if (batches.length === 0) throw new Error(`${caller}: no batches to evaluate`);
  model.train(false);
  try {
    for (const batch of batches) yield { loss: tf.tidy(() => model.loss(...batchTensors(batch))), tokens: targetCount(batch) };
  } finally {
    model.train(true);
  }
}

/** Token-weighted mean loss over batches, in evaluation mode and without gradients. */
export async function evaluateLoss(model: EvalModel, batches: TokenBatch[]): Promise<number> {
  let total = 0;
  let count = 0;
  for (const { loss, tokens } of batchLosses(model, batches, "evaluateLoss")) {
    total += (await loss.data())[0] * tokens;
    count += tokens;
    loss.dispose();
  }
  return total / count;
}

/**
 * The same mean, synchronously: for callers inside a trainer event (the trainer does not await
 * `onEvent`), e.g. an evaluation with the adapter disabled that must end before the next step.
 */
export function evaluateLossSync(model: EvalModel, batches: TokenBatch[]): number {
  let total = 0;
  let count = 0;
  for (const { loss, tokens } of batchLosses(model, batches, "evaluateLossSync")) {
    total += loss.dataSync()[0] * tokens;
    count += tokens;
    loss.dispose();
  }
  return total / count;
}
