import type { TrainableModel } from "../train/index.js";
import { quadraticPenalty, trainableParameters, type WeightPenalty } from "./penalty.js";

/**
 * L2-SP (Li et al. 2018): strength/2 * sum (theta - theta_0)^2 over the trainable parameters,
 * theta_0 being their values now (the pretrained weights, when called before training).
 */
export function createL2Sp(model: Pick<TrainableModel, "namedParameters">, options: { strength: number }): WeightPenalty {
  return quadraticPenalty(trainableParameters(model), options.strength, undefined, "createL2Sp");
}
