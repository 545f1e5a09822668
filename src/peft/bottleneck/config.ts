/** BottleneckConfig: where bottleneck adapters go and how wide they are. */

export interface BottleneckConfigFields {
  /** Width of the bottleneck. Default 64. */
  bottleneckSize: number;
  /** Module names (PEFT's list rules); default the model's attention and MLP sublayers. */
  targetModules?: string[];
  /** Activation between down and up. Default "relu". */
  activation: string;
  /** Hidden size of the targets' outputs; default the model config's nEmbd, dModel or hiddenSize. */
  hiddenSize?: number;
}

/**
 * Where the adapters go, by model_type: the output projections of attention and MLP, whose output
 * is the sublayer's output (wrapping the projection leaves the attention module's other methods,
 * such as T5's computeBias, untouched). On the LLaMA family that is o_proj and down_proj:
 * LLM-Adapters (the PEFT fork with bottleneck adapters) puts its series adapter after down_proj
 * and its bottleneck ones also on gate_proj and up_proj, whose outputs are intermediate_size wide
 * where these adapters are hidden_size wide.
 */
const LLAMA_TARGETS = ["o_proj", "down_proj"];
export const DEFAULT_BOTTLENECK_TARGETS: Record<string, string[]> = {
  gpt2: ["attn.c_proj", "mlp.c_proj"],
  t5: ["o", "wo"],
  llama: LLAMA_TARGETS,
  qwen2: LLAMA_TARGETS,
  mistral: LLAMA_TARGETS,
  bart: ["out_proj", "fc2"],
};

export interface BottleneckConfig extends BottleneckConfigFields {}

/** The config that makes getPeftModel add bottleneck adapters (PEFT has no such tuner). */
export class BottleneckConfig {
  readonly peftType = "BOTTLENECK";

  constructor(fields: Partial<BottleneckConfigFields> = {}) {
    this.bottleneckSize = fields.bottleneckSize ?? 64;
    this.targetModules = fields.targetModules;
    this.activation = fields.activation ?? "relu";
    this.hiddenSize = fields.hiddenSize;
    const size = this.bottleneckSize;
    if (!Number.isInteger(size) || size <= 0) throw new Error(`bottleneckSize must be a positive integer, got ${size}`);
  }
}
