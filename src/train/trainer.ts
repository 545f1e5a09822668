import * as tf from "@tensorflow/tfjs";
import { Module, setGradientCheckpointing } from "../nn/index.js";
import { clipCoefficient, createAdamW, GradientAccumulator, scaleGrads, type GradMap } from "../optim/index.js";
import { countBatches, dataRanOut, trainingBatches } from "./batch_source.js";
import { saveTrainingCheckpoint } from "./checkpoint.js";
import { DivergenceGuard } from "./divergence_guard.js";
import { beforeFirstBatch, checkMemory, defaultPageBudget } from "./memory_plan.js";
import { evaluateLoss } from "./evaluate.js";
import { microStep, trainedParameters, type MicroStep } from "./micro_step.js";
import { guardFinite, guardLearningRates } from "./nan_guard.js";
import { resolveTrainOptions } from "./options.js";
import { ProgressBar } from "./progress.js";
import { measureGradients, stepStatistics } from "./step_stats.js";
import type { TokenBatch, TrainableModel, TrainEvent, TrainOptions, TrainResult } from "./types.js";

/** Where a host (the Jupyter kernel) puts the AbortSignal of the cell that is running. */
export const HOST_SIGNAL = Symbol.for("lora-lab.signal");

/**
 * The training loop: AdamW (param groups, decoupled weight decay; 8-bit and paged variants), a
 * transformers LR schedule, global-norm clipping, gradient accumulation. Every optimizer step
 * emits a plain event with the loss, the LR, the gradient norm of every module (from the
 * gradients already computed for the update) and each module's update/weight ratio. It awaits
 * between steps so a notebook kernel stays responsive, stops after the current step when `signal`
 * aborts, and throws TrainingDivergedError (before updating) on a non-finite loss, gradient or
 * learning rate, or LossDivergedError on a loss that stays far above its running minimum. Empty
 * data is an error; data that runs out before `steps` ends training with a warning (dataRanOut).
 */
export async function train(model: TrainableModel, opts: TrainOptions): Promise<TrainResult> {
  const { lr, accumulation, maxGradNorm, schedule, divergence } = resolveTrainOptions(opts);
  if (opts.gradientCheckpointing !== undefined) {
    if (!(model instanceof Module)) throw new Error("train: gradientCheckpointing needs a lora-lab Module (GPT-2, LLaMA or a PEFT model)");
    setGradientCheckpointing(model, opts.gradientCheckpointing);
  }
  // The plan needs the batch's shape, so it is made when the first batch is read.
  const data = countBatches(
    beforeFirstBatch(trainingBatches(opts), (batch) => opts.memoryCheck === false || checkMemory(model, opts, batch)),
  );
  const named = model.namedParameters();
  if (![...named.values()].some((p) => p.requiresGrad)) {
    throw new Error("train: the model has no trainable parameters (every parameter has requiresGrad = false)");
  }
  const optimizer = createAdamW(opts.optimizer ?? "adamw", named, {
    lr,
    betas: opts.betas,
    eps: opts.eps,
    weightDecay: opts.weightDecay ?? 0,
    paramGroups: opts.paramGroups,
    budgetBytes: opts.optimizerBudgetBytes ?? defaultPageBudget(opts.optimizer, named),
  });
  // Model order, so per-module records read top to bottom.
  const trained = trainedParameters(
    [...named.keys()].filter((n) => optimizer.has(n)),
    (n) => named.get(n)!.variable,
  );
  const events: TrainEvent[] = [];
  const logHistory: Record<string, number>[] = [];
  const bar = (opts.progress ?? Boolean(process.stderr.isTTY)) ? new ProgressBar(opts.steps) : undefined;
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
    const parameters = Object.fromEntries(trained.names.map((n, i) => [n, trained.variables[i] as tf.Tensor]));
    const path = await saveTrainingCheckpoint(opts.outputDir!, {
      step,
      parameters,
      optimizerState: optimizer.stateTensors(),
      trainerState: { max_steps: opts.steps, learning_rate: lr, log_history: logHistory },
    });
    emit({ type: "checkpoint", step, path });
  };

  model.train(true);
  const aborted = abortCheck(opts.signal);
  const divergenceGuard = divergence && new DivergenceGuard(divergence);
  let dataExhausted = false;
  let step = 0;
  try {
    while (step < opts.steps && !aborted()) {
      if (opts.beforeStep) {
        await opts.beforeStep(step);
        if (aborted()) break;
      }
      const started = performance.now();
      const micro = accumulate(data, accumulation, opts.batchSize, (batch) => microStep(model, trained, batch, opts.regularizer));
      if (!micro) {
        dataRanOut(step, opts.steps, data.read, accumulation); // throws when no step was done
        dataExhausted = true;
        break;
      }
      try {
        const measure = await measureGradients(micro.losses, micro.penalties, micro.grads, trained);
        guardFinite(step + 1, measure);
        divergenceGuard?.check(step + 1, measure.loss);
        const lrScale = schedule(step);
        guardLearningRates(
          step + 1,
          optimizer.groups.map((g) => ({ name: g.name, lr: optimizer.groupLr(g, lrScale) })),
        );
        const updates = clipAndUpdate(optimizer, micro.grads, measure.gradNorm, maxGradNorm, lrScale);
        step++;
        const seconds = (performance.now() - started) / 1000;
        const { loss, regularization } = measure;
        emit({
          type: "step",
          step,
          loss,
          lr: lr * lrScale,
          ...stepStatistics(measure, updates),
          tokensPerSecond: micro.tokens / seconds,
          ...(regularization === undefined ? {} : { regularization }),
        });
        logHistory.push({ step, loss, learning_rate: lr * lrScale, grad_norm: measure.gradNorm });
      } finally {
        disposeAccumulated(micro);
      }
      const last = step === opts.steps;
      if (opts.evalEvery && (step % opts.evalEvery === 0 || last)) await evaluate(step);
      if (opts.outputDir && ((opts.checkpointEvery && step % opts.checkpointEvery === 0) || last)) await checkpoint(step);
      // Let the event loop run (widget messages, the abort signal) between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    bar?.stop();
    optimizer.dispose();
  }
  return { steps: step, aborted: aborted(), dataExhausted, events };
}

/**
 * Whether to stop: `signal`, or a process-wide signal a host (the notebook kernel) publishes for
 * the running cell, so its interrupt button stops the loop after the current step.
 */
function abortCheck(signal: AbortSignal | undefined): () => boolean {
  const hostSignal = (globalThis as Record<symbol, unknown>)[HOST_SIGNAL];
  const signals = [signal, hostSignal instanceof AbortSignal ? hostSignal : undefined].filter((s): s is AbortSignal => s !== undefined);
  return () => signals.some((s) => s.aborted);
}

/**
 * Global-norm clipping as torch's clip_grad_norm_ (maxGradNorm 0 or Infinity: none), then the
 * optimizer's update at `lrScale` of the peak LR. Returns each parameter's squared change.
 */
function clipAndUpdate(
  optimizer: ReturnType<typeof createAdamW>,
  grads: GradMap,
  gradNorm: number,
  maxGradNorm: number,
  lrScale: number,
): Map<string, number> {
  const coefficient = maxGradNorm > 0 && Number.isFinite(maxGradNorm) ? clipCoefficient(gradNorm, maxGradNorm) : 1;
  const applied = coefficient < 1 ? scaleGrads(grads, coefficient) : grads;
  try {
    return optimizer.step(applied, { lrScale, updateNorms: true })!;
  } finally {
    if (applied !== grads) tf.dispose([...applied.values()]);
  }
}

/** One optimizer step's worth of micro-steps: tensors owned by the caller (disposeAccumulated). */
interface Accumulated {
  losses: tf.Scalar[];
  penalties: tf.Scalar[];
  /** The micro-steps' mean gradient (the one micro-step's own without accumulation). */
  grads: GradMap;
  tokens: number;
}

/**
 * Runs `accumulation` micro-steps on the next batches and averages their gradients, as a loss
 * scaled by 1 / accumulation does in PyTorch. Undefined when the data runs out first (what was
 * gathered is freed).
 */
function accumulate(
  data: Iterator<TokenBatch>,
  accumulation: number,
  batchSize: number | undefined,
  run: (batch: TokenBatch) => MicroStep,
): Accumulated | undefined {
  const out: Accumulated = { losses: [], penalties: [], grads: new Map(), tokens: 0 };
  const accumulator = new GradientAccumulator();
  try {
    for (let micro = 0; micro < accumulation; micro++) {
      const next = data.next();
      if (next.done) {
        disposeAccumulated(out);
        return undefined;
      }
      if (batchSize !== undefined && next.value.shape[0] !== batchSize) {
        throw new Error(`train: a batch has ${next.value.shape[0]} rows but batchSize is ${batchSize}`);
      }
      out.tokens += next.value.inputIds.length;
      const r = run(next.value);
      out.losses.push(r.loss);
      if (r.penalty) out.penalties.push(r.penalty);
      if (accumulation === 1) out.grads = r.grads;
      else {
        accumulator.add(r.grads);
        tf.dispose([...r.grads.values()]);
      }
    }
    if (accumulation > 1) out.grads = accumulator.mean();
    return out;
  } catch (err) {
    disposeAccumulated(out);
    throw err;
  } finally {
    accumulator.dispose();
  }
}

function disposeAccumulated(a: Accumulated): void {
  tf.dispose([...a.losses, ...a.penalties, ...a.grads.values()]);
}
