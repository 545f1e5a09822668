import * as tf from "@tensorflow/tfjs";
import { Dropout, Embedding, Linear, Module, ModuleList, RMSNorm, activation } from "../nn/index.js";
import type { T5Config } from "./t5_config.js";
import { T5Attention } from "./t5_attention.js";
import { causalBiasAfter, paddingBias, type CacheSlot, type EncoderDecoderCache } from "./kv_cache.js";

/** A bias-free projection with T5's initialisation: std factor / sqrt(fan_in). */
export function t5Linear(inFeatures: number, outFeatures: number, factor: number): Linear {
  return new Linear(inFeatures, outFeatures, { bias: false, initStd: factor * inFeatures ** -0.5 });
}

/** wo(dropout(act(wi(x)))): T5's feed-forward block ("relu"). */
export class T5DenseActDense extends Module {
  wi: Linear;
  wo: Linear;
  readonly dropout: Dropout;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(config: T5Config) {
    super();
    const { dModel, dFf, initializerFactor: factor } = config;
    this.wi = this.registerModule("wi", t5Linear(dModel, dFf, factor));
    this.wo = this.registerModule("wo", t5Linear(dFf, dModel, factor));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
    this.act = activation(config.denseActFn);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.wo.forward(this.dropout.forward(this.act(this.wi.forward(x)))));
  }
}

/** wo(dropout(act(wi_0(x)) * wi_1(x))): the gated feed-forward of T5 v1.1 ("gated-gelu"). */
export class T5DenseGatedActDense extends Module {
  wi_0: Linear;
  wi_1: Linear;
  wo: Linear;
  readonly dropout: Dropout;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(config: T5Config) {
    super();
    const { dModel, dFf, initializerFactor: factor } = config;
    this.wi_0 = this.registerModule("wi_0", t5Linear(dModel, dFf, factor));
    this.wi_1 = this.registerModule("wi_1", t5Linear(dModel, dFf, factor));
    this.wo = this.registerModule("wo", t5Linear(dFf, dModel, factor));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
    this.act = activation(config.denseActFn);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.wo.forward(this.dropout.forward(this.act(this.wi_0.forward(x)).mul(this.wi_1.forward(x)))));
  }
}

/** x + dropout(DenseReluDense(layer_norm(x))). */
export class T5LayerFF extends Module {
  DenseReluDense: T5DenseActDense | T5DenseGatedActDense;
  layer_norm: RMSNorm;
  readonly dropout: Dropout;

  constructor(config: T5Config) {
    super();
    this.DenseReluDense = this.registerModule(
      "DenseReluDense",
      config.isGatedAct ? new T5DenseGatedActDense(config) : new T5DenseActDense(config),
    );
    this.layer_norm = this.registerModule("layer_norm", new RMSNorm(config.dModel, config.layerNormEpsilon));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => x.add(this.dropout.forward(this.DenseReluDense.forward(this.layer_norm.forward(x)))));
  }
}

/** x + dropout(SelfAttention(layer_norm(x))). */
export class T5LayerSelfAttention extends Module {
  SelfAttention: T5Attention;
  layer_norm: RMSNorm;
  readonly dropout: Dropout;

  constructor(config: T5Config, isDecoder: boolean, hasRelativeAttentionBias: boolean) {
    super();
    this.SelfAttention = this.registerModule("SelfAttention", new T5Attention(config, { isDecoder, hasRelativeAttentionBias }));
    this.layer_norm = this.registerModule("layer_norm", new RMSNorm(config.dModel, config.layerNormEpsilon));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
  }

  forward(x: tf.Tensor, bias: tf.Tensor, slot?: CacheSlot): tf.Tensor {
    return tf.tidy(() => x.add(this.dropout.forward(this.SelfAttention.forward(this.layer_norm.forward(x), bias, undefined, slot))));
  }
}

/** x + dropout(EncDecAttention(layer_norm(x), encoder output)): the decoder's cross-attention. */
export class T5LayerCrossAttention extends Module {
  EncDecAttention: T5Attention;
  layer_norm: RMSNorm;
  readonly dropout: Dropout;

  constructor(config: T5Config) {
    super();
    this.EncDecAttention = this.registerModule(
      "EncDecAttention",
      new T5Attention(config, { isDecoder: true, hasRelativeAttentionBias: false }),
    );
    this.layer_norm = this.registerModule("layer_norm", new RMSNorm(config.dModel, config.layerNormEpsilon));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
  }

  forward(x: tf.Tensor, encoderHidden: tf.Tensor, bias: tf.Tensor, slot?: CacheSlot): tf.Tensor {
    return tf.tidy(() => x.add(this.dropout.forward(this.EncDecAttention.forward(this.layer_norm.forward(x), bias, encoderHidden, slot))));
  }
}

/** One block: `layer.0` self-attention, `layer.1` cross-attention (decoder only), then the feed-forward. */
export class T5Block extends Module {
  readonly layer: ModuleList<Module>;

  constructor(
    config: T5Config,
    readonly isDecoder: boolean,
    hasRelativeAttentionBias: boolean,
  ) {
    super();
    const layers: Module[] = [new T5LayerSelfAttention(config, isDecoder, hasRelativeAttentionBias)];
    if (isDecoder) layers.push(new T5LayerCrossAttention(config));
    layers.push(new T5LayerFF(config));
    this.layer = this.registerModule("layer", new ModuleList(layers));
  }

  /** With `cache`, this block (number `layer` of the decoder) reads and grows its entries. */
  forward(
    x: tf.Tensor,
    selfBias: tf.Tensor,
    encoderHidden?: tf.Tensor,
    crossBias?: tf.Tensor,
    cache?: { cache: EncoderDecoderCache; layer: number },
  ): tf.Tensor {
    return tf.tidy(() => {
      const slot = (part: "selfAttention" | "crossAttention") => cache && { cache: cache.cache[part], layer: cache.layer };
      let h = (this.layer.at(0) as T5LayerSelfAttention).forward(x, selfBias, slot("selfAttention"));
      if (this.isDecoder) {
        if (!encoderHidden || !crossBias) throw new Error("T5Block: a decoder block needs the encoder's hidden states");
        h = (this.layer.at(1) as T5LayerCrossAttention).forward(h, encoderHidden, crossBias, slot("crossAttention"));
      }
      return (this.layer.at(this.layer.length - 1) as T5LayerFF).forward(h);
    });
  }
}

/** The encoder or the decoder: shared embeddings, blocks, a final RMS norm (Hugging Face's T5Stack). */
export class T5Stack extends Module {
  readonly embed_tokens: Embedding;
  readonly block: ModuleList<T5Block>;
  final_layer_norm: RMSNorm;
  readonly dropout: Dropout;

  constructor(
    config: T5Config,
    embedTokens: Embedding,
    readonly isDecoder: boolean,
  ) {
    super();
    const n = isDecoder ? config.decoderLayers : config.numLayers;
    // The same Embedding module as the model's `shared`, as in HF: one parameter, three state-dict keys.
    this.embed_tokens = this.registerModule("embed_tokens", embedTokens);
    this.block = this.registerModule("block", new ModuleList(Array.from({ length: n }, (_, i) => new T5Block(config, isDecoder, i === 0))));
    this.final_layer_norm = this.registerModule("final_layer_norm", new RMSNorm(config.dModel, config.layerNormEpsilon));
    this.dropout = this.registerModule("dropout", new Dropout(config.dropoutRate));
  }

  /**
   * Hidden states [B, T, D] for ids [B, T]. `mask` [B, T] marks real tokens with 1 and padding with 0;
   * the decoder also takes the encoder's output [B, S, D] and its mask [B, S], and with `cache`
   * runs T new positions after the cached ones.
   */
  forward(
    ids: tf.Tensor2D,
    mask: tf.Tensor2D | null,
    encoderHidden?: tf.Tensor,
    encoderMask?: tf.Tensor2D | null,
    cache?: EncoderDecoderCache,
  ): tf.Tensor {
    return tf.tidy(() => {
      const T = ids.shape[1];
      const P = cache?.length ?? 0;
      if (cache && !this.isDecoder) throw new Error("T5Stack: only the decoder takes a KV cache");
      let x = this.dropout.forward(this.embed_tokens.forward(ids)); // [B, T, D]
      // The first block's table gives the position bias every block of the stack adds.
      const first = (this.block.at(0).layer.at(0) as T5LayerSelfAttention).SelfAttention;
      let selfBias: tf.Tensor = first.computeBias(T, P + T); // [1, H, T, P+T]
      const causal = this.isDecoder ? causalBiasAfter(P, T) : null;
      if (causal) selfBias = selfBias.add(causal);
      if (mask) selfBias = selfBias.add(paddingBias(mask)); // [B, H, T, P+T]
      let crossBias: tf.Tensor | undefined;
      if (this.isDecoder) {
        if (!encoderHidden) throw new Error("T5Stack: the decoder needs the encoder's hidden states");
        crossBias = encoderMask ? paddingBias(encoderMask) : tf.zeros([1, 1, 1, encoderHidden.shape[1] as number]); // [B or 1, 1, 1, S]
      }
      for (let layer = 0; layer < this.block.length; layer++) {
        x = this.block.at(layer).forward(x, selfBias, encoderHidden, crossBias, cache && { cache, layer });
      }
      cache?.selfAttention.expectFilled(this.block.length, P + T);
      return this.dropout.forward(this.final_layer_norm.forward(x));
    });
  }
}
