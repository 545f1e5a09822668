import { ADAMW_VARIANTS, getScheduler, type LrSchedule } from "../optim/index.js";
import { DIVERGENCE_DEFAULTS } from "./divergence_guard.js";
import type { DivergenceOptions, TrainOptions } from "./types.js";

/** The options train() reads with their defaults filled in, once they are known to be valid. */
export interface ResolvedTrainOptions {
  /** Peak learning rate. */
  lr: number;
  /** Micro-batches per optimizer step. */
  accumulation: number;
  /** Global-norm clipping threshold (0 or Infinity: none). */
  maxGradNorm: number;
  /** step (from 0) -> multiplier of `lr`. */
  schedule: LrSchedule;
  /** The divergence rule's settings, or undefined when `divergence: false`. */
  divergence: Required<DivergenceOptions> | undefined;
}

/** Checks `opts` (each error names the option and the value it got) and fills in the defaults. */
export function resolveTrainOptions(opts: TrainOptions): ResolvedTrainOptions {
  const lr = opts.lr ?? 1e-3;
  const accumulation = opts.gradientAccumulationSteps ?? 1;
  const positiveInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0);
  if (!positiveInt(opts.steps) || opts.steps === undefined) throw new Error(`train: steps must be a positive integer, got ${opts.steps}`);
  if (!(lr > 0)) throw new Error(`train: lr must be > 0, got ${lr}`);
  if (!positiveInt(accumulation)) throw new Error(`train: gradientAccumulationSteps must be a positive integer, got ${accumulation}`);
  if (!positiveInt(opts.evalEvery)) throw new Error(`train: evalEvery must be a positive integer, got ${opts.evalEvery}`);
  if (!positiveInt(opts.checkpointEvery)) throw new Error(`train: checkpointEvery must be a positive integer, got ${opts.checkpointEvery}`);
  if (opts.checkpointEvery && !opts.outputDir)
    throw new Error("train: checkpointEvery needs outputDir, the folder that receives checkpoint-<step>/");
  if (opts.optimizer !== undefined && !(ADAMW_VARIANTS as readonly string[]).includes(opts.optimizer))
    throw new Error(`train: unknown optimizer "${opts.optimizer}"; available: ${ADAMW_VARIANTS.join(", ")}`);
  if (opts.optimizerBudgetBytes !== undefined && !opts.optimizer?.startsWith("paged_"))
    throw new Error(
      `train: optimizerBudgetBytes needs optimizer "paged_adamw" or "paged_adamw8bit", got ${JSON.stringify(opts.optimizer ?? "adamw")}`,
    );
  if (opts.maxGradNorm !== undefined && !(opts.maxGradNorm >= 0))
    throw new Error(`train: maxGradNorm must be >= 0 (0 or Infinity: no clipping), got ${opts.maxGradNorm}`);
  return { lr, accumulation, maxGradNorm: opts.maxGradNorm ?? 1.0, schedule: makeSchedule(opts, lr), divergence: divergenceRule(opts) };
}

function divergenceRule(opts: TrainOptions): Required<DivergenceOptions> | undefined {
  if (opts.divergence === false) return undefined;
  const rule = { ...DIVERGENCE_DEFAULTS, ...opts.divergence };
  if (!(rule.marginNats > 0)) throw new Error(`train: divergence.marginNats must be > 0 (nats), got ${rule.marginNats}`);
  if (!(Number.isInteger(rule.patience) && rule.patience > 0))
    throw new Error(`train: divergence.patience must be a positive integer (steps), got ${rule.patience}`);
  return rule;
}

function makeSchedule(opts: TrainOptions, lr: number): LrSchedule {
  const s = opts.scheduler ?? "constant";
  if (typeof s === "function") return s;
  return getScheduler(s, {
    ...opts.schedulerOptions,
    numWarmupSteps: opts.numWarmupSteps,
    warmupRatio: opts.warmupRatio,
    numTrainingSteps: opts.steps,
    lr,
  });
}
