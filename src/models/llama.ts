import * as tf from "@tensorflow/tfjs";
import { Embedding, Linear, Module, ModuleList, RMSNorm, activation, lmHead, runBlock } from "../nn/index.js";
import { LlamaConfig } from "./llama_config.js";
import { LlamaAttention, type AttentionContext } from "./llama_attention.js";
import { RopeTables, ropeInverseFrequencies } from "./rope.js";
import { toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { causalLmLoss, generateCausal, lastPositions, type CausalForwardOptions, type CausalGenerateOptions } from "./causal_generate.js";
import { maskOverKeys, paddingBias, positionIdsTensor, type DynamicCache } from "./kv_cache.js";

/**
 * `attentionMask`: 1 for real tokens, 0 for padding, [B, P + T] (padded keys get no attention; all
 * ones when omitted); `positionIds` [B, T] default to P..P+T-1 after P positions in `pastKeyValues`.
 */
export type LlamaForwardOptions = CausalForwardOptions;

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
  /** Recompute each block in the backward pass instead of keeping its activations (see nn/checkpoint.ts). */
  gradientCheckpointing = false;
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

  /**
   * Hidden states [B, T, C] for int32 ids [B, T]. `mask` [B, P + T] is 1 for tokens, 0 for padding;
   * `positions` [B, T] default to P..P+T-1 after the P positions in `cache` (transformers'
   * cache_position), whatever the padding, as its forward without position_ids.
   */
  forward(
    ids: tf.Tensor2D,
    opts: { mask?: tf.Tensor2D | null; positions?: number[][] | null; cache?: DynamicCache | null } = {},
  ): tf.Tensor {
    return tf.tidy(() => {
      const T = ids.shape[1];
      const { mask = null, positions = null, cache = null } = opts;
      const P = cache?.length ?? 0;
      const { cos, sin } = positions ? this.rope.at(positions) : this.rope.tables(T, P);
      const ctx: AttentionContext = { cos, sin, rotateHalf: this.rope.rotateHalf(), padding: mask ? paddingBias(mask) : null, cache };
      let x = this.embed_tokens.forward(ids); // [B, T, C]
      // Under checkpointing the tables are block inputs, so the recomputation can read them.
      const tables = [ctx.cos, ctx.sin, ctx.rotateHalf, ...(ctx.padding ? [ctx.padding] : [])];
      for (const layer of this.layers) {
        x = runBlock(this, layer, [x, ...tables], (h, cos, sin, rotateHalf, padding) =>
          layer.forward(h, { ...ctx, cos, sin, rotateHalf: rotateHalf as tf.Tensor2D, padding: padding ?? null }),
        );
      }
      cache?.expectFilled(this.layers.length, P + T);
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

  /**
   * Logits [B, T, vocab] for token ids [B, T] (or one sequence); with `pastKeyValues`, of the
   * tokens after the cached ones, whose keys and values are appended to the cache.
   */
  forward(ids: TokenInput, opts: LlamaForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.lm_head.forward(lastPositions(this.hiddenStates(ids, opts), opts.logitsToKeep)) as tf.Tensor3D);
  }

  /** The final hidden states [B, T, C] that `forward` feeds to the LM head. */
  hiddenStates(ids: TokenInput, opts: LlamaForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = toIdTensor(ids, this.config.vocabSize);
      const cache = opts.pastKeyValues ?? null;
      const mask = maskOverKeys(opts.attentionMask, x, cache?.length ?? 0);
      const positions = positionIdsTensor(opts.positionIds, x, Number.MAX_SAFE_INTEGER)?.arraySync() as number[][] | undefined;
      return this.model.forward(x, { mask, positions, cache });
    });
  }

  /**
   * Mean cross-entropy of the next-token prediction, as GPT-2's: `targets` are already aligned
   * with the inputs (targets[t] is the token after ids[t]); negative targets (-100) are ignored.
   */
  loss(ids: TokenInput, targets: TokenInput, opts: LlamaForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => causalLmLoss(this.hiddenStates(ids, opts), this.lm_head, targets, this.config.vocabSize));
  }

  /**
   * Continues each sequence by `maxNewTokens` tokens (see docs/models.md, Generation): greedy at
   * temperature 0, else seeded sampling, with a KV cache unless `useCache` is false; the context is
   * cropped to the last max_position_embeddings tokens. Returns the prompt followed by the new
   * tokens; a finished sequence is padded with pad_token_id (else its first stop token).
   */
  generate(ids: number[] | number[][], opts: CausalGenerateOptions): number[][] {
    const { maxPositionEmbeddings: contextLength, vocabSize, padTokenId } = this.config;
    return generateCausal(this, ids, opts, { contextLength, vocabSize, padTokenId });
  }
}

/** Builds a freshly initialised LLaMA-family model (seeded by `seed()`) from a preset name or a config. */
export function llama(config: LlamaConfig | string = "tiny"): LlamaForCausalLM {
  return new LlamaForCausalLM(typeof config === "string" ? LlamaConfig.preset(config) : config);
}
