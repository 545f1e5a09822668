import * as tf from "@tensorflow/tfjs";
import { seed as seedAll } from "../engine/index.js";
import { snapshotWeights, updateRankTable, type UpdateRankRow } from "../inspect/index.js";
import { evaluateLoss, train, type EvalEvent, type TokenBatch, type TrainEvent } from "../train/index.js";
import { createEwc } from "./ewc.js";
import { domainBatches, evalBatches, type DomainTrainData } from "./experiment_data.js";
import { createL2Sp } from "./l2sp.js";
import type { WeightPenalty } from "./penalty.js";
import { withReplay } from "./replay.js";
import { evaluateWithAdapterDisabled, trackRetention, type RetentionRecord } from "./retention.js";
import type { CausalLMBase, Strategy, StrategyModel } from "./strategies.js";
import { summarizeRun, type SummaryRow } from "./experiment_summary.js";

export interface ForgettingExperimentOptions {
  /** The pretrained model; never trained itself: every strategy starts from a copy of its weights. */
  base: CausalLMBase;
  /**
   * The new domain: training windows (T + 1 tokens) or prepared batches (`userForgettingData`,
   * `LmData.batches()`: the user's text or instruction data), and fixed eval batches.
   */
  domain: { train: DomainTrainData; eval: TokenBatch[] };
  /** Retained (old-domain) eval sets by name. */
  retain: Record<string, TokenBatch[]>;
  /** General-text windows for replay and EWC's Fisher (required only when a strategy uses them). */
  general?: readonly Int32Array[];
  strategies: Strategy[];
  steps: number;
  batchSize: number;
  /** Seeds adapter initialisation, the data order and replay draws; the same for every strategy. Default 0. */
  seed?: number;
  /** Evaluate every set every N steps (and at step 0 and after the last step). Default max(1, steps / 8). */
  evalEvery?: number;
  /** Singular spectra of each strategy's weight updates after training (src/inspect). Default true. */
  ranks?: boolean;
  onEvent?: (event: ExperimentEvent) => void;
  /** Called with each trained model before it is disposed (save an adapter, sample, inspect). */
  onModel?: (strategy: string, model: StrategyModel) => void | Promise<void>;
  /** Stops the running strategy after its current step and skips the rest. */
  signal?: AbortSignal;
}

export type ExperimentEvent =
  | {
      type: "strategy-start";
      strategy: string;
      index: number;
      total: number;
      steps: number;
      trainableParams: number;
      baseline: Record<string, number>;
    }
  | { type: "train"; strategy: string; index: number; event: TrainEvent }
  | { type: "strategy-end"; strategy: string; index: number; summary: SummaryRow };

export interface StrategyRun {
  strategy: string;
  description: string;
  /** Every trainer event, plus a step-0 eval event measured before the first update. */
  events: TrainEvent[];
  /** Retention records at every evaluation, step 0 first. */
  history: RetentionRecord[];
  trainableParams: number;
  totalParams: number;
  seconds: number;
  /** The loss of the first training batch, before any update. */
  firstLoss: number;
  /** Retained and domain losses with the adapter switched off at the end (adapter strategies only). */
  adapterDisabledLosses?: Record<string, number>;
  /** Per-layer update spectra (ΔW = W - W0 in place, or scaling·B·A for LoRA). */
  ranks?: UpdateRankRow[];
  aborted: boolean;
}

export interface ForgettingExperimentResult {
  /** The base model's loss per set ("domain" and each retained set). */
  baseline: Record<string, number>;
  runs: StrategyRun[];
  summary: SummaryRow[];
}

/** A fresh model of the base's class and configuration with a copy of its weights (any family: each is `new Model(config)`). */
export function copyBase<M extends CausalLMBase>(base: M): M {
  const copy = new (base.constructor as new (config: M["config"]) => M)(base.config);
  const dict = tf.tidy(() => Object.fromEntries(Object.entries(base.stateDict()).map(([k, v]) => [k, tf.keep(v.clone())])));
  try {
    copy.loadStateDict(dict);
  } finally {
    tf.dispose(Object.values(dict));
  }
  return copy;
}

function trainableCount(model: StrategyModel): [number, number] {
  if (typeof model.getNbTrainableParameters === "function") return model.getNbTrainableParameters();
  return [model.numParameters({ trainableOnly: true }), model.numParameters()];
}

function penaltiesFor(
  strategy: Strategy,
  model: StrategyModel,
  general: readonly Int32Array[] | undefined,
  batchSize: number,
): WeightPenalty[] {
  const out: WeightPenalty[] = [];
  const { ewc, l2sp } = strategy.mitigations;
  if (ewc) {
    if (!general?.length)
      throw new Error(`strategy "${strategy.name}": EWC needs general-text windows; pass general to runForgettingExperiment`);
    const batches = evalBatches(general.slice(0, (ewc.fisherBatches ?? 8) * batchSize), batchSize);
    out.push(createEwc(model, { strength: ewc.strength, batches }));
  }
  if (l2sp) out.push(createL2Sp(model, { strength: l2sp.strength }));
  return out;
}

/**
 * Fine-tunes a fresh copy of `base` under each strategy on identical data (same batches in the same
 * order, same seeds), tracking the loss on the new domain and the forgetting of each retained set
 * at every evaluation; returns every strategy's event stream and a summary table.
 */
export async function runForgettingExperiment(opts: ForgettingExperimentOptions): Promise<ForgettingExperimentResult> {
  const { base, domain, retain, strategies, steps, batchSize } = opts;
  const seed = opts.seed ?? 0;
  const evalEvery = opts.evalEvery ?? Math.max(1, Math.floor(steps / 8));
  if ("domain" in retain)
    throw new Error('runForgettingExperiment: a retained set may not be named "domain" (the new domain\'s eval set has that name)');
  if (strategies.length === 0) throw new Error("runForgettingExperiment: no strategies given");
  const names = strategies.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`runForgettingExperiment: two strategies are named "${dup}"; pass { name } to tell them apart`);
  const sets: Record<string, TokenBatch[]> = { domain: domain.eval, ...retain };
  const retained = Object.keys(retain);
  const baseline: Record<string, number> = {};
  for (const [name, batches] of Object.entries(sets)) baseline[name] = await evaluateLoss(base, batches);

  const runs: StrategyRun[] = [];
  const summary: SummaryRow[] = [];
  for (const [index, strategy] of strategies.entries()) {
    if (opts.signal?.aborted) break;
    // The same seed before building and before preparing: adapter initialisation is the same whatever the copy drew.
    seedAll(seed);
    const copy = copyBase(base);
    seedAll(seed);
    const prepared = strategy.prepare(copy);
    const model = prepared.model;
    const [trainableParams, totalParams] = trainableCount(model);
    const reference = opts.ranks !== false && !prepared.lowRankUpdates ? snapshotWeights(model) : undefined;
    const penalties = penaltiesFor(strategy, model, opts.general, batchSize);
    const tracker = trackRetention(model, { sets, baseline, retained });
    const events: TrainEvent[] = [];
    const emit = (event: TrainEvent) => {
      events.push(event);
      tracker.onEvent(event);
      opts.onEvent?.({ type: "train", strategy: strategy.name, index, event });
    };
    opts.onEvent?.({ type: "strategy-start", strategy: strategy.name, index, total: strategies.length, steps, trainableParams, baseline });

    // Step 0: the prepared model before any update (differs from the base only for QLoRA's 4-bit weights or a prefix).
    const start: EvalEvent = { type: "eval", step: 0, losses: {}, perplexities: {} };
    for (const [name, batches] of Object.entries(sets)) {
      start.losses[name] = await evaluateLoss(model, batches);
      start.perplexities[name] = Math.exp(start.losses[name]);
    }
    emit(start);

    let data: Iterator<TokenBatch> = domainBatches(domain.train, batchSize, seed);
    const replay = strategy.mitigations.replay;
    if (replay && replay.fraction > 0) {
      if (!opts.general?.length)
        throw new Error(`strategy "${strategy.name}": replay needs general-text windows; pass general to runForgettingExperiment`);
      data = withReplay(data, opts.general, { fraction: replay.fraction, seed: replay.seed ?? seed });
    }
    const regularizer =
      penalties.length === 0 ? undefined : () => tf.tidy(() => tf.addN(penalties.map((p) => p.regularizer())) as tf.Scalar);
    const started = performance.now();
    let result;
    try {
      result = await train(model, {
        data,
        steps,
        batchSize,
        lr: strategy.lr,
        scheduler: strategy.scheduler,
        warmupRatio: strategy.warmupRatio,
        weightDecay: strategy.weightDecay,
        paramGroups: prepared.paramGroups,
        evalEvery,
        evalSets: sets,
        regularizer,
        signal: opts.signal,
        progress: false,
        onEvent: emit,
      });
    } finally {
      penalties.forEach((p) => p.dispose());
    }
    const seconds = (performance.now() - started) / 1000;
    const adapterDisabledLosses =
      typeof model.disableAdapter === "function"
        ? evaluateWithAdapterDisabled(model as Parameters<typeof evaluateWithAdapterDisabled>[0], sets)
        : undefined;
    const ranks = opts.ranks === false ? undefined : reference ? updateRankTable(model, { reference }) : updateRankTable(model);
    const firstStep = events.find((e) => e.type === "step");
    const run: StrategyRun = {
      strategy: strategy.name,
      description: strategy.description,
      events,
      history: tracker.history,
      trainableParams,
      totalParams,
      seconds,
      firstLoss: firstStep?.type === "step" ? firstStep.loss : Number.NaN,
      adapterDisabledLosses,
      ranks,
      aborted: result.aborted,
    };
    try {
      await opts.onModel?.(strategy.name, model);
    } finally {
      model.dispose();
    }
    runs.push(run);
    const row = summarizeRun(run, baseline, retained);
    summary.push(row);
    opts.onEvent?.({ type: "strategy-end", strategy: strategy.name, index, summary: row });
  }
  return { baseline, runs, summary };
}
