import type { TrainEvent } from "../train/index.js";
import { summarizeRun } from "./experiment_summary.js";
import type { RetentionRecord } from "./retention.js";
import { formatCount, formatTable } from "./text_table.js";

/**
 * What one fine-tuning run of a study leaves (pure data): what it learned of the new domain and
 * forgot of the retained text, both against the base, and what it cost.
 */
export interface StudyRun {
  name: string;
  events: TrainEvent[];
  /** One record per evaluation (the trainer's eval events). */
  history: RetentionRecord[];
  /** Losses at the last evaluation (nats per token: per byte for the byte tokenizer). */
  domainLoss: number;
  retainedLoss: number;
  /** How much the new domain's loss fell from the base's: what was learned. */
  gain: number;
  /** How much the retained loss rose from the base's: what was forgotten. */
  forgetting: number;
  /** Trainable parameters. */
  trainable: number;
  /** Median time of a training step (the trainer's own clock: evaluations excluded). */
  msPerStep: number;
}

/** The base model's losses: the reference for "learned" and "forgot". */
export interface StudyBaseline {
  domain: number;
  retained: number;
  [set: string]: number;
}

/** Median milliseconds per optimizer step, from the step events' throughput. */
export function medianStepMs(events: readonly TrainEvent[], tokensPerStep: number): number {
  const ms = events.flatMap((e) => (e.type === "step" ? [(tokensPerStep * 1000) / e.tokensPerSecond] : [])).sort((a, b) => a - b);
  if (ms.length === 0) throw new Error("medianStepMs: the events hold no step event; expected the trainer's events of at least one step");
  return ms[Math.floor(ms.length / 2)];
}

/**
 * A study run from a training run's events and retention records. Gain and forgetting are the
 * forgetting summary's own (summarizeRun), on the one retained set named "retained".
 */
export function studyRun(
  run: { name: string; events: TrainEvent[]; history: RetentionRecord[]; trainableParams: number; totalParams: number; seconds: number },
  baseline: StudyBaseline,
  tokensPerStep: number,
): StudyRun {
  const row = summarizeRun({ strategy: run.name, ...run }, baseline, ["retained"]);
  return {
    name: run.name,
    events: run.events,
    history: run.history,
    domainLoss: row.domainLoss,
    retainedLoss: row.retained.retained,
    gain: row.domainGain,
    forgetting: row.meanForgetting,
    trainable: row.trainableParams,
    msPerStep: medianStepMs(run.events, tokensPerStep),
  };
}

/** One row per run: what each trains, learned, forgot and cost per step; `unit` is what a loss is per ("byte" for the byte tokenizer, "token" for a BPE). */
export function studyTable(runs: readonly StudyRun[], unit: "byte" | "token" = "byte"): string {
  const head = ["run", "trainable", "domain loss", "learned", "retained loss", "forgot", "ms/step"];
  const rows = runs.map((r) => [
    r.name,
    formatCount(r.trainable),
    r.domainLoss.toFixed(3),
    r.gain.toFixed(3),
    r.retainedLoss.toFixed(3),
    r.forgetting.toFixed(3),
    r.msPerStep.toFixed(0),
  ]);
  const note = `losses in nats/${unit}; learned = fall of the new-domain loss, forgot = rise of the retained loss, both vs the base`;
  return `${formatTable(head, rows)}\n${note}`;
}

/**
 * Retained and new-domain loss curves for forgettingFigure, starting at step 0 from the base's
 * losses (trackRetention's history starts there; a history without a step-0 record gets one).
 */
export function studyCurves(runs: readonly StudyRun[], baseline: StudyBaseline) {
  return runs.map((r) => ({
    strategy: r.name,
    baselineLoss: baseline.retained,
    points: [
      ...(r.history[0]?.step === 0 ? [] : [{ step: 0, retainedLoss: baseline.retained, targetLoss: baseline.domain }]),
      ...r.history.map((h) => ({ step: h.step, retainedLoss: h.losses.retained, targetLoss: h.losses.domain })),
    ],
  }));
}

/** One learned-vs-forgotten point per run, for learnForgetFigure. */
export function studyTradeoff(runs: readonly StudyRun[]) {
  return runs.map((r) => ({ strategy: r.name, gain: r.gain, forgetting: r.forgetting }));
}
