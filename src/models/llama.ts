import * as tf from "@tensorflow/tfjs";
import { Embedding, Linear, Module, ModuleList, RMSNorm, activation, crossEntropy, lmHead } from "../nn/index.js";
import { LlamaConfig } from "./llama_config.js";
import { LlamaAttention, type AttentionContext } from "./llama_attention.js";
import { RopeTables, ropeInverseFrequencies } from "./rope.js";
import { attentionMaskTensor, toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { generateCausal } from "./causal_generate.js";
import type { GenerateOptions } from "./generation.js";

export interface LlamaForwardOptions {
  /** 1 for real tokens, 0 for padding, [B, T]: padded keys get no attention. All ones when omitted. */
  attentionMask?: TokenInput;
}

/** SwiGLU: down_proj(act(gate_proj(x)) * up_proj(x)). */
export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(readonly config: LlamaConfig) {
    super();
    const { hiddenSize: C, intermediateSize: I, mlpBias: bias, initializerRange: initStd } = config;
    this.gate_proj = this.registerModule("gate_proj", new Linear(C, I, { bias, initStd }));
    this.up_proj = this.registerModule("up_proj", new Linear(C, I, { bias, initStd }));
    this.down_proj = this.registerModule("down_proj", new Linear(I, C, { bias, initStd }));
    this.act = activation(config.hiddenAct);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.down_proj.forward(this.act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x))));
  }
}

/** One pre-RMSNorm block: x + attn(norm(x)), then + mlp(norm(x)). */
export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(config: LlamaConfig, layerIdx: number) {
    super();
    this.self_attn = this.registerModule("self_attn", new LlamaAttention(config, layerIdx));
    this.mlp = this.registerModule("mlp", new LlamaMLP(config));
    this.input_layernorm = this.registerModule("input_layernorm", new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.post_attention_layernorm = this.registerModule("post_attention_layernorm", new RMSNorm(config.hiddenSize, config.rmsNormEps));
  }

  forward(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    return tf.tidy(() => {
      const h = x.add(this.self_attn.forward(this.input_layernorm.forward(x), ctx));
      return h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)));
    });
  }
}

/** The trunk: token embedding, decoder layers, final RMSNorm (transformers' LlamaModel). */
export class LlamaModel extends Module {
  embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  private readonly rope: RopeTables;

  constructor(readonly config: LlamaConfig) {
    super();
    this.embed_tokens = this.registerModule(
      "embed_tokens",
      new Embedding(config.vocabSize, config.hiddenSize, { initStd: config.initializerRange }),
    );
    this.layers = this.registerModule(
      "layers",
      new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i))),
    );
    this.norm = this.registerModule("norm", new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.rope = new RopeTables(ropeInverseFrequencies(config));
  }

  /** Hidden states [B, T, C] for int32 ids [B, T]; `mask` [B, T] is 1 for tokens, 0 for padding. */
  forward(ids: tf.Tensor2D, mask: tf.Tensor2D | null = null): tf.Tensor {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      // Positions are 0..T-1 whatever the padding, as transformers' forward without position_ids.
      const { cos, sin } = this.rope.tables(T);
      const padding = mask ? tf.sub(1, mask.toFloat()).mul(-1e9).reshape([B, 1, 1, T]) : null; // [B, 1, 1, T]
      const ctx: AttentionContext = { cos, sin, rotateHalf: this.rope.rotateHalf(), padding };
      let x = this.embed_tokens.forward(ids); // [B, T, C]
      for (const layer of this.layers) x = layer.forward(x, ctx);
      return this.norm.forward(x);
    });
  }
}

/** LLaMA (and Qwen2, Mistral) with its language-model head, as transformers' LlamaForCausalLM. */
export class LlamaForCausalLM extends Module {
  readonly model: LlamaModel;
  lm_head: Linear;

  constructor(readonly config: LlamaConfig = LlamaConfig.preset("tiny")) {
    super();
    this.model = this.registerModule("model", new LlamaModel(config));
    this.lm_head = this.registerModule("lm_head", lmHead(this.model.embed_tokens, config.tieWordEmbeddings, config.initializerRange));
  }

  /** Hugging Face's config.json for this model. */
  configJSON(): Record<string, unknown> {
    return this.config.toJSON();
  }

  /** The LM head shares the token embedding when the config ties them. */
  tiedKeys(): string[] {
    return this.config.tieWordEmbeddings ? ["lm_head.weight"] : [];
  }

  /** Writes config.json and model.safetensors as transformers does; `fromPretrained` reads them back. */
  async savePretrained(dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
    await saveModelFolder(this, dir, opts);
  }

  /** Logits [B, T, vocab] for token ids [B, T] (or one sequence). */
  forward(ids: TokenInput, opts: LlamaForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const x = toIdTensor(ids, this.config.vocabSize);
      return this.lm_head.forward(this.model.forward(x, attentionMaskTensor(opts.attentionMask, x))) as tf.Tensor3D;
    });
  }

  /**
   * Mean cross-entropy of the next-token prediction, as GPT-2's: `targets` are already aligned
   * with the inputs (targets[t] is the token after ids[t]); negative targets (-100) are ignored.
   */
  loss(ids: TokenInput, targets: TokenInput, opts: LlamaForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const t = toIdTensor(targets, this.config.vocabSize, "targets", true);
      const logits = this.forward(ids, opts);
      if (!tf.util.arraysEqual(logits.shape.slice(0, 2), t.shape)) {
        throw new Error(`targets shape [${t.shape}] does not match input ids shape [${logits.shape.slice(0, 2)}]`);
      }
      return crossEntropy(logits, t);
    });
  }

  /**
   * Continues each sequence by `maxNewTokens` tokens (greedy at temperature 0, else seeded
   * sampling); the context is cropped to the last max_position_embeddings tokens. Returns the
   * prompt followed by the new tokens; a sequence that produced `eosTokenId` is padded with it.
   */
  generate(ids: number[] | number[][], opts: GenerateOptions): number[][] {
    return generateCausal(this, ids, opts, this.config.maxPositionEmbeddings, this.config.vocabSize);
  }
}

/** Builds a freshly initialised LLaMA-family model (seeded by `seed()`) from a preset name or a config. */
export function llama(config: LlamaConfig | string = "tiny"): LlamaForCausalLM {
  return new LlamaForCausalLM(typeof config === "string" ? LlamaConfig.preset(config) : config);
}
