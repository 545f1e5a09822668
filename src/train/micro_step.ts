import * as tf from "@tensorflow/tfjs";
import type { GradMap } from "../optim/index.js";
import { batchTensors } from "./evaluate.js";
import type { TokenBatch, TrainableModel } from "./types.js";

/** The parameters being trained, in model order, with tfjs' variable names mapped back to dotted names. */
export interface TrainedParameters {
  names: string[];
  variables: tf.Variable[];
  variableOf: Map<string, tf.Variable>;
  nameOfVariable: Map<string, string>;
}

export function trainedParameters(names: string[], variableOf: (name: string) => tf.Variable): TrainedParameters {
  const variables = names.map(variableOf);
  return {
    names,
    variables,
    variableOf: new Map(names.map((n, i) => [n, variables[i]])),
    nameOfVariable: new Map(variables.map((v, i) => [v.name, names[i]])),
  };
}

/** One micro-batch's outcome: tensors owned by the caller. */
export interface MicroStep {
  /** The model's loss on the batch. */
  loss: tf.Scalar;
  /** The regularizer's penalty, when there is one (its gradient is in `grads`, its value not in `loss`). */
  penalty?: tf.Scalar;
  /** d(loss + penalty) / d(parameter) by dotted name; parameters the loss does not reach have none. */
  grads: GradMap;
}

/** Forward, loss and gradients for one batch: the work of a micro-step, and nothing else. */
export function microStep(model: TrainableModel, params: TrainedParameters, batch: TokenBatch, regularizer?: () => tf.Scalar): MicroStep {
  const [ids, targets] = batchTensors(batch);
  try {
    let loss: tf.Scalar | undefined;
    let penalty: tf.Scalar | undefined;
    // With a regularizer the gradient is of loss + penalty; both parts are kept to report them apart.
    const objective = regularizer
      ? () => {
          loss = tf.keep(model.loss(ids, targets));
          penalty = tf.keep(regularizer());
          return tf.add(loss, penalty) as tf.Scalar;
        }
      : () => model.loss(ids, targets);
    const { value, grads } = tf.variableGrads(objective, params.variables);
    if (regularizer) value.dispose();
    const byName: GradMap = new Map();
    for (const [varName, g] of Object.entries(grads)) if (g) byName.set(params.nameOfVariable.get(varName)!, g);
    return { loss: loss ?? value, penalty, grads: byName };
  } finally {
    tf.dispose([ids, targets]);
  }
}
