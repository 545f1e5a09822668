import * as tf from "@tensorflow/tfjs";
import { Embedding, Linear, Module, crossEntropy, lmHead } from "../nn/index.js";
import { T5Config } from "./t5_config.js";
import { T5Stack } from "./t5_layers.js";
import { attentionMaskTensor, toIdTensor, type TokenInput } from "./inputs.js";
import { saveModelFolder, type SavePretrainedOptions } from "./checkpoint.js";
import { checkGenerateOptions, pickToken, type GenerateOptions } from "./generation.js";

export interface T5ForwardOptions {
  /** 1 for real source tokens, 0 for padding, [B, S]; all ones when omitted. */
  attentionMask?: TokenInput;
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

  /** Logits [B, T, vocab] of the decoder for decoder ids [B, T], given the encoder's output. */
  decode(decoderInputIds: TokenInput, encoderHidden: tf.Tensor, opts: T5ForwardOptions = {}): tf.Tensor3D {
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
      let h = this.decoder.forward(ids, null, encoderHidden, encoderMask); // [B, T, D]
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
   * Decodes `maxNewTokens` tokens for each source sequence: greedily at temperature 0, otherwise
   * by seeded sampling, as GPT-2's `generate`. The source is encoded once. Returns, as
   * transformers does, each decoder sequence starting with the decoder start token; a sequence
   * stops at `eosTokenId` (default the config's, null for never) and is then padded with the pad token.
   */
  generate(inputIds: number[] | number[][], opts: GenerateOptions & T5ForwardOptions): number[][] {
    checkGenerateOptions(opts);
    const eos = opts.eosTokenId === undefined ? this.config.eosTokenId : opts.eosTokenId;
    const wasTraining = this.training;
    this.eval();
    const encoderHidden = this.encode(inputIds, opts);
    try {
      const B = encoderHidden.shape[0];
      const V = this.config.vocabSize;
      const rows = Array.from({ length: B }, () => [this.config.decoderStartTokenId]);
      const done = rows.map(() => false);
      for (let step = 0; step < opts.maxNewTokens && done.some((d) => !d); step++) {
        const last = tf.tidy(() => {
          const logits = this.decode(rows, encoderHidden, opts); // [B, T, V]
          const T = logits.shape[1];
          return logits.slice([0, T - 1, 0], [-1, 1, -1]).reshape([B, V]);
        });
        const values = last.dataSync();
        last.dispose();
        rows.forEach((row, b) => {
          const next = done[b] ? this.config.padTokenId : pickToken(values.subarray(b * V, (b + 1) * V), opts);
          row.push(next);
          if (eos !== null && next === eos) done[b] = true;
        });
      }
      return rows;
    } finally {
      encoderHidden.dispose();
      this.train(wasTraining);
    }
  }
}

/** Builds a freshly initialised T5 (seeded by `seed()`) from a preset name or a config. */
export function t5(config: T5Config | string = "tiny"): T5ForConditionalGeneration {
  return new T5ForConditionalGeneration(typeof config === "string" ? T5Config.preset(config) : config);
}
