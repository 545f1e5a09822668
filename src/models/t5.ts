import * as tf from "@tensorflow/tfjs";
import { Embedding, Linear, Module, crossEntropy, lmHead } from "../nn/index.js";
import { T5Config } from "./t5_config.js";
import { T5Stack } from "./t5_layers.js";
import { attentionMaskTensor, toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { checkGenerateOptions, decodeLoop, stopTokens, type GenerateOptions } from "./generation.js";
import { EncoderDecoderCache } from "./kv_cache.js";

export interface T5ForwardOptions {
  /** 1 for real source tokens, 0 for padding, [B, S]; all ones when omitted. */
  attentionMask?: TokenInput;
}

export interface T5DecodeOptions extends T5ForwardOptions {
  /** The decoder's keys and values of earlier positions (and the cross-attention's); decode appends the present ones. */
  pastKeyValues?: EncoderDecoderCache;
}

/**
 * Decoder inputs from labels, as HF's `_shift_right`: the decoder start token, then the labels
 * without their last token, with ignored (-100) labels replaced by the pad token.
 */
export function shiftTokensRight(labels: tf.Tensor2D, decoderStartTokenId: number, padTokenId: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = labels.shape;
    const start = tf.fill([B, 1], decoderStartTokenId, "int32");
    const shifted = tf.concat([start, labels.slice([0, 0], [B, T - 1]).toInt()], 1); // [B, T]
    return tf.where(shifted.less(0), tf.fill([B, T], padTokenId, "int32"), shifted) as tf.Tensor2D;
  });
}

/** T5 with its language-model head, as Hugging Face's T5ForConditionalGeneration. */
export class T5ForConditionalGeneration extends Module {
  readonly shared: Embedding;
  readonly encoder: T5Stack;
  readonly decoder: T5Stack;
  lm_head: Linear;

  constructor(readonly config: T5Config = T5Config.preset("tiny")) {
    super();
    const { vocabSize, dModel, initializerFactor: factor } = config;
    this.shared = this.registerModule("shared", new Embedding(vocabSize, dModel, { initStd: factor }));
    this.encoder = this.registerModule("encoder", new T5Stack(config, this.shared, false));
    this.decoder = this.registerModule("decoder", new T5Stack(config, this.shared, true));
    this.lm_head = this.registerModule("lm_head", lmHead(this.shared, config.tieWordEmbeddings, factor));
  }

  /** Hugging Face's config.json for this model. */
  configJSON(): Record<string, unknown> {
    return this.config.toJSON();
  }

  /** Keys that alias `shared.weight` (HF saves only `shared.weight` and re-ties them on load). */
  tiedKeys(): string[] {
    const keys = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"];
    return this.config.tieWordEmbeddings ? [...keys, "lm_head.weight"] : keys;
  }

  /** Writes config.json and model.safetensors as transformers does; `fromPretrained` reads them back. */
  async savePretrained(dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
    await saveModelFolder(this, dir, opts);
  }

  /** The encoder's hidden states [B, S, D] for source ids [B, S]. */
  encode(inputIds: TokenInput, opts: T5ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = toIdTensor(inputIds, this.config.vocabSize);
      return this.encoder.forward(ids, attentionMaskTensor(opts.attentionMask, ids)) as tf.Tensor3D;
    });
  }

  /**
   * Logits [B, T, vocab] of the decoder for decoder ids [B, T], given the encoder's output; with
   * `pastKeyValues`, of the T positions after the cached ones.
   */
  decode(decoderInputIds: TokenInput, encoderHidden: tf.Tensor, opts: T5DecodeOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = toIdTensor(decoderInputIds, this.config.vocabSize, "decoder input ids");
      const B = encoderHidden.shape[0];
      if (ids.shape[0] !== B) throw new Error(`decoder input ids have batch ${ids.shape[0]} but the encoder output has batch ${B}`);
      const encoderMask = opts.attentionMask === undefined ? null : toIdTensor(opts.attentionMask, 2, "attention mask");
      if (encoderMask && !tf.util.arraysEqual(encoderMask.shape, encoderHidden.shape.slice(0, 2))) {
        throw new Error(
          `attention mask shape [${encoderMask.shape}] does not match the encoder output's [batch, length] [${encoderHidden.shape.slice(0, 2)}]`,
        );
      }
      let h = this.decoder.forward(ids, null, encoderHidden, encoderMask, opts.pastKeyValues); // [B, T, D]
      // A tied head reuses the input embedding, so T5 rescales by d_model^-0.5 first (Mesh TensorFlow).
      if (this.config.tieWordEmbeddings) h = h.mul(this.config.dModel ** -0.5);
      return this.lm_head.forward(h) as tf.Tensor3D;
    });
  }

  /** Logits [B, T, vocab] for source ids [B, S] and decoder input ids [B, T]. */
  forward(inputIds: TokenInput, decoderInputIds: TokenInput, opts: T5ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.decode(decoderInputIds, this.encode(inputIds, opts), opts));
  }

  /**
   * Mean cross-entropy of the labels [B, T]; the decoder reads them shifted right (see
   * `shiftTokensRight`), and negative labels (-100 for padding) are ignored.
   */
  loss(inputIds: TokenInput, labels: TokenInput, opts: T5ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const y = toIdTensor(labels, this.config.vocabSize, "labels", true);
      const decoderInputIds = shiftTokensRight(y, this.config.decoderStartTokenId, this.config.padTokenId);
      return crossEntropy(this.forward(inputIds, decoderInputIds, opts), y);
    });
  }

  /**
   * Decodes `maxNewTokens` tokens for each source sequence (see docs/models.md, Generation):
   * greedy at temperature 0, otherwise seeded sampling. The source is encoded once; with the cache
   * (default) each step feeds the decoder only the new token, the cross-attention keys and values
   * computed once. Returns, as transformers does, each decoder sequence starting with the decoder
   * start token; a sequence stops at a stop token (default the config's eosTokenId, null for never)
   * and is then padded with the pad token. Sources of different lengths are right-padded, with `attentionMask`.
   */
  generate(inputIds: number[] | number[][], opts: GenerateOptions & T5ForwardOptions): number[][] {
    const { vocabSize: V, decoderStartTokenId, padTokenId, eosTokenId } = this.config;
    checkGenerateOptions(opts, V, ["attentionMask"]);
    const wasTraining = this.training;
    this.eval();
    const encoderHidden = this.encode(inputIds, opts);
    const cache = opts.useCache === false ? undefined : new EncoderDecoderCache();
    try {
      const B = encoderHidden.shape[0];
      const rows = Array.from({ length: B }, () => [decoderStartTokenId]);
      const nextLogits = (): Float32Array => {
        const last = tf.tidy(() => {
          const ids = rows.map((r) => r.slice(cache?.length ?? 0));
          const logits = this.decode(ids, encoderHidden, { attentionMask: opts.attentionMask, pastKeyValues: cache }); // [B, T, V]
          const T = logits.shape[1];
          return logits.slice([0, T - 1, 0], [B, 1, V]).reshape([B, V]);
        });
        const values = last.dataSync() as Float32Array;
        last.dispose();
        return values;
      };
      const stop = stopTokens(opts, eosTokenId);
      return decodeLoop({ rows, firstCounted: rows.map(() => 0), padTokenId, stopTokens: stop, nextLogits }, opts);
    } finally {
      cache?.dispose();
      encoderHidden.dispose();
      this.train(wasTraining);
    }
  }
}

/** Builds a freshly initialised T5 (seeded by `seed()`) from a preset name or a config. */
export function t5(config: T5Config | string = "tiny"): T5ForConditionalGeneration {
  return new T5ForConditionalGeneration(typeof config === "string" ? T5Config.preset(config) : config);
}
