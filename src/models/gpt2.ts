import * as tf from "@tensorflow/tfjs";
import { Conv1D, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, activation, lmHead, runBlock } from "../nn/index.js";
import { GPT2Config } from "./gpt2_config.js";
import { fusedCausalAttention } from "../engine/index.js";
import { toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { causalLmLoss, generateCausal, lastPositions, type CausalForwardOptions, type CausalGenerateOptions } from "./causal_generate.js";
import { causalBiasAfter, maskOverKeys, paddingBias, positionIdsTensor, type DynamicCache, type PastKeyValue } from "./kv_cache.js";

export type { PastKeyValue } from "./kv_cache.js";

/** What every block's attention shares in one forward: the KV cache and the padding bias. */
export interface GPT2AttentionContext {
  cache: DynamicCache | null;
  /** [B, 1, 1, K] over every key (cached and present), or null without padding. */
  padding: tf.Tensor | null;
}

/** Causal self-attention with GPT-2's fused QKV projection `c_attn`. */
export class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  readonly attn_dropout: Dropout;
  readonly resid_dropout: Dropout;

  constructor(
    readonly config: GPT2Config,
    readonly layerIdx: number,
  ) {
    super();
    const { nEmbd, initializerRange, nLayer } = config;
    this.c_attn = this.registerModule("c_attn", new Conv1D(nEmbd, 3 * nEmbd, { initStd: initializerRange }));
    // GPT-2 scales the residual projections by 1/sqrt(2 * n_layer) at init.
    this.c_proj = this.registerModule("c_proj", new Conv1D(nEmbd, nEmbd, { initStd: initializerRange / Math.sqrt(2 * nLayer) }));
    this.attn_dropout = this.registerModule("attn_dropout", new Dropout(config.attnPdrop));
    this.resid_dropout = this.registerModule("resid_dropout", new Dropout(config.residPdrop));
  }

  /**
   * `past`: keys and values placed before the present ones (prefix tuning), which every query
   * sees; `ctx.cache`: this layer's KV cache, grown by the present keys and values.
   */
  forward(x: tf.Tensor, past?: PastKeyValue, ctx?: GPT2AttentionContext): tf.Tensor {
    return tf.tidy(() => {
      const [B, T, C] = x.shape as [number, number, number];
      const nh = this.config.nHead;
      const hs = C / nh;
      const qkv = this.c_attn.forward(x); // [B, T, 3C]
      let scale = this.config.scaleAttnWeights ? 1 / Math.sqrt(hs) : 1;
      if (this.config.scaleAttnByInverseLayerIdx) scale /= this.layerIdx + 1;
      // One fused kernel (wasm + native addon) when no attention dropout is applied.
      const dropping = this.attn_dropout.training && this.attn_dropout.p > 0;
      const plain = !past && !ctx?.cache && !ctx?.padding;
      const fused = dropping || !plain ? undefined : fusedCausalAttention(qkv, nh, scale);
      if (fused) return this.resid_dropout.forward(this.c_proj.forward(fused));
      const [q, k, v] = tf.split(qkv, 3, -1).map((t) => t.reshape([B, T, nh, hs]).transpose([0, 2, 1, 3])); // [B, nh, T, hs]
      let kv: PastKeyValue = ctx?.cache ? ctx.cache.update(this.layerIdx, k, v) : { key: k, value: v }; // [B, nh, K, hs]
      const K = kv.key.shape[2] as number;
      // Future positions get -1e9 added, so softmax gives them exactly 0 in float32 (HF uses
      // where() with the float32 minimum; the result is the same, and an add broadcasts cheaply).
      let bias = causalBiasAfter(K - T, T); // [1, 1, T, K]
      if (ctx?.padding) bias = bias ? bias.add(ctx.padding) : ctx.padding; // [B, 1, T, K]
      if (past) {
        const P = past.key.shape[2] as number;
        kv = { key: tf.concat([past.key, kv.key], 2), value: tf.concat([past.value, kv.value], 2) }; // [B, nh, P+K, hs]
        if (bias) bias = tf.concat([tf.zeros([bias.shape[0], 1, T, P]), bias.broadcastTo([bias.shape[0], 1, T, K])], 3);
      }
      let scores = tf.matMul(q, kv.key, false, true).mul(scale); // [B, nh, T, P+K]
      if (bias) scores = scores.add(bias);
      const att = this.attn_dropout.forward(tf.softmax(scores, -1));
      const y = tf.matMul(att, kv.value).transpose([0, 2, 1, 3]).reshape([B, T, C]); // [B, T, C]
      return this.resid_dropout.forward(this.c_proj.forward(y));
    });
  }
}

export class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  readonly dropout: Dropout;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(readonly config: GPT2Config) {
    super();
    const { nEmbd, innerDim, initializerRange, nLayer } = config;
    this.c_fc = this.registerModule("c_fc", new Conv1D(nEmbd, innerDim, { initStd: initializerRange }));
    this.c_proj = this.registerModule("c_proj", new Conv1D(innerDim, nEmbd, { initStd: initializerRange / Math.sqrt(2 * nLayer) }));
    this.dropout = this.registerModule("dropout", new Dropout(config.residPdrop));
    this.act = activation(config.activationFunction);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.dropout.forward(this.c_proj.forward(this.act(this.c_fc.forward(x)))));
  }
}

/** One pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)). */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(config: GPT2Config, layerIdx: number) {
    super();
    this.ln_1 = this.registerModule("ln_1", new LayerNorm(config.nEmbd, config.layerNormEpsilon));
    this.attn = this.registerModule("attn", new GPT2Attention(config, layerIdx));
    this.ln_2 = this.registerModule("ln_2", new LayerNorm(config.nEmbd, config.layerNormEpsilon));
    this.mlp = this.registerModule("mlp", new GPT2MLP(config));
  }

  forward(x: tf.Tensor, ctx?: GPT2AttentionContext): tf.Tensor {
    return tf.tidy(() => {
      const h = x.add(this.attn.forward(this.ln_1.forward(x), undefined, ctx));
      return h.add(this.mlp.forward(this.ln_2.forward(h)));
    });
  }
}

/** The transformer trunk: embeddings, blocks, final LayerNorm (Hugging Face's GPT2Model). */
export class GPT2Model extends Module {
  /** Recompute each block in the backward pass instead of keeping its activations (see nn/checkpoint.ts). */
  gradientCheckpointing = false;
  wte: Embedding;
  wpe: Embedding;
  readonly drop: Dropout;
  readonly h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;

  constructor(readonly config: GPT2Config) {
    super();
    const std = config.initializerRange;
    this.wte = this.registerModule("wte", new Embedding(config.vocabSize, config.nEmbd, { initStd: std }));
    this.wpe = this.registerModule("wpe", new Embedding(config.nPositions, config.nEmbd, { initStd: std }));
    this.drop = this.registerModule("drop", new Dropout(config.embdPdrop));
    this.h = this.registerModule("h", new ModuleList(Array.from({ length: config.nLayer }, (_, i) => new GPT2Block(config, i))));
    this.ln_f = this.registerModule("ln_f", new LayerNorm(config.nEmbd, config.layerNormEpsilon));
  }

  /**
   * Hidden states [B, T, C] for int32 ids [B, T]. `positions` [B, T] default to P..P+T-1 after the
   * P positions in `cache`; `mask` [B, P + T] is 1 for tokens, 0 for padding.
   */
  forward(ids: tf.Tensor2D, opts: { positions?: tf.Tensor2D; mask?: tf.Tensor2D | null; cache?: DynamicCache } = {}): tf.Tensor {
    return tf.tidy(() => {
      const T = ids.shape[1];
      const { cache = null, mask = null } = opts;
      const P = cache?.length ?? 0;
      if (!opts.positions && P + T > this.config.nPositions) {
        throw new Error(`sequence length ${P + T} exceeds the model's ${this.config.nPositions} positions (n_positions)`);
      }
      const pos = opts.positions ?? tf.range(P, P + T, 1, "int32"); // [B, T] or [T]
      let x = this.drop.forward(this.wte.forward(ids).add(this.wpe.forward(pos))); // [B, T, C]
      const ctx: GPT2AttentionContext = { cache, padding: mask ? paddingBias(mask) : null };
      // Under checkpointing the padding bias is a block input, so the recomputation can read it.
      const padding = ctx.padding ? [ctx.padding] : [];
      for (const block of this.h) {
        x = runBlock(this, block, [x, ...padding], (h, bias) => block.forward(h, { ...ctx, padding: bias ?? null }));
      }
      cache?.expectFilled(this.h.length, P + T);
      return this.ln_f.forward(x);
    });
  }
}

/** GPT-2 with its language-model head, as Hugging Face's GPT2LMHeadModel. */
export class GPT2LMHeadModel extends Module {
  readonly transformer: GPT2Model;
  lm_head: Linear;

  constructor(readonly config: GPT2Config = GPT2Config.preset("tiny")) {
    super();
    this.transformer = this.registerModule("transformer", new GPT2Model(config));
    this.lm_head = this.registerModule("lm_head", lmHead(this.transformer.wte, config.tieWordEmbeddings, config.initializerRange));
  }

  /** Hugging Face's config.json for this model. */
  configJSON(): Record<string, unknown> {
    return this.config.toJSON();
  }

  /** The LM head shares the token embedding unless the config unties them. */
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
  forward(ids: TokenInput, opts: CausalForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.lm_head.forward(lastPositions(this.hiddenStates(ids, opts), opts.logitsToKeep)) as tf.Tensor3D);
  }

  /** The final hidden states [B, T, C] that `forward` feeds to the LM head. */
  hiddenStates(ids: TokenInput, opts: CausalForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = toIdTensor(ids, this.config.vocabSize);
      const P = opts.pastKeyValues?.length ?? 0;
      const positions = positionIdsTensor(opts.positionIds, x, this.config.nPositions) ?? undefined;
      const mask = maskOverKeys(opts.attentionMask, x, P);
      return this.transformer.forward(x, { positions, mask, cache: opts.pastKeyValues });
    });
  }

  /**
   * Mean cross-entropy of the next-token prediction. `targets` are already aligned with the
   * inputs (targets[t] is the token after ids[t]); negative targets are ignored.
   */
  loss(ids: TokenInput, targets: TokenInput): tf.Scalar {
    return tf.tidy(() => causalLmLoss(this.hiddenStates(ids), this.lm_head, targets, this.config.vocabSize));
  }

  /**
   * Continues each sequence by `maxNewTokens` tokens (see docs/models.md, Generation): greedy at
   * temperature 0, otherwise seeded sampling (see `seed()`), with a KV cache unless `useCache` is
   * false; the context is cropped to the last n_positions tokens. Returns the prompt followed by
   * the new tokens, one array per sequence; a sequence that produced a stop token is padded with
   * the first one while the others go on.
   */
  generate(ids: number[] | number[][], opts: CausalGenerateOptions): number[][] {
    return generateCausal(this, ids, opts, { contextLength: this.config.nPositions, vocabSize: this.config.vocabSize });
  }
}

/** Builds a freshly initialised GPT-2 (seeded by `seed()`), a preset name or a config. */
export function gpt2(config: GPT2Config | string = "tiny"): GPT2LMHeadModel {
  return new GPT2LMHeadModel(typeof config === "string" ? GPT2Config.preset(config) : config);
}
