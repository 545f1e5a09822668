import { TrainingDivergedError } from "./nan_guard.js";

/**
 * When a finite loss counts as diverged (`train(..., { divergence })`; `divergence: false` turns
 * the check off). The rule: the step's loss is more than `marginNats` above the lowest loss seen
 * so far, on `patience` consecutive optimizer steps.
 *
 * Why this rule: a learning rate far too high sends the loss up by orders of magnitude within a
 * few steps (lr 1e6 on a tiny GPT-2: 5.5 nats, then thousands), while a healthy run's batch
 * losses wander by a fraction of a nat around a falling trend. 5 nats is a perplexity 148 times
 * the best seen, more than a whole byte-level vocabulary's worth (ln 256 = 5.5) on lora-lab's
 * small models; three steps in a row let one odd batch pass. A run whose data changes
 * character part way (a curriculum, memorised data followed by new text) can rise that far
 * legitimately: raise `marginNats` or pass `divergence: false` there.
 */
export interface DivergenceOptions {
  /** How far above the running minimum (nats per token) counts as diverged. Default 5. */
  marginNats?: number;
  /** Consecutive optimizer steps above it before training stops. Default 3. */
  patience?: number;
}

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
