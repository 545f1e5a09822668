import { evaluateLoss, evaluateLossSync, type EvalEvent, type TokenBatch, type TrainableModel, type TrainEvent } from "../train/index.js";

/** A model whose adapters can be switched off for a callback (PeftModel, tuned models). */
export interface AdapterSwitchable {
  disableAdapter<T>(fn: () => T): T;
}

export interface RetentionRecord {
  step: number;
  /** Mean token loss per eval set. */
  losses: Record<string, number>;
  perplexities: Record<string, number>;
  /** Per retained set: loss minus the base model's loss (> 0: forgotten). */
  forgetting: Record<string, number>;
  /** Mean over retained sets of (baseline - loss): negative mean forgetting (> 0: training helped them). */
  backwardTransfer: number;
  /** Per set, the loss with the adapter disabled (only with `adapterDisabled: true`). */
  adapterDisabledLosses?: Record<string, number>;
}

export interface RetentionOptions {
  /** The eval sets, named (the same object passed to `train` as `evalSets`). */
  sets: Record<string, TokenBatch[]>;
  /** The base model's loss per retained set, measured before training (`measureBaseline`). */
  baseline: Record<string, number>;
  /** Which sets are retained (old-domain) sets. Default: every set with a baseline. */
  retained?: string[];
  /** Also evaluate every set with the model's adapter disabled (a PEFT model). */
  adapterDisabled?: boolean;
}

export interface RetentionTracker {
  /** Pass as `train(..., { onEvent })`; reads the trainer's eval events. */
  onEvent: (event: TrainEvent) => void;
  /**
   * One record per evaluation, after a step-0 record of the baseline itself (forgetting 0), so the
   * curves start where training did: `forgettingFigure(tracker)` plots it as it is.
   */
  history: RetentionRecord[];
}

/** The model's mean token loss on each set, before training: the reference for forgetting. */
export async function measureBaseline(
  model: Pick<TrainableModel, "loss" | "train">,
  sets: Record<string, TokenBatch[]>,
): Promise<Record<string, number>> {
  const baseline: Record<string, number> = {};
  for (const [name, batches] of Object.entries(sets)) baseline[name] = await evaluateLoss(model, batches);
  return baseline;
}

/** Loss per set with the adapter switched off: equals the base model's when training left it untouched. */
export function evaluateWithAdapterDisabled(
  model: AdapterSwitchable & Pick<TrainableModel, "loss" | "train">,
  sets: Record<string, TokenBatch[]>,
): Record<string, number> {
  return model.disableAdapter(() => Object.fromEntries(Object.entries(sets).map(([n, b]) => [n, evaluateLossSync(model, b)])));
}

/** One record from an eval event's losses (pure). */
export function retentionRecord(
  event: Pick<EvalEvent, "step" | "losses">,
  baseline: Record<string, number>,
  retained: string[],
): RetentionRecord {
  const forgetting: Record<string, number> = {};
  for (const name of retained) {
    if (!(name in event.losses))
      throw new Error(
        `trackRetention: retained set "${name}" is not among the evaluated sets; available: ${Object.keys(event.losses).join(", ")}`,
      );
    forgetting[name] = event.losses[name] - baseline[name];
  }
  const values = Object.values(forgetting);
  const backwardTransfer = values.length === 0 ? 0 : -values.reduce((a, b) => a + b, 0) / values.length;
  const perplexities = Object.fromEntries(Object.entries(event.losses).map(([n, l]) => [n, Math.exp(l)]));
  return { step: event.step, losses: { ...event.losses }, perplexities, forgetting, backwardTransfer };
}

/**
 * Retention tracking on the trainer's own eval events: give `sets` to `train` as `evalSets` and
 * the returned `onEvent` as its `onEvent`; `history` starts with the baseline at step 0 and grows by
 * one record per evaluation. The trainer evaluates only after steps; an eval event of step 0 (the
 * prepared model measured before training, e.g. a 4-bit base) replaces the baseline's record.
 */
export function trackRetention(
  model: Pick<TrainableModel, "loss" | "train"> & Partial<AdapterSwitchable>,
  options: RetentionOptions,
): RetentionTracker {
  const { sets, baseline } = options;
  const retained = options.retained ?? Object.keys(baseline);
  for (const name of retained) {
    if (!(name in sets))
      throw new Error(`trackRetention: retained set "${name}" is not in sets; available: ${Object.keys(sets).join(", ")}`);
    if (!Number.isFinite(baseline[name]))
      throw new Error(
        `trackRetention: no baseline loss for retained set "${name}"; baseline has: ${Object.keys(baseline).join(", ") || "(none)"}`,
      );
  }
  if (options.adapterDisabled && typeof model.disableAdapter !== "function") {
    throw new Error("trackRetention: adapterDisabled needs a model with disableAdapter(fn) (a PeftModel); this model has none");
  }
  // Step 0 is the baseline: the losses measured before training, on every set that has one.
  const start = Object.fromEntries(Object.keys(sets).flatMap((n) => (Number.isFinite(baseline[n]) ? [[n, baseline[n]]] : [])));
  const history: RetentionRecord[] = [retentionRecord({ step: 0, losses: start }, baseline, retained)];
  const onEvent = (event: TrainEvent) => {
    if (event.type !== "eval") return;
    const record = retentionRecord(event, baseline, retained);
    if (options.adapterDisabled)
      record.adapterDisabledLosses = evaluateWithAdapterDisabled(model as AdapterSwitchable & Pick<TrainableModel, "loss" | "train">, sets);
    if (event.step === 0 && history[0].step === 0) history[0] = record;
    else history.push(record);
  };
  return { onEvent, history };
}
