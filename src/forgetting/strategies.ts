/**
 * Fine-tuning strategies for the forgetting experiment, one line each to declare:
 * `strategies.loraQV({ r: 8, replay: { fraction: 0.25 } })`. A strategy turns a fresh copy of the
 * base into the model to train (wrapping, freezing) and says how to train it (peak LR, schedule);
 * mitigations (replay, EWC, L2-SP) compose with any of them.
 */
import type { GPT2LMHeadModel, LlamaForCausalLM } from "../models/index.js";
import { layerIndexOf, type Module } from "../nn/index.js";
import type { ParamGroupSpec, SchedulerName } from "../optim/index.js";
import {
  applyPlan,
  articlePlan as articleLayerPlan,
  BottleneckConfig,
  countLayers,
  getPeftModel,
  LoraConfig,
  PrefixTuningConfig,
  type ArticlePlanOptions,
} from "../peft/index.js";
import { quantizeModel, type QuantType } from "../quant/index.js";
import type { TrainableModel } from "../train/index.js";

/**
 * A base the lab fine-tunes: a causal LM of any family it knows (GPT-2; LLaMA, Qwen2, Mistral),
 * built as `new Model(config)`. Encoder-decoders (T5, BART) are not: the lab's data are
 * next-token windows and its strategies name decoder-only modules.
 */
export type CausalLMBase = GPT2LMHeadModel | LlamaForCausalLM;

/** The model a strategy trains: a trainer model, a module tree, and for adapters a switch back to the base. */
export type StrategyModel = TrainableModel & Module & { disableAdapter?<T>(fn: () => T): T; getNbTrainableParameters?(): [number, number] };

export interface PreparedStrategy {
  model: StrategyModel;
  paramGroups?: ParamGroupSpec[];
  /** Weight updates are low-rank adapters (rank inspection reads B·A) rather than in-place changes. */
  lowRankUpdates: boolean;
}

export interface Mitigations {
  /** Share of each batch replaced by general-text windows (withReplay). */
  replay?: { fraction: number; seed?: number };
  /** EWC: diagonal Fisher of the starting model on `fisherBatches` general batches (default 8). */
  ewc?: { strength: number; fisherBatches?: number };
  /** L2-SP: pull toward the starting weights. */
  l2sp?: { strength: number };
}

export interface Strategy {
  name: string;
  /** One line for tables: what trains and how. */
  description: string;
  lr: number;
  scheduler: SchedulerName;
  warmupRatio: number;
  weightDecay: number;
  mitigations: Mitigations;
  /** Turns a fresh copy of the base (owned by the strategy from here on) into the model to train. */
  prepare(base: CausalLMBase): PreparedStrategy;
}

export interface StrategyOptions extends Mitigations {
  /** Peak learning rate. Default 3e-3 (the demo's "high" rate, the pretraining peak). */
  lr?: number;
  /** Overrides the displayed name. */
  name?: string;
  /** Warmup share of the steps for cosine strategies. Default 0.1. */
  warmupRatio?: number;
  weightDecay?: number;
}

export interface LoraStrategyOptions extends StrategyOptions {
  r?: number;
  loraAlpha?: number;
}

const DEFAULT_LR = 3e-3;

function mitigationSuffix(m: Mitigations): string {
  const parts: string[] = [];
  if (m.replay) parts.push(`replay ${m.replay.fraction}`);
  if (m.ewc) parts.push(`EWC ${m.ewc.strength}`);
  if (m.l2sp) parts.push(`L2-SP ${m.l2sp.strength}`);
  return parts.length ? ` + ${parts.join(" + ")}` : "";
}

function make(
  defaults: { name: string; description: string; scheduler: SchedulerName },
  opts: StrategyOptions,
  prepare: (base: CausalLMBase) => PreparedStrategy,
): Strategy {
  const mitigations: Mitigations = { replay: opts.replay, ewc: opts.ewc, l2sp: opts.l2sp };
  const cosine = defaults.scheduler === "cosine";
  return {
    name: opts.name ?? defaults.name + mitigationSuffix(mitigations),
    description: defaults.description,
    lr: opts.lr ?? DEFAULT_LR,
    scheduler: defaults.scheduler,
    warmupRatio: cosine ? (opts.warmupRatio ?? 0.1) : 0,
    weightDecay: opts.weightDecay ?? 0,
    mitigations,
    prepare,
  };
}

const full = (model: CausalLMBase): PreparedStrategy => ({ model: model as StrategyModel, lowRankUpdates: false });

/** GPT-2 fuses Q, K, V in one Conv1D (c_attn); the LLaMA family has q_proj, k_proj, v_proj Linears. */
const isGpt2 = (model: CausalLMBase): model is GPT2LMHeadModel => model.config.modelType === "gpt2";

/** The final norm, which trains with the upper blocks: GPT-2's ln_f, LLaMA's model.norm. */
const finalNorm = (model: CausalLMBase): string => (isGpt2(model) ? "transformer.ln_f." : "model.norm.");

/**
 * LoRA on the attention projections: `heads` "qv" (the article's Q, V placement: c_attn's Q and V
 * blocks on GPT-2, q_proj and v_proj on LLaMA) or "qkv" (all of c_attn, or q_proj, k_proj,
 * v_proj), or on every linear layer ("all-linear").
 */
function loraOn(model: CausalLMBase, targets: "qv" | "qkv" | "all-linear", opts: LoraStrategyOptions): PreparedStrategy {
  const r = opts.r ?? 8;
  const gpt2 = isGpt2(model);
  const projections = { qv: ["q_proj", "v_proj"], qkv: ["q_proj", "k_proj", "v_proj"] };
  const targetModules = targets === "all-linear" ? targets : gpt2 ? ["c_attn"] : projections[targets];
  // GPT-2's projections are Conv1D ([in, out] weights): say so, rather than have PEFT's warning correct it.
  const config = new LoraConfig({ r, loraAlpha: opts.loraAlpha ?? 2 * r, targetModules, loraDropout: 0, fanInFanOut: gpt2 });
  return {
    model: getPeftModel(model, config, "default", gpt2 && targets === "qv" ? { fusedQkv: ["q", "v"] } : {}) as unknown as StrategyModel,
    lowRankUpdates: true,
  };
}

/** Every layer trains at a constant LR: the naive baseline the article warns about. */
export function fullNaive(opts: StrategyOptions = {}): Strategy {
  return make({ name: "full, constant LR", description: "every weight, constant LR", scheduler: "constant" }, opts, full);
}

/** Every layer trains, 10% linear warmup then cosine decay to 0 at the same peak LR. */
export function fullCosine(opts: StrategyOptions = {}): Strategy {
  return make({ name: "full, warmup+cosine", description: "every weight, warmup + cosine", scheduler: "cosine" }, opts, full);
}

/** Embeddings and the lower `frozenLayers` blocks (default half) frozen; upper blocks and the final norm train in place. */
export function freezeLower(opts: StrategyOptions & { frozenLayers?: number } = {}): Strategy {
  return make(
    { name: "freeze lower half", description: "embeddings + lower blocks frozen, upper blocks full, warmup + cosine", scheduler: "cosine" },
    opts,
    (model) => {
      const L = countLayers(model);
      const frozen = opts.frozenLayers ?? Math.floor(L / 2);
      if (!(frozen >= 0 && frozen < L))
        throw new Error(`freezeLower: frozenLayers must be in [0, ${L - 1}] for a ${L}-layer model, got ${frozen}`);
      model.requiresGrad(false);
      const norm = finalNorm(model);
      for (const [name, p] of model.namedParameters()) {
        const layer = layerIndexOf(name);
        if ((layer !== undefined && layer >= frozen) || name.startsWith(norm)) p.requiresGrad = true;
      }
      return { model: model as StrategyModel, lowRankUpdates: false };
    },
  );
}

/** LoRA on Q and V in every layer (the article's placement): the Q and V blocks of GPT-2's fused c_attn, LLaMA's q_proj and v_proj. */
export function loraQV(opts: LoraStrategyOptions = {}): Strategy {
  const r = opts.r ?? 8;
  return make(
    {
      name: `LoRA Q,V r${r}`,
      description: `LoRA r ${r} on Q and V (c_attn's Q, V blocks or q_proj, v_proj), warmup + cosine`,
      scheduler: "cosine",
    },
    opts,
    (m) => loraOn(m, "qv", opts),
  );
}

/** LoRA on every Linear / Conv1D but the LM head (PEFT's "all-linear"). */
export function loraAllLinear(opts: LoraStrategyOptions = {}): Strategy {
  const r = opts.r ?? 8;
  return make(
    { name: `LoRA all-linear r${r}`, description: `LoRA r ${r} on every linear layer, warmup + cosine`, scheduler: "cosine" },
    opts,
    (m) => loraOn(m, "all-linear", opts),
  );
}

/** The article's GPT layer plan: lower half frozen, middle and upper LoRA, LM head trainable. */
export function articlePlan(opts: StrategyOptions & { plan?: ArticlePlanOptions } = {}): Strategy {
  return make(
    { name: "article plan", description: "lower frozen, middle LoRA r8, upper LoRA r16, head full, warmup + cosine", scheduler: "cosine" },
    opts,
    (model) => {
      const applied = applyPlan(model, articleLayerPlan(model, opts.plan));
      return { model: applied.model as unknown as StrategyModel, paramGroups: applied.paramGroups, lowRankUpdates: true };
    },
  );
}

/**
 * QLoRA: every linear layer but lm_head stored in 4 bits (NF4, double quantization), LoRA on Q, K
 * and V on top: one LoRA over GPT-2's whole fused c_attn (PEFT's form, what QLoRA on GPT-2 trains:
 * a 4-bit c_attn has no Q / V column split), LLaMA's q_proj, k_proj, v_proj.
 */
export function qlora(opts: LoraStrategyOptions & { quantType?: QuantType } = {}): Strategy {
  const r = opts.r ?? 8;
  const quantType = opts.quantType ?? "nf4";
  return make(
    {
      name: `QLoRA c_attn r${r}`,
      description: `${quantType.toUpperCase()} 4-bit base + LoRA r ${r} on Q,K,V (c_attn or q/k/v_proj), warmup + cosine`,
      scheduler: "cosine",
    },
    opts,
    (model) => {
      quantizeModel(model, { quantType, doubleQuant: true });
      return loraOn(model, "qkv", opts);
    },
  );
}

/** Houlsby-style bottleneck adapters after attention and MLP sublayers. */
export function bottleneck(opts: StrategyOptions & { bottleneckSize?: number } = {}): Strategy {
  const size = opts.bottleneckSize ?? 16;
  return make(
    { name: `bottleneck ${size}`, description: `bottleneck adapters of width ${size}, warmup + cosine`, scheduler: "cosine" },
    opts,
    (model) => ({
      model: getPeftModel(model, new BottleneckConfig({ bottleneckSize: size })) as unknown as StrategyModel,
      lowRankUpdates: false,
    }),
  );
}

/** Prefix tuning: learned key / value positions in every attention layer. */
export function prefix(opts: StrategyOptions & { numVirtualTokens?: number } = {}): Strategy {
  const P = opts.numVirtualTokens ?? 8;
  return make(
    { name: `prefix ${P}`, description: `prefix tuning, ${P} virtual tokens per layer, warmup + cosine`, scheduler: "cosine" },
    opts,
    (model) => ({
      model: getPeftModel(model, new PrefixTuningConfig({ numVirtualTokens: P })) as unknown as StrategyModel,
      lowRankUpdates: false,
    }),
  );
}

/** The strategies by short key, for command lines (`--strategies naive,cosine,lora`). */
export const STRATEGY_KEYS = {
  naive: fullNaive,
  cosine: fullCosine,
  "freeze-lower": freezeLower,
  lora: loraQV,
  "lora-all": loraAllLinear,
  article: articlePlan,
  qlora,
  bottleneck,
  prefix,
} as const satisfies Record<string, (opts?: StrategyOptions) => Strategy>;

export type StrategyKey = keyof typeof STRATEGY_KEYS;

/** Strategies from short keys; the error lists the keys that exist. */
/** The keys whose strategy trains added parameters (adapters, prefixes) rather than the base's own weights. */
export const ADAPTER_STRATEGY_KEYS: readonly string[] = ["lora", "lora-all", "article", "qlora", "bottleneck", "prefix"];

/**
 * Strategies by key. `adapterLr`, when given, is the peak LR of the adapter strategies
 * (ADAPTER_STRATEGY_KEYS): freshly initialised low-rank or bottleneck weights are usually trained
 * at a several times higher LR than the pretrained weights themselves (PEFT's examples: 1e-4 full
 * vs 1e-3 LoRA).
 */
export function strategiesFromKeys(keys: readonly string[], opts: StrategyOptions & { adapterLr?: number } = {}): Strategy[] {
  const { adapterLr, ...common } = opts;
  return keys.map((k) => {
    const factory = (STRATEGY_KEYS as Record<string, (o?: StrategyOptions) => Strategy>)[k];
    if (!factory) throw new Error(`unknown strategy "${k}"; available: ${Object.keys(STRATEGY_KEYS).join(", ")}`);
    return factory(adapterLr !== undefined && ADAPTER_STRATEGY_KEYS.includes(k) ? { ...common, lr: adapterLr } : common);
  });
}

export const strategies = { fullNaive, fullCosine, freezeLower, loraQV, loraAllLinear, articlePlan, qlora, bottleneck, prefix };
