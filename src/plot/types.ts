import type { Config, Data, Layout } from "plotly.js";

/**
 * Inputs of the plot builders: plain serialisable data, shaped like what the trainer, inspect,
 * forgetting and quant modules produce, but declared here so plot/ depends on nothing. Names are
 * prefixed `Plot` because src/index.ts re-exports every module with `export *`.
 */

/** A Plotly figure: what every builder returns and `show` / `writeReport` consume. */
export interface PlotFigure {
  data: Data[];
  layout: Partial<Layout>;
  config?: Partial<Config>;
}

/** One optimizer step, as the trainer emits it (`type: "step"`); only step and loss are needed. */
export interface PlotStepEvent {
  type?: "step";
  /** Optimizer steps done, from 1. */
  step: number;
  /** Training loss, nats per token. */
  loss: number;
  /** Learning rate actually used at this step. */
  lr?: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm?: number;
  /** Gradient L2 norm per module, keyed by HF dotted module name. */
  gradNorms?: Record<string, number>;
  /** ||update|| / ||weight|| per module. */
  updateRatios?: Record<string, number>;
}

/** One evaluation: mean token loss per named evaluation set (e.g. "new domain", "retained"). */
export interface PlotEvalEvent {
  type?: "eval";
  step: number;
  losses: Record<string, number>;
  perplexities?: Record<string, number>;
}

/** Any other event in the stream (checkpoints, ...): ignored by the builders. */
export interface PlotOtherEvent {
  type: string;
  step: number;
}

export type PlotTrainEvent = PlotStepEvent | PlotEvalEvent | PlotOtherEvent;

/** One training run: its name (legend) and its event stream, in any order. */
export interface PlotRun {
  name?: string;
  events: readonly PlotTrainEvent[];
}

/** A learning-rate schedule, sampled or as a function of the step. */
export interface PlotSchedule {
  name: string;
  /** LR (or multiplier of the peak LR) per step: an array indexed like `steps`, or step -> value. */
  lr: readonly number[] | ((step: number) => number);
  /** Steps of the `lr` array; default 0, 1, 2, ... For a function: sampled over 0..numTrainingSteps. */
  steps?: readonly number[];
  numTrainingSteps?: number;
  /** End of linear warmup; marked on the chart. */
  warmupSteps?: number;
}

/** Retained-domain loss of one strategy (full fine-tuning, LoRA r=8, replay, ...) over training. */
export interface PlotForgettingCurve {
  strategy: string;
  points: readonly { step: number; retainedLoss: number; targetLoss?: number }[];
  /** Loss of the base model on the retained set; default: the first point's retainedLoss. */
  baselineLoss?: number;
}

/** One point of the learn-forget trade-off: a strategy at the end, or one of its checkpoints. */
export interface PlotLearnForgetPoint {
  strategy: string;
  /** Shown next to the point; default the strategy, or "step N" when a strategy has several. */
  label?: string;
  step?: number;
  /** Decrease of the new domain's loss vs. the base model (nats/token, higher = learned more). */
  gain: number;
  /** Increase of the retained domain's loss vs. the base model (nats/token, higher = forgot more). */
  forgetting: number;
}

/** Singular values of one layer's weight update (ΔW = BA for LoRA, W - W0 for full fine-tuning). */
export interface PlotSpectrum {
  /** HF module name, e.g. "transformer.h.3.attn.c_attn". */
  layer: string;
  singularValues: readonly number[];
  /** ||ΔW||_F² / ||ΔW||_2²; computed from the singular values when absent. */
  stableRank?: number;
  /** exp(entropy of σ / Σσ) (Roy & Vetterli); computed when absent. */
  effectiveRank?: number;
  /** The adapter's rank r, when the layer has one. */
  loraRank?: number;
}

export type PlotLayerRole = "frozen" | "lora" | "full";

/** One row of a layer plan: the article's tables of frozen / LoRA / fully trainable layers. */
export interface PlotLayerPlanRow {
  /** Block index (0 = nearest the input) or a name for the rest ("wte", "lm_head"). */
  layer: number | string;
  /** Module inside the layer ("attn.c_attn", "mlp.c_fc"); absent when the plan is per layer. */
  module?: string;
  role: PlotLayerRole;
  /** LoRA rank r and alpha, for role "lora". */
  rank?: number;
  alpha?: number;
  trainableParams: number;
  /** All parameters of the layer / module, trainable or not. */
  totalParams?: number;
}

/** A 4-bit code book: its name and its 16 (or so) code points on [-1, 1]. */
export interface PlotCodebook {
  name: string;
  codes: readonly number[];
}

/** Quantization error of one layer by one method. */
export interface PlotQuantError {
  layer: string;
  method: string;
  error: number;
}

export interface PlotQuantInput {
  codebooks: readonly PlotCodebook[];
  /** Weights divided by their block's absmax (so on [-1, 1]): drawn as a histogram behind the codes. */
  normalizedWeights?: readonly number[];
  /** Draw the density of N(0, σ²) truncated to [-1, 1] (what NF4's codes are quantiles of). */
  normalStd?: number;
  errors?: readonly PlotQuantError[];
  /** Axis title of the error panel, with its unit. Default "mean |w − dequant(w)|". */
  errorTitle?: string;
}

/** Memory of one training method, in bytes per part (weights, gradients, optimizer states, ...). */
export interface PlotMemoryBar {
  method: string;
  parts: Record<string, number>;
}
