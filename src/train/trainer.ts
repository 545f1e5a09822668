import * as tf from "@tensorflow/tfjs";
import { batchStream } from "../data/index.js";
import { ADAMW_VARIANTS, clipCoefficient, createAdamW, getScheduler, GradientAccumulator, scaleGrads, squaredNorms, type GradMap, type LrSchedule } from "../optim/index.js";
import { saveTrainingCheckpoint } from "./checkpoint.js";
import { TrainingDivergedError } from "./errors.js";
import { batchTensors, evaluateLoss } from "./evaluate.js";
import { globalNorm, moduleNameOf, moduleNorms, updateRatios } from "./grad_stats.js";
import { ProgressBar } from "./progress.js";
import type { TokenBatch, TrainableModel, TrainEvent, TrainOptions, TrainResult } from "./types.js";

function batchIterator(opts: TrainOptions): Iterator<TokenBatch> {
  const data = opts.data as unknown;
  if (Array.isArray(data) && data.length > 0 && !("inputIds" in data[0])) {
    if (opts.batchSize === undefined) throw new Error("train: data is a list of token windows, so batchSize is required");
    return batchStream(data as ArrayLike<number>[], { batchSize: opts.batchSize, seed: opts.seed ?? 0 });
  }
  if (typeof (data as Iterator<TokenBatch>).next === "function") return data as Iterator<TokenBatch>;
  if (data && typeof (data as Iterable<TokenBatch>)[Symbol.iterator] === "function") return epochs(data as Iterable<TokenBatch>);
  throw new Error("train: data must be an iterator or iterable of { inputIds, targets, shape } batches, or an array of token windows");
}

/** Passes over an iterable again and again, as transformers' Trainer does until max_steps. */
function* epochs(data: Iterable<TokenBatch>): Generator<TokenBatch, void> {
  for (;;) {
    let any = false;
    for (const batch of data) {
      any = true;
      yield batch;
    }
    if (!any) return;
  }
}

async function meanOf(scalars: tf.Scalar[]): Promise<number> {
  const mean = tf.tidy(() => tf.mean(tf.stack(scalars)));
  const value = (await mean.data())[0];
  mean.dispose();
  return value;
}

function makeSchedule(opts: TrainOptions, lr: number): LrSchedule {
  const s = opts.scheduler ?? "constant";
  if (typeof s === "function") return s;
  return getScheduler(s, { ...opts.schedulerOptions, numWarmupSteps: opts.numWarmupSteps, warmupRatio: opts.warmupRatio, numTrainingSteps: opts.steps, lr });
}

function checkOptions(opts: TrainOptions, lr: number, accumulation: number): void {
  const positiveInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0);
  if (!positiveInt(opts.steps) || opts.steps === undefined) throw new Error(`train: steps must be a positive integer, got ${opts.steps}`);
  if (!(lr > 0)) throw new Error(`train: lr must be > 0, got ${lr}`);
  if (!positiveInt(accumulation)) throw new Error(`train: gradientAccumulationSteps must be a positive integer, got ${accumulation}`);
  if (!positiveInt(opts.evalEvery)) throw new Error(`train: evalEvery must be a positive integer, got ${opts.evalEvery}`);
  if (!positiveInt(opts.checkpointEvery)) throw new Error(`train: checkpointEvery must be a positive integer, got ${opts.checkpointEvery}`);
  if (opts.checkpointEvery && !opts.outputDir) throw new Error("train: checkpointEvery needs outputDir, the folder that receives checkpoint-<step>/");
  if (opts.optimizer !== undefined && !(ADAMW_VARIANTS as readonly string[]).includes(opts.optimizer)) throw new Error(`train: unknown optimizer "${opts.optimizer}"; available: ${ADAMW_VARIANTS.join(", ")}`);
  if (opts.optimizerBudgetBytes !== undefined && !opts.optimizer?.startsWith("paged_")) throw new Error(`train: optimizerBudgetBytes needs optimizer "paged_adamw" or "paged_adamw8bit", got ${JSON.stringify(opts.optimizer ?? "adamw")}`);
  if (opts.maxGradNorm !== undefined && !(opts.maxGradNorm >= 0)) throw new Error(`train: maxGradNorm must be >= 0 (0 or Infinity: no clipping), got ${opts.maxGradNorm}`);
}

/**
 * The training loop: AdamW (param groups, decoupled weight decay; 8-bit and paged variants), a transformers LR schedule,
 * global-norm clipping, gradient accumulation. Every optimizer step emits a plain event with the
 * loss, the LR, the gradient norm of every module (from the gradients already computed for the
 * update) and each module's update/weight ratio. It awaits between steps so a notebook kernel
 * stays responsive, stops after the current step when `signal` aborts, and throws
 * TrainingDivergedError (before updating) on a non-finite loss or gradient.
 */
/** Where a host (the Jupyter kernel) puts the AbortSignal of the cell that is running. */
export const HOST_SIGNAL = Symbol.for("lora-lab.signal");

export async function train(model: TrainableModel, opts: TrainOptions): Promise<TrainResult> {
  const lr = opts.lr ?? 1e-3;
  const accumulation = opts.gradientAccumulationSteps ?? 1;
  checkOptions(opts, lr, accumulation);
  const maxGradNorm = opts.maxGradNorm ?? 1.0;
  const schedule = makeSchedule(opts, lr);
  const data = batchIterator(opts);
  const named = model.namedParameters();
  if (![...named.values()].some((p) => p.requiresGrad)) {
    throw new Error("train: the model has no trainable parameters (every parameter has requiresGrad = false)");
  }
  const optimizer = createAdamW(opts.optimizer ?? "adamw", named, {
    lr, betas: opts.betas, eps: opts.eps, weightDecay: opts.weightDecay ?? 0, paramGroups: opts.paramGroups, budgetBytes: opts.optimizerBudgetBytes,
  });
  // Model order, so per-module records read top to bottom.
  const names = [...named.keys()].filter((n) => optimizer.has(n));
  const variables = names.map((n) => named.get(n)!.variable);
  const nameOfVariable = new Map(variables.map((v, i) => [v.name, names[i]]));
  const variableOf = new Map(names.map((n, i) => [n, variables[i]]));
  const accumulator = new GradientAccumulator();
  const events: TrainEvent[] = [];
  const logHistory: Record<string, number>[] = [];
  const bar = opts.progress ?? Boolean(process.stderr.isTTY) ? new ProgressBar(opts.steps) : undefined;
  const emit = (e: TrainEvent) => {
    events.push(e);
    if (e.type === "step") bar?.update(e);
    opts.onEvent?.(e);
  };

  const evaluate = async (step: number) => {
    if (!opts.evalSets) return;
    const losses: Record<string, number> = {};
    const perplexities: Record<string, number> = {};
    for (const [name, batches] of Object.entries(opts.evalSets)) {
      losses[name] = await evaluateLoss(model, batches);
      perplexities[name] = Math.exp(losses[name]);
    }
    logHistory.push({ step, ...Object.fromEntries(Object.entries(losses).map(([n, l]) => [`eval_${n}_loss`, l])) });
    emit({ type: "eval", step, losses, perplexities });
  };

  const checkpoint = async (step: number) => {
    const parameters = Object.fromEntries(names.map((n, i) => [n, variables[i] as tf.Tensor]));
    const path = await saveTrainingCheckpoint(opts.outputDir!, {
      step,
      parameters,
      optimizerState: optimizer.stateTensors(),
      trainerState: { max_steps: opts.steps, learning_rate: lr, log_history: logHistory },
    });
    emit({ type: "checkpoint", step, path });
  };

  /** One micro-batch: its loss (kept) and its gradients by parameter name. */
  const microStep = (batch: TokenBatch): { loss: tf.Scalar; penalty?: tf.Scalar; grads: GradMap } => {
    const [ids, targets] = batchTensors(batch);
    try {
      const regularizer = opts.regularizer;
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
      const { value, grads } = tf.variableGrads(objective, variables);
      if (regularizer) value.dispose();
      const byName: GradMap = new Map();
      for (const [varName, g] of Object.entries(grads)) if (g) byName.set(nameOfVariable.get(varName)!, g);
      return { loss: loss ?? value, penalty, grads: byName };
    } finally {
      tf.dispose([ids, targets]);
    }
  };

  model.train(true);
  // A host (the notebook kernel) may publish a process-wide signal for the running cell: its
  // interrupt button then stops this loop after the current step, like `opts.signal`.
  const hostSignal = (globalThis as Record<symbol, unknown>)[HOST_SIGNAL];
  const signals = [opts.signal, hostSignal instanceof AbortSignal ? hostSignal : undefined].filter((s): s is AbortSignal => s !== undefined);
  const aborted = () => signals.some((s) => s.aborted);
  let step = 0;
  let exhausted = false;
  try {
    while (step < opts.steps && !aborted()) {
      if (opts.beforeStep) {
        await opts.beforeStep(step);
        if (aborted()) break;
      }
      const started = performance.now();
      const losses: tf.Scalar[] = [];
      const penalties: tf.Scalar[] = [];
      let grads: GradMap = new Map();
      let tokens = 0;
      try {
        for (let micro = 0; micro < accumulation; micro++) {
          const next = data.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          if (opts.batchSize !== undefined && next.value.shape[0] !== opts.batchSize) {
            throw new Error(`train: a batch has ${next.value.shape[0]} rows but batchSize is ${opts.batchSize}`);
          }
          tokens += next.value.inputIds.length;
          const r = microStep(next.value);
          losses.push(r.loss);
          if (r.penalty) penalties.push(r.penalty);
          if (accumulation === 1) grads = r.grads;
          else {
            accumulator.add(r.grads);
            tf.dispose([...r.grads.values()]);
          }
        }
        if (exhausted) break;
        if (accumulation > 1) grads = accumulator.mean();

        // One download: [mean loss, squared grad norm per parameter, squared weight norm per parameter].
        const present = names.filter((n) => grads.has(n));
        const stats = tf.tidy(() =>
          tf.concat([tf.reshape(tf.mean(tf.stack(losses)), [1]), squaredNorms(present.map((n) => grads.get(n)!)), squaredNorms(present.map((n) => variableOf.get(n)!))]),
        );
        const values = (await stats.data()) as Float32Array;
        stats.dispose();
        const loss = values[0];
        const regularization = penalties.length > 0 ? await meanOf(penalties) : undefined;
        const gradSquares = values.subarray(1, 1 + present.length);
        const weightSquares = values.subarray(1 + present.length);
        if (!Number.isFinite(loss)) throw new TrainingDivergedError({ step: step + 1, quantity: "loss", value: loss });
        const bad = present.findIndex((_, i) => !Number.isFinite(gradSquares[i]));
        if (bad >= 0) {
          throw new TrainingDivergedError({ step: step + 1, quantity: "gradient", module: moduleNameOf(present[bad]), value: Math.sqrt(gradSquares[bad]) });
        }

        const gradNorm = globalNorm(gradSquares);
        const coefficient = maxGradNorm > 0 && Number.isFinite(maxGradNorm) ? clipCoefficient(gradNorm, maxGradNorm) : 1;
        const applied = coefficient < 1 ? scaleGrads(grads, coefficient) : grads;
        const lrScale = schedule(step);
        let updates: Map<string, number>;
        try {
          updates = optimizer.step(applied, { lrScale, updateNorms: true })!;
        } finally {
          if (applied !== grads) tf.dispose([...applied.values()]);
        }
        step++;
        const seconds = (performance.now() - started) / 1000;
        emit({
          type: "step",
          step,
          loss,
          lr: lr * lrScale,
          gradNorm,
          gradNorms: moduleNorms(present, gradSquares),
          updateRatios: updateRatios(present, present.map((n) => updates.get(n)!), weightSquares),
          tokensPerSecond: tokens / seconds,
          ...(regularization === undefined ? {} : { regularization }),
        });
        logHistory.push({ step, loss, learning_rate: lr * lrScale, grad_norm: gradNorm });
      } finally {
        tf.dispose([...losses, ...penalties, ...grads.values()]);
        accumulator.dispose();
      }
      const last = step === opts.steps;
      if (opts.evalEvery && (step % opts.evalEvery === 0 || last)) await evaluate(step);
      if (opts.outputDir && ((opts.checkpointEvery && step % opts.checkpointEvery === 0) || last)) await checkpoint(step);
      // Let the event loop run (widget messages, the abort signal) between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    bar?.stop();
    accumulator.dispose();
    optimizer.dispose();
  }
  return { steps: step, aborted: aborted(), events };
}
