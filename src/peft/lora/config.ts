/**
 * LoraConfig: every LoRA field of Hugging Face PEFT (peft.tuners.lora.config.LoraConfig) with its
 * defaults, camelCase here and PEFT's snake_case in adapter_config.json (both accepted as input).
 */
import { ConfigSchema, field, oneOf, type Check, type FieldsOf } from "../../io/index.js";

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
  mistral: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
};

const integerPattern: Check<Record<string, number>> = (p) => {
  const bad = Object.entries(p).find(([, v]) => !Number.isInteger(v) || v <= 0);
  return bad && `["${bad[0]}"] must be a positive integer, got ${bad[1]}`;
};
const numberPattern: Check<Record<string, number>> = (p) => {
  const bad = Object.entries(p).find(([, v]) => !Number.isFinite(v));
  return bad && `["${bad[0]}"] must be a number, got ${bad[1]}`;
};
const layerIndices: Check<number[] | number | undefined> = (v) => {
  const bad = (v === undefined ? [] : ([] as number[]).concat(v)).find((l) => !Number.isInteger(l) || l < 0);
  return bad === undefined ? undefined : `entries must be layer indices >= 0, got ${bad}`;
};
const nonEmptyList: Check<string[] | string | undefined> = (v) =>
  Array.isArray(v) && v.length === 0 ? "is an empty list; name at least one module" : undefined;

const LORA_FIELDS = {
  /** Rank of the update B A. */
  r: field(8, (v) => (Number.isInteger(v) && v > 0 ? undefined : `must be a positive integer, got ${v}`)),
  /** The update is scaled by loraAlpha / r (or / sqrt(r) with useRslora). */
  loraAlpha: field(8, (v) => (typeof v === "number" && Number.isFinite(v) ? undefined : `must be a number, got ${v}`)),
  /** List: exact name or "." + suffix; string: a regex over the whole name; "all-linear"; undefined: the model's default. */
  targetModules: field<string[] | string | undefined>(undefined, nonEmptyList),
  /** Same forms as targetModules; matching modules are left alone. */
  excludeModules: field<string[] | string | undefined>(undefined),
  loraDropout: field(0, (v) => (v >= 0 && v < 1 ? undefined : `must be in [0, 1), got ${v}`)),
  /** The base weight is stored [in, out] (GPT-2's Conv1D). */
  fanInFanOut: field(false),
  /** Which biases train: none, all, or those of adapted layers. */
  bias: field<LoraBias>("none", oneOf<LoraBias>("none", "all", "lora_only")),
  /** Rank-stabilised scaling loraAlpha / sqrt(r). */
  useRslora: field(false),
  /** Modules trained in full and saved with the adapter (a classifier head). */
  modulesToSave: field<string[] | undefined>(undefined),
  /** true: B = 0 (the update starts at zero); "gaussian"; "pissa" (principal singular vectors); false: random B. */
  initLoraWeights: field<LoraInit>(true, oneOf<LoraInit>(true, false, "gaussian", "pissa")),
  /** Only the blocks with these indices are adapted. */
  layersToTransform: field<number[] | number | undefined>(undefined, layerIndices),
  /** Name of the module list holding the blocks ("h", "layers", "block"). */
  layersPattern: field<string[] | string | undefined>(undefined),
  /** Per-module rank, by name pattern. */
  rankPattern: field<Record<string, number>>({}, integerPattern),
  /** Per-module alpha, by name pattern. */
  alphaPattern: field<Record<string, number>>({}, numberPattern),
  /** Weight-decomposed LoRA (magnitude vector + LoRA on the direction). */
  useDora: field(false),
  taskType: field<TaskType | undefined>(undefined, oneOf<TaskType | undefined>(...TASK_TYPES, undefined)),
  /** Not a training field: true once saved or loaded for inference (adapter_config.json's inference_mode). */
  inferenceMode: field(false),
  baseModelNameOrPath: field<string | undefined>(undefined),
  revision: field<string | undefined>(undefined),
};
export type LoraConfigFields = FieldsOf<typeof LORA_FIELDS>;

const SCHEMA = new ConfigSchema(LORA_FIELDS, { owner: "LoraConfig", fixed: ["peftType"] });

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

export interface LoraConfig extends LoraConfigFields {}

export class LoraConfig {
  readonly peftType = "LORA";

  constructor(fields: Partial<LoraConfigFields> = {}) {
    Object.assign(this, SCHEMA.resolve(fields));
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
  }

  /** adapter_config.json as Python PEFT writes it (keys sorted, PEFT's value forms). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...PEFT_ONLY_KEYS, peft_type: "LORA", ...SCHEMA.writeJSON(this) };
    return Object.fromEntries(
      Object.keys(out)
        .sort()
        .map((k) => [k, out[k]]),
    );
  }

  /** Reads adapter_config.json; keys of PEFT features lora-lab lacks must hold their "off" values. */
  static fromJSON(json: Record<string, unknown>): LoraConfig {
    if (json.peft_type !== undefined && json.peft_type !== "LORA") {
      fail(`adapter_config.json has peft_type ${JSON.stringify(json.peft_type)}, expected "LORA"`);
    }
    const unsupported = Object.entries(PEFT_ONLY_KEYS)
      .filter(([k]) => json[k] !== undefined && !offValue(json[k], k))
      .map(([k]) => k);
    if (unsupported.length) fail(`adapter_config.json uses PEFT features lora-lab does not support: ${unsupported.join(", ")}`);
    return new LoraConfig(SCHEMA.readJSON(json, { skipNull: true }));
  }

  /** A copy with some fields changed. */
  with(fields: Partial<LoraConfigFields>): LoraConfig {
    return new LoraConfig({ ...SCHEMA.fieldsOf(this), ...fields });
  }
}

function offValue(v: unknown, key: string): boolean {
  if (v === null || v === false) return true;
  if (key === "megatron_core" || key === "qalora_group_size") return true;
  return typeof v === "object" && Object.keys(v as object).length === 0;
}
