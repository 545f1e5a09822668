import * as tf from "@tensorflow/tfjs";

/** What the trainer needs of a model: a loss and its trainable variables. */
export interface TrainableModel {
  loss(inputIds: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  trainableVariables(): tf.Variable[];
  train(mode?: boolean): unknown;
}

/** One batch of next-token windows, row-major [B, T]. */
export interface TokenBatch {
  inputIds: Int32Array;
  targets: Int32Array;
  shape: [number, number];
}

export interface StepEvent {
  type: "step";
  step: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
}

export interface EvalEvent {
  type: "eval";
  step: number;
  /** Mean token loss per named evaluation set. */
  losses: Record<string, number>;
}

export type TrainEvent = StepEvent | EvalEvent;

export interface TrainOptions {
  /** Training batches, consumed one per step (an endless stream, e.g. `batchStream`). */
  data: Iterator<TokenBatch>;
  steps: number;
  /** Peak learning rate of Adam. Default 1e-3. */
  lr?: number;
  /** Evaluate `evalSets` every N steps (and after the last step). */
  evalEvery?: number;
  evalSets?: Record<string, TokenBatch[]>;
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export interface TrainResult {
  steps: number;
  aborted: boolean;
  events: TrainEvent[];
}

function toTensors(batch: TokenBatch): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(batch.inputIds, batch.shape, "int32"), tf.tensor2d(batch.targets, batch.shape, "int32")];
}

/** Token-weighted mean loss over batches, in evaluation mode and without gradients. */
export async function evaluateLoss(model: TrainableModel, batches: TokenBatch[]): Promise<number> {
  if (batches.length === 0) throw new Error("evaluateLoss: no batches to evaluate");
  model.train(false);
  let total = 0;
  let count = 0;
  try {
    for (const batch of batches) {
      const [ids, targets] = toTensors(batch);
      const loss = model.loss(ids, targets);
      const tokens = batch.targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
      total += (await loss.data())[0] * tokens;
      count += tokens;
      tf.dispose([ids, targets, loss]);
    }
  } finally {
    model.train(true);
  }
  return total / count;
}

/**
 * A plain training loop: Adam at a constant learning rate, one batch per step, an event per step
 * and per evaluation. It awaits between steps so notebooks stay responsive, and stops on `signal`.
 */
export async function train(model: TrainableModel, opts: TrainOptions): Promise<TrainResult> {
  const lr = opts.lr ?? 1e-3;
  if (!Number.isInteger(opts.steps) || opts.steps <= 0) throw new Error(`train: steps must be a positive integer, got ${opts.steps}`);
  if (!(lr > 0)) throw new Error(`train: lr must be > 0, got ${lr}`);
  const variables = model.trainableVariables();
  if (variables.length === 0) throw new Error("train: the model has no trainable parameters (every parameter has requiresGrad = false)");
  const optimizer = tf.train.adam(lr);
  const events: TrainEvent[] = [];
  const emit = (e: TrainEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  const evaluate = async (step: number) => {
    if (!opts.evalSets) return;
    const losses: Record<string, number> = {};
    for (const [name, batches] of Object.entries(opts.evalSets)) losses[name] = await evaluateLoss(model, batches);
    emit({ type: "eval", step, losses });
  };
  model.train(true);
  let step = 0;
  try {
    while (step < opts.steps && !opts.signal?.aborted) {
      const next = opts.data.next();
      if (next.done) break;
      const started = performance.now();
      const [ids, targets] = toTensors(next.value);
      const loss = optimizer.minimize(() => model.loss(ids, targets), true, variables) as tf.Scalar;
      const value = (await loss.data())[0];
      tf.dispose([ids, targets, loss]);
      step++;
      const seconds = (performance.now() - started) / 1000;
      emit({ type: "step", step, loss: value, lr, tokensPerSecond: next.value.inputIds.length / seconds });
      if (opts.evalEvery && (step % opts.evalEvery === 0 || step === opts.steps)) await evaluate(step);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    optimizer.dispose();
  }
  return { steps: step, aborted: opts.signal?.aborted ?? false, events };
}
