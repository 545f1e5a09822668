import * as tf from "@tensorflow/tfjs";
import { Embedding, Linear, Module, crossEntropy, lmHead, type LoadStateDictOptions, type LoadStateDictResult } from "../nn/index.js";
import { BartConfig } from "./bart_config.js";
import { BartDecoder, BartEncoder } from "./bart_layers.js";
import { attentionMaskTensor, toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { checkGenerateOptions, decodeLoop, stopTokens, type GenerateOptions } from "./generation.js";
import { shiftTokensRight } from "./t5.js";
import { EncoderDecoderCache, maskOverKeys, paddingBias } from "./kv_cache.js";

export interface BartForwardOptions {
  /** 1 for real source tokens, 0 for padding, [B, S]: padded source positions get no attention. All ones when omitted. */
  attentionMask?: TokenInput;
  /** The same for the decoder inputs [B, T] (on top of the causal mask). All ones when omitted. */
  decoderAttentionMask?: TokenInput;
}

export interface BartDecodeOptions extends BartForwardOptions {
  /** A KV cache: the decoder ids are the positions after the cached ones, and the cache grows by them. */
  pastKeyValues?: EncoderDecoderCache;
}

export interface BartGenerateOptions extends GenerateOptions, Pick<BartForwardOptions, "attentionMask"> {
  /** The first new token; default the config's forcedBosTokenId, null for none. */
  forcedBosTokenId?: number | null;
  /** The last of maxNewTokens; default the config's forcedEosTokenId, null for none. */
  forcedEosTokenId?: number | null;
}

const FINAL_LOGITS_BIAS = "final_logits_bias";
let biasCounter = 0;

/** transformers' BartModel: the shared token embedding, the encoder and the decoder. */
export class BartModel extends Module {
  readonly shared: Embedding;
  readonly encoder: BartEncoder;
  readonly decoder: BartDecoder;

  constructor(readonly config: BartConfig) {
    super();
    const { vocabSize: V, dModel: D, padTokenId, initStd } = config;
    this.shared = this.registerModule("shared", new Embedding(V, D, { initStd }));
    // nn.Embedding(padding_idx=pad) starts the pad row at zero, as transformers' _init_weights leaves it.
    tf.tidy(() => this.shared.weight.assign(this.shared.weight.variable.mul(tf.oneHot(padTokenId, V, 0, 1).reshape([V, 1]))));
    this.encoder = this.registerModule("encoder", new BartEncoder(config, this.shared));
    this.decoder = this.registerModule("decoder", new BartDecoder(config, this.shared));
  }

  forward(): never {
    throw new Error("BartModel: call encoder.forward and decoder.forward, or the BartForConditionalGeneration around it");
  }
}

/**
 * BART with its language-model head, as transformers' BartForConditionalGeneration: logits are
 * lm_head(decoder output) + final_logits_bias, where lm_head shares `model.shared`'s weight and
 * final_logits_bias [1, vocab] is a buffer (saved, loaded, never trained, not a parameter; zeros
 * in the published checkpoints). Post-LayerNorm layers, exact GELU, learned positions.
 */
export class BartForConditionalGeneration extends Module {
  readonly model: BartModel;
  lm_head: Linear;
  /** The buffer `final_logits_bias` [1, vocab]. */
  readonly finalLogitsBias: tf.Variable;

  constructor(readonly config: BartConfig = BartConfig.preset("tiny")) {
    super();
    this.model = this.registerModule("model", new BartModel(config));
    // A non-trainable variable: kept out of tidy scopes and optimizers, assignable on load.
    this.finalLogitsBias = tf.tidy(() => tf.variable(tf.zeros([1, config.vocabSize]), false, `${FINAL_LOGITS_BIAS}_${biasCounter++}`));
    this.lm_head = this.registerModule("lm_head", lmHead(this.model.shared, config.tieWordEmbeddings, config.initStd));
  }

  /** Hugging Face's config.json for this model. */
  configJSON(): Record<string, unknown> {
    return this.config.toJSON();
  }

  /** Keys that alias `model.shared.weight` (transformers saves it once and re-ties on load). */
  tiedKeys(): string[] {
    const keys = ["model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"];
    return this.config.tieWordEmbeddings ? [...keys, "lm_head.weight"] : keys;
  }

  /** The parameters and, first (as PyTorch lists a module's buffers before its children), final_logits_bias. */
  override stateDict(): Record<string, tf.Tensor> {
    return { [FINAL_LOGITS_BIAS]: this.finalLogitsBias, ...super.stateDict() };
  }

  /**
   * Loads parameters and final_logits_bias; a dict without the bias leaves it as it is, as
   * transformers ignores its absence (`_keys_to_ignore_on_load_missing`).
   */
  override loadStateDict(dict: Record<string, tf.Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const { [FINAL_LOGITS_BIAS]: bias, ...params } = dict;
    const want = this.finalLogitsBias.shape;
    if (bias && !tf.util.arraysEqual(bias.shape, want)) {
      throw new Error(`loadStateDict: shape mismatch\n  ${FINAL_LOGITS_BIAS}: checkpoint [${bias.shape}] vs model [${want}]`);
    }
    const result = super.loadStateDict(params, opts);
    if (bias) tf.tidy(() => this.finalLogitsBias.assign(bias.toFloat()));
    return result;
  }

  override dispose(): void {
    super.dispose();
    if (!this.finalLogitsBias.isDisposed) this.finalLogitsBias.dispose();
  }

  /** Writes config.json and model.safetensors as transformers does; `fromPretrained` reads them back. */
  async savePretrained(dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
    await saveModelFolder(this, dir, opts);
  }

  /** The encoder's hidden states [B, S, D] for source ids [B, S]. */
  encode(inputIds: TokenInput, opts: BartForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = toIdTensor(inputIds, this.config.vocabSize);
      const mask = attentionMaskTensor(opts.attentionMask, ids);
      return this.model.encoder.forward(ids, mask && paddingBias(mask)) as tf.Tensor3D;
    });
  }

  /**
   * Logits [B, T, vocab] for decoder ids [B, T], given the encoder's output (and the source's
   * attentionMask); with `pastKeyValues`, of the T positions after the cached ones (then a
   * decoderAttentionMask covers the cached positions too, [B, P + T]).
   */
  decode(decoderInputIds: TokenInput, encoderHidden: tf.Tensor, opts: BartDecodeOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = toIdTensor(decoderInputIds, this.config.vocabSize, "decoder input ids");
      const [B, S] = encoderHidden.shape;
      if (ids.shape[0] !== B) throw new Error(`decoder input ids have batch ${ids.shape[0]} but the encoder output has batch ${B}`);
      const sourceMask = opts.attentionMask === undefined ? null : toIdTensor(opts.attentionMask, 2, "attention mask");
      if (sourceMask && !tf.util.arraysEqual(sourceMask.shape, [B, S])) {
        throw new Error(`attention mask shape [${sourceMask.shape}] does not match the encoder output's [batch, length] [${B},${S}]`);
      }
      const cache = opts.pastKeyValues;
      const decoderMask = maskOverKeys(opts.decoderAttentionMask, ids, cache?.length ?? 0);
      const h = this.model.decoder.forward(
        ids,
        decoderMask && paddingBias(decoderMask),
        encoderHidden,
        sourceMask && paddingBias(sourceMask),
        cache,
      );
      return this.lm_head.forward(h).add(this.finalLogitsBias) as tf.Tensor3D; // [B, T, V]
    });
  }

  /** Logits [B, T, vocab] for source ids [B, S] and decoder input ids [B, T]. */
  forward(inputIds: TokenInput, decoderInputIds: TokenInput, opts: BartForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.decode(decoderInputIds, this.encode(inputIds, opts), opts));
  }

  /**
   * Mean cross-entropy of the labels [B, T]; the decoder reads them shifted right from
   * decoderStartTokenId (transformers' shift_tokens_right, -100 becoming the pad token), and
   * negative labels (-100 for padding) are ignored.
   */
  loss(inputIds: TokenInput, labels: TokenInput, opts: BartForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const y = toIdTensor(labels, this.config.vocabSize, "labels", true);
      const decoderInputIds = shiftTokensRight(y, this.config.decoderStartTokenId, this.config.padTokenId);
      return crossEntropy(this.forward(inputIds, decoderInputIds, opts), y);
    });
  }

  /**
   * Decodes up to `maxNewTokens` tokens for each source sequence with the shared decoding loop
   * (generation.ts: greedy at temperature 0, else seeded sampling, top-k / top-p, repetition
   * penalty, streamers). The source is encoded once; with the KV cache (default) each step feeds
   * the decoder only the new tokens, the cross-attention keys and values computed once;
   * `useCache: false` reruns the decoder over the whole prefix. As transformers' generate
   * with BART's config, the first new token is forcedBosTokenId and the last forcedEosTokenId
   * when set. Returns each decoder sequence starting with decoderStartTokenId; a sequence stops at
   * `eosTokenId` (default the config's, null for never) and is then padded with the pad token.
   */
  generate(inputIds: number[] | number[][], opts: BartGenerateOptions): number[][] {
    const { config } = this;
    const V = config.vocabSize;
    checkGenerateOptions(opts, V, ["attentionMask", "forcedBosTokenId", "forcedEosTokenId"]);
    const forcedBos = opts.forcedBosTokenId === undefined ? config.forcedBosTokenId : opts.forcedBosTokenId;
    const forcedEos = opts.forcedEosTokenId === undefined ? config.forcedEosTokenId : opts.forcedEosTokenId;
    for (const [name, id] of [
      ["forcedBosTokenId", forcedBos],
      ["forcedEosTokenId", forcedEos],
    ] as const) {
      if (id !== null && !(Number.isInteger(id) && id >= 0 && id < V))
        throw new Error(`generate: ${name} ${id} is not a token id in [0, ${V})`);
    }
    const wasTraining = this.training;
    this.eval();
    const encoderHidden = this.encode(inputIds, opts);
    const cache = opts.useCache === false ? undefined : new EncoderDecoderCache();
    try {
      const B = encoderHidden.shape[0];
      const rows = Array.from({ length: B }, () => [config.decoderStartTokenId]);
      let step = 0;
      const nextLogits = (): Float32Array => {
        // transformers' ForcedBOS / ForcedEOS processors leave the forced token the only finite
        // logit (EOS wins when both fall on one step); the decoder need not run for it (the cache
        // then takes two positions at the next step).
        const forced = step === opts.maxNewTokens - 1 && forcedEos !== null ? forcedEos : step === 0 ? forcedBos : null;
        step++;
        if (forced !== null) {
          const only = new Float32Array(B * V).fill(-Infinity);
          for (let b = 0; b < B; b++) only[b * V + forced] = 0;
          return only;
        }
        const last = tf.tidy(() => {
          const ids = rows.map((r) => r.slice(cache?.length ?? 0));
          const logits = this.decode(ids, encoderHidden, { attentionMask: opts.attentionMask, pastKeyValues: cache }); // [B, T, V]
          return logits.slice([0, logits.shape[1] - 1, 0], [B, 1, V]).reshape([B, V]);
        });
        const values = Float32Array.from(last.dataSync());
        last.dispose();
        return values;
      };
      const stop = stopTokens(opts, config.eosTokenId);
      return decodeLoop({ rows, firstCounted: rows.map(() => 0), padTokenId: config.padTokenId, stopTokens: stop, nextLogits }, opts);
    } finally {
      cache?.dispose();
      encoderHidden.dispose();
      this.train(wasTraining);
    }
  }
}

/** Builds a freshly initialised BART (seeded by `seed()`) from a preset name or a config. */
export function bart(config: BartConfig | string = "tiny"): BartForConditionalGeneration {
  return new BartForConditionalGeneration(typeof config === "string" ? BartConfig.preset(config) : config);
}
