import { moduleNameOf, type GradientMeasure } from "./step_stats.js";

/**
 * Training stopped on a NaN or infinite loss or gradient. The weights are those after
 * `lastGoodStep` (the failing step's update was not applied).
 */
export class TrainingDivergedError extends Error {
  readonly step: number;
  readonly lastGoodStep: number;
  readonly quantity: "loss" | "gradient";
  /** The module whose gradient norm was not finite (the first in parameter order). */
  readonly module?: string;
  readonly value: number;

  constructor(fields: { step: number; quantity: "loss" | "gradient"; module?: string; value: number }) {
    const what = fields.quantity === "loss" ? `the loss is ${fields.value}` : `the gradient of module "${fields.module}" has norm ${fields.value}`;
    super(
      `train: ${what} at step ${fields.step}; training stopped and the weights are those after step ${fields.step - 1} (the last good step). ` +
        "Lower the learning rate, add warmup, or check the batch for out-of-range targets.",
    );
    this.name = "TrainingDivergedError";
    this.step = fields.step;
    this.lastGoodStep = fields.step - 1;
    this.quantity = fields.quantity;
    this.module = fields.module;
    this.value = fields.value;
  }
}

/**
 * Throws TrainingDivergedError for optimizer step `step` (from 1) when its loss or a parameter's
 * gradient is not finite; called before the update, so the weights stay those of the step before.
 */
export function guardFinite(step: number, measure: GradientMeasure): void {
  if (!Number.isFinite(measure.loss)) throw new TrainingDivergedError({ step, quantity: "loss", value: measure.loss });
  const bad = measure.params.findIndex((_, i) => !Number.isFinite(measure.gradSquares[i]));
  if (bad >= 0) {
    throw new TrainingDivergedError({ step, quantity: "gradient", module: moduleNameOf(measure.params[bad]), value: Math.sqrt(measure.gradSquares[bad]) });
  }
}
