import { ACTIVATIONS } from "../nn/index.js";
import { ConfigSchema, field, nullOr, oneOf, positive, positiveInt, probability, type Check, type FieldsOf } from "../io/index.js";
import { PretrainedConfig } from "./config_base.js";

/** The config.json model types that share LLaMA's architecture. */
export const LLAMA_MODEL_TYPES = ["llama", "qwen2", "mistral"] as const;
export type LlamaModelType = (typeof LLAMA_MODEL_TYPES)[number];

/**
 * config.json's `rope_scaling`, kept as written (snake_case keys). "linear" divides every
 * frequency by `factor`; "llama3" (Llama 3.1) divides only the low frequencies, with a smooth
 * ramp between `low_freq_factor` and `high_freq_factor` of `original_max_position_embeddings`.
 */
export interface RopeScaling {
  /** "default", "linear" or "llama3"; older files write it as `type`. */
  rope_type?: string;
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  [key: string]: unknown;
}

/** The RoPE variants lora-lab computes, and the numbers each needs. */
export const ROPE_TYPES: Record<string, string[]> = {
  default: [],
  linear: ["factor"],
  llama3: ["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"],
};

export function ropeTypeOf(scaling: RopeScaling | null): string {
  return scaling === null ? "default" : String(scaling.rope_type ?? scaling.type ?? "default");
}

const ropeScalingCheck: Check<RopeScaling | null> = (v) => {
  if (v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v))
    return `must be null or an object like {"rope_type": "linear", "factor": 2}, got ${JSON.stringify(v)}`;
  const type = ropeTypeOf(v);
  const needs = ROPE_TYPES[type];
  if (!needs) return `has rope_type "${type}", which lora-lab does not compute; supported: ${Object.keys(ROPE_TYPES).join(", ")}`;
  const bad = needs.filter((k) => !(typeof v[k] === "number" && (v[k] as number) > 0));
  return bad.length ? `("${type}") needs positive numbers ${bad.join(", ")}, got ${JSON.stringify(v)}` : undefined;
};

const tokenIds: Check<number | number[] | null> = (v) =>
  v === null || (Number.isInteger(v) && (v as number) >= 0) || (Array.isArray(v) && v.every((t) => Number.isInteger(t) && t >= 0))
    ? undefined
    : `must be a token id, a list of them or null, got ${JSON.stringify(v)}`;
const tokenId = tokenIds as Check<number | null>;

/**
 * LLaMA's fields under transformers' config.json names; defaults are LlamaConfig's. Qwen2 and
 * Mistral change some defaults (TYPE_DEFAULTS) and lack some keys (ABSENT_KEYS).
 */
const LLAMA_FIELDS = {
  /** "llama", "qwen2" or "mistral": same blocks; qwen2 has q/k/v biases, mistral a sliding window. */
  modelType: field<LlamaModelType>("llama", oneOf<LlamaModelType>(...LLAMA_MODEL_TYPES)),
  vocabSize: field(32000, positiveInt),
  /** Width of the residual stream. */
  hiddenSize: field(4096, positiveInt),
  /** Width of the SwiGLU MLP (gate_proj and up_proj outputs). */
  intermediateSize: field(11008, positiveInt),
  numHiddenLayers: field(32, positiveInt),
  /** Query heads. */
  numAttentionHeads: field(32, positiveInt),
  /** Key/value heads, shared by groups of query heads (grouped-query attention); null means numAttentionHeads. */
  numKeyValueHeads: field<number | null>(null, nullOr(positiveInt)),
  /** Width of one head; null means hiddenSize / numAttentionHeads. */
  headDim: field<number | null>(null, nullOr(positiveInt)),
  hiddenAct: field("silu"),
  /** Positions the model was trained on (RoPE itself has no table to run out of). */
  maxPositionEmbeddings: field(2048, positiveInt),
  /** Std of the normal initialisers. */
  initializerRange: field(0.02),
  rmsNormEps: field(1e-6, positive),
  /** Base of RoPE's wavelengths. */
  ropeTheta: field(10000, positive),
  ropeScaling: field<RopeScaling | null>(null, ropeScalingCheck),
  /** Biases on q, k, v and o_proj (llama); qwen2 always has them on q, k, v and never on o. */
  attentionBias: field(false),
  attentionDropout: field(0, probability),
  /** Biases on gate, up and down_proj. */
  mlpBias: field(false),
  /** The LM head shares the token embedding's weight. */
  tieWordEmbeddings: field(false),
  bosTokenId: field<number | null>(1, tokenId),
  /** One id or a list (Llama 3 stops on several). */
  eosTokenId: field<number | number[] | null>(2, tokenIds),
  padTokenId: field<number | null>(null, tokenId),
  /** Keys further back than this are not attended to (mistral; qwen2 when useSlidingWindow). */
  slidingWindow: field<number | null>(null, nullOr(positiveInt)),
  /** qwen2: whether the sliding window is on, for layers from maxWindowLayers up. */
  useSlidingWindow: field(false),
  maxWindowLayers: field(28, positiveInt),
};
export type LlamaConfigFields = FieldsOf<typeof LLAMA_FIELDS>;
type Field = keyof LlamaConfigFields;

/** transformers' defaults where Qwen2Config and MistralConfig differ from LlamaConfig. */
const TYPE_DEFAULTS: Record<LlamaModelType, Partial<LlamaConfigFields>> = {
  llama: {},
  qwen2: {
    vocabSize: 151936,
    intermediateSize: 22016,
    maxPositionEmbeddings: 32768,
    bosTokenId: null,
    eosTokenId: null,
    slidingWindow: 4096,
  },
  mistral: { intermediateSize: 14336, numKeyValueHeads: 8, maxPositionEmbeddings: 4096 * 32, slidingWindow: 4096 },
};

/** Keys a model type's config.json does not have (toJSON leaves them out). */
const ABSENT_KEYS: Record<LlamaModelType, Field[]> = {
  llama: ["slidingWindow", "useSlidingWindow", "maxWindowLayers"],
  qwen2: ["attentionBias", "mlpBias", "headDim"],
  mistral: ["attentionBias", "mlpBias", "useSlidingWindow", "maxWindowLayers"],
};

const ARCHITECTURE_NAMES: Record<LlamaModelType, string> = {
  llama: "LlamaForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  mistral: "MistralForCausalLM",
};

// A byte vocabulary, no special ids: small models for tests and notebooks.
const BYTE_MODEL = { vocabSize: 256, bosTokenId: null, eosTokenId: null, tieWordEmbeddings: true };

/** Published shapes (each checkpoint's config.json); "tiny" is lora-lab's own. */
export const LLAMA_PRESETS: Record<string, Partial<LlamaConfigFields>> = {
  tiny: {
    ...BYTE_MODEL,
    hiddenSize: 128,
    intermediateSize: 320,
    numHiddenLayers: 4,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    maxPositionEmbeddings: 256,
    rmsNormEps: 1e-5,
  },
  // HuggingFaceTB/SmolLM2-135M: 134,515,008 parameters.
  "smollm2-135m": {
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numHiddenLayers: 30,
    numAttentionHeads: 9,
    numKeyValueHeads: 3,
    maxPositionEmbeddings: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 100000,
    tieWordEmbeddings: true,
    bosTokenId: 0,
    eosTokenId: 0,
    initializerRange: 0.041666666666666664,
  },
  // HuggingFaceTB/SmolLM2-360M: 361,821,120 parameters.
  "smollm2-360m": {
    vocabSize: 49152,
    hiddenSize: 960,
    intermediateSize: 2560,
    numHiddenLayers: 32,
    numAttentionHeads: 15,
    numKeyValueHeads: 5,
    maxPositionEmbeddings: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 100000,
    tieWordEmbeddings: true,
    bosTokenId: 0,
    eosTokenId: 0,
  },
  // Qwen/Qwen2.5-0.5B: 494,032,768 parameters.
  "qwen2.5-0.5b": {
    modelType: "qwen2",
    vocabSize: 151936,
    hiddenSize: 896,
    intermediateSize: 4864,
    numHiddenLayers: 24,
    numAttentionHeads: 14,
    numKeyValueHeads: 2,
    maxPositionEmbeddings: 32768,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    tieWordEmbeddings: true,
    bosTokenId: 151643,
    eosTokenId: 151643,
    slidingWindow: 32768,
    maxWindowLayers: 24,
  },
  // TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T: 1,100,048,384 parameters (untied head).
  "tinyllama-1.1b": {
    vocabSize: 32000,
    hiddenSize: 2048,
    intermediateSize: 5632,
    numHiddenLayers: 22,
    numAttentionHeads: 32,
    numKeyValueHeads: 4,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-5,
  },
};

export interface LlamaConfig extends Omit<LlamaConfigFields, "numKeyValueHeads" | "headDim"> {}

/**
 * LLaMA-family hyper-parameters (transformers' LlamaConfig, Qwen2Config, MistralConfig in one
 * class: `modelType` picks the defaults and the config.json written back). Presets: "tiny",
 * "smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "tinyllama-1.1b".
 */
export class LlamaConfig extends PretrainedConfig {
  static readonly schema = new ConfigSchema(LLAMA_FIELDS, { owner: "LlamaConfig" });
  static readonly presets = LLAMA_PRESETS;
  static readonly family = "LLaMA";
  static readonly modelType = "llama";
  static readonly jsonHeader = { architectures: [ARCHITECTURE_NAMES.llama] };
  /** Resolved from null: numAttentionHeads. */
  declare numKeyValueHeads: number;
  /** Resolved from null: hiddenSize / numAttentionHeads. */
  declare headDim: number;

  constructor(fields: Partial<LlamaConfigFields> = {}) {
    super();
    const schema = LlamaConfig.schema;
    const given = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, unknown>;
    const type = (given.modelType ?? given.model_type ?? "llama") as LlamaModelType;
    // The model type's own defaults, for fields given under neither name.
    const typeDefaults = Object.entries(TYPE_DEFAULTS[type] ?? {}).filter(
      ([k]) => given[k] === undefined && given[schema.jsonKeys[k as Field]] === undefined,
    );
    Object.assign(this, schema.resolve({ ...Object.fromEntries(typeDefaults), ...given }));
    const { hiddenSize, numAttentionHeads: nh } = this;
    if (this.headDim === null) {
      if (hiddenSize % nh !== 0)
        throw new Error(`LlamaConfig: hiddenSize (${hiddenSize}) must be divisible by numAttentionHeads (${nh}), or give headDim`);
      this.headDim = hiddenSize / nh;
    }
    this.numKeyValueHeads ??= nh;
    if (nh % this.numKeyValueHeads !== 0) {
      throw new Error(`LlamaConfig: numAttentionHeads (${nh}) must be a multiple of numKeyValueHeads (${this.numKeyValueHeads})`);
    }
    if (this.headDim % 2 !== 0) throw new Error(`LlamaConfig: headDim must be even for RoPE's rotated halves, got ${this.headDim}`);
    if (!(this.hiddenAct in ACTIVATIONS))
      throw new Error(`LlamaConfig.hiddenAct "${this.hiddenAct}" is unknown; available: ${Object.keys(ACTIVATIONS).join(", ")}`);
  }

  /** Reads config.json of model_type "llama", "qwen2" or "mistral"; keys the family does not use are ignored. */
  static override fromJSON<C, F>(this: unknown, json: Record<string, unknown>): C {
    const type = json.model_type ?? "llama";
    if (!LLAMA_MODEL_TYPES.includes(type as LlamaModelType)) {
      throw new Error(`config.json has model_type "${String(type)}", expected one of ${LLAMA_MODEL_TYPES.join(", ")}`);
    }
    return new LlamaConfig(LlamaConfig.schema.readJSON({ ...json, model_type: type }) as Partial<LlamaConfigFields>) as C;
  }

  /** config.json as transformers writes it for this model type. */
  override toJSON(): Record<string, unknown> {
    const json = LlamaConfig.schema.writeJSON(this);
    for (const k of ABSENT_KEYS[this.modelType]) delete json[LlamaConfig.schema.jsonKeys[k]];
    return { architectures: [ARCHITECTURE_NAMES[this.modelType]], ...json };
  }

  /** Query heads per key/value head. */
  get numKeyValueGroups(): number {
    return this.numAttentionHeads / this.numKeyValueHeads;
  }

  /** qwen2 has q/k/v biases whatever attention_bias says (transformers' Qwen2Attention hard-codes them). */
  get qkvBias(): boolean {
    return this.modelType === "qwen2" || this.attentionBias;
  }

  get oBias(): boolean {
    return this.modelType !== "qwen2" && this.attentionBias;
  }

  /** The sliding window of layer `i`, or null when it attends to every earlier position. */
  slidingWindowOf(i: number): number | null {
    if (this.modelType === "mistral") return this.slidingWindow;
    if (this.modelType === "qwen2" && this.useSlidingWindow && i >= this.maxWindowLayers) return this.slidingWindow;
    return null;
  }
}
