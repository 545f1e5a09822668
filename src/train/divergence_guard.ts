import { TrainingDivergedError } from "./nan_guard.js";
import type { DivergenceOptions } from "./types.js";

/** The divergence rule's defaults (the rule, and why these numbers: DivergenceOptions in types.ts). */
export const DIVERGENCE_DEFAULTS: Required<DivergenceOptions> = { marginNats: 5, patience: 3 };

/**
 * Training stopped because the loss rose far above its running minimum (a finite loss; NaN and Inf
 * are TrainingDivergedError's). As with the NaN guard the stopping step's update was not applied:
 * the weights are those after `lastGoodStep` (= step - 1), which already give this high loss;
 * `minStep` is where the loss was lowest (a checkpoint from then is the one to go back to).
 */
export class LossDivergedError extends TrainingDivergedError {
  readonly minLoss: number;
  readonly minStep: number;
  /** The first of the `patience` consecutive steps above the threshold. */
  readonly firstStep: number;
  readonly marginNats: number;

  constructor(fields: { step: number; loss: number; minLoss: number; minStep: number; firstStep: number; marginNats: number }) {
    super({ step: fields.step, quantity: "loss", value: fields.loss });
    this.name = "LossDivergedError";
    this.minLoss = fields.minLoss;
    this.minStep = fields.minStep;
    this.firstStep = fields.firstStep;
    this.marginNats = fields.marginNats;
    const steps = fields.firstStep === fields.step ? `step ${fields.step}` : `steps ${fields.firstStep}-${fields.step}`;
    this.message =
      `train: the loss diverged: ${fields.loss.toPrecision(4)} at step ${fields.step}, more than ${fields.marginNats} nats above its ` +
      `lowest value ${fields.minLoss.toPrecision(4)} (step ${fields.minStep}) on ${steps}; training stopped before step ${fields.step}'s ` +
      `update, so the weights are those after step ${fields.step - 1}. Lower the learning rate, add warmup or clipping; ` +
      `divergence: { marginNats, patience } tunes this check and divergence: false turns it off.`;
  }
}

/** The running state of the rule above; `check` is called with every optimizer step's loss before its update. */
export class DivergenceGuard {
  private minLoss = Infinity;
  private minStep = 0;
  private above = 0;
  private readonly marginNats: number;
  private readonly patience: number;

  constructor(opts: Required<DivergenceOptions>) {
    this.marginNats = opts.marginNats;
    this.patience = opts.patience;
  }

  /** Throws LossDivergedError for optimizer step `step` (from 1) on the `patience`-th consecutive loss above the threshold. */
  check(step: number, loss: number): void {
    if (loss > this.minLoss + this.marginNats) {
      this.above++;
      if (this.above >= this.patience) {
        throw new LossDivergedError({
          step,
          loss,
          minLoss: this.minLoss,
          minStep: this.minStep,
          firstStep: step - this.above + 1,
          marginNats: this.marginNats,
        });
      }
      return;
    }
    this.above = 0;
    if (loss < this.minLoss) {
      this.minLoss = loss;
      this.minStep = step;
    }
  }
}
