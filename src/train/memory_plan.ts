import * as tf from "@tensorflow/tfjs";
import { totalmem } from "node:os";
import { engineInfo } from "../engine/index.js";
import { hasKernel } from "../engine/kernels/fused.js";
import { FUSED_ADAMW } from "../engine/kernels/adamw.js";
import { Conv1D, Linear, Module, lmLossChunkRows } from "../nn/index.js";
import { DEFAULT_LORA_TARGET_MODULES } from "../peft/lora/config.js";
import { PAGE_TEMP_BYTES_PER_ELEMENT } from "../optim/paged_adamw.js";
import { Linear4bit, adamw8bitStateBytes, fourBitStorageBytes } from "../quant/index.js";

/**
 * The memory plan of a training run, made before its first step: what the model at hand needs on
 * the backend for the chosen method, optimizer, batch and sequence, against what the backend can
 * hold. `train()` refuses a run that will not fit, naming the options that would, so that a run
 * never ends in the wasm backend's `Aborted()` (its one heap stops at 4 GiB).
 *
 * Exact byte counts of the model's own tensors: weights (every tensor of the state dict, once),
 * gradients (4 bytes per trainable element), AdamW's moments (8 per trainable element; 8-bit:
 * bitsandbytes' blockwise layout; paged: in host memory) and the update's temporaries (the
 * largest trainable tensor's new value and moments while it is updated).
 *
 * Activations are measured, not derived from a paper: TensorFlow.js keeps every op's saved
 * inputs and, unlike PyTorch, every intermediate gradient until the backward pass ends, so its
 * peak is several times Korthikanti et al.'s count. Bytes per token, fitted with `tf.profile` on
 * lora-lab's own kernels (`npx vite-node bench/memory-plan.ts` re-measures them; tests/train/memory_plan.test.ts
 * checks the estimate against measured peaks within 15%):
 * - one block: `hidden * h + ffn * f + scores * heads * T` (the T term: GPT-2's attention
 *   probabilities; LLaMA's attention kernel keeps none of T x T);
 * - outside the blocks: `trunk * h` (embeddings, final norm) and the LM head's logits, softmax
 *   and their gradients, `vocab * V`; when lmHeadLoss takes the head in row chunks (a large
 *   vocabulary), five and a half chunks' logits and one weight-sized gradient sum instead, whatever the
 *   batch;
 * - with gradient checkpointing, `checkpointed * h` per block (its saved input, its output and
 *   the output's gradient) plus one block's full set, recomputed;
 * - the optimizer's update comes after the backward pass has freed the activations, so the total
 *   takes the larger of the two, not their sum;
 * - per LoRA-wrapped Linear, `lora * inFeatures` (the dropout's copy of its input and the
 *   adapter's products); per 4-bit Linear, its dequantized float32 weight, kept for the backward.
 * T5 and BART count their encoder and decoder blocks together (`layers` = both stacks; a decoder
 * block's cross-attention is folded into the per-block average), fitted on 5 shapes each
 * (2-4 layers a stack, T 64-128, width 128-256, FFN 512-1024; fits within 2.5%). BART's attention
 * probabilities did not grow measurably with T, so it has no T term; T5's is small (its position
 * bias is shared, its probabilities kept once).
 */

/** Measured bytes per token (see the file comment). */
export const ACTIVATION_COEFFICIENTS = {
  gpt2: { hidden: 186, ffn: 78, scores: 49, vocab: 36, trunk: 63, checkpointed: 12, lora: 93 },
  llama: { hidden: 402, ffn: 78, scores: 0, vocab: 34, trunk: 33, checkpointed: 12, lora: 35 },
  t5: { hidden: 303, ffn: 34, scores: 8, vocab: 36, trunk: 176, checkpointed: 12, lora: 42 },
  bart: { hidden: 357, ffn: 98, scores: 0, vocab: 36, trunk: 182, checkpointed: 12, lora: 42 },
} as const;

/** The part of the wasm heap a plan may fill: the rest is left to the allocator's fragmentation. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
export const HEADROOM = 0.9;

export type PlannedOptimizer = "adamw" | "adamw8bit" | "paged_adamw" | "paged_adamw8bit";

export interface MemoryPlanOptions {
  batchSize: number;
  seqLen: number;
  optimizer?: PlannedOptimizer;
  /** Default: whether the model's block stacks have it on. */
  gradientCheckpointing?: boolean;
  /** More than 1 keeps a running sum of the gradients besides each micro-batch's. Default 1. */
  gradientAccumulationSteps?: number;
  /** Bytes the backend can hold; default `backendMemoryLimit()`. */
  limitBytes?: number | null;
}

/** The model's shape as the activation formula reads it. */
interface PlanShape {
  family: keyof typeof ACTIVATION_COEFFICIENTS;
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  vocab: number;
  /** Type name for messages. */
  name: string;
}

export interface MemoryPlan {
  backend: string;
  /** What the backend can hold; null when unknown (a GPU backend): nothing is refused then. */
  limitBytes: number | null;
  method: "full" | "lora" | "qlora" | "partial";
  options: Required<Omit<MemoryPlanOptions, "limitBytes">>;
  parameters: number;
  trainableParameters: number;
  /** Bytes on the backend. */
  weights: number;
  gradients: number;
  optimizerStates: number;
  updateTemporaries: number;
  activations: number;
  /** weights + gradients + optimizerStates + the larger of activations and updateTemporaries (never alive together). */
  total: number;
  /** Bytes in host memory: 4-bit weights (Linear4bit keeps them in typed arrays) and paged moments. */
  host: number;
  fits: boolean;
}

/** What the current backend can hold: the wasm heap's 4 GiB, the machine's memory for cpu / node, unknown for a GPU. */
export function backendMemoryLimit(): { backend: string; limitBytes: number | null } {
  const backend = engineInfo()?.backend ?? tf.getBackend();
  if (backend === "wasm") return { backend, limitBytes: WASM_HEAP_BYTES };
  if (backend === "node-gpu" || backend === "webgl" || backend === "webgpu") return { backend, limitBytes: null };
  return { backend, limitBytes: totalmem() };
}

function shapeOf(model: Module): PlanShape {
  const m = model as unknown as { config?: Record<string, unknown>; baseModel?: Module; model?: Module };
  const config = m.config ?? (m.baseModel as { config?: Record<string, unknown> } | undefined)?.config;
  if (!config && m.model) return shapeOf(m.model);
  const c = (config ?? {}) as Record<string, number>;
  const name = model.constructor.name;
  if (typeof c.nEmbd === "number")
    return { family: "gpt2", layers: c.nLayer, hidden: c.nEmbd, ffn: c.innerDim ?? 4 * c.nEmbd, heads: c.nHead, vocab: c.vocabSize, name };
  if (typeof c.numHiddenLayers === "number")
    return {
      family: "llama",
      layers: c.numHiddenLayers,
      hidden: c.hiddenSize,
      ffn: c.intermediateSize,
      heads: c.numAttentionHeads,
      vocab: c.vocabSize,
      name,
    };
  if (typeof c.dModel === "number" && typeof c.dFf === "number")
    return {
      family: "t5",
      layers: c.numLayers + (c.numDecoderLayers ?? c.numLayers),
      hidden: c.dModel,
      ffn: c.dFf,
      heads: c.numHeads,
      vocab: c.vocabSize,
      name,
    };
  if (typeof c.dModel === "number" && typeof c.encoderLayers === "number")
    return {
      family: "bart",
      layers: c.encoderLayers + c.decoderLayers,
      hidden: c.dModel,
      ffn: c.encoderFfnDim,
      heads: c.encoderAttentionHeads,
      vocab: c.vocabSize,
      name,
    };
  throw new Error(`memoryPlan: cannot read the shape of ${name} (no GPT-2, LLaMA, T5 or BART config found on it)`);
}

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/** The model's tensors, what of them trains, and its LoRA-wrapped and 4-bit layers. */
function census(model: Module) {
  const seen = new Set<number>();
  let weights = 0;
  for (const t of Object.values(model.stateDict())) {
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    weights += t.size * (BYTES[t.dtype] ?? 4);
  }
  const params = [...model.namedParameters()];
  const trainable = params.filter(([, p]) => p.requiresGrad);
  let host = 0;
  let dequantized = 0;
  let loraInputs = 0;
  let quantizedElements = 0; // 4-bit weights are not Parameters, but they are the model's parameters
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear4bit) {
      host += fourBitStorageBytes(m.weight4bit.numel);
      dequantized += 4 * m.weight4bit.numel;
      quantizedElements += m.weight4bit.numel;
    }
    if (name.endsWith(".lora_A.default") || name.endsWith(".lora_A"))
      loraInputs += (m as unknown as { inFeatures: number }).inFeatures ?? 0;
  }
  return {
    weights,
    parameters: params.reduce((a, [, p]) => a + p.size, 0) + quantizedElements,
    trainable: trainable.map(([, p]) => p.size),
    host,
    dequantized,
    loraInputs,
    quantized: host > 0,
  };
}

function checkpointingOn(model: Module): boolean {
  return [model, ...model.namedModules().values()].some((m) => (m as { gradientCheckpointing?: boolean }).gradientCheckpointing === true);
}

function validate(opts: MemoryPlanOptions): void {
  for (const k of ["batchSize", "seqLen"] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] <= 0) throw new Error(`memoryPlan: ${k} must be a positive integer, got ${opts[k]}`);
  }
  const acc = opts.gradientAccumulationSteps ?? 1;
  if (!Number.isInteger(acc) || acc <= 0) throw new Error(`memoryPlan: gradientAccumulationSteps must be a positive integer, got ${acc}`);
  const o = opts.optimizer ?? "adamw";
  if (!["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit"].includes(o))
    throw new Error(`memoryPlan: optimizer must be adamw, adamw8bit, paged_adamw or paged_adamw8bit, got "${o}"`);
}

/** Estimates what training `model` takes on the current backend (see the file comment). */
export function memoryPlan(model: Module, opts: MemoryPlanOptions): MemoryPlan {
  validate(opts);
  const shape = shapeOf(model);
  const c = census(model);
  const limit =
    opts.limitBytes === undefined ? backendMemoryLimit() : { backend: backendMemoryLimit().backend, limitBytes: opts.limitBytes };
  const options = {
    batchSize: opts.batchSize,
    seqLen: opts.seqLen,
    optimizer: opts.optimizer ?? "adamw",
    gradientCheckpointing: opts.gradientCheckpointing ?? checkpointingOn(model),
    gradientAccumulationSteps: opts.gradientAccumulationSteps ?? 1,
  };
  const trainableElements = c.trainable.reduce((a, b) => a + b, 0);
  const largest = Math.max(0, ...c.trainable);
  const method = c.quantized ? "qlora" : c.loraInputs > 0 ? "lora" : trainableElements === c.parameters ? "full" : "partial";
  const gradients = 4 * trainableElements * (options.gradientAccumulationSteps > 1 ? 2 : 1);
  const { optimizerStates, updateTemporaries, hostStates } = optimizerBytes(options.optimizer, c.trainable, largest);
  const activations = activationBytes(shape, options, c.loraInputs, c.dequantized, headOf(model));
  // The update runs after the backward pass has freed the activations: the peak is one or the other.
  const total = c.weights + gradients + optimizerStates + Math.max(activations, updateTemporaries);
  return {
    backend: limit.backend,
    limitBytes: limit.limitBytes,
    method,
    options,
    parameters: c.parameters,
    trainableParameters: trainableElements,
    weights: c.weights,
    gradients,
    optimizerStates,
    updateTemporaries,
    activations,
    total,
    host: c.host + hostStates,
    fits: limit.limitBytes === null || total <= HEADROOM * limit.limitBytes,
  };
}

function optimizerBytes(optimizer: PlannedOptimizer, sizes: number[], largest: number) {
  const fusedAdamW = hasKernel(FUSED_ADAMW);
  const eightBit = sizes.reduce((a, n) => a + adamw8bitStateBytes(n), 0);
  switch (optimizer) {
    case "adamw":
      // The fused update writes a new parameter and both moments before the old ones are freed.
      return { optimizerStates: 8 * sizes.reduce((a, b) => a + b, 0), updateTemporaries: 12 * largest, hostStates: 0 };
    case "adamw8bit":
      // The largest tensor's moments dequantized, its new value and the requantized codes.
      return { optimizerStates: eightBit, updateTemporaries: 16 * largest, hostStates: 0 };
    case "paged_adamw":
    case "paged_adamw8bit":
      // One tensor's page at a time on the backend: its float32 moments and the update's
      // temporaries (12 bytes an element with the fused kernel, else the op-by-op update's).
      return {
        optimizerStates: 0,
        updateTemporaries: (8 + (fusedAdamW ? 12 : PAGE_TEMP_BYTES_PER_ELEMENT)) * largest,
        hostStates: optimizer === "paged_adamw" ? 8 * sizes.reduce((a, b) => a + b, 0) : eightBit,
      };
  }
}

function activationBytes(
  s: PlanShape,
  o: { batchSize: number; seqLen: number; gradientCheckpointing: boolean },
  loraInputs: number,
  dequantized: number,
  head: HeadInfo,
): number {
  const k = ACTIVATION_COEFFICIENTS[s.family];
  const tokens = o.batchSize * o.seqLen;
  const block = k.hidden * s.hidden + k.ffn * s.ffn + k.scores * s.heads * o.seqLen + (k.lora * loraInputs) / s.layers;
  // lmHeadLoss in row chunks: a few chunks' logits and, for a trainable head, one weight-sized
  // gradient sum (measured: 5.5 chunks and 1 weight); otherwise the logits and their kin per token.
  const rows = head.chunkable ? lmLossChunkRows(tokens, s.vocab) : tokens;
  const vocab = rows < tokens ? 5.5 * 4 * rows * s.vocab + (head.trainable ? 4 * s.vocab * s.hidden : 0) : tokens * k.vocab * s.vocab;
  const kept = tokens * k.trunk * s.hidden;
  if (!o.gradientCheckpointing) return kept + tokens * s.layers * block + vocab + dequantized;
  // Checkpointed: what the head's backward pass leaves (its weight's gradient, the hidden states'
  // gradient) is still alive while the blocks are recomputed, so its share adds to one block's.
  return kept + tokens * s.layers * k.checkpointed * s.hidden + tokens * block + dequantized / s.layers + vocab;
}

interface HeadInfo {
  /** A bias-free Linear head, which lmHeadLoss runs in chunks. */
  chunkable: boolean;
  trainable: boolean;
}

function headOf(model: Module): HeadInfo {
  for (const [name, m] of model.namedModules()) {
    if (name === "lm_head" || name.endsWith(".lm_head")) {
      const plain = m instanceof Linear && m.constructor === Linear && !m.bias;
      return { chunkable: plain, trainable: plain && (m as Linear).weight.requiresGrad };
    }
  }
  return { chunkable: false, trainable: false };
}

const GiB = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** One line per component, for messages and notebooks. */
export function describePlan(p: MemoryPlan): string {
  const o = p.options;
  return (
    `${p.method} fine-tuning, ${p.trainableParameters.toLocaleString("en-US")} of ${p.parameters.toLocaleString("en-US")} parameters trained, ` +
    `${o.optimizer}, batch ${o.batchSize} x ${o.seqLen}${o.gradientCheckpointing ? ", gradient checkpointing" : ""}` +
    `${o.gradientAccumulationSteps > 1 ? `, ${o.gradientAccumulationSteps} accumulation steps` : ""}: ` +
    `${GiB(p.total)} on ${p.backend} (weights ${GiB(p.weights)}, gradients ${GiB(p.gradients)}, optimizer states ${GiB(p.optimizerStates)}, ` +
    `update ${GiB(p.updateTemporaries)}, activations ${GiB(p.activations)})` +
    (p.host ? `, plus ${GiB(p.host)} in host memory` : "")
  );
}

/** A change to the run and the plan it would have. */
export interface PlanAlternative {
  change: string;
  plan: MemoryPlan;
}

/**
 * What would fit instead, each change alone: gradient checkpointing, a paged or 8-bit optimizer,
 * a smaller micro-batch with accumulation (same effective batch), LoRA or QLoRA on the family's
 * default targets (estimated for full fine-tuning runs).
 */
export function planAlternatives(model: Module, opts: MemoryPlanOptions): PlanAlternative[] {
  const base = memoryPlan(model, opts);
  const out: PlanAlternative[] = [];
  const tryChange = (change: string, o: Partial<MemoryPlanOptions>) => out.push({ change, plan: memoryPlan(model, { ...opts, ...o }) });
  if (!base.options.gradientCheckpointing && supportsCheckpointing(model))
    tryChange("gradientCheckpointing: true", { gradientCheckpointing: true });
  for (const optimizer of ["paged_adamw", "paged_adamw8bit", "adamw8bit"] as const) {
    if (optimizer !== base.options.optimizer) tryChange(`optimizer: "${optimizer}"`, { optimizer });
  }
  for (let b = Math.floor(base.options.batchSize / 2); b >= 1; b = Math.floor(b / 2)) {
    const acc = base.options.gradientAccumulationSteps * Math.ceil(base.options.batchSize / b);
    tryChange(`batchSize: ${b} with gradientAccumulationSteps: ${acc}`, { batchSize: b, gradientAccumulationSteps: acc });
    if (out[out.length - 1].plan.fits) break;
  }
  if (base.method === "full") {
    for (const q of [false, true]) {
      const plan = adapterPlan(model, base, q);
      if (plan) out.push({ change: q ? "QLoRA (4-bit base, LoRA r=8 on the default targets)" : "LoRA r=8 on the default targets", plan });
    }
  }
  return out;
}

function supportsCheckpointing(model: Module): boolean {
  return [model, ...model.namedModules().values()].some((m) => "gradientCheckpointing" in m);
}

/** The plan of LoRA r=8 (or QLoRA) on the family's default targets, from the model's own layers. */
function adapterPlan(model: Module, base: MemoryPlan, quantized: boolean): MemoryPlan | undefined {
  const type = String((model as { configJSON?: () => Record<string, unknown> }).configJSON?.().model_type ?? "");
  const targets = DEFAULT_LORA_TARGET_MODULES[type];
  if (!targets) return undefined;
  const shape = shapeOf(model);
  let adapters = 0;
  let inputs = 0;
  let linearBytes = 0;
  let dequantized = 0;
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear || m instanceof Conv1D) || name === "lm_head") continue;
    const { inFeatures, outFeatures } = m;
    if (/\.\d+\./.test(name)) {
      linearBytes += 4 * inFeatures * outFeatures - fourBitStorageBytes(inFeatures * outFeatures);
      dequantized += 4 * inFeatures * outFeatures;
    }
    if (targets.some((t) => name === t || name.endsWith(`.${t}`))) {
      adapters += 8 * (inFeatures + outFeatures);
      inputs += inFeatures;
    }
  }
  const options = { ...base.options, optimizer: "adamw" as const };
  const weights = base.weights + 4 * adapters - (quantized ? linearBytes : 0);
  const gradients = 4 * adapters * (options.gradientAccumulationSteps > 1 ? 2 : 1);
  const opt = optimizerBytes("adamw", [adapters], adapters);
  const activations = activationBytes(shape, options, inputs, quantized ? dequantized : 0, { ...headOf(model), trainable: false });
  const total = weights + gradients + opt.optimizerStates + Math.max(activations, opt.updateTemporaries);
  return {
    ...base,
    method: quantized ? "qlora" : "lora",
    options,
    trainableParameters: adapters,
    weights,
    gradients,
    optimizerStates: opt.optimizerStates,
    updateTemporaries: opt.updateTemporaries,
    activations,
    total,
    host: quantized ? linearBytes + dequantized / 8 : 0,
    fits: base.limitBytes === null || total <= HEADROOM * base.limitBytes,
  };
}

/** The error train() raises for a run that will not fit: the estimate, the limit, what would fit. */
export class MemoryPlanError extends Error {
  constructor(
    readonly plan: MemoryPlan,
    readonly alternatives: PlanAlternative[],
  ) {
    const fitting = alternatives.filter((a) => a.plan.fits);
    const list = (
      fitting.length
        ? fitting
        : alternatives
            .slice()
            .sort((a, b) => a.plan.total - b.plan.total)
            .slice(0, 3)
    )
      .map((a) => `  - ${a.change}: ${GiB(a.plan.total)}`)
      .join("\n");
    super(
      `train: this run needs an estimated ${GiB(plan.total)} but the ${plan.backend} backend can hold ${GiB(plan.limitBytes!)} ` +
        `(${Math.round(HEADROOM * 100)}% of it is planned for; the rest is the allocator's). ${describePlan(plan)}.\n` +
        (fitting.length
          ? `These changes fit:\n${list}`
          : `No single change fits; the smallest estimates:\n${list}\nCombine them, or shorten the sequences.`) +
        `\nPass memoryCheck: false to train() to try anyway.`,
    );
    this.name = "MemoryPlanError";
  }
}

/** Calls `first` with the first value `data` yields, before handing it on. */
export function beforeFirstBatch<T>(data: Iterator<T>, first: (value: T) => unknown): Iterator<T> {
  let seen = false;
  return {
    next(): IteratorResult<T> {
      const r = data.next();
      if (!seen && !r.done) {
        seen = true;
        first(r.value);
      }
      return r;
    },
  };
}

/** train()'s check: throws MemoryPlanError when the run planned from the first batch will not fit. */
export function checkMemory(
  model: unknown,
  opts: { optimizer?: string; gradientAccumulationSteps?: number },
  batch: { shape: readonly number[] },
): void {
  if (!(model instanceof Module)) return; // a bare TrainableModel: nothing to measure it by
  const planOpts: MemoryPlanOptions = {
    batchSize: batch.shape[0],
    seqLen: batch.shape[1],
    optimizer: (opts.optimizer ?? "adamw") as PlannedOptimizer,
    gradientAccumulationSteps: opts.gradientAccumulationSteps ?? 1,
  };
  const plan = memoryPlan(model, planOpts);
  if (!plan.fits) throw new MemoryPlanError(plan, planAlternatives(model, planOpts));
}

/** Paged optimizers page one tensor at a time unless told otherwise: the largest trainable tensor's page. */
export function defaultPageBudget(
  optimizer: string | undefined,
  named: Map<string, { variable: tf.Variable; requiresGrad: boolean }>,
): number | undefined {
  if (!optimizer?.startsWith("paged_")) return undefined;
  const largest = Math.max(0, ...[...named.values()].filter((p) => p.requiresGrad).map((p) => p.variable.size));
  return PAGE_TEMP_BYTES_PER_ELEMENT * largest + 8 * largest + 4096;
}
