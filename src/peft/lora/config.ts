/**
 * LoraConfig: every LoRA field of Hugging Face PEFT (peft.tuners.lora.config.LoraConfig) with its
 * defaults, camelCase here and PEFT's snake_case in adapter_config.json.
 */

export const TASK_TYPES = ["SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"] as const;
export type TaskType = (typeof TASK_TYPES)[number];
export type LoraBias = "none" | "all" | "lora_only";
export type LoraInit = boolean | "gaussian" | "pissa";

/** PEFT's per-architecture defaults (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING), keyed by model_type. */
export const DEFAULT_LORA_TARGET_MODULES: Record<string, string[]> = {
  gpt2: ["c_attn"],
  t5: ["q", "v"],
  mt5: ["q", "v"],
  bart: ["q_proj", "v_proj"],
  gpt_neox: ["query_key_value"],
  llama: ["q_proj", "v_proj"],
};

export interface LoraConfigFields {
  r: number;
  loraAlpha: number;
  /** List: exact name or "." + suffix; string: a regex over the whole name; "all-linear"; undefined: the model's default. */
  targetModules?: string[] | string;
  excludeModules?: string[] | string;
  loraDropout: number;
  fanInFanOut: boolean;
  bias: LoraBias;
  useRslora: boolean;
  modulesToSave?: string[];
  initLoraWeights: LoraInit;
  layersToTransform?: number[] | number;
  layersPattern?: string[] | string;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  useDora: boolean;
  taskType?: TaskType;
  /** Not a training field: true once saved or loaded for inference (adapter_config.json's inference_mode). */
  inferenceMode: boolean;
  baseModelNameOrPath?: string;
  revision?: string;
}

const DEFAULTS: LoraConfigFields = {
  r: 8,
  loraAlpha: 8,
  loraDropout: 0,
  fanInFanOut: false,
  bias: "none",
  useRslora: false,
  initLoraWeights: true,
  rankPattern: {},
  alphaPattern: {},
  useDora: false,
  inferenceMode: false,
};

/** camelCase field -> adapter_config.json key. */
const SNAKE: Record<keyof LoraConfigFields, string> = {
  r: "r",
  loraAlpha: "lora_alpha",
  targetModules: "target_modules",
  excludeModules: "exclude_modules",
  loraDropout: "lora_dropout",
  fanInFanOut: "fan_in_fan_out",
  bias: "bias",
  useRslora: "use_rslora",
  modulesToSave: "modules_to_save",
  initLoraWeights: "init_lora_weights",
  layersToTransform: "layers_to_transform",
  layersPattern: "layers_pattern",
  rankPattern: "rank_pattern",
  alphaPattern: "alpha_pattern",
  useDora: "use_dora",
  taskType: "task_type",
  inferenceMode: "inference_mode",
  baseModelNameOrPath: "base_model_name_or_path",
  revision: "revision",
};

/** Keys PEFT writes for features lora-lab does not have, with the values that mean "off". */
const PEFT_ONLY_KEYS: Record<string, unknown> = {
  auto_mapping: null,
  corda_config: null,
  eva_config: null,
  layer_replication: null,
  loftq_config: {},
  lora_bias: false,
  megatron_config: null,
  megatron_core: "megatron.core",
  qalora_group_size: 16,
  target_parameters: null,
  trainable_token_indices: null,
  use_qalora: false,
};

function fail(msg: string): never {
  throw new Error(`LoraConfig: ${msg}`);
}

export class LoraConfig implements LoraConfigFields {
  readonly peftType = "LORA";
  r!: number;
  loraAlpha!: number;
  targetModules?: string[] | string;
  excludeModules?: string[] | string;
  loraDropout!: number;
  fanInFanOut!: boolean;
  bias!: LoraBias;
  useRslora!: boolean;
  modulesToSave?: string[];
  initLoraWeights!: LoraInit;
  layersToTransform?: number[] | number;
  layersPattern?: string[] | string;
  rankPattern!: Record<string, number>;
  alphaPattern!: Record<string, number>;
  useDora!: boolean;
  taskType?: TaskType;
  inferenceMode!: boolean;
  baseModelNameOrPath?: string;
  revision?: string;

  constructor(fields: Partial<LoraConfigFields> = {}) {
    const unknown = Object.keys(fields).filter((k) => !(k in SNAKE) && k !== "peftType");
    if (unknown.length) fail(`unknown field(s) ${unknown.join(", ")}; known: ${Object.keys(SNAKE).join(", ")}`);
    const defined = Object.fromEntries(Object.entries(fields).filter(([k, v]) => v !== undefined && k !== "peftType"));
    Object.assign(this, DEFAULTS, { rankPattern: {}, alphaPattern: {} }, defined);
    this.validate();
  }

  private validate(): void {
    if (!Number.isInteger(this.r) || this.r <= 0) fail(`r must be a positive integer, got ${this.r}`);
    if (!(typeof this.loraAlpha === "number" && Number.isFinite(this.loraAlpha))) fail(`loraAlpha must be a number, got ${this.loraAlpha}`);
    if (!(this.loraDropout >= 0 && this.loraDropout < 1)) fail(`loraDropout must be in [0, 1), got ${this.loraDropout}`);
    if (!["none", "all", "lora_only"].includes(this.bias)) fail(`bias must be "none", "all" or "lora_only", got ${JSON.stringify(this.bias)}`);
    if (![true, false, "gaussian", "pissa"].includes(this.initLoraWeights)) {
      fail(`initLoraWeights must be true, false, "gaussian" or "pissa", got ${JSON.stringify(this.initLoraWeights)}`);
    }
    if (this.taskType !== undefined && !TASK_TYPES.includes(this.taskType)) {
      fail(`unknown taskType ${JSON.stringify(this.taskType)}; available: ${TASK_TYPES.join(", ")}`);
    }
    if (Array.isArray(this.targetModules) && this.targetModules.length === 0) fail("targetModules is an empty list; name at least one module");
    // PEFT's __post_init__ checks, in its words.
    if (typeof this.targetModules === "string" && this.layersToTransform !== undefined) {
      fail("layersToTransform cannot be used when targetModules is a str (a regex); give a list of module names");
    }
    if (typeof this.targetModules === "string" && this.layersPattern !== undefined) {
      fail("layersPattern cannot be used when targetModules is a str (a regex); give a list of module names");
    }
    if (this.layersPattern !== undefined && this.layersToTransform === undefined) {
      fail("when layersPattern is specified, layersToTransform must also be specified");
    }
    const layers = this.layersToTransform === undefined ? [] : ([] as number[]).concat(this.layersToTransform);
    for (const l of layers) if (!Number.isInteger(l) || l < 0) fail(`layersToTransform entries must be layer indices >= 0, got ${l}`);
    for (const [what, pattern] of [["rankPattern", this.rankPattern], ["alphaPattern", this.alphaPattern]] as const) {
      for (const [k, v] of Object.entries(pattern)) {
        if (what === "rankPattern" && (!Number.isInteger(v) || v <= 0)) fail(`rankPattern["${k}"] must be a positive integer, got ${v}`);
        if (what === "alphaPattern" && !Number.isFinite(v)) fail(`alphaPattern["${k}"] must be a number, got ${v}`);
      }
    }
  }

  /** adapter_config.json as Python PEFT writes it (keys sorted, PEFT's value forms). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...PEFT_ONLY_KEYS, peft_type: "LORA" };
    const self = this as unknown as Record<string, unknown>;
    for (const [camel, snake] of Object.entries(SNAKE)) out[snake] = self[camel] ?? null;
    out.inference_mode = this.inferenceMode;
    return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
  }

  /** Reads adapter_config.json; keys of PEFT features lora-lab lacks must hold their "off" values. */
  static fromJSON(json: Record<string, unknown>): LoraConfig {
    if (json.peft_type !== undefined && json.peft_type !== "LORA") {
      fail(`adapter_config.json has peft_type ${JSON.stringify(json.peft_type)}, expected "LORA"`);
    }
    const unsupported = Object.entries(PEFT_ONLY_KEYS).filter(([k]) => json[k] !== undefined && !offValue(json[k], k)).map(([k]) => k);
    if (unsupported.length) fail(`adapter_config.json uses PEFT features lora-lab does not support: ${unsupported.join(", ")}`);
    const fields: Record<string, unknown> = {};
    for (const [camel, snake] of Object.entries(SNAKE)) if (json[snake] !== undefined && json[snake] !== null) fields[camel] = json[snake];
    return new LoraConfig(fields as Partial<LoraConfigFields>);
  }

  /** A copy with some fields changed. */
  with(fields: Partial<LoraConfigFields>): LoraConfig {
    const own: Record<string, unknown> = {};
    for (const k of Object.keys(SNAKE)) own[k] = (this as unknown as Record<string, unknown>)[k];
    return new LoraConfig({ ...(own as Partial<LoraConfigFields>), ...fields });
  }
}

function offValue(v: unknown, key: string): boolean {
  if (v === null || v === false) return true;
  if (key === "megatron_core" || key === "qalora_group_size") return true;
  return typeof v === "object" && Object.keys(v as object).length === 0;
}
