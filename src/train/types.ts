import type * as tf from "@tensorflow/tfjs";
import type { AdamWVariant, LrSchedule, OptimParameter, ParamGroupSpec, ScheduleOptions, SchedulerName } from "../optim/index.js";

/**
 * What the trainer needs of a model: a loss, its parameters by dotted name (requiresGrad decides
 * what trains) and a train/eval switch. GPT-2, T5 and PEFT-wrapped models all fit.
 */
export interface TrainableModel {
  loss(inputIds: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  namedParameters(): Map<string, OptimParameter>;
  train(mode?: boolean): unknown;
}

/** One batch of next-token windows, row-major [B, T]. */
export interface TokenBatch {
  inputIds: Int32Array;
  targets: Int32Array;
  shape: [number, number];
}

/** What a step event reports of the step's gradients and update (computed in step_stats.ts). */
export interface StepStatistics {
  /** Global L2 norm of the gradients before clipping (what HF logs as grad_norm). */
  gradNorm: number;
  /** Pre-clip gradient L2 norm per module (parameter name minus its last segment). */
  gradNorms: Record<string, number>;
  /** Per module: ||update|| / ||weights before the update|| (1 for weights that start at zero). */
  updateRatios: Record<string, number>;
}

export interface StepEvent extends StepStatistics {
  type: "step";
  /** Optimizer steps done, from 1. */
  step: number;
  /** Mean loss over the step's micro-batches. */
  loss: number;
  /** Peak LR times the schedule at this step (groups multiply it further). */
  lr: number;
  tokensPerSecond: number;
  /** The `regularizer` penalty at the step's weights (present only when one is set); `loss` excludes it. */
  regularization?: number;
}

export interface EvalEvent {
  type: "eval";
  step: number;
  /** Mean token loss per named evaluation set. */
  losses: Record<string, number>;
  /** exp(loss) per named evaluation set. */
  perplexities: Record<string, number>;
}

export interface CheckpointEvent {
  type: "checkpoint";
  step: number;
  /** The checkpoint folder, `<outputDir>/checkpoint-<step>`. */
  path: string;
}

export type TrainEvent = StepEvent | EvalEvent | CheckpointEvent;

/**
 * When a finite loss counts as diverged (`train(..., { divergence })`, applied by divergence_guard.ts; `divergence: false` turns
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

export interface TrainOptions {
  /**
   * Training batches, one per micro-step: an iterator of TokenBatch (read once, e.g.
   * `batchStream(...)`), an iterable (an array, a BatchIterator: passed over epoch after epoch
   * until `steps`), or token windows (T + 1 tokens each) that the trainer batches with
   * `batchSize` and `seed`.
   */
  data: Iterator<TokenBatch> | Iterable<TokenBatch> | readonly ArrayLike<number>[];
  /** Optimizer steps to run. */
  steps: number;
  /** Rows per batch when `data` is windows. */
  batchSize?: number;
  /** Shuffling seed when `data` is windows. Default 0. */
  seed?: number;
  /** Peak learning rate. Default 1e-3. */
  lr?: number;
  /** A transformers schedule name or a function step -> multiplier. Default "constant". */
  scheduler?: SchedulerName | LrSchedule;
  /** Warmup, as TrainingArguments: numWarmupSteps when > 0, else ceil(steps * warmupRatio). */
  numWarmupSteps?: number;
  warmupRatio?: number;
  /** Further schedule options (numCycles, lrEnd, power, minLrRate, ...). */
  schedulerOptions?: Omit<ScheduleOptions, "numWarmupSteps" | "warmupRatio" | "numTrainingSteps" | "lr">;
  /** AdamW decoupled weight decay of the default group. Default 0, as TrainingArguments. */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  /**
   * "adamw" (float32 moments on the backend, default), "adamw8bit" (bitsandbytes' blockwise 8-bit
   * moments), "paged_adamw" / "paged_adamw8bit" (moments in JS memory, paged in per group).
   */
  optimizer?: AdamWVariant;
  /**
   * Paged optimizers: the most backend bytes the optimizer step may take. Default: one tensor's
   * page at a time (its moments and the update's temporaries).
   */
  optimizerBudgetBytes?: number;
  /**
   * Recompute each block in the backward pass instead of keeping its activations (transformers'
   * gradient_checkpointing): far less memory for about a third more compute. Sets the model's
   * block stacks; default: leave them as they are.
   */
  gradientCheckpointing?: boolean;
  /**
   * Before the first step, estimate the run's memory (memoryPlan) and refuse, with the options
   * that would fit, a run the backend cannot hold. Default true.
   */
  memoryCheck?: boolean;
  /** Groups with their own LR multiplier / weight decay; the rest go to the default groups. */
  paramGroups?: ParamGroupSpec[];
  /** Global-norm clipping threshold. Default 1.0; 0 or Infinity turns clipping off. */
  maxGradNorm?: number;
  /** Micro-batches whose gradients are averaged into one optimizer step. Default 1. */
  gradientAccumulationSteps?: number;
  /** Evaluate `evalSets` every N steps (and after the last step). */
  evalEvery?: number;
  evalSets?: Record<string, TokenBatch[]>;
  /** Write `<outputDir>/checkpoint-<step>` every N steps (and after the last step). */
  checkpointEvery?: number;
  outputDir?: string;
  /**
   * A penalty on the weights (EWC, L2-SP, ...) added to every micro-batch's loss inside the
   * gradient computation, so its gradient joins the loss's; reported as the step's `regularization`.
   */
  regularizer?: () => tf.Scalar;
  /** Stops the loop after the current step (also stopped by a host's signal, see HOST_SIGNAL). */
  signal?: AbortSignal;
  /**
   * Awaited before every optimizer step with the number of steps done: a dashboard's Pause holds
   * the loop here until Resume; the signal is checked again when it returns.
   */
  beforeStep?: (step: number) => void | Promise<void>;
  onEvent?: (event: TrainEvent) => void;
  /** Progress bar on stderr. Default: only when stderr is a terminal. */
  progress?: boolean;
  /**
   * Stop with LossDivergedError when the loss stays far above its running minimum (default: more
   * than 5 nats on 3 consecutive steps, see divergence_guard.ts); false turns the check off.
   */
  divergence?: false | DivergenceOptions;
}

export interface TrainResult {
  steps: number;
  aborted: boolean;
  /** The data ran out before `steps` (train() warned with the counts), as an IterableDataset can in transformers' Trainer. */
  dataExhausted: boolean;
  events: TrainEvent[];
}
