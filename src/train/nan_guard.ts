import { moduleNameOf, type GradientMeasure } from "./step_stats.js";

/** What was not finite: the loss, a module's gradient, or a param group's learning rate. */
export type DivergedQuantity = "loss" | "gradient" | "lr";

const HINTS: Record<DivergedQuantity, string> = {
  loss: "Lower the learning rate, add warmup, or check the batch for out-of-range targets.",
  gradient: "Lower the learning rate, add warmup, or check the batch for out-of-range targets.",
  lr: "Check lr, the scheduler and its schedulerOptions: the learning rate must be a finite number at every step.",
};

/**
 * Training stopped on a NaN or infinite loss, gradient or learning rate. The weights are those
 * after `lastGoodStep` (the failing step's update was not applied).
 */
export class TrainingDivergedError extends Error {
  readonly step: number;
  readonly lastGoodStep: number;
  readonly quantity: DivergedQuantity;
  /** The module whose gradient norm was not finite (the first in parameter order). */
  readonly module?: string;
  /** The param group whose learning rate was not finite (the first in group order). */
  readonly group?: string;
  readonly value: number;

  constructor(fields: { step: number; quantity: DivergedQuantity; module?: string; group?: string; value: number }) {
    const what =
      fields.quantity === "loss"
        ? `the loss is ${fields.value}`
        : fields.quantity === "gradient"
          ? `the gradient of module "${fields.module}" has norm ${fields.value}`
          : `the learning rate of param group "${fields.group}" is ${fields.value}`;
    super(
      `train: ${what} at step ${fields.step}; training stopped and the weights are those after step ${fields.step - 1} (the last good step). ` +
        HINTS[fields.quantity],
    );
    this.name = "TrainingDivergedError";
    this.step = fields.step;
    this.lastGoodStep = fields.step - 1;
    this.quantity = fields.quantity;
    this.module = fields.module;
    this.group = fields.group;
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
    throw new TrainingDivergedError({
      step,
      quantity: "gradient",
      module: moduleNameOf(measure.params[bad]),
      value: Math.sqrt(measure.gradSquares[bad]),
    });
  }
}

/**
 * The same for the learning rate each param group would get at this step: a NaN or infinite one
 * (a schedule's, or an infinite peak) would turn every weight it touches into NaN or Inf.
 */
export function guardLearningRates(step: number, groups: readonly { name: string; lr: number }[]): void {
  const bad = groups.find((g) => !Number.isFinite(g.lr));
  if (bad) throw new TrainingDivergedError({ step, quantity: "lr", group: bad.name, value: bad.lr });
}
