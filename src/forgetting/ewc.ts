import * as tf from "@tensorflow/tfjs";
import type { TokenBatch, TrainableModel } from "../train/index.js";
import { quadraticPenalty, trainableParameters, type WeightPenalty } from "./penalty.js";

export interface EwcPenalty extends WeightPenalty {
  /** Diagonal Fisher per trainable parameter. */
  fisher: Map<string, tf.Tensor>;
}

/**
 * Diagonal empirical Fisher: the mean over `batches` of the squared gradient of the batch loss,
 * per trainable parameter, in evaluation mode (no dropout).
 */
export function fisherDiagonal(
  model: Pick<TrainableModel, "loss" | "train" | "namedParameters">,
  batches: TokenBatch[],
): Map<string, tf.Tensor> {
  if (batches.length === 0) throw new Error("fisherDiagonal: no batches; pass general-text batches (e.g. a few from the retained domain)");
  const params = trainableParameters(model);
  const names = [...params.keys()];
  const variables = [...params.values()];
  const sums = new Map<string, tf.Tensor>();
  model.train(false);
  try {
    for (const batch of batches) {
      tf.tidy(() => {
        const ids = tf.tensor2d(batch.inputIds, batch.shape, "int32");
        const targets = tf.tensor2d(batch.targets, batch.shape, "int32");
        const { grads } = tf.variableGrads(() => model.loss(ids, targets), variables);
        names.forEach((n, i) => {
          const g = grads[variables[i].name];
          const sq = g ? tf.square(g) : tf.zerosLike(variables[i]);
          const prev = sums.get(n);
          sums.set(n, tf.keep(prev ? tf.add(prev, sq) : sq));
          prev?.dispose();
        });
      });
    }
  } finally {
    model.train(true);
  }
  const fisher = new Map<string, tf.Tensor>();
  for (const [n, s] of sums) {
    fisher.set(n, tf.div(s, batches.length));
    s.dispose();
  }
  return fisher;
}

/**
 * EWC (Kirkpatrick et al. 2017): strength/2 * sum F (theta - theta*)^2, F the diagonal Fisher of
 * the model now on `batches` (general text), theta* its weights now. Call before training.
 */
export function createEwc(
  model: Pick<TrainableModel, "loss" | "train" | "namedParameters">,
  options: { strength: number; batches: TokenBatch[] },
): EwcPenalty {
  const fisher = fisherDiagonal(model, options.batches);
  const penalty = quadraticPenalty(trainableParameters(model), options.strength, fisher, "createEwc");
  return {
    ...penalty,
    fisher,
    dispose: () => {
      penalty.dispose();
      tf.dispose([...fisher.values()]);
    },
  };
}
